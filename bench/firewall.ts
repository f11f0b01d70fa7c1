// Security-group firewall, ours against the reference, same lab, same OVS build, same configuration
// (bench/agents.ts) plus [securitygroup] firewall_driver:
//  openvswitch (each side on a fresh private OVS, one agent run per side for (a)-(c)):
//   (a) cold start with --ports N ports already plugged (flows wiped, as after a host reboot), all in
//       one group G whose rules are "ingress from G itself" and "egress any": process start → every
//       port filtered (its table-60 classification flow in_port=<ofport> and its table-82
//       conjunction flows reg5=<ofport> present);
//   (b) once every port is ACTIVE (the first full sync over), one rule (ingress tcp 5201 from
//       203.0.113.0/24) added to G → its table-82 flows present for every port; removed → none left;
//       timed from the API's answer;
//   (c) a remote group R of --members M ports that are not on this host (members, never local), one
//       local port P in a group whose rule admits R: P plugged → filtered with every member's flow;
//       one member added / removed → its flow (table 82, nw_src=<its address>) present / absent.
//  iptables_hybrid: cold start with --hybrid-ports N ports in G already plugged (their qvo ends on
//   br-int, iptables empty): process start → every port's chains (neutron-openvswi-i/o/s<id>) in
//   iptables-save.
// The reference runs with `[agent] root_helper = env OVS_RUNDIR=<private OVS dir>` so that its
// ovs-ofctl calls reach the private OVS and /var/run/openvswitch is left alone.
//   node dist/bench/firewall.js [--runs N] [--ports N] [--members M] [--hybrid-ports N] [--timeout-s S]
//                               [--skip ovs|hybrid] [--no-reference]
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PrivateOvs } from '../lab/ovs.js';
import { type NeutronLab, LAB_PROJECT } from '../lab/neutron.js';
import { startLab } from '../lab/host.js';
import { createRule, createSecurityGroup, deleteRule } from '../lab/security-groups.js';
import { resetFirewallState } from '../test/helpers/iptables.js';
import { argInt, haveReference, report, stopOnSignals, type Series } from './lib.js';
import {
  PORTS_PER_BULK, RunningAgent, activeCount, endRun, agentRecord, clearFlows, defaultFlowsReady, plugPorts, sides, sleep, uniqueHost, until, type BenchPort, type Side,
} from './agents.js';

const run = promisify(execFile);

/** A port made here: what plugging it needs, and its fixed IPv4 address. */
interface FwPort extends BenchPort {
  ip: string;
}

/** The rule (b) adds: a distinctive destination port, so its flows are told apart from all others. */
const PROBE_TCP_PORT = 5201;

