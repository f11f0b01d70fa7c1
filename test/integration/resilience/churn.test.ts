// Ports coming and going fast: one port plugged and unplugged 100 times in a row, 50 ports plugged
// in one OVSDB transaction while the server pushes updates and deletions. Afterwards the flows and
// tags must be exactly what a freshly started agent makes of the final state: nothing leaked (local
// VLANs of networks without ports, flows of removed ports), nothing missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import type { AgentProcess } from '../../../lab/agent-process.js';
import { NeutronLab, waitFor, type NeutronNetwork, type NeutronPort } from '../../../lab/neutron.js';
import { plugVm, ping } from '../../../lab/vm.js';
import { agentConfig, startAgent, flowSet, missing, portTags, note, stopLabHost, waitAgentAlive } from '../../helpers/resilience.js';
import { startLabAndOvs } from '../../../lab/host.js';

const HOST = 'rs-churn';
let lab: NeutronLab;
let ovs: PrivateOvs;
let agent: AgentProcess;
let files: Record<string, string>;
const DEAD = 4095;

async function ofportOf(name: string): Promise<number> {
  return Number(await ovs.vsctl('get', 'Interface', name, 'ofport'));
}
/** Runs `fn` over `items` with at most `n` at a time. */
async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}
/** Statuses of ports by id, in one API call. */
async function statuses(ids: string[]): Promise<Map<string, string>> {
  const want = new Set(ids);
  return new Map((await lab.listPorts()).filter((p) => want.has(p.id)).map((p) => [p.id, p.status]));
}
const tapOf = (id: string) => `tap${id.slice(0, 11)}`;
const vniMatch = (vni: number) => new RegExp(`tun_id=0x${vni.toString(16)}[, ]`);

/** Waits until the agent is idle: br-int and br-tun flows unchanged for `quietMs`. */
async function settle(quietMs = 2000, timeoutMs = 60000): Promise<void> {
  let last = '';
  let since = Date.now();
  await waitFor(async () => {
    const now = [...(await flowSet(ovs, 'br-int')), '|', ...(await flowSet(ovs, 'br-tun'))].join('\n');
    if (now !== last) {
      last = now;
      since = Date.now();
    }
    return Date.now() - since >= quietMs;
  }, timeoutMs, 'flows to settle', 200);
}

before(async () => {
  [lab, ovs] = await startLabAndOvs();
  files = agentConfig(lab, ovs, { host: HOST, ofListenPort: await freePort() });
  agent = await startAgent(files, ovs);
  await waitAgentAlive(lab, HOST);
}, { timeout: 240000 });

after(() => stopLabHost({ host: HOST, agent, ovs, lab }), { timeout: 60000 });

test('one port plugged and unplugged 100 times in a row ends wired once, with no flow of its past ofports', async () => {
  const net = await lab.createNetwork({ name: 'churn-1' });
  await lab.createSubnet(net.id, '192.0.2.0/26', { gatewayIp: null });
  const [pa, pb] = await Promise.all([lab.createPort(net.id, { name: 'stay', host: HOST }), lab.createPort(net.id, { name: 'flap', host: HOST })]);
  const stay = await plugVm(ovs, pa);
  const flap = await plugVm(ovs, pb);
  await waitFor(async () => [...(await statuses([pa.id, pb.id])).values()].every((s) => s === 'ACTIVE'), 30000, 'both ports ACTIVE', 100);
  const ids = [
    `external_ids:iface-id=${pb.id}`,
    `external_ids:attached-mac=${pb.mac_address}`,
    'external_ids:iface-status=active',
    `external_ids:vm-uuid=${flap.vmUuid}`,
  ];
  const seenOfports = new Set<number>([await ofportOf(flap.tap)]);
  const t0 = Date.now();
  for (let i = 0; i < 100; i++) {
    // --no-wait: as fast as OVSDB takes them, ovs-vswitchd catching up when it can.
    await ovs.vsctl('--no-wait', 'del-port', 'br-int', flap.tap);
    await ovs.vsctl('--no-wait', 'add-port', 'br-int', flap.tap, '--', 'set', 'Interface', flap.tap, ...ids);
    if (i % 10 === 9) seenOfports.add(await ofportOf(flap.tap).catch(() => -1));
  }
  const churnMs = Date.now() - t0;
  const finalOfport = await ofportOf(flap.tap);
  await settle();
  assert.equal(agent.exitCode, undefined, 'agent still running');
  assert.equal(await ping(flap, stay.ip, { count: 2, timeoutMs: 5000 }), 2, 'the flapped port works at the end');
  const flows = await flowSet(ovs, 'br-int');
  const earlier = [...seenOfports].filter((p) => p !== finalOfport);
  const stale = [...flows].filter((f) => earlier.some((p) => f.includes(`in_port=${p},`) || f.includes(`in_port=${p} `)));
  assert.deepEqual(stale, [], `no flow of an earlier ofport (${earlier.join(',')})`);
  const tags = await portTags(ovs, 'br-int');
  assert.equal(tags.get(flap.tap), tags.get(stay.tap), 'same local VLAN as its neighbour');
  note(`100 unplug/plug cycles of one port in ${churnMs} ms (ofports seen: ${[...seenOfports].join(',')}); working afterwards, ${agent.output.match(/Configuration for devices/g)?.length ?? 0} port passes logged so far`);
  await stay.unplug();
  await flap.unplug();
});

