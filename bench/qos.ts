// The `qos` agent extension, ours against the reference, both with `[agent] extensions = qos` (the
// reference's root commands reach the private OVS through `root_helper = env OVS_RUNDIR=<dir>`).
// (1) Policy changes with --ports (20) wired ACTIVE ports, all on one policy with a bandwidth_limit
//     egress rule of 10 000 kbps: from the API call's answer until
//       - the rule's max_kbps updated → every port's Interface.ingress_policing_rate shows the new value,
//       - a dscp_marking rule added to the policy → every port's DSCP flows (IPv4 and IPv6) in br-int table 0,
//       - one port's policy detached → its ingress_policing_rate 0, → its DSCP flows gone.
// (2) Cold start with --cold-ports (200) ports plugged, flows wiped, each on one of --policies (4) policies
//     with a bandwidth_limit egress and ingress rule: agent start → every port's egress policing rate and its
//     ingress QoS/Queue rows (linux-htb, queue 0 max-rate) in OVSDB, → every port ACTIVE; RSS after that.
// A wait that does not end within --timeout-s (300) is reported with how far it got.
//   node dist/bench/qos.js [--runs N] [--ports N] [--cold-ports N] [--policies N] [--timeout-s S] [--no-reference] [--skip change|cold]
import { type NeutronLab } from '../lab/neutron.js';
import { startLab } from '../lab/host.js';
import { type PrivateOvs } from '../lab/ovs.js';
import { listRows, mapOf, stringMap, uuidOf } from '../lab/ovsdb-rows.js';
import { argInt, haveReference, report, type Series } from './lib.js';
import {
  RunningAgent, activeCount, agentRecord, clearFlows, createNetwork, createPorts, endRun, missingReferenceNote, ofports, plugPorts, runRounds,
  sleep, startOvs, startReadyAgent, uniqueHost, until, waitPorts, type BenchPort, type Side,
} from './agents.js';

/** Both agents' configuration beyond the lab's: the extension, and the reference's ovs-vsctl/ovs-ofctl on the private OVS (ours ignores root_helper). */
function qosIni(ovs: PrivateOvs): string {
  return ['[agent]', 'extensions = qos', `root_helper = env OVS_RUNDIR=${ovs.dir}`, ''].join('\n');
}

/** How long a wait took (NaN: not within the timeout) and how many of `total` ports it reached. */
interface Timed {
  ms: number;
  reached: number;
  total: number;
}

/**
 * Polls `count` (how many ports satisfy the condition) from t0 until it reaches `total` or timeoutMs
 * passes; every 25 ms for the first 2 s, then every 200 ms, as waitPorts.
 */
async function timeUntil(what: string, t0: number, agent: RunningAgent, timeoutMs: number, total: number, count: () => Promise<number>): Promise<Timed> {
  let reached = 0;
  let lastProgress = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    agent.assertRunning();
    reached = await count();
    if (reached === total) return { ms: performance.now() - t0, reached, total };
    if (performance.now() - lastProgress > 30000) {
      lastProgress = performance.now();
      process.stderr.write(`# ${agent.side}: ${what}: ${((performance.now() - t0) / 1000).toFixed(0)} s: ${reached}/${total}\n`);
    }
    await sleep(performance.now() - t0 < 2000 ? 25 : 200);
  }
  process.stderr.write(`# ${agent.side}: ${what}: not within ${timeoutMs} ms (${reached}/${total})\n`);
  return { ms: NaN, reached, total };
}

/** Interface.ingress_policing_rate by interface name. */
async function policingRates(ovs: PrivateOvs): Promise<Map<string, number>> {
  const rows = await listRows(ovs, 'Interface', ['name', 'ingress_policing_rate']);
  return new Map(rows.map((r) => [String(r.name), Number(r.ingress_policing_rate)]));
}

/** Queue 0's max-rate (bit/s) of each Port's QoS, by port name (absent: no QoS or no queue 0). */
async function ingressMaxRates(ovs: PrivateOvs): Promise<Map<string, number>> {
  const [ports, qos, queues] = await Promise.all([
    listRows(ovs, 'Port', ['name', 'qos']),
    listRows(ovs, 'QoS', ['_uuid', 'queues']),
    listRows(ovs, 'Queue', ['_uuid', 'other_config']),
  ]);
  const queueRate = new Map(queues.map((q) => [uuidOf(q._uuid) ?? '', stringMap(q.other_config)['max-rate']]));
  const qosQueue0 = new Map(qos.map((q) => [uuidOf(q._uuid) ?? '', uuidOf(mapOf(q.queues).get('0'))]));
  const out = new Map<string, number>();
  for (const p of ports) {
    const queue = qosQueue0.get(uuidOf(p.qos) ?? '');
    const rate = queue === undefined ? undefined : queueRate.get(queue);
    if (rate !== undefined) out.set(String(p.name), Number(rate));
  }
  return out;
}

