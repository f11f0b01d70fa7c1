// N wired ports (default 500), all ACTIVE: CPU seconds used by the agent (and, apart, its helper
// processes: privsep daemons, ovsdb-client monitor) while idle for --idle-s seconds (default 60).
// Then an agent restart: from the new process's start until the first full sync is done (the server
// told of the restart, every port's flows re-added under the new run's cookie, tags in place) and
// until the stale flows (every flow of the previous run's cookies, plus one planted stale flow) are gone.
// --flow-audit-interval S sets ours' [agent] flow_audit_interval (0: no periodic audit), to tell the
// audit's share of the idle CPU.
//   node dist/bench/restart.js [--runs N] [--ports N] [--idle-s S] [--flow-audit-interval S] [--no-reference]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type NeutronLab } from '../lab/neutron.js';
import { startLab } from '../lab/host.js';
import { argInt, haveReference, report } from './lib.js';
import {
  RunningAgent, addPorts, endRun, agentRecord, intFlows, runRounds, seriesOf, sleep, startOvs, startReadyAgent, uniqueHost, until, waitPorts, type Side,
} from './agents.js';

const run = promisify(execFile);

interface Run {
  syncMs: number;
  cleanMs: number;
  idleCpu: number;
  idleHelpersCpu: number;
}

async function runOnce(lab: NeutronLab, side: Side, nPorts: number, idleS: number, auditS: number | undefined): Promise<Run> {
  const ovs = await startOvs();
  const host = uniqueHost(side);
  const extraIni = side === 'ours' && auditS !== undefined ? `[agent]\nflow_audit_interval = ${auditS}\n` : undefined;
  let agent: RunningAgent | undefined;
  try {
    agent = await startReadyAgent(lab, side, ovs, host, extraIni);
    const { networkId, ports } = await addPorts(lab, ovs, host, nPorts, `restart-${host}`);
    const first = await waitPorts(performance.now(), { ovs, lab, networkId, ports, timeoutMs: 1200000, agent });
    if (Number.isNaN(first.flowsMs) || Number.isNaN(first.activeMs)) throw new Error(`${side}: ${nPorts} ports not wired before the restart (${first.flows} flows, ${first.active} ACTIVE)`);

    // Idle: every port wired and ACTIVE, so neither the agent nor the server has work left for this
    // host; what the agent spends now is its steady-state cost (polling, probes, state reports).
    await sleep(10000);
    const c0 = agent.cpu();
    await sleep(idleS * 1000);
    const c1 = agent.cpu();
    const idle = { idleCpu: c1.agent - c0.agent, idleHelpersCpu: c1.helpers - c0.helpers };
    process.stderr.write(`# ${side}: idle ${idleS} s with ${nPorts} ports: ${idle.idleCpu.toFixed(2)} s CPU (helpers ${idle.idleHelpersCpu.toFixed(2)} s)\n`);

    await agent.stop();
    agent.cleanup();
    const startedBefore = (await agentRecord(lab, host))!.started_at;

    // The previous run's cookies, and one stale flow of its own that nothing re-adds.
    const bridges = ['br-int', 'br-tun', 'br-phys'];
    const old = new Set<string>();
    for (const br of bridges) for (const f of await intFlows(ovs, br)) old.add(f.cookie);
    const someOld = [...old].find((c) => c !== '0x0')!;
    await run('ovs-ofctl', ['-O', 'OpenFlow13', 'add-flow', 'br-int', `cookie=${someOld},table=60,priority=77,dl_dst=fa:16:3e:99:99:99,actions=drop`], { env: ovs.env });

    const t0 = performance.now();
    agent = await RunningAgent.start(side, { host, transportUrl: lab.transportUrl, ovs, ...(extraIni !== undefined ? { extraIni } : {}) });
    const a = agent;
    const w = await waitPorts(t0, { ovs, lab, networkId, ports, timeoutMs: 1200000, agent: a, checkActive: false, oldCookies: old });
    await until('restart reported', a, 120000, async () => (await agentRecord(lab, host))?.started_at !== startedBefore, 100);
    if (Number.isNaN(w.flowsMs)) throw new Error(`${side}: only ${w.flows}/${nPorts} ports re-wired after the restart; log:\n${a.log()}`);
    const syncMs = Math.max(w.flowsMs, performance.now() - t0);
    await until('stale flows cleaned', a, 1200000, async () => {
      for (const br of bridges) if ((await intFlows(ovs, br)).some((f) => old.has(f.cookie))) return false;
      return true;
    }, 100);
    const cleanMs = performance.now() - t0;
    process.stderr.write(`# ${side}: restart with ${nPorts} ports: flows re-added ${syncMs.toFixed(0)} ms, stale flows cleaned ${cleanMs.toFixed(0)} ms\n`);
    return { syncMs, cleanMs, ...idle };
  } finally {
    await endRun(agent, ovs);
  }
}

async function main(): Promise<void> {
  const runs = argInt('runs', 3);
  const nPorts = argInt('ports', 500);
  const idleS = argInt('idle-s', 60);
  const auditS = process.argv.includes('--flow-audit-interval') ? argInt('flow-audit-interval', 60) : undefined;
  const ref = haveReference();
  const lab = await startLab();
  try {
    const res = await runRounds(runs, ref, (side) => runOnce(lab, side, nPorts, idleS, auditS));
    const row = seriesOf(res, ref);
    report('restart', `${nPorts} wired ports: ${idleS} s idle, then an agent restart`, [
      row(`restart → ${nPorts} ports' flows re-added (new cookie)`, 'ms', (r) => r.syncMs),
      row('restart → stale flows cleaned', 'ms', (r) => r.cleanMs),
      row(`CPU while idle ${idleS} s with ${nPorts} ports (agent process)`, 's', (r) => r.idleCpu),
      row(`CPU while idle ${idleS} s (helper processes: privsep, ovsdb-client)`, 's', (r) => r.idleHelpersCpu),
    ], { runs, ports: nPorts, idleS, ...(auditS !== undefined ? { flowAuditIntervalS: auditS } : {}) });
  } finally {
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench restart failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