function argStr(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

// What a signal (the run's `timeout`, Ctrl-C) must still stop: the lab, the agent, the private OVS.
const stopOnSignal = stopOnSignals((line) => progress(line));

function progress(line: string): void {
  process.stderr.write(`# ${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/** Extra configuration of each side: the firewall driver, and for the reference its root commands on the private OVS. */
function firewallIni(side: Side, driver: 'openvswitch' | 'iptables_hybrid', ovs: PrivateOvs, lockDir: string): string {
  const lines = ['[securitygroup]', `firewall_driver = ${driver}`];
  if (side === 'reference') {
    // iptables_manager takes an external file lock around every apply.
    lines.push('[agent]', `root_helper = env OVS_RUNDIR=${ovs.dir}`, '[oslo_concurrency]', `lock_path = ${lockDir}`);
  }
  return lines.join('\n') + '\n';
}

async function createNet(lab: NeutronLab, name: string, cidr: string): Promise<string> {
  const net = await lab.createNetwork({ name, provider: { network_type: 'vxlan' } });
  await lab.api('POST', '/v2.0/subnets', {
    subnet: { network_id: net.id, cidr, ip_version: 4, tenant_id: LAB_PROJECT, enable_dhcp: false, gateway_ip: null },
  });
  return net.id;
}

/**
 * n ports in the given security groups, bound to host, created in bulk (`chunk` per request).
 * `bound`: the host has an agent, so each port must come back bound by the openvswitch driver.
 */
async function createSgPorts(
  lab: NeutronLab, networkId: string, host: string | undefined, n: number, groups: string[], opts: { devicePrefix: 'tap' | 'qvo'; chunk?: number },
): Promise<FwPort[]> {
  const chunk = opts.chunk ?? PORTS_PER_BULK;
  const out: FwPort[] = [];
  for (let i = 0; i < n; i += chunk) {
    const ports = Array.from({ length: Math.min(chunk, n - i) }, () => ({
      network_id: networkId, tenant_id: LAB_PROJECT, device_owner: 'compute:nova', device_id: randomUUID(), security_groups: groups,
      ...(host !== undefined ? { 'binding:host_id': host } : {}),
    }));
    const r = await lab.api<{ ports: { id: string; mac_address: string; 'binding:vif_type': string; fixed_ips: { ip_address: string }[] }[] }>('POST', '/v2.0/ports', { ports });
    for (const p of r.ports) {
      if (host !== undefined && p['binding:vif_type'] !== 'ovs') throw new Error(`port ${p.id} not bound to ${host} by the openvswitch driver (vif_type ${p['binding:vif_type']}): is the agent alive?`);
      const ip = p.fixed_ips[0]?.ip_address;
      if (!ip) throw new Error(`port ${p.id} got no fixed IP`);
      out.push({ id: p.id, mac: p.mac_address, name: `${opts.devicePrefix}${p.id.slice(0, 11)}`, ip });
    }
    if (n > chunk) progress(`created ${out.length}/${n} ports${host !== undefined ? ` on ${host}` : ''}`);
  }
  return out;
}

/** What the OVS firewall has on br-int, read from one dump-flows. */
interface FirewallView {
  /** ofports with a table-60 classification flow (in_port=<ofport>, priority 100). */
  classified: Set<number>;
  /** ofports (reg5) with table-82 conjunction flows. */
  conjunctions: Set<number>;
  /** Remote-group member addresses (nw_src) of table-82 conjunction flows. */
  memberIps: Set<string>;
  /** ofports (reg5) with a table-82 flow for the probe rule (tp_dst=PROBE_TCP_PORT). */
  probeRule: Set<number>;
}

async function firewallView(ovs: PrivateOvs): Promise<FirewallView> {
  let stdout: string;
  try {
    ({ stdout } = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-flows', '--no-stats', 'br-int'], { env: ovs.env, maxBuffer: 512 << 20 }));
  } catch (e) {
    throw new Error(`dump-flows br-int of ${ovs.dir}: ${(e as { stderr?: string }).stderr ?? String(e)}`);
  }
  const v: FirewallView = { classified: new Set(), conjunctions: new Set(), memberIps: new Set(), probeRule: new Set() };
  for (const l of stdout.split('\n')) {
    if (l.includes('table=60,') && l.includes('priority=100,')) {
      const m = /in_port=(\d+)/.exec(l);
      if (m) v.classified.add(Number(m[1]));
    } else if (l.includes('table=82,')) {
      const reg5 = /reg5=0x([0-9a-f]+)/.exec(l);
      if (l.includes('actions=conjunction(')) {
        if (reg5) v.conjunctions.add(parseInt(reg5[1]!, 16));
        const src = /nw_src=([0-9.]+)[, ]/.exec(l);
        if (src) v.memberIps.add(src[1]!);
      }
      if (reg5 && l.includes(`tp_dst=${PROBE_TCP_PORT}`)) v.probeRule.add(parseInt(reg5[1]!, 16));
    }
  }
  return v;
}

async function ofportsOf(ovs: PrivateOvs, ports: BenchPort[]): Promise<number[]> {
  const { stdout } = await run('ovs-vsctl', [`--db=${ovs.unixConnection}`, '-f', 'csv', '--no-headings', '--columns=name,ofport', 'list', 'Interface'], { env: ovs.env, maxBuffer: 64 << 20 });
  const m = new Map<string, number>();
  for (const l of stdout.split('\n')) {
    const [name, of] = l.split(',');
    if (name && of) m.set(name.replace(/"/g, ''), Number(of));
  }
  return ports.map((p) => {
    const of = m.get(p.name);
    if (of === undefined || of <= 0) throw new Error(`${p.name} (port ${p.id}) has no ofport on ${ovs.dir}`);
    return of;
  });
}

/**
 * Polls `check` (which returns how far it got, and whether it is done) from t0 until done or timeoutMs:
 * every 25 ms for the first 2 s, then every 200 ms (polling competes with the agents on this machine).
 * Returns ms from t0, NaN on timeout; a progress line every 30 s.
 */
async function timeUntil(what: string, agent: RunningAgent, t0: number, timeoutMs: number, check: () => Promise<{ done: boolean; got: string }>): Promise<{ ms: number; got: string }> {
  let got = '';
  let lastLine = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    agent.assertRunning();
    const c = await check();
    got = c.got;
    if (c.done) return { ms: performance.now() - t0, got };
    if (performance.now() - lastLine > 30000) {
      lastLine = performance.now();
      progress(`${agent.side}: ${what}: ${((performance.now() - t0) / 1000).toFixed(0)} s, ${got}`);
    }
    await sleep(performance.now() - t0 < 2000 ? 25 : 200);
  }
  progress(`${agent.side}: ${what}: NOT within ${timeoutMs / 1000} s (${got})`);
  return { ms: NaN, got };
}

/**
 * The remote group R and its members, shared by both sides. The members are unbound (no
 * binding:host_id): neutron counts them as members all the same, and no agent has them. Bound to a
 * host without an agent, each port costs ML2 ten failed binding attempts (about 5 s a port on this
 * machine), which made 2000 members impossible to create in the time a run has.
 */
interface Members {
  groupId: string;
  networkId: string;
  ips: Set<string>;
}

async function createMembers(lab: NeutronLab, m: number): Promise<Members> {
  const { sg } = await createSecurityGroup(lab, `fw-members-${process.pid}`, [{ direction: 'egress' }]);
  const networkId = await createNet(lab, `fw-members-${process.pid}`, '198.19.0.0/20');
  const ports = await createSgPorts(lab, networkId, undefined, m, [sg.id], { devicePrefix: 'tap' });
  return { groupId: sg.id, networkId, ips: new Set(ports.map((p) => p.ip)) };
}

interface OvsRun {
  coldStartMs: number;
  ruleAddMs: number;
  ruleRemoveMs: number;
  remotePlugMs: number;
  memberAddMs: number;
  memberRemoveMs: number;
  /** How far each step got, for a step that timed out. */
  notes: string[];
}

/** (a), (b), (c) on one agent run of `side`. */
/**
 * Ports bind only to a host whose agent is alive: start the agent once to register the host, create
 * a group (ingress from itself, egress any), a network and n ports in that group bound to the host,
 * then stop the agent again. Its process never outlives this call.
 */
async function registeredGroupPorts(
  lab: NeutronLab, side: Side, cfg: Parameters<typeof RunningAgent.start>[1], name: string, n: number, devicePrefix: 'tap' | 'qvo',
): Promise<{ groupId: string; networkId: string; ports: FwPort[] }> {
  const agent = await RunningAgent.start(side, cfg);
  try {
    await until('registration', agent, 180000, async () => (await agentRecord(lab, cfg.host))?.alive === true, 250);
    const { sg } = await createSecurityGroup(lab, name, [{ direction: 'ingress', remote_group_id: 'self' }, { direction: 'egress' }]);
    const networkId = await createNet(lab, name, '198.18.0.0/20');
    return { groupId: sg.id, networkId, ports: await createSgPorts(lab, networkId, cfg.host, n, [sg.id], { devicePrefix }) };
  } finally {
    await agent.stop();
    agent.cleanup();
  }
}

async function runOvs(lab: NeutronLab, side: Side, n: number, members: Members, timeoutMs: number): Promise<OvsRun> {
  const ovs = await PrivateOvs.start({ tcp: true });
  const lockDir = mkdtempSync(join(tmpdir(), 'bench-fw-lock-'));
  const host = uniqueHost(side);
  const cfg = { host, transportUrl: lab.transportUrl, ovs, extraIni: firewallIni(side, 'openvswitch', ovs, lockDir) };
  let agent: RunningAgent | undefined;
  const notes: string[] = [];
  const cleanup = async (): Promise<void> => {
    await endRun(agent, ovs);
    rmSync(lockDir, { recursive: true, force: true });
  };
  stopOnSignal.add(cleanup);
  try {
    await ovs.addBridge('br-phys');
    // Register the host (ports bind only to a known agent), create the ports, stop, plug, wipe flows.
    const { groupId, networkId, ports } = await registeredGroupPorts(lab, side, cfg, `fw-${host}`, n, 'tap');
    await plugPorts(ovs, ports);
    await clearFlows(ovs);
    const ofps = await ofportsOf(ovs, ports);
    progress(`${side}: ${n} ports plugged, flows wiped; starting the agent`);

    // (a) cold start
    let t0 = performance.now();
    agent = await RunningAgent.start(side, cfg);
    const a = agent;
    const cold = await timeUntil(`cold start, ${n} ports filtered`, a, t0, timeoutMs, async () => {
      const v = await firewallView(ovs);
      const done = ofps.filter((o) => v.classified.has(o) && v.conjunctions.has(o)).length;
      return { done: done === n, got: `${done}/${n} ports filtered` };
    });
    if (Number.isNaN(cold.ms)) notes.push(`cold start: ${cold.got}`);
    progress(`${side}: cold start → ${n} ports filtered: ${cold.ms.toFixed(0)} ms`);
    await until('default flows', a, 60000, () => defaultFlowsReady(ovs), 200);
    // (b) and (c) measure an agent at rest: its first full sync over (every port ACTIVE, the reference's
    // rpc_loop past iteration 0), else the reference's figures would include finishing that sync.
    const ids = new Set(ports.map((p) => p.id));
    await until('every port ACTIVE', a, timeoutMs, async () => (await activeCount(lab, networkId, ids)) === n, 500);
    await sleep(3000);

    // (b) a rule added, then removed
    const rule = await createRule(lab, groupId, { direction: 'ingress', protocol: 'tcp', port_range_min: PROBE_TCP_PORT, port_range_max: PROBE_TCP_PORT, remote_ip_prefix: '203.0.113.0/24' });
    t0 = performance.now();
    const add = await timeUntil('rule added', a, t0, timeoutMs, async () => {
      const v = await firewallView(ovs);
      const done = ofps.filter((o) => v.probeRule.has(o)).length;
      return { done: done === n, got: `${done}/${n} ports with the rule's flows` };
    });
    if (Number.isNaN(add.ms)) notes.push(`rule added: ${add.got}`);
    progress(`${side}: rule added → flows on ${n} ports: ${add.ms.toFixed(0)} ms`);
    await deleteRule(lab, rule.id);
    t0 = performance.now();
    const del = await timeUntil('rule removed', a, t0, timeoutMs, async () => {
      const left = (await firewallView(ovs)).probeRule.size;
      return { done: left === 0, got: `${left} ports still with the rule's flows` };
    });
    if (Number.isNaN(del.ms)) notes.push(`rule removed: ${del.got}`);
    progress(`${side}: rule removed → flows gone: ${del.ms.toFixed(0)} ms`);

    // (c) one local port admitting a remote group of M members that live on another host
    const { sg: local } = await createSecurityGroup(lab, `fw-local-${host}`, [{ direction: 'ingress', remote_group_id: members.groupId }, { direction: 'egress' }]);
    const [p] = await createSgPorts(lab, networkId, host, 1, [local.id], { devicePrefix: 'tap' });
    await plugPorts(ovs, [p!]);
    t0 = performance.now();
    const [pOf] = await ofportsOf(ovs, [p!]);
    const m = members.ips.size;
    const plug = await timeUntil(`local port with ${m}-member remote group filtered`, a, t0, timeoutMs, async () => {
      const v = await firewallView(ovs);
      let got = 0;
      for (const ip of members.ips) if (v.memberIps.has(ip)) got++;
      const done = v.classified.has(pOf!) && v.conjunctions.has(pOf!) && got === m;
      return { done, got: `${got}/${m} member flows` };
    });
    if (Number.isNaN(plug.ms)) notes.push(`remote group port plugged: ${plug.got}`);
    progress(`${side}: local port plugged → filtered with ${m} member flows: ${plug.ms.toFixed(0)} ms`);

    const [member] = await createSgPorts(lab, members.networkId, undefined, 1, [members.groupId], { devicePrefix: 'tap' });
    t0 = performance.now();
    const madd = await timeUntil('member added', a, t0, timeoutMs, async () => {
      const has = (await firewallView(ovs)).memberIps.has(member!.ip);
      return { done: has, got: has ? 'present' : 'absent' };
    });
    if (Number.isNaN(madd.ms)) notes.push(`member added: ${madd.got}`);
    progress(`${side}: member added → its flow: ${madd.ms.toFixed(0)} ms`);
    await lab.deletePort(member!.id);
    t0 = performance.now();
    const mdel = await timeUntil('member removed', a, t0, timeoutMs, async () => {
      const has = (await firewallView(ovs)).memberIps.has(member!.ip);
      return { done: !has, got: has ? 'present' : 'absent' };
    });
    if (Number.isNaN(mdel.ms)) notes.push(`member removed: ${mdel.got}`);
    progress(`${side}: member removed → its flow gone: ${mdel.ms.toFixed(0)} ms`);

    return { coldStartMs: cold.ms, ruleAddMs: add.ms, ruleRemoveMs: del.ms, remotePlugMs: plug.ms, memberAddMs: madd.ms, memberRemoveMs: mdel.ms, notes };
  } finally {
    stopOnSignal.delete(cleanup);
    await cleanup();
  }
}

