// Distributed virtual routing, ours against the reference, both with `[agent] enable_distributed_routing
// = True` and `root_helper = env OVS_RUNDIR=<dir>` (the reference's root commands on the private OVS;
// ours ignores it), on ONE host: a private OVS with both VMs, Debian's neutron-l3-agent in dvr mode
// beside the agent (lab/l3-agent.ts; two simulated hosts would double the agents on a 2-core machine).
// Per run and side, on a lab with distributed routers, a distributed router with an interface on
// subnet A (198.51.100.0/24, vxlan), VM a on A and VM b on subnet B (203.0.113.0/24, vxlan), both
// ACTIVE, and the L3 agent done with the router (L3Agent.waitRouterSettled), then:
// (1) --interface-rounds (3) times: a ping every 50 ms from a to b running; PUT add_router_interface
//     on B (t0) → the L3 agent's new qr- port on br-int (the server's and the L3 agent's work, the
//     same for both sides), from there → b's DVR flows on br-int (table 1 DVR_TO_SRC_MAC: the gateway
//     MAC as source; table 60: straight out of its port), the OVS agent's own part; t0 → the first
//     ping answered (the L3 agent's routes too); then the interface removed again for the next round;
// (2) --ports ports (default 200) bound here, half on A and half on B, plugged in one transaction, every
//     one's DVR flows in place; then the agent stopped (SIGTERM) and started again (t0: the new
//     process spawned) → every port's DVR flows (and a's and b's) present under the new run's cookie.
// Polling every 25 ms for the first 2 s, then every 200 ms. A wait that does not end within
// --timeout-s (300) fails the run.
//   node dist/bench/dvr.js [--runs N] [--ports N] [--interface-rounds N] [--timeout-s S] [--no-reference]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { L3Agent } from '../lab/l3-agent.js';
import { type NeutronLab, type NeutronPort, type NeutronSubnet } from '../lab/neutron.js';
import { startLab } from '../lab/host.js';
import { type PrivateOvs } from '../lab/ovs.js';
import { cleanupAllVms, plugVm, type Vm } from '../lab/vm.js';
import { argInt, haveReference, report, type Series } from './lib.js';
import {
  RunningAgent, createPorts, endRun, firstReply, intFlows, plugPorts, runRounds, seriesOf, sleep, startOvs, startReadyAgent, uniqueHost, until, type Side,
} from './agents.js';

const run = promisify(execFile);
const CIDR_A = '198.51.100.0/24';
const CIDR_B = '203.0.113.0/24';
/** Addresses a /24 leaves for the bench's ports: 253 less the gateway and a VM, on each of two subnets. */
const MAX_PORTS = 2 * 250;

function dvrIni(ovs: PrivateOvs): string {
  return ['[agent]', 'enable_distributed_routing = True', `root_helper = env OVS_RUNDIR=${ovs.dir}`, ''].join('\n');
}

/** Polls `done` from t0 (25 ms for 2 s, then 200 ms) until true; the elapsed ms, or an error naming `what`. */
async function elapsedUntil(what: string, t0: number, agent: RunningAgent, l3: L3Agent, timeoutMs: number, done: () => Promise<boolean>): Promise<number> {
  while (performance.now() - t0 < timeoutMs) {
    agent.assertRunning();
    l3.assertRunning();
    if (await done()) return performance.now() - t0;
    await sleep(performance.now() - t0 < 2000 ? 25 : 200);
  }
  throw new Error(`${agent.side}: ${what}: not within ${timeoutMs} ms; log tail:\n${agent.log()}\n--- l3 agent ---\n${l3.log(2000)}`);
}

/**
 * MACs with both DVR flows of a routed-to port on br-int: table 1 (priority 20, the gateway MAC as
 * source) and table 60 (priority 20, out of its port), each of a cookie not in `oldCookies`.
 */
