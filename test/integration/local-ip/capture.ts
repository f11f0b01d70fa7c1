// Captures br-int's flows as the reference agent's `local_ip` extension leaves them at each step of
// scenario.ts, for both `[local_ip] static_nat` values, into
// test/fixtures/reference/local_ip/<mode>/<NN-step>.flows. One lab with the local_ip service
// plugin; per mode a fresh private OVS (br-phys for physnet1) and the reference with
// `[agent] extensions = local_ip`, its ovs-ofctl calls reaching the private OVS through
// `root_helper = env OVS_RUNDIR=<dir>`.
//   scripts/capture-local-ip-reference.sh [--out DIR]
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NeutronLab } from '../../../lab/neutron.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import { cleanupAllVms } from '../../../lab/vm.js';
import { RunningAgent, defaultFlowsReady, agentRecord, until, type AgentConfig } from '../../../bench/agents.js';
import { LOCAL_IP_MODES, localIpIni, runLocalIpScenario, type LocalIpMode } from './scenario.js';

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

function outDir(): string {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--out');
  if (argv.length && (i !== 0 || argv.length !== 2)) throw new Error('usage: capture-local-ip-reference.sh [--out DIR]');
  return resolve(i >= 0 ? argv[i + 1]! : 'test/fixtures/reference/local_ip');
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

async function captureMode(lab: NeutronLab, mode: LocalIpMode, out: string): Promise<void> {
  const dir = join(out, mode);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f.endsWith('.flows')) rmSync(join(dir, f));
  const ovs = await PrivateOvs.start({ tcp: true });
  let agent: RunningAgent | undefined;
  try {
    await ovs.addBridge('br-phys');
    const host = `lipcap-${mode}-${process.pid}`;
    const cfg: AgentConfig = { host, transportUrl: lab.transportUrl, ovs, extraIni: localIpIni(mode, [`root_helper = env OVS_RUNDIR=${ovs.dir}`]) };
    agent = await RunningAgent.start('reference', cfg);
    await waitReady(agent, ovs, lab, host, 0);
    await runLocalIpScenario({
      lab, ovs, host, mode, log,
      assertAgentRunning: () => agent?.assertRunning(),
      restartAgent: async () => {
        const old = agent!;
        const from = logText(old).length;
        await old.stop(10000);
        agent = await RunningAgent.start('reference', cfg, old.dir);
        await waitReady(agent, ovs, lab, host, from);
      },
      capture: async (step, flows) => writeFileSync(join(dir, `${step}.flows`), flows.join('\n') + '\n'),
    });
  } catch (e) {
    throw new Error(`${mode}: ${e instanceof Error ? e.message : String(e)}${agent ? `\n--- reference agent log tail ---\n${agent.log(6000)}` : ''}`);
  } finally {
    await cleanupAllVms().catch((e: unknown) => log(`VM cleanup: ${String(e)}`));
    if (agent) {
      await agent.stop(5000);
      if (process.env.LOCAL_IP_CAPTURE_KEEP_LOG) writeFileSync(`${process.env.LOCAL_IP_CAPTURE_KEEP_LOG}.${mode}`, logText(agent));
      agent.cleanup();
    }
    await ovs.stop();
  }
}

async function main(): Promise<void> {
  const out = outDir();
  const lab = await NeutronLab.start({ localIp: true });
  try {
    for (const mode of LOCAL_IP_MODES) await captureMode(lab, mode, out);
    log(`captured into ${out}`);
  } finally {
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  log(`capture failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
