// What an agent restart costs the control plane. --ports (100) wired ports, all ACTIVE; the lab's
// CPU over --baseline-s (30) with the agent idle gives the idle rate. Then the agent is stopped
// (SIGTERM) and started, and once its restart is done (every port's flows re-added under the new
// cookie, the previous run's flows gone) the window goes on --after-s (60) more. Reported:
// neutron-server's CPU seconds (its workers included), RabbitMQ's (beam.smp) and MariaDB's over
// the window, the idle rate times the window's length subtracted; the RPC calls the agent made by
// method, counted at the broker (bench/control-plane.ts), the devices it reported up and the casts
// the server sent to every agent. At the end every port must still be ACTIVE and the restart
// reported; the window itself reads nothing from the API, so the probes cost the server nothing.
//   node dist/bench/server-cost.js [--runs N] [--ports N] [--baseline-s S] [--after-s S] [--no-reference]
import type { NeutronLab } from '../lab/neutron.js';
import { startLab } from '../lab/host.js';
import { argInt, haveReference, report, type Series } from './lib.js';
import {
  RunningAgent, activeCount, addPorts, agentRecord, endRun, intFlows, runRounds, seriesOf, sleep, startOvs, startReadyAgent, uniqueHost, until, waitPorts, type Side,
} from './agents.js';
import { BrokerTap, controlPlaneCpu, cpuDelta, type ControlPlaneCpu, type RpcTally } from './control-plane.js';

interface Run {
  /** Extra CPU seconds over the window (idle rate subtracted). */
  cost: ControlPlaneCpu;
  /** The idle rate, CPU seconds per second. */
  idleRate: ControlPlaneCpu;
  windowS: number;
  restartMs: number;
  tally: RpcTally;
  /** Calls over the baseline (state reports only, if the agent was idle). */
  idleCalls: number;
  activeAfter: number;
}

async function runOnce(lab: NeutronLab, side: Side, nPorts: number, baselineS: number, afterS: number): Promise<Run> {
  const ovs = await startOvs();
  const host = uniqueHost(side);
  let agent: RunningAgent | undefined;
  let tap: BrokerTap | undefined;
  try {
    agent = await startReadyAgent(lab, side, ovs, host);
    const { networkId, ports } = await addPorts(lab, ovs, host, nPorts, `srvcost-${host}`);
    const first = await waitPorts(performance.now(), { ovs, lab, networkId, ports, timeoutMs: 1200000, agent });
    if (Number.isNaN(first.activeMs)) throw new Error(`${side}: ${nPorts} ports not ACTIVE before the restart (${first.active} ACTIVE)`);
    tap = await BrokerTap.start(lab);

    // Idle: nothing left to do for this host; the lab's own rate (the agent's state reports included).
    // The reference reports every port up a second time once the server's status pushes arrive as
    // port updates: the baseline waits until the agent calls nothing but report_state for 20 s.
    await tap.quiet(20000, 600000);
    tap.reset();
    const b0 = controlPlaneCpu(lab);
    const tb0 = performance.now();
    await sleep(baselineS * 1000);
    const b1 = controlPlaneCpu(lab);
    const idleS = (performance.now() - tb0) / 1000;
    const d = cpuDelta(b0, b1);
    const idleRate = { server: d.server / idleS, rabbit: d.rabbit / idleS, db: d.db / idleS };

    const idleTally = tap.reset();
    const c0 = controlPlaneCpu(lab);
    const t0 = performance.now();
    const startedBefore = (await agentRecord(lab, host))!.started_at;
    await agent.stop();
    agent.cleanup();
    const bridges = ['br-int', 'br-tun', 'br-phys'];
    const old = new Set<string>();
    for (const br of bridges) for (const f of await intFlows(ovs, br)) old.add(f.cookie);
    agent = await RunningAgent.start(side, { host, transportUrl: lab.transportUrl, ovs });
    const a = agent;
    const w = await waitPorts(t0, { ovs, lab, networkId, ports, timeoutMs: 1200000, agent: a, checkActive: false, oldCookies: old });
    if (Number.isNaN(w.flowsMs)) throw new Error(`${side}: only ${w.flows}/${nPorts} ports re-wired after the restart; log:\n${a.log()}`);
    await until('stale flows cleaned', a, 1200000, async () => {
      for (const br of bridges) if ((await intFlows(ovs, br)).some((f) => old.has(f.cookie))) return false;
      return true;
    }, 200);
    const restartMs = performance.now() - t0;
    await sleep(afterS * 1000);
    const c1 = controlPlaneCpu(lab);
    const windowS = (performance.now() - t0) / 1000;
    const tally = tap.reset();
    const used = cpuDelta(c0, c1);
    const cost = { server: used.server - idleRate.server * windowS, rabbit: used.rabbit - idleRate.rabbit * windowS, db: used.db - idleRate.db * windowS };

    // What the user sees afterwards: the restart known to the server, every port still ACTIVE.
    const ids = new Set(ports.map((p) => p.id));
    const activeAfter = await activeCount(lab, networkId, ids);
    if ((await agentRecord(lab, host))?.started_at === startedBefore) throw new Error(`${side}: the restart was never reported to the server`);
    if (tap.undecoded) throw new Error(`${side}: ${tap.undecoded} messages on the broker could not be decoded`);
    process.stderr.write(
      `# ${side}: restart with ${nPorts} ports done in ${restartMs.toFixed(0)} ms; window ${windowS.toFixed(0)} s: neutron-server ${cost.server.toFixed(2)} s, ` +
        `RabbitMQ ${cost.rabbit.toFixed(2)} s, MariaDB ${cost.db.toFixed(2)} s CPU beyond idle; ${activeAfter}/${nPorts} ACTIVE; calls ${JSON.stringify(tally)}\n`,
    );
    const idleCalls = Object.values(idleTally.calls).reduce((x, y) => x + y, 0);
    return { cost, idleRate, windowS, restartMs, tally, idleCalls, activeAfter };
  } finally {
    await tap?.stop();
    await endRun(agent, ovs);
  }
}