async function macsWithDvrFlows(ovs: PrivateOvs, oldCookies: ReadonlySet<string>): Promise<Set<string>> {
  const byTable = async (table: number): Promise<Set<string>> => {
    const { stdout } = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-flows', '--no-stats', 'br-int', `table=${table}`], { env: ovs.env, maxBuffer: 64 << 20 });
    const macs = new Set<string>();
    for (const l of stdout.split('\n')) {
      const m = /cookie=(0x[0-9a-f]+).*\bpriority=20,.*\bdl_dst=([0-9a-f:]{17})/.exec(l);
      if (m && !oldCookies.has(m[1]!)) macs.add(m[2]!);
    }
    return macs;
  };
  const [t1, t60] = await Promise.all([byTable(1), byTable(60)]);
  return new Set([...t1].filter((m) => t60.has(m)));
}

const allOf = (have: Set<string>, macs: readonly string[]): boolean => macs.every((m) => have.has(m));

/** What a run made in the API, removed at its end (the router first, so the L3 agent drops its namespace). */
interface Made {
  router?: string;
  interfaces: string[];
}

interface Topology {
  router: string;
  subA: NeutronSubnet;
  subB: NeutronSubnet;
  a: Vm;
  b: Vm;
}

async function vmOn(lab: NeutronLab, ovs: PrivateOvs, sub: NeutronSubnet, name: string, host: string): Promise<{ vm: Vm; port: NeutronPort }> {
  const port = await lab.createPort(sub.network_id, { name, host });
  const vm = await plugVm(ovs, port, { prefixLen: 24 });
  await vm.exec('ip', ['route', 'add', 'default', 'via', sub.gateway_ip!]);
  return { vm, port };
}

/** The router with its interface on A, VMs a and b ACTIVE, the L3 agent done with the router. */
async function topology(lab: NeutronLab, ovs: PrivateOvs, agent: RunningAgent, l3: L3Agent, host: string, made: Made, timeoutMs: number): Promise<Topology> {
  const subnet = async (name: string, cidr: string): Promise<NeutronSubnet> => lab.createSubnet((await lab.createNetwork({ name: `${name}-${host}` })).id, cidr);
  const subA = await subnet('dvr-a', CIDR_A);
  const subB = await subnet('dvr-b', CIDR_B);
  const router = (await lab.api<{ router: { id: string } }>('POST', '/v2.0/routers', { router: { name: `dvr-${host}`, tenant_id: 'lab', distributed: true } })).router.id;
  made.router = router;
  await lab.api('PUT', `/v2.0/routers/${router}/add_router_interface`, { subnet_id: subA.id });
  made.interfaces.push(subA.id);
  const a = await vmOn(lab, ovs, subA, `dvr-a-${host}`, host);
  const b = await vmOn(lab, ovs, subB, `dvr-b-${host}`, host);
  for (const p of [a.port, b.port]) await elapsedUntil(`port ${p.id} ACTIVE`, performance.now(), agent, l3, timeoutMs, async () => (await lab.getPort(p.id)).status === 'ACTIVE');
  await l3.waitRouterSettled(router, timeoutMs);
  return { router, subA, subB, a: a.vm, b: b.vm };
}

interface InterfaceRound {
  /** add_router_interface → the L3 agent's new qr- port on br-int (neutron-server and the L3 agent). */
  plugMs: number;
  /** That qr- port on br-int → b's DVR flows: the OVS agent's own part. */
  flowsMs: number;
  /** add_router_interface → the first routed ping answered. */
  pingMs: number;
}

/** The router's qr- ports on br-int, by name. */
async function routerPorts(ovs: PrivateOvs): Promise<Set<string>> {
  return new Set((await ovs.vsctl('list-ports', 'br-int')).split('\n').filter((p) => p.startsWith('qr-')));
}

/**
 * (1), `rounds` times: add_router_interface on B → its qr- port on br-int, → b's DVR flows, → the
 * first routed ping a → b answered; between rounds the interface is removed again (b's DVR flows and
 * the qr- port gone, the L3 agent done with the router).
 */
