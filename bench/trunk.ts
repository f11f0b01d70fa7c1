// Trunk ports (VLAN-aware VMs), ours against the reference, both with the bench's configuration and
// `[agent] root_helper = env OVS_RUNDIR=<dir>` (the reference's root commands on the private OVS; ours
// ignores it). Per run and side: one agent started and at rest (ours: its first full sync done; the
// reference: rpc_loop iteration 0 completed), then
// (1) for each of --sizes (1,10): a trunk with N subports (each on its own vxlan network, VLAN 101…)
//     made on an unbound parent, the parent bound to the host as Nova binds it; then the trunk bridge
//     `tbr-…` created (t0: its `ovs-vsctl add-br` returned) and the VM's tap plugged into it at once
//     (as os-vif does; the tap an internal port) → every subport's `spi-` patch port and the parent's
//     `tpi-` on br-int (the agent's own work), → the trunk ACTIVE in GET /v2.0/trunks/{id};
// (2) a trunk VM (lab/trunk-vm.ts, a guest bridge tagging its VLAN interface) whose trunk is ACTIVE with
//     no subport, a plain VM on network S (198.51.100.0/24), the guest's VLAN 101 interface already
//     configured with the address of an unbound port on S; a ping every 50 ms from that interface to
//     the plain VM running (static neighbour entries on both sides, so ARP's 1 s retries do not blur
//     the figure); then PUT add_subports with that port on VLAN 101 → the first ping answered.
// Polling every 25 ms for the first 2 s, then every 200 ms. A wait that does not end within
// --timeout-s (120) fails the run.
//   node dist/bench/trunk.js [--runs N] [--sizes 1,10] [--timeout-s S] [--no-reference]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type NeutronLab } from '../lab/neutron.js';
import { startLab } from '../lab/host.js';
import { type PrivateOvs } from '../lab/ovs.js';
import { cleanupAllVms, plugVm, type Vm } from '../lab/vm.js';
import { plugTrunkVm, type TrunkVm } from '../lab/trunk-vm.js';
import { addSubports, bindTrunkParent, createTrunk, getTrunk, trunkBridgeName, vlanSubport, waitTrunkStatus } from '../lab/trunks.js';
import { argInt, haveReference, report, type Series } from './lib.js';
import { RunningAgent, createNetwork, endRun, firstReply, runRounds, seriesOf, sleep, startOvs, startReadyAgent, uniqueHost, until, type Side } from './agents.js';

const FIRST_VLAN = 101;

function trunkIni(ovs: PrivateOvs): string {
  return ['[agent]', `root_helper = env OVS_RUNDIR=${ovs.dir}`, ''].join('\n');
}

/** The networks every run uses: the parents', one per subport of the largest trunk, and the two of (2). */
interface Nets {
  parent: string;
  subports: string[];
  trafficParent: string;
  trafficSubport: string;
}

async function createNets(lab: NeutronLab, maxSubports: number): Promise<Nets> {
  const parent = await createNetwork(lab, 'trunk-parent');
  const subports: string[] = [];
  for (let i = 0; i < maxSubports; i++) subports.push(await createNetwork(lab, `trunk-sub-${i}`));
  const traffic = async (name: string, cidr: string): Promise<string> => {
    const net = await lab.createNetwork({ name, provider: { network_type: 'vxlan' } });
    await lab.createSubnet(net.id, cidr, { gatewayIp: null });
    return net.id;
  };
  return { parent, subports, trafficParent: await traffic('trunk-traffic-P', '192.0.2.0/24'), trafficSubport: await traffic('trunk-traffic-S', '198.51.100.0/24') };
}

/** Waits for the agent's start-up to be over: ours' first full sync, the reference's rpc_loop iteration 0. */
async function atRest(agent: RunningAgent): Promise<void> {
  const done = agent.side === 'ours' ? /first full sync done/ : /rpc_loop - iteration:0 completed/;
  const logText = (): string => {
    try {
      return readFileSync(join(agent.dir, 'agent.log'), 'utf8');
    } catch {
      return '';
    }
  };
  await until('start-up over', agent, 180000, async () => done.test(logText()), 200);
}

/** A port for a trunk: unbound, no device_id (neutron's rule for a subport; Nova binds the parent later). */
const trunkPort = (lab: NeutronLab, networkId: string, name: string) => lab.createPort(networkId, { name, deviceOwner: '', deviceId: '' });

