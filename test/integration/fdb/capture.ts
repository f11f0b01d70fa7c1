// Captures what the reference agent's `fdb` extension leaves in the shared NIC's FDB at each step of
// scenario.ts into test/fixtures/reference/fdb/<NN-step>.txt (`bridge fdb show dev fdbnic0`,
// sorted). One lab, one private OVS with br-phys, the NIC (a veth end) and the reference with
// `[agent] extensions = fdb`, its ovs-ofctl calls reaching the private OVS through
// `root_helper = env OVS_RUNDIR=<dir>`.
//   scripts/capture-fdb-reference.sh [--out DIR]
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NeutronLab } from '../../../lab/neutron.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import { cleanupAllVms } from '../../../lab/vm.js';
import { RunningAgent, defaultFlowsReady, agentRecord, until, type AgentConfig } from '../../../bench/agents.js';
import { fdbIni, addSharedNic, runFdbScenario } from './scenario.js';

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

function outDir(): string {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--out');
  if (argv.length && (i !== 0 || argv.length !== 2)) throw new Error('usage: capture-fdb-reference.sh [--out DIR]');
  return resolve(i >= 0 ? argv[i + 1]! : 'test/fixtures/reference/fdb');
}

const logText = (agent: RunningAgent): string => {
  try {
    return readFileSync(join(agent.dir, 'agent.log'), 'utf8');
  } catch {
    return '';
  }
};

async function waitReady(agent: RunningAgent, ovs: PrivateOvs, lab: NeutronLab, host: string, from: number): Promise<void> {
  await until('default flows', agent, 120000, () => defaultFlowsReady(ovs), 250);
  await until('agent alive in the API', agent, 120000, async () => (await agentRecord(lab, host))?.alive === true, 500);
  await until('first rpc_loop iteration', agent, 180000, async () => /rpc_loop - iteration:0 completed/.test(logText(agent).slice(from)), 500);
}

async function main(): Promise<void> {
  const out = outDir();
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (f.endsWith('.txt')) rmSync(join(out, f));
  const lab = await NeutronLab.start();
  let ovs: PrivateOvs | undefined;
  let agent: RunningAgent | undefined;
  let removeNic: (() => Promise<void>) | undefined;
  try {
    ovs = await PrivateOvs.start({ tcp: true });
    await ovs.addBridge('br-phys');
    removeNic = await addSharedNic();
    const host = `fdbcap-${process.pid}`;
    const cfg: AgentConfig = { host, transportUrl: lab.transportUrl, ovs, extraIni: fdbIni([`root_helper = env OVS_RUNDIR=${ovs.dir}`]) };
    agent = await RunningAgent.start('reference', cfg);
    const privateOvs = ovs;
    await waitReady(agent, privateOvs, lab, host, 0);
    const names = await runFdbScenario({
      lab, ovs, host, log,
      assertAgentRunning: () => agent?.assertRunning(),
      restartAgent: async () => {
        const old = agent!;
        const from = logText(old).length;
        await old.stop(10000);
        agent = await RunningAgent.start('reference', cfg, old.dir);
        await waitReady(agent, privateOvs, lab, host, from);
      },
      capture: async (step, fdb) => writeFileSync(join(out, `${step}.txt`), fdb.join('\n') + '\n'),
    });
    log(`captured ${names.size} ports' steps into ${out}`);
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}${agent ? `\n--- reference agent log tail ---\n${agent.log(6000)}` : ''}`);
  } finally {
    await cleanupAllVms().catch((e: unknown) => log(`VM cleanup: ${String(e)}`));
    if (agent) {
      await agent.stop(5000);
      if (process.env.FDB_CAPTURE_KEEP_LOG) writeFileSync(process.env.FDB_CAPTURE_KEEP_LOG, logText(agent));
      agent.cleanup();
    }
    await removeNic?.().catch((e: unknown) => log(`deleting the shared NIC: ${String(e)}`));
    await ovs?.stop();
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  log(`capture failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