/** Ports whose three iptables_hybrid chains (ingress, egress, spoofing) are in the filter table. */
async function portsWithChains(ports: BenchPort[]): Promise<number> {
  let stdout: string;
  try {
    ({ stdout } = await run('iptables-save', ['-t', 'filter'], { maxBuffer: 256 << 20 }));
  } catch (e) {
    throw new Error(`iptables-save -t filter: ${(e as { stderr?: string }).stderr ?? String(e)}`);
  }
  const chains = new Set<string>();
  for (const l of stdout.split('\n')) if (l.startsWith(':neutron-openvswi-')) chains.add(l.slice(1, l.indexOf(' ')));
  return ports.filter((p) => ['i', 'o', 's'].every((k) => chains.has(`neutron-openvswi-${k}${p.id.slice(0, 10)}`))).length;
}

/** iptables_hybrid cold start: n ports (their qvo ends on br-int) in group G, iptables empty. */
async function runHybrid(lab: NeutronLab, side: Side, n: number, timeoutMs: number): Promise<number> {
  await resetFirewallState();
  const ovs = await PrivateOvs.start({ tcp: true });
  const lockDir = mkdtempSync(join(tmpdir(), 'bench-fw-lock-'));
  const host = uniqueHost(side);
  const cfg = { host, transportUrl: lab.transportUrl, ovs, extraIni: firewallIni(side, 'iptables_hybrid', ovs, lockDir) };
  let agent: RunningAgent | undefined;
  const cleanup = async (): Promise<void> => {
    await endRun(agent, ovs);
    await resetFirewallState();
    rmSync(lockDir, { recursive: true, force: true });
  };
  stopOnSignal.add(cleanup);
  try {
    await ovs.addBridge('br-phys');
    const { ports } = await registeredGroupPorts(lab, side, cfg, `fwh-${host}`, n, 'qvo');
    // Only the qvo end matters to the agents (the chains match the tap by name, physdev does not
    // need it to exist): internal ports, all in one transaction, are the cheapest way to have N.
    await plugPorts(ovs, ports);
    await clearFlows(ovs);
    await resetFirewallState();
    progress(`${side}: ${n} hybrid ports plugged, iptables emptied; starting the agent`);
    const t0 = performance.now();
    agent = await RunningAgent.start(side, cfg);
    const r = await timeUntil(`hybrid cold start, ${n} ports' chains`, agent, t0, timeoutMs, async () => {
      const done = await portsWithChains(ports);
      return { done: done === n, got: `${done}/${n} ports with chains` };
    });
    progress(`${side}: hybrid cold start → ${n} ports' chains: ${r.ms.toFixed(0)} ms`);
    return r.ms;
  } finally {
    stopOnSignal.delete(cleanup);
    await cleanup();
  }
}

