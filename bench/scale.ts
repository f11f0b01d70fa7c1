// Many agents on one machine (issue 24): N agents as N hosts on one Open vSwitch (bench/scale-fleet.ts),
// against one neutron-server, with --ports-per-host ports each on one shared VXLAN network, every port
// in a group S whose rule admits the remote group R (firewall_driver = openvswitch, l2population).
// For each N of --sizes (ours) and of --ref-sizes (the reference), one side after the other, on a fresh
// OVS and an emptied lab:
//  idle:     every port wired and ACTIVE, neutron-server quiet; --idle-s of nothing: each agent's CPU and
//            RSS (the reference's privsep helpers apart), and what the control plane spends (the idle rate
//            taken off below);
//  fan-out:  a port created in S on host 1 and plugged → its br-tun table-20 unicast flow (l2population)
//            on each of the other N−1 hosts, timed from the create call; per host, median and worst;
//  group:    that port added to R (PUT security_groups) → a table-82 flow with its address (nw_src) on
//            every host, timed from the call;
//  restart:  a rolling restart, one agent at a time (SIGTERM, start, its flows back, the next): per host,
//            stop → every remote port's table-20 flow and each own port's table-82 flows under the new
//            run's cookie;
// and for each event: neutron-server's CPU (every process of it), RabbitMQ's (beam.smp), and the messages
// the broker received and delivered (rabbit_global_counters), from before the event until --settle-s after
// it, the idle rate subtracted.
//   node dist/bench/scale.js [--sizes 2,10,20,50] [--ref-sizes 2,10,20] [--ports-per-host 1] [--idle-s 60]
//                            [--settle-s 5] [--runs 1] [--timeout-s 900] [--no-reference]
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { LAB_PROJECT, type NeutronLab } from '../lab/neutron.js';
import { PrivateOvs } from '../lab/ovs.js';
import { startLab, emptyLab } from '../lab/host.js';
import { createSecurityGroup } from '../lab/security-groups.js';
import { argInt, haveReference, median, report, stopOnSignals, type Series } from './lib.js';
import { activeCount, argFlag, createNetwork, ofports, plugPorts, sleep, type BenchPort, type Side } from './agents.js';
import {
  ControlPlaneMeter, FlowWatch, addLocalIps, aliveHosts, costBetween, inParallel, removeLocalIps, startHost, waitUntil, type ControlPlaneCost, type Host,
} from './scale-fleet.js';

function argList(name: string, dflt: number[]): number[] {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]!.split(',').filter(Boolean).map(Number) : dflt;
}

interface Opts {
  portsPerHost: number;
  idleS: number;
  settleS: number;
  timeoutMs: number;
}

/** One run of one side at one N. */
interface SizeRun {
  fanoutMs: number[];
  groupMs: number[];
  restartMs: number[];
  rollingS: number;
  fanout: ControlPlaneCost;
  group: ControlPlaneCost;
  restart: ControlPlaneCost;
  idle: ControlPlaneCost;
  agentRss: number[];
  privsepRss: number[];
  /** Each agent's CPU seconds per minute of idle. */
  agentIdleCpu: number[];
}

interface HostPort extends BenchPort {
  host: Host;
  ip: string;
}

// What a signal (Ctrl-C, a timeout) must still stop: the agents, the OVS, the lab.
const stopOnSignal = stopOnSignals(progress);