/** Polls `done` from t0 (25 ms for 2 s, then 200 ms) until true; the elapsed ms, or an error naming `what`. */
async function elapsedUntil(what: string, t0: number, agent: RunningAgent, timeoutMs: number, done: () => Promise<boolean>): Promise<number> {
  while (performance.now() - t0 < timeoutMs) {
    agent.assertRunning();
    if (await done()) return performance.now() - t0;
    await sleep(performance.now() - t0 < 2000 ? 25 : 200);
  }
  throw new Error(`${agent.side}: ${what}: not within ${timeoutMs} ms; log tail:\n${agent.log()}`);
}

interface BootRun {
  patchesMs: number;
  activeMs: number;
}

/** (1): trunk bridge created → the trunk's patch ports on br-int, → the trunk ACTIVE. */
async function bootOnce(lab: NeutronLab, ovs: PrivateOvs, agent: RunningAgent, host: string, nets: Nets, n: number, timeoutMs: number): Promise<BootRun> {
  const parent = await trunkPort(lab, nets.parent, `tp-${host}-${n}`);
  const subs = [];
  for (let i = 0; i < n; i++) subs.push(vlanSubport((await trunkPort(lab, nets.subports[i]!, `ts-${host}-${n}-${i}`)).id, FIRST_VLAN + i));
  const trunk = await createTrunk(lab, parent.id, { name: `trunk-${host}-${n}`, subports: subs });
  await bindTrunkParent(lab, parent.id, host, crypto.randomUUID());
  const tbr = trunkBridgeName(trunk.id);
  const tap = `tap${parent.id.slice(0, 11)}`;
  await ovs.vsctl('add-br', tbr, '--', 'set', 'Bridge', tbr, 'datapath_type=netdev');
  const t0 = performance.now();
  await ovs.vsctl(
    'add-port', tbr, tap, '--', 'set', 'Interface', tap, 'type=internal',
    `external_ids:iface-id=${parent.id}`, 'external_ids:iface-status=active', `external_ids:attached-mac=${parent.mac_address}`, `external_ids:vm-uuid=${crypto.randomUUID()}`,
  );
  const wanted = [`tpi-${parent.id}`.slice(0, 15), ...subs.map((s) => `spi-${s.port_id}`.slice(0, 15))];
  const patchesMs = await elapsedUntil(`trunk of ${n} subports: patch ports on br-int`, t0, agent, timeoutMs, async () => {
    const onInt = new Set((await ovs.vsctl('list-ports', 'br-int')).split('\n'));
    return wanted.every((p) => onInt.has(p));
  });
  const activeMs = await elapsedUntil(`trunk of ${n} subports ACTIVE`, t0, agent, timeoutMs, async () => (await getTrunk(lab, trunk.id)).status === 'ACTIVE');
  process.stderr.write(`# ${agent.side} trunk with ${n} subports: patch ports ${patchesMs.toFixed(0)} ms, ACTIVE ${activeMs.toFixed(0)} ms\n`);
  return { patchesMs, activeMs };
}

interface TrafficVms {
  vm: TrunkVm;
  plain: Vm;
}

/** (2)'s VMs: a trunk VM on P whose trunk is ACTIVE with no subport, a plain VM on S, ACTIVE. */
async function trafficVms(lab: NeutronLab, ovs: PrivateOvs, agent: RunningAgent, host: string, nets: Nets, timeoutMs: number, made: Array<{ unplug(): Promise<void> }>): Promise<TrafficVms> {
  const parent = await trunkPort(lab, nets.trafficParent, `tvp-${host}`);
  const trunk = await createTrunk(lab, parent.id, { name: `trunk-traffic-${host}` });
  await bindTrunkParent(lab, parent.id, host, crypto.randomUUID());
  const vm = await plugTrunkVm(ovs, { trunkId: trunk.id, parent });
  made.push(vm);
  await waitTrunkStatus(lab, trunk.id, 'ACTIVE', timeoutMs);
  const port = await lab.createPort(nets.trafficSubport, { name: `tvs-${host}`, host });
  const plain = await plugVm(ovs, port);
  made.push(plain);
  await elapsedUntil('plain VM on S ACTIVE', performance.now(), agent, timeoutMs, async () => (await lab.getPort(port.id)).status === 'ACTIVE');
  return { vm, plain };
}

interface AddRun {
  callMs: number;
  passMs: number;
}

