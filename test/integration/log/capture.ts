// Captures what the reference agent's `log` extension (ovs_firewall_log) does at each step of
// scenario.ts into test/fixtures/reference/log/: <NN-step>.json (logSnapshot: br-int's tables
// 91-93 and its Controller limits), lines.json (the traffic step's logged lines, loggedLines()'s
// form) and traffic.json (what the traffic saw). One lab (its `log` service plugin on), a private
// OVS, the reference with `[agent] extensions = log`, `firewall_driver = openvswitch`,
// `[network_log] local_output_log_base`, its ovs-ofctl calls through `root_helper = env OVS_RUNDIR`.
//
//   scripts/capture-log-reference.sh [--out DIR]
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NeutronLab } from '../../../lab/neutron.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import { cleanupAllVms } from '../../../lab/vm.js';
import { RunningAgent, defaultFlowsReady, agentRecord, until, type AgentConfig } from '../../../bench/agents.js';
import { logAgentIni, PROBE_LINES, runLogScenario } from './scenario.js';
import { loggedLines } from './snapshot.js';
import { assertNoIdsLeft, captureFailure, captureLog, captureOutDir } from '../../helpers/capture-cli.js';

const log = captureLog;
const outDir = (): string => captureOutDir('capture-log-reference.sh', 'test/fixtures/reference/log');

async function main(): Promise<void> {
  const out = outDir();
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (/^\d\d-.*\.json$|^lines\.json$|^traffic\.json$/.test(f)) rmSync(join(out, f));
  const t0 = Date.now();
  const lab = await NeutronLab.start();
  const work = mkdtempSync(join(tmpdir(), 'logcap-'));
  const packetsLog = join(work, 'packets.log');
  let ovs: PrivateOvs | undefined;
  let agent: RunningAgent | undefined;
  try {
    ovs = await PrivateOvs.start({ tcp: true });
    await ovs.addBridge('br-phys'); // the lab's agent configuration maps physnet1 to it
    const host = `logcap-${process.pid}`;
    const cfg: AgentConfig = { host, transportUrl: lab.transportUrl, ovs, extraIni: logAgentIni(ovs, packetsLog) };
    agent = await RunningAgent.start('reference', cfg);
    const o = ovs;
    const ready = async (a: RunningAgent, from: number): Promise<void> => {
      await until('default flows', a, 120000, () => defaultFlowsReady(o), 250);
      await until('firewall base flows', a, 60000, async () => (await o.dumpFlows('br-int')).some((f) => f.includes('table=94')), 250);
      await until('agent alive in the API', a, 120000, async () => (await agentRecord(lab, host))?.alive === true, 500);
      await until('first rpc_loop iteration', a, 180000, async () => /rpc_loop - iteration:0 completed/.test(a.log(100_000_000).slice(from)), 500);
    };
    await ready(agent, 0);
    log(`reference agent ready after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    let ids = new Map<string, string>();
    const lines: { text: string } = { text: '' };
    ids = await runLogScenario({
      lab, ovs, host, log,
      assertAgentRunning: () => agent?.assertRunning(),
      restartAgent: async () => {
        const old = agent!;
        const from = old.log(100_000_000).length;
        await old.stop(10000);
        agent = await RunningAgent.start('reference', cfg, old.dir);
        await ready(agent, from);
      },
      capture: async (step, snapshot) => writeFileSync(join(out, `${step}.json`), JSON.stringify(snapshot, null, 2) + '\n'),
      trafficSent: async (results) => {
        writeFileSync(join(out, 'traffic.json'), JSON.stringify(results, null, 2) + '\n');
        await new Promise((r) => setTimeout(r, 2000));
        lines.text = readFileSync(packetsLog, 'utf8');
      },
    });
    writeFileSync(join(out, 'lines.json'), JSON.stringify(loggedLines(lines.text, ids, PROBE_LINES), null, 2) + '\n');
    if (process.env.LOG_CAPTURE_KEEP) writeFileSync(process.env.LOG_CAPTURE_KEEP, lines.text);
    assertNoIdsLeft(out, ids);
    log(`captured into ${out} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } catch (e) {
    throw captureFailure(e, agent?.log(6000));
  } finally {
    await cleanupAllVms().catch((e: unknown) => log(`VM cleanup: ${String(e)}`));
    if (agent) {
      await agent.stop(5000);
      if (process.env.LOG_CAPTURE_AGENT_LOG) writeFileSync(process.env.LOG_CAPTURE_AGENT_LOG, agent.log(50_000_000));
      agent.cleanup();
    }
    await ovs?.stop();
    await lab.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  log(`capture failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