function progress(line: string): void {
  process.stderr.write(`# ${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/** Ports in the given groups, each bound to its host, created in bulk. */
async function createHostPorts(lab: NeutronLab, networkId: string, hosts: Host[], groups: string[]): Promise<HostPort[]> {
  const out: HostPort[] = [];
  for (let i = 0; i < hosts.length; i += 50) {
    const batch = hosts.slice(i, i + 50);
    const ports = batch.map((h) => ({
      network_id: networkId, device_owner: 'compute:nova', device_id: randomUUID(), 'binding:host_id': h.name, security_groups: groups, tenant_id: LAB_PROJECT,
    }));
    const r = await lab.api<{ ports: { id: string; mac_address: string; 'binding:vif_type': string; fixed_ips: { ip_address: string }[] }[] }>('POST', '/v2.0/ports', { ports });
    r.ports.forEach((p, j) => {
      const host = batch[j]!;
      if (p['binding:vif_type'] !== 'ovs') throw new Error(`port ${p.id} not bound to ${host.name} (vif_type ${p['binding:vif_type']}): is its agent alive?`);
      out.push({ id: p.id, mac: p.mac_address, name: `tap${p.id.slice(0, 11)}`, bridge: host.intBridge, host, ip: p.fixed_ips[0]!.ip_address });
    });
  }
  return out;
}

/** Dumps in flight at once: enough to go round 50 hosts quickly, few enough to leave the agents CPU. */
const DUMP_WIDTH = 4;

/** A fleet of N hosts with their flows of interest: br-tun table 20 (l2population unicast), br-int table 82 (ingress rules). */
class Fleet {
  readonly tun = new Map<Host, FlowWatch>();
  readonly int = new Map<Host, FlowWatch>();
  constructor(readonly side: Side, readonly hosts: Host[], readonly ovs: PrivateOvs) {}

  watch(): void {
    for (const h of this.hosts) {
      this.tun.set(h, new FlowWatch(this.ovs, h.tunBridge, [20]));
      this.int.set(h, new FlowWatch(this.ovs, h.intBridge, [82]));
    }
  }

  /** Reads the flows of these hosts again. */
  async refresh(hosts: Host[], which: 'tun' | 'int' | 'both'): Promise<void> {
    const watches = hosts.flatMap((h) => [...(which !== 'int' ? [this.tun.get(h)!] : []), ...(which !== 'tun' ? [this.int.get(h)!] : [])]);
    await inParallel(watches, DUMP_WIDTH, (w) => w.refresh());
  }

  check(): void {
    for (const h of this.hosts) h.agent.assertRunning();
  }

  /** When host h's br-tun got its unicast flow for `mac` (undefined: not yet; `cookieOk` filters). */
  unicastAt(h: Host, mac: string, cookieOk: (c: string) => boolean = () => true): number | undefined {
    return this.tun.get(h)!.find(20, new RegExp(`dl_dst=${mac}(,|\\s|$)`)).find((f) => cookieOk(f.cookie))?.at;
  }

  async stop(): Promise<void> {
    for (const h of this.hosts) {
      await h.agent.stop();
      h.agent.cleanup();
    }
  }
}

const escapeIp = (ip: string): string => ip.replace(/\./g, '\\.');

/** Starts N agents, waits for them alive and their bridges, then every port wired and ACTIVE everywhere. */
async function bringUp(lab: NeutronLab, fleet: Fleet, o: Opts): Promise<{ networkId: string; ports: HostPort[]; groups: { s: string; r: string } }> {
  const names = new Set(fleet.hosts.map((h) => h.name));
  await waitUntil(`${fleet.hosts.length} ${fleet.side} agents alive`, o.timeoutMs, async () => {
    fleet.check();
    return (await aliveHosts(lab, names)).size === names.size;
  }, () => 'see the agents in GET /v2.0/agents', 1000);
  await waitUntil('every tunnel bridge', o.timeoutMs, async () => {
    const brs = new Set((await fleet.ovs.vsctl('list-br')).split('\n'));
    return fleet.hosts.every((h) => brs.has(h.tunBridge) && brs.has(h.intBridge));
  }, () => 'ovs-vsctl list-br', 500);
  fleet.watch();
  const r = (await createSecurityGroup(lab, 'scale-remote', [{ direction: 'egress' }])).sg.id;
  const s = (await createSecurityGroup(lab, 'scale-ports', [{ direction: 'ingress', remote_group_id: r }, { direction: 'egress' }])).sg.id;
  const networkId = await createNetwork(lab, `scale-${fleet.side}-${fleet.hosts.length}`);
  const ports: HostPort[] = [];
  for (let k = 0; k < o.portsPerHost; k++) ports.push(...(await createHostPorts(lab, networkId, fleet.hosts, [s])));
  await plugPorts(fleet.ovs, ports);
  const ids = new Set(ports.map((p) => p.id));
  const isWired = (h: Host): boolean => ports.every((p) => p.host === h || fleet.unicastAt(h, p.mac) !== undefined);
  const wired = (): number => fleet.hosts.filter(isWired).length;
  let active = 0;
  try {
    await waitUntil(`${ports.length} ports wired on ${fleet.hosts.length} hosts`, o.timeoutMs, async () => {
      fleet.check();
      await fleet.refresh(fleet.hosts.filter((h) => !isWired(h)), 'tun');
      active = await activeCount(lab, networkId, ids);
      return active === ids.size && wired() === fleet.hosts.length;
    }, () => `${active}/${ids.size} ACTIVE, ${wired()}/${fleet.hosts.length} hosts with every remote port's br-tun flow`, 500);
  } catch (e) {
    const h = fleet.hosts[0]!;
    const flows = await fleet.ovs.ofctl('dump-flows', h.tunBridge).catch((d: unknown) => String(d));
    throw new Error(`${e instanceof Error ? e.message : String(e)}\nhost 1's ${h.tunBridge}, as dumped:\n${flows}\nas watched:\n${[...fleet.tun.get(h)!.flows.keys()].join('\n')}\nagent log:\n${h.agent.log()}`);
  }
  return { networkId, ports, groups: { s, r } };
}

