// Agent restart with N wired ports (default 500): from the new process's start until the first full
// sync is done (the server told of the restart, every port's flows re-added under the new run's
// cookie, tags in place) and until the stale flows (every flow of the previous run's cookies, plus one
// planted stale flow) are gone. Then CPU seconds used by the agent (and, apart, its helper
// processes: privsep daemons, ovsdb-client monitor) while idle for --idle-s seconds (default 60).
//   node dist/bench/restart.js [--runs N] [--ports N] [--idle-s S] [--no-reference]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { NeutronLab } from '../test/helpers/neutron.js';
import { argInt, haveReference, report, type Series } from './lib.js';
import {
  RunningAgent, agentRecord, createNetwork, createPorts, defaultFlowsReady, intFlows, plugPorts, sides, sleep, startOvs, uniqueHost, until, waitPorts, type Side,
} from './agents.js';

const run = promisify(execFile);

interface Run {
  syncMs: number;
  cleanMs: number;
  idleCpu: number;
  idleHelpersCpu: number;
}

async function runOnce(lab: NeutronLab, side: Side, nPorts: number, idleS: number): Promise<Run> {
  const ovs = await startOvs();
  const host = uniqueHost(side);
  let agent = await RunningAgent.start(side, { host, transportUrl: lab.transportUrl, ovs });
  try {
    await until('default flows', agent, 120000, () => defaultFlowsReady(ovs), 100);
    await until('agent alive', agent, 120000, async () => (await agentRecord(lab, host))?.alive === true, 200);
    const networkId = await createNetwork(lab, `restart-${host}`);
    const ports = await createPorts(lab, networkId, host, nPorts);
    await plugPorts(ovs, ports);
    const first = await waitPorts(performance.now(), { ovs, lab, networkId, ports, timeoutMs: 1200000, agent });
    if (Number.isNaN(first.flowsMs) || Number.isNaN(first.activeMs)) throw new Error(`${side}: ${nPorts} ports not wired before the restart (${first.flows} flows, ${first.active} ACTIVE)`);
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
    agent = await RunningAgent.start(side, { host, transportUrl: lab.transportUrl, ovs });
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
    await sleep(5000);
    const c0 = a.cpu();
    await sleep(idleS * 1000);
    const c1 = a.cpu();
    return { syncMs, cleanMs, idleCpu: c1.agent - c0.agent, idleHelpersCpu: c1.helpers - c0.helpers };
  } finally {
    await agent.stop();
    agent.cleanup();
    await ovs.stop();
  }
}

async function main(): Promise<void> {
  const runs = argInt('runs', 3);
  const nPorts = argInt('ports', 500);
  const idleS = argInt('idle-s', 60);
  const ref = haveReference();
  const lab = await NeutronLab.start();
  try {
    const res: Record<Side, Run[]> = { ours: [], reference: [] };
    for (let i = 0; i < runs; i++) for (const side of sides(ref)) res[side].push(await runOnce(lab, side, nPorts, idleS));
    const note = !ref ? 'reference agent not installed' : res.reference.length ? undefined : 'skipped (--no-reference)';
    const row = (label: string, unit: string, pick: (r: Run) => number): Series => ({
      label, unit, ours: res.ours.map(pick), reference: res.reference.map(pick), ...(note ? { referenceNote: note } : {}),
    });
    report('restart', `Agent restart with ${nPorts} wired ports, then ${idleS} s idle`, [
      row(`restart → ${nPorts} ports' flows re-added (new cookie)`, 'ms', (r) => r.syncMs),
      row('restart → stale flows cleaned', 'ms', (r) => r.cleanMs),
      row(`CPU while idle ${idleS} s with ${nPorts} ports (agent process)`, 's', (r) => r.idleCpu),
      row(`CPU while idle ${idleS} s (helper processes: privsep, ovsdb-client)`, 's', (r) => r.idleHelpersCpu),
    ], { runs, ports: nPorts, idleS });
  } finally {
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench restart failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