async function interfaceRounds(lab: NeutronLab, ovs: PrivateOvs, agent: RunningAgent, l3: L3Agent, t: Topology, made: Made, rounds: number, timeoutMs: number): Promise<InterfaceRound[]> {
  const out: InterfaceRound[] = [];
  const none = new Set<string>();
  for (let i = 0; i < rounds; i++) {
    const before = await routerPorts(ovs);
    const pinger = firstReply(t.a.netns, 'eth0', t.b.ip, timeoutMs);
    try {
      const early = await Promise.race([pinger.reply.then(() => true, () => false), sleep(1000).then(() => false)]);
      if (early) throw new Error(`${agent.side}: ${t.a.ip} reached ${t.b.ip} before the router had an interface on its subnet`);
      const t0 = performance.now();
      const tEpoch = Date.now();
      await lab.api('PUT', `/v2.0/routers/${t.router}/add_router_interface`, { subnet_id: t.subB.id });
      made.interfaces.push(t.subB.id);
      const plugMs = await elapsedUntil('the new qr- port on br-int', t0, agent, l3, timeoutMs, async () => [...(await routerPorts(ovs))].some((p) => !before.has(p)));
      const flowsMs = (await elapsedUntil(`b's DVR flows`, t0, agent, l3, timeoutMs, async () => (await macsWithDvrFlows(ovs, none)).has(t.b.mac))) - plugMs;
      const pingMs = (await pinger.reply) - tEpoch;
      process.stderr.write(`# ${agent.side} router interface added: qr- port ${plugMs.toFixed(0)} ms, then b's DVR flows ${flowsMs.toFixed(0)} ms; first routed reply ${pingMs.toFixed(0)} ms\n`);
      out.push({ plugMs, flowsMs, pingMs });
    } finally {
      pinger.stop();
    }
    if (i === rounds - 1) break;
    await lab.api('PUT', `/v2.0/routers/${t.router}/remove_router_interface`, { subnet_id: t.subB.id });
    made.interfaces.pop();
    await elapsedUntil('interface B removed', performance.now(), agent, l3, timeoutMs, async () => !(await macsWithDvrFlows(ovs, none)).has(t.b.mac) && (await routerPorts(ovs)).size === before.size);
    await l3.waitRouterSettled(t.router, timeoutMs);
  }
  return out;
}

/** (2): nPorts ports on A and B wired, the agent restarted → every port's DVR flows under the new cookie. */
async function restartOnce(lab: NeutronLab, ovs: PrivateOvs, side: Side, agent: RunningAgent, l3: L3Agent, host: string, t: Topology, nPorts: number, timeoutMs: number): Promise<{ agent: RunningAgent; ms: number }> {
  const half = Math.ceil(nPorts / 2);
  const ports = [...(await createPorts(lab, t.subA.network_id, host, half)), ...(await createPorts(lab, t.subB.network_id, host, nPorts - half))];
  await plugPorts(ovs, ports);
  const macs = [...ports.map((p) => p.mac), t.a.mac, t.b.mac];
  await elapsedUntil(`${nPorts} ports' DVR flows before the restart`, performance.now(), agent, l3, timeoutMs, async () => allOf(await macsWithDvrFlows(ovs, new Set()), macs));
  await agent.stop();
  agent.cleanup();
  const old = new Set<string>();
  for (const br of ['br-int', 'br-tun', 'br-phys']) for (const f of await intFlows(ovs, br)) old.add(f.cookie);
  const t0 = performance.now();
  const next = await RunningAgent.start(side, { host, transportUrl: lab.transportUrl, ovs, extraIni: dvrIni(ovs) });
  let ms: number;
  try {
    ms = await elapsedUntil(`${nPorts} ports' DVR flows under the new cookie`, t0, next, l3, timeoutMs, async () => allOf(await macsWithDvrFlows(ovs, old), macs));
  } catch (e) {
    // The caller ends the agent it knows of, the one stopped above; this one is ended here.
    await next.stop();
    next.cleanup();
    throw e;
  }
  process.stderr.write(`# ${side} restart with ${nPorts} ports on DVR subnets: every port's DVR flows under the new cookie ${ms.toFixed(0)} ms\n`);
  return { agent: next, ms };
}