/** How long the idle phase waits at most for neutron-server to finish the fleet's start-up. */
const QUIET_CAP_S = 120;

/** Idle: each agent's CPU and memory, and the control plane's idle rate (once the server is quiet). */
async function idlePhase(fleet: Fleet, meter: ControlPlaneMeter, o: Opts): Promise<Pick<SizeRun, 'idle' | 'agentRss' | 'privsepRss' | 'agentIdleCpu'>> {
  await sleep(o.settleS * 1000);
  const waited = await meter.quiet(QUIET_CAP_S);
  if (waited > 10) progress(`${fleet.side} N=${fleet.hosts.length}: neutron-server quiet after ${waited.toFixed(0)} s more`);
  const c0 = fleet.hosts.map((h) => h.agent.cpu());
  const m0 = await meter.sample();
  await sleep(o.idleS * 1000);
  const m1 = await meter.sample();
  const c1 = fleet.hosts.map((h) => h.agent.cpu());
  const rss = fleet.hosts.map((h) => h.agent.rss());
  return {
    idle: costBetween(m0, m1),
    agentIdleCpu: c1.map((c, i) => ((c.agent + c.helpers - c0[i]!.agent - c0[i]!.helpers) * 60) / o.idleS),
    agentRss: rss.map((r) => r.agent),
    privsepRss: rss.map((r) => r.privsep),
  };
}

/** Times from t0 until each of `hosts` passes `at` (its time of arrival, or undefined), then the control plane's cost until settled. */
async function timedEvent(
  what: string, fleet: Fleet, hosts: Host[], meter: ControlPlaneMeter, idle: ControlPlaneCost, o: Opts,
  which: 'tun' | 'int', act: () => Promise<void>, at: (h: Host) => number | undefined,
): Promise<{ ms: number[]; cost: ControlPlaneCost }> {
  const m0 = await meter.sample();
  const t0 = performance.now();
  await act();
  await waitUntil(what, o.timeoutMs, async () => {
    fleet.check();
    await fleet.refresh(hosts.filter((h) => at(h) === undefined), which);
    return hosts.every((h) => at(h) !== undefined);
  }, () => `${hosts.filter((h) => at(h) !== undefined).length}/${hosts.length} hosts`);
  const ms = hosts.map((h) => at(h)! - t0);
  await sleep(o.settleS * 1000);
  return { ms, cost: costBetween(m0, await meter.sample(), idle) };
}