/** ofports whose br-int table-0 flows set DSCP `mark`, for IPv4 and for IPv6 both. */
async function dscpMarkedOfports(ovs: PrivateOvs, mark: number): Promise<Set<number>> {
  const dump = await ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', '--no-stats', 'br-int', 'table=0');
  const v4 = new Set<number>();
  const v6 = new Set<number>();
  for (const l of dump.split('\n')) {
    if (!l.includes(`set_field:${mark}->ip_dscp`)) continue;
    const m = /in_port=(\d+)/.exec(l);
    if (!m) continue;
    (/\bipv6\b/.test(l) ? v6 : /\bip\b/.test(l) ? v4 : new Set<number>()).add(Number(m[1]));
  }
  return new Set([...v4].filter((p) => v6.has(p)));
}

// ---- (1) policy changes on wired ports ----

const FIRST_KBPS = 10000;
const UPDATED_KBPS = 20000;
const DSCP_MARK = 26;

interface ChangeRun {
  updateApiMs: number;
  update: Timed;
  dscp: Timed;
  detachRate: Timed;
  detachDscp: Timed;
}

async function changeOnce(lab: NeutronLab, side: Side, nPorts: number, timeoutMs: number): Promise<ChangeRun> {
  const ovs = await startOvs();
  const host = uniqueHost(side);
  let agent: RunningAgent | undefined;
  try {
    agent = await startReadyAgent(lab, side, ovs, host, qosIni(ovs));
    const a = agent;
    const policy = await lab.createQosPolicy(`qos-change-${host}`);
    const rule = await lab.createQosRule(policy.id, 'bandwidth_limit', { max_kbps: FIRST_KBPS, direction: 'egress' });
    const networkId = await createNetwork(lab, `qos-change-${host}`);
    const ports = await createPorts(lab, networkId, host, nPorts, { fields: () => ({ qos_policy_id: policy.id }) });
    await plugPorts(ovs, ports);
    const wired = await waitPorts(performance.now(), { ovs, lab, networkId, ports, timeoutMs, agent: a });
    if (Number.isNaN(wired.flowsMs) || Number.isNaN(wired.activeMs)) throw new Error(`${side}: ${nPorts} ports not wired (${wired.flows} with flows, ${wired.active} ACTIVE)`);
    const limited = (kbps: number) => async (): Promise<number> => {
      const rates = await policingRates(ovs);
      return ports.filter((p) => rates.get(p.name) === kbps).length;
    };
    const first = await timeUntil(`first limit ${FIRST_KBPS} kbps`, performance.now(), a, timeoutMs, nPorts, limited(FIRST_KBPS));
    if (Number.isNaN(first.ms)) throw new Error(`${side}: the policy's first limit is on ${first.reached}/${nPorts} ports only; log:\n${a.log()}`);
    await sleep(2000); // at rest: the reference's loop and our reports done

    const tApi = performance.now();
    await lab.updateQosRule(policy.id, 'bandwidth_limit', rule.id, { max_kbps: UPDATED_KBPS });
    const t0 = performance.now();
    const update = await timeUntil(`max_kbps ${UPDATED_KBPS}`, t0, a, timeoutMs, nPorts, limited(UPDATED_KBPS));
    await sleep(1000);

    await lab.createQosRule(policy.id, 'dscp_marking', { dscp_mark: DSCP_MARK });
    const t1 = performance.now();
    const ofp = await ofports(ovs);
    const dscp = await timeUntil(`dscp ${DSCP_MARK} flows`, t1, a, timeoutMs, nPorts, async () => {
      const marked = await dscpMarkedOfports(ovs, DSCP_MARK);
      return ports.filter((p) => marked.has(ofp.get(p.name) ?? -1)).length;
    });
    await sleep(1000);

    // One port's policy detached: its policing back to 0, its DSCP flows gone (polled together).
    const victim: BenchPort = ports[0]!;
    const victimOf = ofp.get(victim.name) ?? -1;
    await lab.setPortQosPolicy(victim.id, null);
    const t2 = performance.now();
    let rateMs = NaN;
    let dscpMs = NaN;
    while (performance.now() - t2 < timeoutMs && (Number.isNaN(rateMs) || Number.isNaN(dscpMs))) {
      a.assertRunning();
      if (Number.isNaN(rateMs) && (await policingRates(ovs)).get(victim.name) === 0) rateMs = performance.now() - t2;
      if (Number.isNaN(dscpMs) && !(await dscpMarkedOfports(ovs, DSCP_MARK)).has(victimOf)) dscpMs = performance.now() - t2;
      await sleep(performance.now() - t2 < 2000 ? 25 : 200);
    }
    const detachRate = { ms: rateMs, reached: Number.isNaN(rateMs) ? 0 : 1, total: 1 };
    const detachDscp = { ms: dscpMs, reached: Number.isNaN(dscpMs) ? 0 : 1, total: 1 };
    process.stderr.write(
      `# ${side} ${nPorts} ports: update ${update.ms.toFixed(0)} ms (API ${(t0 - tApi).toFixed(0)} ms), dscp ${dscp.ms.toFixed(0)} ms, detach: rate ${rateMs.toFixed(0)} ms, dscp gone ${dscpMs.toFixed(0)} ms\n`,
    );
    return { updateApiMs: t0 - tApi, update, dscp, detachRate, detachDscp };
  } finally {
    await endRun(agent, ovs);
  }
}