async function main(): Promise<void> {
  const runs = argInt('runs', 1);
  const n = argInt('ports', 1000);
  const m = argInt('members', 2000);
  const nHybrid = argInt('hybrid-ports', n);
  const timeoutMs = argInt('timeout-s', 900) * 1000;
  const skip = argStr('skip');
  const ref = haveReference();
  const t = performance.now();
  const lab = await startLab();
  const stopLab = (): Promise<void> => lab.stop();
  stopOnSignal.add(stopLab);
  try {
    progress(`lab up in ${((performance.now() - t) / 1000).toFixed(0)} s`);
    const ovsRes: Record<Side, OvsRun[]> = { ours: [], reference: [] };
    const hybRes: Record<Side, number[]> = { ours: [], reference: [] };
    if (skip !== 'ovs') {
      const members = await createMembers(lab, m);
      progress(`remote group with ${m} members (unbound ports) created`);
      for (let i = 0; i < runs; i++) for (const side of sides(ref)) ovsRes[side].push(await runOvs(lab, side, n, members, timeoutMs));
    }
    if (skip !== 'hybrid') {
      for (let i = 0; i < runs; i++) for (const side of sides(ref)) hybRes[side].push(await runHybrid(lab, side, nHybrid, timeoutMs));
    }
    const skipped = !ref ? 'reference agent not installed' : undefined;
    const series = (label: string, ours: number[], reference: number[], notes: string[] = []): Series => {
      const timedOut = `not within ${timeoutMs / 1000} s`;
      const o = ours.filter((x) => !Number.isNaN(x));
      const r = reference.filter((x) => !Number.isNaN(x));
      const refNote = skipped ?? (reference.length === 0 ? 'skipped' : r.length < reference.length ? `${timedOut}${notes.length ? ` (${notes.join('; ')})` : ''}` : undefined);
      return { label: `${label}${o.length < ours.length ? ` (ours ${timedOut})` : ''}`, unit: 'ms', ours: o, reference: r, ...(refNote ? { referenceNote: refNote } : {}) };
    };
    const rows: Series[] = [];
    if (skip !== 'ovs') {
      const pick = (k: keyof Omit<OvsRun, 'notes'>, side: Side): number[] => ovsRes[side].map((r) => r[k]);
      const refNotes = ovsRes.reference.flatMap((r) => r.notes);
      rows.push(
        series(`openvswitch: start with ${n} ports plugged → all filtered (table 60 + 82 conjunctions)`, pick('coldStartMs', 'ours'), pick('coldStartMs', 'reference'), refNotes.filter((x) => x.startsWith('cold'))),
        series(`openvswitch: rule added to the group of ${n} ports → its flows on all`, pick('ruleAddMs', 'ours'), pick('ruleAddMs', 'reference'), refNotes.filter((x) => x.startsWith('rule added'))),
        series(`openvswitch: rule removed → its flows gone`, pick('ruleRemoveMs', 'ours'), pick('ruleRemoveMs', 'reference'), refNotes.filter((x) => x.startsWith('rule removed'))),
        series(`openvswitch: port admitting a ${m}-member remote group plugged → filtered, every member flow`, pick('remotePlugMs', 'ours'), pick('remotePlugMs', 'reference'), refNotes.filter((x) => x.startsWith('remote'))),
        series(`openvswitch: member added to that group (API answer) → its flow`, pick('memberAddMs', 'ours'), pick('memberAddMs', 'reference'), refNotes.filter((x) => x.startsWith('member added'))),
        series(`openvswitch: member removed (API answer) → its flow gone`, pick('memberRemoveMs', 'ours'), pick('memberRemoveMs', 'reference'), refNotes.filter((x) => x.startsWith('member removed'))),
      );
    }
    if (skip !== 'hybrid') rows.push(series(`iptables_hybrid: start with ${nHybrid} ports plugged → every port's chains`, hybRes.ours, hybRes.reference));
    const parts = [...(skip !== 'ovs' ? [`openvswitch (${n} ports, ${m} remote members)`] : []), ...(skip !== 'hybrid' ? [`iptables_hybrid (${nHybrid} ports)`] : [])];
    report('firewall', `Security groups: ${parts.join(' and ')}`, rows, { runs, ports: n, members: m, hybridPorts: nHybrid, timeoutMs });
  } finally {
    stopOnSignal.delete(stopLab);
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench firewall failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