/** One agent at a time: stopped, started again, and waited for until its flows are back under its new cookie. */
async function rollingRestart(lab: NeutronLab, fleet: Fleet, ports: HostPort[], meter: ControlPlaneMeter, idle: ControlPlaneCost, o: Opts): Promise<Pick<SizeRun, 'restartMs' | 'rollingS' | 'restart'>> {
  const ofp = await ofports(fleet.ovs);
  const m0 = await meter.sample();
  const restartMs: number[] = [];
  await fleet.refresh(fleet.hosts, 'both');
  for (const [i, h] of fleet.hosts.entries()) {
    const old = new Set([...fleet.tun.get(h)!.cookies(), ...fleet.int.get(h)!.cookies()]);
    const fresh = (c: string): boolean => !old.has(c);
    const t0 = performance.now();
    await h.agent.stop();
    h.agent.cleanup();
    const next = await startHost(fleet.side, h.index, h.name, lab, fleet.ovs);
    h.agent = next.agent;
    const own = ports.filter((p) => p.host === h).map((p) => new RegExp(`reg5=0x${ofp.get(p.name)!.toString(16)}(,|\\s|$)`));
    const back = (): boolean =>
      ports.every((p) => p.host === h || fleet.unicastAt(h, p.mac, fresh) !== undefined) &&
      own.every((re) => fleet.int.get(h)!.find(82, re).some((f) => fresh(f.cookie)));
    await waitUntil(`host ${i + 1}/${fleet.hosts.length} (${fleet.side}) flows back after its restart`, o.timeoutMs, async () => {
      fleet.check();
      await fleet.refresh([h], 'both');
      return back();
    }, () => `old cookies ${[...old].join(' ')}`, 50);
    restartMs.push(performance.now() - t0);
  }
  const rollingS = (performance.now() - m0.at) / 1000;
  await sleep(o.settleS * 1000);
  return { restartMs, rollingS, restart: costBetween(m0, await meter.sample(), idle) };
}

async function runSize(lab: NeutronLab, side: Side, n: number, o: Opts): Promise<SizeRun> {
  const ovs = await PrivateOvs.start({ tcp: true });
  const hosts: Host[] = [];
  const fleet = new Fleet(side, hosts, ovs);
  const stop = async (): Promise<void> => {
    await fleet.stop();
    await ovs.stop();
  };
  stopOnSignal.add(stop);
  try {
    for (let i = 0; i < n; i++) hosts.push(await startHost(side, i, `scale-${side === 'ours' ? 'o' : 'r'}${n}-${process.pid}-${i}`, lab, ovs));
    const meter = new ControlPlaneMeter(lab);
    const { networkId, ports, groups } = await bringUp(lab, fleet, o);
    progress(`${side} N=${n}: ${ports.length} ports wired on every host`);
    const idle = await idlePhase(fleet, meter, o);
    progress(`${side} N=${n}: idle ${o.idleS} s: agent CPU median ${median(idle.agentIdleCpu).toFixed(2)} s/min, server ${idle.idle.serverCpu.toFixed(2)} s`);

    const [first, ...others] = hosts;
    let probe: HostPort | undefined;
    await fleet.refresh(hosts, 'both');
    const fanout = await timedEvent(`a port on host 1 → br-tun flows on ${others.length} hosts`, fleet, others, meter, idle.idle, o, 'tun', async () => {
      [probe] = await createHostPorts(lab, networkId, [first!], [groups.s]);
      await plugPorts(ovs, [probe!]);
    }, (h) => (probe ? fleet.unicastAt(h, probe.mac) : undefined));
    progress(`${side} N=${n}: fan-out median ${median(fanout.ms).toFixed(0)} ms, worst ${Math.max(...fanout.ms).toFixed(0)} ms`);
    await waitUntil('the probe port ACTIVE', o.timeoutMs, async () => (await activeCount(lab, networkId, new Set([probe!.id]))) === 1, () => 'not ACTIVE', 200);

    const member = new RegExp(`nw_src=${escapeIp(probe!.ip)}(/32)?(,|\\s|$)`);
    const group = await timedEvent(`port in the remote group → rules on ${n} hosts`, fleet, hosts, meter, idle.idle, o, 'int', async () => {
      await lab.api('PUT', `/v2.0/ports/${probe!.id}`, { port: { security_groups: [groups.s, groups.r] } });
    }, (h) => fleet.int.get(h)!.find(82, member)[0]?.at);
    progress(`${side} N=${n}: remote group member median ${median(group.ms).toFixed(0)} ms, worst ${Math.max(...group.ms).toFixed(0)} ms`);

    const restart = await rollingRestart(lab, fleet, [...ports, probe!], meter, idle.idle, o);
    progress(`${side} N=${n}: rolling restart ${restart.rollingS.toFixed(1)} s, per host median ${median(restart.restartMs).toFixed(0)} ms`);
    return { ...idle, fanoutMs: fanout.ms, fanout: fanout.cost, groupMs: group.ms, group: group.cost, ...restart };
  } finally {
    stopOnSignal.delete(stop);
    await stop();
  }
}