// ---- (2) cold start with policies ----

interface ColdRun {
  qos: Timed;
  active: Timed;
  rss: { agent: number; privsep: number };
}

/** Policy i's limits: egress and ingress kbps, distinct per policy so that a port with the wrong one does not count. */
const coldLimits = (i: number): { egress: number; ingress: number } => ({ egress: 10000 + 1000 * i, ingress: 5000 + 1000 * i });

async function coldOnce(lab: NeutronLab, side: Side, nPorts: number, nPolicies: number, timeoutMs: number): Promise<ColdRun> {
  const ovs = await startOvs();
  const host = uniqueHost(side);
  let agent: RunningAgent | undefined;
  try {
    // The host's agent must be alive for its ports to bind: started once to register, then stopped.
    agent = await RunningAgent.start(side, { host, transportUrl: lab.transportUrl, ovs, extraIni: qosIni(ovs) });
    const first = agent;
    await until('registration', first, 120000, async () => (await agentRecord(lab, host))?.alive === true, 200);
    const policies: string[] = [];
    for (let i = 0; i < nPolicies; i++) {
      const p = await lab.createQosPolicy(`qos-cold-${host}-${i}`);
      const { egress, ingress } = coldLimits(i);
      await lab.createQosRule(p.id, 'bandwidth_limit', { max_kbps: egress, direction: 'egress' });
      await lab.createQosRule(p.id, 'bandwidth_limit', { max_kbps: ingress, direction: 'ingress' });
      policies.push(p.id);
    }
    const networkId = await createNetwork(lab, `qos-cold-${host}`);
    const ports = await createPorts(lab, networkId, host, nPorts, { fields: (i) => ({ qos_policy_id: policies[i % nPolicies] }) });
    const limits = new Map(ports.map((p, i) => [p.name, coldLimits(i % nPolicies)]));
    await agent.stop();
    agent.cleanup();
    agent = undefined;
    await plugPorts(ovs, ports);
    await clearFlows(ovs);

    const t0 = performance.now();
    agent = await RunningAgent.start(side, { host, transportUrl: lab.transportUrl, ovs, extraIni: qosIni(ovs) });
    const a = agent;
    const ids = new Set(ports.map((p) => p.id));
    const qos = await timeUntil('QoS in OVSDB', t0, a, timeoutMs, nPorts, async () => {
      const [rates, queues] = await Promise.all([policingRates(ovs), ingressMaxRates(ovs)]);
      return ports.filter((p) => {
        const l = limits.get(p.name)!;
        return rates.get(p.name) === l.egress && queues.get(p.name) === l.ingress * 1000;
      }).length;
    });
    const active = await timeUntil('ACTIVE', t0, a, timeoutMs, nPorts, () => activeCount(lab, networkId, ids));
    await sleep(2000);
    const rss = a.rss();
    process.stderr.write(`# ${side} cold start, ${nPorts} ports: QoS ${qos.ms.toFixed(0)} ms (${qos.reached}), ACTIVE ${active.ms.toFixed(0)} ms (${active.reached}), RSS ${rss.agent.toFixed(1)} MiB\n`);
    return { qos, active, rss };
  } finally {
    await endRun(agent, ovs);
  }
}