/** (2), on a booted trunk VM and a plain VM on S: add_subports called → the first ping from the VLAN interface answered. */
async function addOnce(lab: NeutronLab, agent: RunningAgent, t: TrafficVms, subportNet: string, timeoutMs: number): Promise<AddRun> {
  const { vm, plain } = t;
  const sub = await trunkPort(lab, subportNet, `tsub-${vm.trunkId}`);
  const iface = await vm.addVlan(sub, FIRST_VLAN);
  await vm.exec('ip', ['neigh', 'replace', plain.ip, 'lladdr', plain.mac, 'dev', iface.name, 'nud', 'permanent']);
  await plain.exec('ip', ['neigh', 'replace', iface.ip, 'lladdr', iface.mac, 'dev', 'eth0', 'nud', 'permanent']);
  const pinger = firstReply(vm.netns, iface.name, plain.ip, timeoutMs);
  try {
    const early = await Promise.race([pinger.reply.then(() => true, () => false), sleep(1000).then(() => false)]);
    if (early) throw new Error(`${agent.side}: the VLAN ${FIRST_VLAN} interface reached ${plain.ip} before its port was a subport`);
    const tCall = Date.now();
    await addSubports(lab, vm.trunkId, [vlanSubport(sub.id, FIRST_VLAN)]);
    const callMs = Date.now() - tCall;
    const passMs = (await pinger.reply) - tCall;
    process.stderr.write(`# ${agent.side} subport added: API call ${callMs} ms, first reply ${passMs.toFixed(0)} ms after the call\n`);
    return { callMs, passMs };
  } finally {
    pinger.stop();
  }
}

interface SideRun {
  boot: Map<number, BootRun>;
  add: AddRun;
}

/** One run of one side: an agent at rest on a fresh OVS, (1) for every size, then (2). */
async function runOnce(lab: NeutronLab, side: Side, nets: Nets, sizes: number[], timeoutMs: number): Promise<SideRun> {
  const ovs = await startOvs();
  const host = uniqueHost(side);
  let agent: RunningAgent | undefined;
  const made: Array<{ unplug(): Promise<void> }> = [];
  try {
    agent = await startReadyAgent(lab, side, ovs, host, trunkIni(ovs));
    await atRest(agent);
    const boot = new Map<number, BootRun>();
    for (const n of sizes) boot.set(n, await bootOnce(lab, ovs, agent, host, nets, n, timeoutMs));
    const t = await trafficVms(lab, ovs, agent, host, nets, timeoutMs, made);
    const add = await addOnce(lab, agent, t, nets.trafficSubport, timeoutMs);
    return { boot, add };
  } finally {
    for (const m of made.reverse()) await m.unplug().catch((e: unknown) => process.stderr.write(`# unplugging a VM: ${e instanceof Error ? e.message : String(e)}\n`));
    await cleanupAllVms();
    await endRun(agent, ovs);
  }
}

async function main(): Promise<void> {
  const runs = argInt('runs', 3);
  const timeoutMs = argInt('timeout-s', 120) * 1000;
  const sizesAt = process.argv.indexOf('--sizes');
  const sizes = (sizesAt > 0 ? (process.argv[sizesAt + 1] ?? '') : '1,10').split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`--sizes: not a list of subport counts: ${process.argv[sizesAt + 1] ?? ''}`);
  const ref = haveReference();
  const lab = await startLab();
  try {
    if (!lab.trunk) throw new Error('the lab runs without the trunk service plugin');
    const nets = await createNets(lab, Math.max(...sizes));
    const res = await runRounds(runs, ref, (side) => runOnce(lab, side, nets, sizes, timeoutMs));
    const row = seriesOf(res, ref);
    const rows: Series[] = [];
    for (const n of sizes) {
      rows.push(
        row(`trunk bridge created, VM plugged (${n} subport${n === 1 ? '' : 's'}) → parent's and every subport's patch port on br-int`, 'ms', (r) => r.boot.get(n)!.patchesMs),
        row(`trunk bridge created, VM plugged (${n} subport${n === 1 ? '' : 's'}) → trunk ACTIVE`, 'ms', (r) => r.boot.get(n)!.activeMs),
      );
    }
    rows.push(
      row(`add_subports called on a live trunk → first ping from the guest's VLAN ${FIRST_VLAN} interface answered (every 50 ms)`, 'ms', (r) => r.add.passMs),
      row('the add_subports API call itself (neutron-server, for reference)', 'ms', (r) => r.add.callMs),
    );
    report('trunk', `Trunk ports: trunk bridge → ACTIVE with ${sizes.join(' / ')} subports, a subport added → its traffic`, rows, { runs, sizes, timeoutMs });
  } finally {
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench trunk failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