async function main(): Promise<void> {
  const runs = argInt('runs', 3);
  const nPorts = argInt('ports', 100);
  const baselineS = argInt('baseline-s', 30);
  const afterS = argInt('after-s', 60);
  const ref = haveReference();
  const lab = await startLab();
  try {
    const res = await runRounds(runs, ref, (side) => runOnce(lab, side, nPorts, baselineS, afterS));
    const row = seriesOf(res, ref);
    const all = [...res.ours, ...res.reference];
    const keys = (pick: (t: RpcTally) => Record<string, number>): string[] => [...new Set(all.flatMap((r) => Object.keys(pick(r.tally))))].sort();
    const series: Series[] = [
      row('neutron-server CPU over the restart and after (idle subtracted)', 's', (r) => r.cost.server),
      row('RabbitMQ (beam.smp) CPU, same window', 's', (r) => r.cost.rabbit),
      row('MariaDB CPU, same window', 's', (r) => r.cost.db),
      row('restart → flows re-added and the previous run\'s gone', 'ms', (r) => r.restartMs),
      row('window (restart + after)', 's', (r) => r.windowS),
      row('neutron-server idle rate (agent running, nothing to do)', 's/min', (r) => r.idleRate.server * 60),
      row(`RPC calls over the ${baselineS} s baseline (state reports)`, 'calls', (r) => r.idleCalls),
      row(`ports ACTIVE at the end (of ${nPorts})`, 'ports', (r) => r.activeAfter),
      row('RPC calls to the server, all methods', 'calls', (r) => Object.values(r.tally.calls).reduce((a, b) => a + b, 0)),
      ...keys((t) => t.calls).map((m) => row(`  ${m}`, 'calls', (r) => r.tally.calls[m] ?? 0)),
      row('  devices reported up (update_device_list)', 'devices', (r) => r.tally.devicesUp),
      row('  update_device_list calls with refresh_tunnels', 'calls', (r) => r.tally.refreshTunnels),
      ...keys((t) => t.pulls).map((m) => row(`  bulk_pull of ${m}`, 'calls', (r) => r.tally.pulls[m] ?? 0)),
      ...keys((t) => t.fanouts).map((m) => row(`casts to every agent: ${m}`, 'casts', (r) => r.tally.fanouts[m] ?? 0)),
    ];
    report('server-cost', `What a restart with ${nPorts} wired ports costs the control plane (+${afterS} s after)`, series, { runs, ports: nPorts, baselineS, afterS });
  } finally {
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench server-cost failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
