// Process start → all default flows → agent (re)started in the API → first full sync with the server
// done: every port already plugged in br-int (as on a host coming back up) ACTIVE with its flows.
// Ours and the reference, same config, same neutron-server, a fresh private OVS per run.
//   node dist/bench/sync.js [--runs N] [--ports N] [--no-reference]
// The host's agent must be known to the server for its ports to bind: each run starts the agent once
// to register, creates the ports, stops it, plugs the ports, then measures a fresh start.
import { type NeutronLab } from '../lab/neutron.js';
import { startLab } from '../lab/host.js';
import { argInt, haveReference, report } from './lib.js';
import {
  RunningAgent, agentRecord, endRun, clearFlows, createNetwork, createPorts, defaultFlowsReady, plugPorts, runRounds, seriesOf, startOvs, uniqueHost, until, waitPorts, type Side,
} from './agents.js';

interface Run {
  flowsMs: number;
  aliveMs: number;
  syncMs: number;
}

async function runOnce(lab: NeutronLab, side: Side, nPorts: number): Promise<Run> {
  const ovs = await startOvs();
  const host = uniqueHost(side);
  let agent: RunningAgent | undefined;
  try {
    agent = await RunningAgent.start(side, { host, transportUrl: lab.transportUrl, ovs });
    await until('registration', agent, 120000, async () => (await agentRecord(lab, host))?.alive === true, 200);
    const before = (await agentRecord(lab, host))!.started_at;
    const networkId = await createNetwork(lab, `sync-${host}`);
    const ports = await createPorts(lab, networkId, host, nPorts);
    await agent.stop();
    agent.cleanup();
    await plugPorts(ovs, ports);
    await clearFlows(ovs);

    const t0 = performance.now();
    agent = await RunningAgent.start(side, { host, transportUrl: lab.transportUrl, ovs });
    const a = agent;
    await until('default flows', a, 120000, () => defaultFlowsReady(ovs), 20);
    const flowsMs = performance.now() - t0;
    await until('start reported', a, 120000, async () => (await agentRecord(lab, host))?.started_at !== before, 50);
    const aliveMs = performance.now() - t0;
    const w = await waitPorts(t0, { ovs, lab, networkId, ports, timeoutMs: 300000, agent: a });
    if (Number.isNaN(w.flowsMs) || Number.isNaN(w.activeMs)) throw new Error(`${side}: ports not synced in 300 s (${w.flows} with flows, ${w.active} ACTIVE of ${nPorts}); log:\n${a.log()}`);
    return { flowsMs, aliveMs, syncMs: Math.max(w.flowsMs, w.activeMs) };
  } finally {
    await endRun(agent, ovs);
  }
}

async function main(): Promise<void> {
  const runs = argInt('runs', 3);
  const nPorts = argInt('ports', 100);
  const ref = haveReference();
  const lab = await startLab();
  try {
    const res = await runRounds(runs, ref, (side) => runOnce(lab, side, nPorts));
    const row = seriesOf(res, ref);
    report('sync', `Start-up with ${nPorts} ports already plugged: process start to default flows, start reported, first full sync done`, [
      row('start → default flows', 'ms', (r) => r.flowsMs),
      row('start → agent start reported in the API', 'ms', (r) => r.aliveMs),
      row(`start → first full sync (${nPorts} ports ACTIVE + flows)`, 'ms', (r) => r.syncMs),
    ], { runs, ports: nPorts });
  } finally {
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench sync failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