test('50 ports plugged at once while the server pushes updates and deletions end as a fresh agent would wire them', async () => {
  // Five networks of ten ports. In the end: net 0 and 1 fully unplugged (their VLANs must be
  // reclaimed), five ports admin-down and five deleted on the server (dead VLAN), the rest wired.
  const nets: NeutronNetwork[] = [];
  for (let n = 0; n < 5; n++) {
    const net = await lab.createNetwork({ name: `churn-50-${n}` });
    await lab.createSubnet(net.id, `203.0.113.${n * 32}/27`, { gatewayIp: null });
    nets.push(net);
  }
  const specs = nets.flatMap((net, n) => Array.from({ length: 10 }, (_, k) => ({ net, name: `p${n}-${k}` })));
  const tc = Date.now();
  const ports: NeutronPort[] = await pool(specs, 8, (s) => lab.createPort(s.net.id, { name: s.name, host: HOST }));
  const createMs = Date.now() - tc;

  // One transaction: 50 internal ports as os-vif would tag them with their neutron port.
  const args: string[] = [];
  for (const p of ports) {
    const tap = tapOf(p.id);
    args.push('--', 'add-port', 'br-int', tap, '--', 'set', 'Interface', tap, 'type=internal',
      `external_ids:iface-id=${p.id}`, `external_ids:attached-mac=${p.mac_address}`, 'external_ids:iface-status=active', `external_ids:vm-uuid=${p.device_id}`);
  }
  const tPlug = Date.now();
  await ovs.vsctl(...args);
  // Meanwhile on the server: renames (pushes of updates), admin-down, deletions.
  const adminDown = ports.filter((_, i) => i >= 20 && i % 10 === 0).concat(ports.filter((_, i) => i >= 20 && i % 10 === 1)).slice(0, 5);
  const deleted = ports.filter((_, i) => i >= 20 && i % 10 === 2).concat(ports.filter((_, i) => i >= 20 && i % 10 === 3)).slice(0, 5);
  const renamed = ports.filter((_, i) => i >= 20 && i % 10 >= 5);
  await Promise.all([
    pool(renamed, 4, (p) => lab.updatePort(p.id, { name: `${p.name}-renamed` })),
    pool(adminDown, 4, (p) => lab.updatePort(p.id, { admin_state_up: false })),
    pool(deleted, 4, (p) => lab.deletePort(p.id)),
  ]);
  const live = ports.filter((p) => !deleted.includes(p) && !adminDown.includes(p));
  await waitFor(async () => {
    const st = await statuses(live.map((p) => p.id));
    return live.every((p) => st.get(p.id) === 'ACTIVE');
  }, 90000, 'every live port ACTIVE', 250);
  const allActiveMs = Date.now() - tPlug;
  process.stderr.write(`churn: created in ${createMs} ms, all ACTIVE ${allActiveMs} ms after plugging\n`);

  // Unplug networks 0 and 1 entirely (20 ports, one transaction).
  const gone = ports.slice(0, 20);
  const goneOfports = new Set(await Promise.all(gone.map((p) => ofportOf(tapOf(p.id)))));
  await ovs.vsctl(...gone.flatMap((p) => ['--', 'del-port', 'br-int', tapOf(p.id)]));
  await settle();
  assert.equal(agent.exitCode, undefined, 'agent still running');

  // What an operator checks: tags, then flows.
  const tags = await portTags(ovs, 'br-int');
  for (const p of [...adminDown, ...deleted]) assert.equal(tags.get(tapOf(p.id)), DEAD, `port ${p.name} ${p.id} (${adminDown.includes(p) ? 'admin down' : 'deleted'}) on the dead VLAN`);
  const wired = ports.slice(20).filter((p) => live.includes(p));
  const vlanOfNet = new Map<string, Set<number>>();
  for (const p of wired) {
    const t = tags.get(tapOf(p.id));
    assert.ok(t !== undefined && t !== DEAD, `port ${p.name} has a local VLAN: ${t}`);
    vlanOfNet.set(p.network_id, (vlanOfNet.get(p.network_id) ?? new Set()).add(t));
  }
  for (const [net, vl] of vlanOfNet) assert.equal(vl.size, 1, `one local VLAN for network ${net}`);
  const usedVlans = new Set([...tags.values()].filter((t) => t !== DEAD));
  assert.equal(usedVlans.size, 3, `three local VLANs in use (networks 2-4): ${[...usedVlans].join(',')}`);

  const intFlows = await flowSet(ovs, 'br-int');
  const liveOfports = new Set(await Promise.all(wired.concat(adminDown, deleted).map((p) => ofportOf(tapOf(p.id)))));
  const leftovers = [...intFlows].filter((f) => [...goneOfports].some((o) => !liveOfports.has(o) && (f.includes(`in_port=${o},`) || f.includes(`in_port=${o} `))));
  assert.deepEqual(leftovers, [], 'no br-int flow of an unplugged port');
  const tunFlows = await flowSet(ovs, 'br-tun');
  for (const n of [0, 1]) {
    const vni = nets[n]!['provider:segmentation_id']!;
    assert.deepEqual([...tunFlows].filter((f) => vniMatch(vni).test(f)), [], `no br-tun flow for network ${n}'s VNI ${vni}: it has no port here`);
  }
  for (const n of [2, 3, 4]) {
    const vni = nets[n]!['provider:segmentation_id']!;
    assert.equal([...tunFlows].filter((f) => vniMatch(vni).test(f)).length, 1, `network ${n}'s VNI ${vni} mapped to its local VLAN`);
  }

  // A fresh agent on the same switch: after its first full sync and stale-flow cleanup, the
  // flows and tags must be the same. Anything the first agent leaked would be removed, anything
  // it missed added.
  await agent.stop();
  agent.cleanup();
  agent = await startAgent(files, ovs);
  await agent.waitForLog(/first full sync done/, 60000);
  await settle();
  const fresh = { int: await flowSet(ovs, 'br-int'), tun: await flowSet(ovs, 'br-tun') };
  assert.deepEqual({ extra: missing(intFlows, fresh.int), missing: missing(fresh.int, intFlows) }, { extra: [], missing: [] }, 'br-int: churned agent = fresh agent');
  assert.deepEqual({ extra: missing(tunFlows, fresh.tun), missing: missing(fresh.tun, tunFlows) }, { extra: [], missing: [] }, 'br-tun: churned agent = fresh agent');
  assert.deepEqual(await portTags(ovs, 'br-int'), tags, 'tags: churned agent = fresh agent');
  note(`50 ports in one OVSDB transaction with 15 concurrent renames, 5 admin-down, 5 deletions: 40 live ports ACTIVE ${allActiveMs} ms after plugging (creating them in the API took ${createMs} ms)`);
});