/** MiB of memory available now (MemAvailable). */
function availableMiB(): number {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** What one reference host costs in memory (agent + two privsep helpers, measured ~180 + 150 MiB), with room. */
const REFERENCE_HOST_MIB = 400;

async function main(): Promise<void> {
  const runs = argInt('runs', 1);
  const sizes = argList('sizes', [2, 10, 20, 50]);
  const refSizes = argList('ref-sizes', [2, 10, 20]);
  const o: Opts = { portsPerHost: argInt('ports-per-host', 1), idleS: argInt('idle-s', 60), settleS: argInt('settle-s', 5), timeoutMs: argInt('timeout-s', 900) * 1000 };
  const ref = haveReference() && !argFlag('no-reference');
  const maxN = Math.max(...sizes);
  await addLocalIps(maxN);
  const lab = await startLab();
  const stopLab = async (): Promise<void> => {
    await lab.stop();
    await removeLocalIps(maxN);
  };
  stopOnSignal.add(stopLab);
  const res = new Map<number, Record<Side, SizeRun[]>>();
  const refNote = new Map<number, string>();
  const failures: string[] = [];
  const title = `N agents as N hosts on one OVS and one neutron-server, ${o.portsPerHost} port(s) per host on one VXLAN network`;
  // After every N, the table so far: a long run stopped early still leaves its finished sizes.
  const publish = (): void => report('scale', title, rowsOf(res, refNote), {
    runs, sizes, refSizes, ...o, failures, raw: Object.fromEntries([...res].map(([n, r]) => [n, r])),
  });
  try {
    for (const n of sizes) {
      const r: Record<Side, SizeRun[]> = { ours: [], reference: [] };
      res.set(n, r);
      for (let k = 0; k < runs; k++) {
        for (const side of ['ours', 'reference'] as const) {
          if (side === 'reference') {
            if (!ref) { refNote.set(n, haveReference() ? 'skipped (--no-reference)' : 'reference agent not installed'); continue; }
            if (!refSizes.includes(n)) { refNote.set(n, `not run at N=${n} (--ref-sizes ${refSizes.join(',')})`); continue; }
            if (availableMiB() < n * REFERENCE_HOST_MIB) { refNote.set(n, `not run: ${n} reference hosts need ~${n * REFERENCE_HOST_MIB} MiB, ${availableMiB().toFixed(0)} MiB available`); continue; }
          }
          progress(`${side} N=${n}, run ${k + 1}/${runs}`);
          try {
            r[side].push(await runSize(lab, side, n, o));
          } catch (e) {
            // One size failing (a timeout at a large N) must not lose the others' figures; ours failing still fails the bench.
            const why = e instanceof Error ? e.message.split('\n')[0]! : String(e).split('\n')[0]!;
            progress(`${side} N=${n} failed: ${e instanceof Error ? e.stack : String(e)}`);
            if (side === 'ours') failures.push(`ours N=${n}: ${why}`);
            else refNote.set(n, `failed: ${why.slice(0, 200)}`);
          }
          await emptyLab(lab);
        }
      }
      if (n !== sizes[sizes.length - 1]) publish();
    }
  } finally {
    stopOnSignal.delete(stopLab);
    await stopLab();
  }
  publish();
  if (failures.length) throw new Error(`our side failed: ${failures.join('; ')}`);
}

/** The table: per N, the events' times (median and worst host) and costs, per agent where the cost is the fleet's. */
function rowsOf(res: Map<number, Record<Side, SizeRun[]>>, refNote: Map<number, string>): Series[] {
  const out: Series[] = [];
  for (const [n, r] of res) {
    const note = refNote.get(n);
    const row = (label: string, unit: string, pick: (x: SizeRun) => number): void => {
      out.push({ label: `N=${n}: ${label}`, unit, ours: r.ours.map(pick), reference: r.reference.map(pick), ...(r.reference.length ? {} : note ? { referenceNote: note } : {}) });
    };
    const worst = (xs: number[]): number => Math.max(...xs);
    row('port plugged on host 1 → its br-tun flow on the other hosts, median host', 'ms', (x) => median(x.fanoutMs));
    row('… worst host', 'ms', (x) => worst(x.fanoutMs));
    row('port joins the remote group → its rule on every host, median host', 'ms', (x) => median(x.groupMs));
    row('… worst host', 'ms', (x) => worst(x.groupMs));
    row('rolling restart: one agent stopped → its flows back (new cookie), median host', 'ms', (x) => median(x.restartMs));
    row('… worst host', 'ms', (x) => worst(x.restartMs));
    row('rolling restart of all N, one after another', 's', (x) => x.rollingS);
    row('rolling restart: neutron-server CPU per agent restarted', 's', (x) => x.restart.serverCpu / n);
    row('rolling restart: RabbitMQ CPU per agent restarted', 's', (x) => x.restart.rabbitCpu / n);
    row('rolling restart: messages published per agent restarted', 'msgs', (x) => x.restart.received / n);
    row('rolling restart: messages delivered per agent restarted', 'msgs', (x) => x.restart.delivered / n);
    row('port plugged (fan-out): neutron-server CPU, whole event', 's', (x) => x.fanout.serverCpu);
    row('port plugged: messages published / delivered, whole event', 'msgs', (x) => x.fanout.received);
    row('… delivered', 'msgs', (x) => x.fanout.delivered);
    row('remote-group member added: neutron-server CPU, whole event', 's', (x) => x.group.serverCpu);
    row('remote-group member added: messages published', 'msgs', (x) => x.group.received);
    row('… delivered', 'msgs', (x) => x.group.delivered);
    row('idle: agent RSS, median agent', 'MiB', (x) => median(x.agentRss));
    row('idle: privsep helpers RSS, median agent', 'MiB', (x) => median(x.privsepRss));
    row('idle: agent CPU (helpers included) per minute, median agent', 's', (x) => median(x.agentIdleCpu));
    row('idle: neutron-server CPU per minute per agent', 's', (x) => (x.idle.serverCpu * 60) / x.idle.seconds / n);
    row('idle: RabbitMQ CPU per minute per agent', 's', (x) => (x.idle.rabbitCpu * 60) / x.idle.seconds / n);
    row('idle: messages published per minute per agent', 'msgs', (x) => (x.idle.received * 60) / x.idle.seconds / n);
  }
  return out;
}

main().catch((e: unknown) => {
  process.stderr.write(`bench scale failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