// ---- the table ----

/** A row of timed waits: the runs that finished; those that did not are said in the label (ours) or the note (reference). */
function timedRow<R>(res: Record<Side, R[]>, skipped: string | undefined, timeoutMs: number, label: string, pick: (r: R) => Timed): Series {
  const done = (rs: R[]): number[] => rs.map((r) => pick(r).ms).filter((x) => !Number.isNaN(x));
  const unfinished = (rs: R[]): string[] => rs.map(pick).filter((t) => Number.isNaN(t.ms)).map((t) => `${t.reached}/${t.total}`);
  const oursOut = unfinished(res.ours);
  const refOut = unfinished(res.reference);
  const reference = done(res.reference);
  const note = skipped ?? (refOut.length ? `${reference.length ? `${refOut.length} of ${res.reference.length} runs ` : ''}not within ${timeoutMs / 1000} s (reached ${refOut.join(', ')})` : undefined);
  return {
    label: `${label}${oursOut.length ? ` (ours not within ${timeoutMs / 1000} s: ${oursOut.join(', ')})` : ''}`,
    unit: 'ms',
    ours: done(res.ours),
    reference,
    ...(note ? { referenceNote: note } : {}),
  };
}

async function main(): Promise<void> {
  const runs = argInt('runs', 3);
  const nPorts = argInt('ports', 20);
  const coldPorts = argInt('cold-ports', 200);
  const nPolicies = argInt('policies', 4);
  const timeoutMs = argInt('timeout-s', 300) * 1000;
  const skipAt = process.argv.indexOf('--skip');
  const skip = skipAt > 0 ? (process.argv[skipAt + 1] ?? '') : '';
  const ref = haveReference();
  const lab = await startLab();
  try {
    if (!lab.qos) throw new Error('the lab runs without the QoS service plugin');
    const rows: Series[] = [];
    const extra: Record<string, unknown> = { runs, ports: nPorts, coldPorts, policies: nPolicies, timeoutMs };
    if (skip !== 'change') {
      const res = await runRounds(runs, ref, (side) => changeOnce(lab, side, nPorts, timeoutMs));
      const skipped = missingReferenceNote(ref, res.reference.length);
      rows.push(
        timedRow(res, skipped, timeoutMs, `bandwidth_limit egress ${FIRST_KBPS} → ${UPDATED_KBPS} kbps (API answer) → every port's ingress_policing_rate (${nPorts} ports)`, (r) => r.update),
        timedRow(res, skipped, timeoutMs, `dscp_marking ${DSCP_MARK} added (API answer) → every port's DSCP flows, IPv4 + IPv6 (${nPorts} ports)`, (r) => r.dscp),
        timedRow(res, skipped, timeoutMs, `one port's policy detached (API answer) → its ingress_policing_rate 0`, (r) => r.detachRate),
        timedRow(res, skipped, timeoutMs, `… → its DSCP flows gone`, (r) => r.detachDscp),
        {
          label: 'the rule update\'s API call itself (neutron-server, for reference)', unit: 'ms',
          ours: res.ours.map((r) => r.updateApiMs), reference: res.reference.map((r) => r.updateApiMs), ...(skipped ? { referenceNote: skipped } : {}),
        },
      );
    }
    if (skip !== 'cold') {
      const res = await runRounds(runs, ref, (side) => coldOnce(lab, side, coldPorts, nPolicies, timeoutMs));
      const skipped = missingReferenceNote(ref, res.reference.length);
      const mem = (label: string, pick: (r: ColdRun) => number, refOnly = false): Series => ({
        label, unit: 'MiB', ours: refOnly ? [0] : res.ours.map(pick), reference: res.reference.map(pick), ...(skipped ? { referenceNote: skipped } : {}),
      });
      rows.push(
        timedRow(res, skipped, timeoutMs, `cold start, ${coldPorts} plugged ports on ${nPolicies} policies (egress + ingress limit), flows wiped → every port's policing rate and QoS/Queue rows`, (r) => r.qos),
        timedRow(res, skipped, timeoutMs, '… → every port ACTIVE', (r) => r.active),
        mem(`RSS after that (agent process, ${coldPorts} ports)`, (r) => r.rss.agent),
        mem('RSS of the privsep helpers then (ours has none)', (r) => r.rss.privsep, true),
      );
    }
    report('qos', `QoS extension: policy changes on ${nPorts} wired ports, cold start with ${coldPorts} ports on ${nPolicies} policies`, rows, extra);
  } finally {
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench qos failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