/** Removes the run's router (the L3 agent, still running, deletes its namespace), then waits for that. */
async function dropRouter(lab: NeutronLab, made: Made): Promise<void> {
  if (made.router === undefined) return;
  for (const s of made.interfaces) await lab.api('PUT', `/v2.0/routers/${made.router}/remove_router_interface`, { subnet_id: s });
  await lab.api('DELETE', `/v2.0/routers/${made.router}`);
  const ns = `qrouter-${made.router}`;
  const end = Date.now() + 60000;
  while ((await run('ip', ['netns', 'list'])).stdout.includes(ns)) {
    if (Date.now() > end) {
      // The L3 agent did not get to it: the namespace is this run's, deleted here.
      process.stderr.write(`# ${ns} still there 60 s after its router was deleted; deleting it\n`);
      await run('ip', ['netns', 'del', ns]);
      return;
    }
    await sleep(250);
  }
}

interface Run {
  interface: InterfaceRound[];
  restartMs: number;
}

async function runOnce(lab: NeutronLab, side: Side, nPorts: number, rounds: number, timeoutMs: number): Promise<Run> {
  const ovs = await startOvs();
  const host = uniqueHost(side);
  const made: Made = { interfaces: [] };
  let agent: RunningAgent | undefined;
  let l3: L3Agent | undefined;
  try {
    agent = await startReadyAgent(lab, side, ovs, host, dvrIni(ovs));
    const l3a = L3Agent.start({ host, transportUrl: lab.transportUrl, ovs, mode: 'dvr' });
    l3 = l3a;
    await until('L3 agent alive', agent, 120000, async () => {
      l3a.assertRunning();
      return (await lab.listAgents()).some((x) => x.host === host && x.agent_type === 'L3 agent' && x.alive);
    }, 500);
    const t = await topology(lab, ovs, agent, l3a, host, made, timeoutMs);
    const itf = await interfaceRounds(lab, ovs, agent, l3a, t, made, rounds, timeoutMs);
    const restarted = await restartOnce(lab, ovs, side, agent, l3a, host, t, nPorts, timeoutMs);
    agent = restarted.agent;
    return { interface: itf, restartMs: restarted.ms };
  } finally {
    await dropRouter(lab, made).catch((e: unknown) => process.stderr.write(`# removing the run's router: ${e instanceof Error ? e.message : String(e)}\n`));
    await l3?.stop();
    l3?.cleanup();
    await cleanupAllVms();
    await endRun(agent, ovs);
  }
}

async function main(): Promise<void> {
  const runs = argInt('runs', 3);
  const nPorts = argInt('ports', 200);
  const rounds = argInt('interface-rounds', 3);
  const timeoutMs = argInt('timeout-s', 300) * 1000;
  if (!Number.isInteger(nPorts) || nPorts < 1 || nPorts > MAX_PORTS) throw new Error(`--ports: 1 to ${MAX_PORTS} (two /24 subnets), not ${nPorts}`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--interface-rounds: a positive count, not ${rounds}`);
  const ref = haveReference();
  const lab = await startLab({ dvr: true });
  try {
    const res = await runRounds(runs, ref, (side) => runOnce(lab, side, nPorts, rounds, timeoutMs));
    const row = seriesOf(res, ref);
    // Every round of every run is one figure of the interface rows.
    const rows = (label: string, pick: (r: InterfaceRound) => number): Series => {
      const one = row(label, 'ms', () => NaN);
      return { ...one, ours: res.ours.flatMap((r) => r.interface.map(pick)), reference: res.reference.flatMap((r) => r.interface.map(pick)) };
    };
    report('dvr', `DVR on one host: a router interface added (${rounds} rounds a run), an agent restart with ${nPorts} ports on DVR subnets`, [
      rows('router interface added (PUT add_router_interface) → the L3 agent\'s qr- port on br-int (neutron-server and the L3 agent, for reference)', (r) => r.plugMs),
      rows('that qr- port on br-int → the VM\'s DVR flows on br-int (tables 1 and 60)', (r) => r.flowsMs),
      rows('router interface added → first routed ping between the VMs answered (every 50 ms; the L3 agent\'s routes included)', (r) => r.pingMs),
      row(`agent restart with ${nPorts} ports on DVR subnets → every port's DVR flows under the new cookie`, 'ms', (r) => r.restartMs),
    ], { runs, ports: nPorts, interfaceRounds: rounds, timeoutMs, hosts: 1 });
  } finally {
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench dvr failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
