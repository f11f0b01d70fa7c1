import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { type PrivateOvs, freePort } from '../../../lab/ovs.js';
import { NativeBackend } from '../../../src/openflow/native/backend.js';
import { OpenFlowError } from '../../../src/openflow/backend.js';
import { OVSBridge } from '../../../src/bridges/ovs-bridge.js';
import {
  ETH_TYPE,
  exact,
  masked,
  output,
  popVlan,
  pushVlan,
  setVlan,
  untagged,
  vlan,
  type Flow,
  type FlowMod,
} from '../../../src/openflow/flow.js';
import { startNativeControlled, type NativeControlled } from '../../helpers/openflow-bridges.js';

let controlled: NativeControlled | undefined;
let ovs: PrivateOvs;
let backend: NativeBackend;
const COOKIE = 0x4bf9ca21f8548ef1n;
let seq = 0;

function bridgeName(): string {
  return `tn${process.pid % 100000}${seq++}`.slice(0, 15);
}

/** A secure bridge whose controller is our backend; returns its datapath id. */
const addBridge = (name: string): Promise<bigint> => controlled!.addBridge(name);

before(async () => {
  controlled = await startNativeControlled();
  ({ ovs, backend } = controlled);
});

after(() => controlled?.stop());

const add = (flow: Flow): FlowMod => ({ command: 'add', flow: { cookie: COOKIE, ...flow } });

// Reference flows from the captures in /work/shared/spec/flows.md §3.4, §4, §5.3.
const REFERENCE: { flow: Flow; text: string }[] = [
  {
    flow: {
      table: 10,
      priority: 1,
      match: {},
      actions: [
        {
          type: 'learn',
          table: 20,
          hardTimeout: 300,
          priority: 1,
          cookie: COOKIE,
          specs: [
            { kind: 'match_field', dst: { field: 'NXM_OF_VLAN_TCI', ofs: 0, nBits: 12 }, src: { field: 'NXM_OF_VLAN_TCI', ofs: 0, nBits: 12 } },
            { kind: 'match_field', dst: { field: 'NXM_OF_ETH_DST' }, src: { field: 'NXM_OF_ETH_SRC' } },
            { kind: 'load_value', dst: { field: 'NXM_OF_VLAN_TCI' }, value: 0n },
            { kind: 'load_field', dst: { field: 'NXM_NX_TUN_ID' }, src: { field: 'NXM_NX_TUN_ID' } },
            { kind: 'output', src: { field: 'OXM_OF_IN_PORT' } },
          ],
        },
        output(1),
      ],
    },
    text: 'table=10, priority=1 actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:OXM_OF_IN_PORT[]),output:1',
  },
  {
    flow: { table: 4, priority: 1, match: { tunId: exact(0x3e9n) }, actions: [pushVlan(), setVlan(1)], gotoTable: 10 },
    text: 'table=4, priority=1,tun_id=0x3e9 actions=push_vlan:0x8100,set_field:4097->vlan_vid,goto_table:10',
  },
  {
    flow: {
      table: 21,
      priority: 1,
      match: { ethType: ETH_TYPE.ARP, vlanVid: vlan(1), arpTpa: exact('10.0.0.21') },
      actions: [
        { type: 'set_field', field: 'arp_op', value: 2 },
        { type: 'move', src: { field: 'NXM_NX_ARP_SHA' }, dst: { field: 'NXM_NX_ARP_THA' } },
        { type: 'move', src: { field: 'NXM_OF_ARP_SPA' }, dst: { field: 'NXM_OF_ARP_TPA' } },
        { type: 'set_field', field: 'arp_sha', value: 'fa:16:3e:00:00:21' },
        { type: 'set_field', field: 'arp_spa', value: '10.0.0.21' },
        { type: 'move', src: { field: 'NXM_OF_ETH_SRC' }, dst: { field: 'NXM_OF_ETH_DST' } },
        { type: 'set_field', field: 'eth_src', value: 'fa:16:3e:00:00:21' },
        output('IN_PORT'),
      ],
    },
    text: 'table=21, priority=1,arp,dl_vlan=1,arp_tpa=10.0.0.21 actions=set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:fa:16:3e:00:00:21->arp_sha,set_field:10.0.0.21->arp_spa,move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:fa:16:3e:00:00:21->eth_src,IN_PORT',
  },
  {
    flow: {
      table: 22,
      priority: 1,
      match: { vlanVid: vlan(1) },
      actions: [popVlan(), { type: 'set_field', field: 'tun_id', value: 0x3e9n }, output(2), output(3)],
    },
    text: 'table=22, priority=1,dl_vlan=1 actions=pop_vlan,set_field:0x3e9->tun_id,output:2,output:3',
  },
  { flow: { table: 0, priority: 65535, match: { vlanVid: vlan(4095) }, actions: [] }, text: 'priority=65535,dl_vlan=4095 actions=drop' },
  {
    flow: { table: 0, priority: 3, match: { inPort: 1, vlanVid: untagged() }, actions: [pushVlan(), setVlan(3)], gotoTable: 59 },
    text: 'priority=3,in_port=1,vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,set_field:4099->vlan_vid,goto_table:59',
  },
  {
    flow: { table: 2, priority: 0, match: { ethDst: masked('01:00:00:00:00:00', '01:00:00:00:00:00') }, actions: [], gotoTable: 22 },
    text: 'table=2, priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=goto_table:22',
  },
  { flow: { table: 60, priority: 3, match: {}, actions: [output('NORMAL')] }, text: 'table=60, priority=3 actions=NORMAL' },
];

test('reference flows installed natively print exactly as the reference agent\'s, and decode back', async () => {
  const br = bridgeName();
  const dpid = await addBridge(br);
  const sw = backend.bridge(br, dpid);
  await sw.apply(REFERENCE.map((r) => add(r.flow)));
  assert.deepEqual(await ovs.dumpFlows(br), REFERENCE.map((r) => r.text).sort());
  const withCookies = await ovs.dumpFlows(br, { keepCookies: true });
  assert.ok(withCookies.some((l) => l.includes(`learn(table=20,hard_timeout=300,priority=1,cookie=0x${COOKIE.toString(16)},`)), withCookies.join('\n'));

  const stats = await sw.dumpFlows();
  assert.equal(stats.length, REFERENCE.length);
  const key = (f: { table: number; priority: number }) => `${f.table}/${f.priority}`;
  const byKey = new Map(stats.map((s) => [key(s), s]));
  for (const r of REFERENCE) {
    const s = byKey.get(key(r.flow));
    assert.ok(s, `no stats entry for ${r.text}`);
    assert.equal(s.cookie, COOKIE);
    assert.deepEqual(s.flow, { cookie: COOKIE, ...r.flow }, r.text);
  }
  const t22 = await sw.dumpFlows({ table: 22 });
  assert.deepEqual(t22.map((s) => s.table), [22]);
});

test('flows using every modelled field and action come back from the switch as installed', async () => {
  const br = bridgeName();
  const sw = backend.bridge(br, await addBridge(br));
  const flows: Flow[] = [
    {
      table: 1, priority: 10, idleTimeout: 30, hardTimeout: 60,
      match: { inPort: 3, ethSrc: masked('fa:16:3e:00:00:00', 'ff:ff:ff:00:00:00'), ethType: ETH_TYPE.IPV4, ipProto: 6, ipv4Src: masked('10.0.0.0', '255.255.255.0'), ipv4Dst: exact('10.0.1.5'), tcpDst: 22, regs: { 5: exact(3) } },
      actions: [
        { type: 'load', dst: { field: 'NXM_NX_REG6' }, value: 0x99n },
        { type: 'load', dst: { field: 'NXM_NX_REG0', ofs: 4, nBits: 8 }, value: 0xabn },
        { type: 'set_field', field: 'reg5', value: 7 },
        { type: 'move', src: { field: 'NXM_NX_REG0', ofs: 0, nBits: 12 }, dst: { field: 'NXM_OF_VLAN_TCI', ofs: 0, nBits: 12 } },
        { type: 'resubmit', table: 2 },
        { type: 'resubmit', inPort: 5 },
        { type: 'set_field', field: 'metadata', value: 0x10n },
        output('CONTROLLER'),
      ],
      gotoTable: 5,
    },
    {
      table: 2, priority: 20,
      match: { ethType: ETH_TYPE.IPV6, ipProto: 58, icmpv6Type: 136, ndTarget: exact('2001:db8::1'), ipv6Src: masked('fe80::', 'ffff:ffff:ffff:ffff::'), metadata: masked(0x10n, 0xf0n) },
      actions: [{ type: 'set_field', field: 'eth_dst', value: 'fa:16:3e:00:00:09' }, output(4)],
    },
    { table: 3, priority: 1, match: { ethType: ETH_TYPE.IPV4, ipProto: 17, udpSrc: 68, udpDst: 67 }, actions: [] },
    { table: 4, priority: 1, match: { ethType: ETH_TYPE.ARP, arpOp: 1, arpSpa: exact('10.0.0.1'), arpSha: exact('fa:16:3e:00:00:01') }, actions: [output('IN_PORT')] },
    {
      table: 5, priority: 1, match: { ethType: ETH_TYPE.IPV4 },
      actions: [{ type: 'learn', table: 6, priority: 7, idleTimeout: 5, specs: [
        { kind: 'match_value', dst: { field: 'NXM_OF_ETH_TYPE' }, value: 0x800n },
        { kind: 'match_field', dst: { field: 'NXM_OF_IP_DST' }, src: { field: 'NXM_OF_IP_SRC' } },
        { kind: 'load_value', dst: { field: 'NXM_NX_REG1', ofs: 0, nBits: 16 }, value: 0x1234n },
      ] }],
    },
  ];
  await sw.apply(flows.map((f) => add(f)));
  const stats = await sw.dumpFlows();
  assert.equal(stats.length, flows.length, (await ovs.dumpFlows(br)).join('\n'));
  for (const f of flows) {
    const s = stats.find((x) => x.table === f.table);
    assert.deepEqual(s?.flow, { cookie: COOKIE, ...f }, `table ${f.table}: ${(await ovs.dumpFlows(br)).join('\n')}`);
  }
});

test('delete by cookie/mask removes only that cookie\'s flows; delete_strict removes one flow', async () => {
  const br = bridgeName();
  const sw = backend.bridge(br, await addBridge(br));
  const other = 0x1234n;
  await sw.apply([
    add({ table: 0, priority: 1, match: { inPort: 1 }, actions: [] }),
    add({ table: 0, priority: 2, match: { inPort: 1 }, actions: [] }),
    { command: 'add', flow: { table: 0, priority: 1, match: { inPort: 2 }, actions: [], cookie: other } },
    add({ table: 3, priority: 1, match: {}, actions: [output('NORMAL')] }),
  ]);
  assert.equal((await ovs.dumpFlows(br)).length, 4);
  await sw.apply([{ command: 'delete', filter: { table: 0, match: { inPort: 1 }, strict: true, priority: 2 } }]);
  assert.deepEqual(await ovs.dumpFlows(br), ['priority=1,in_port=1 actions=drop', 'priority=1,in_port=2 actions=drop', 'table=3, priority=1 actions=NORMAL']);
  await sw.apply([{ command: 'delete', filter: { cookie: COOKIE, cookieMask: 0xffffffffffffffffn } }]);
  assert.deepEqual(await ovs.dumpFlows(br), ['priority=1,in_port=2 actions=drop']);
  const left = await sw.dumpFlows({ cookie: other, cookieMask: 0xffffffffffffffffn });
  assert.deepEqual(left.map((s) => s.cookie), [other]);
  assert.deepEqual(await sw.dumpFlows({ cookie: COOKIE, cookieMask: 0xffffffffffffffffn }), []);
});

test('a refused flow rejects apply() with an OpenFlowError naming the bridge; the rest of the batch is installed', async () => {
  const br = bridgeName();
  const sw = backend.bridge(br, await addBridge(br));
  await assert.rejects(
    sw.apply([
      add({ table: 0, priority: 5, match: {}, actions: [], gotoTable: 1 }),
      add({ table: 5, priority: 1, match: {}, actions: [], gotoTable: 2 }), // goto to a lower table
      add({ table: 6, priority: 1, match: {}, actions: [{ type: 'set_field', field: 'arp_op', value: 2 }] }), // no arp prerequisite
      add({ table: 7, priority: 1, match: {}, actions: [output('NORMAL')] }),
    ]),
    (e: unknown) => {
      assert.ok(e instanceof OpenFlowError, String(e));
      assert.equal(e.bridge, br);
      assert.match(e.message, new RegExp(`^${br}: switch refused 2 of 4 flow mods`));
      assert.match(e.message, /table=5, priority=1 actions=goto_table:2/);
      assert.match(e.message, /set_field:2->arp_op/);
      assert.equal(e.detail.type, 3); // OFPET_BAD_INSTRUCTION
      assert.match(e.detail.flow ?? '', /table=5/);
      assert.deepEqual(e.detail.refused?.map((r) => r.index), [1, 2]);
      for (const r of e.detail.refused ?? []) assert.match(r.reason, /^OFPET_[A-Z_]+ code \d+/);
      return true;
    },
  );
  assert.deepEqual(await ovs.dumpFlows(br), ['priority=5 actions=goto_table:1', 'table=7, priority=1 actions=NORMAL']);
});

test('port descriptions list the bridge\'s local port', async () => {
  const br = bridgeName();
  const sw = backend.bridge(br, await addBridge(br));
  const ports = await sw.portDesc();
  const local = ports.find((p) => p.name === br);
  assert.ok(local, JSON.stringify(ports));
  assert.equal(local.portNo, 0xfffffffe);
  assert.match(local.hwAddr, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
});

test('a bridge\'s strict delete leaves a previous run\'s flow in that slot and removes its own', async () => {
  const name = bridgeName();
  const sw = backend.bridge(name, await addBridge(name));
  const previousRun = COOKIE ^ 0x8000000000000000n;
  await sw.apply([{ command: 'add', flow: { table: 0, priority: 1, match: { inPort: 1 }, actions: [], cookie: previousRun } }]);
  const br = new OVSBridge(name, sw, COOKIE);
  await br.batch().add({ table: 0, priority: 1, match: { inPort: 2 }, actions: [] }).commit();
  // Strict deletes go out with a 63-bit cookie mask (ovs-bridge.ts): still only this run's flows.
  await br.batch().delete({ table: 0, priority: 1, match: { inPort: 1 }, strict: true }).delete({ table: 0, priority: 1, match: { inPort: 2 }, strict: true }).commit();
  const left = await sw.dumpFlows({ table: 0 });
  assert.deepEqual(left.map((s) => [s.cookie, s.flow?.match.inPort]), [[previousRun, 1]]);
});

test('10 000 flows install in one batch quickly', async (t) => {
  const br = bridgeName();
  const sw = backend.bridge(br, await addBridge(br));
  await backend.waitForSwitch(sw.datapathId);
  const mods: FlowMod[] = [];
  for (let i = 0; i < 10_000; i++) {
    const mac = `fa:16:3e:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    mods.push(add({ table: 20, priority: 2, match: { vlanVid: vlan(1 + (i % 100)), ethDst: exact(mac) }, actions: [popVlan(), { type: 'set_field', field: 'tun_id', value: BigInt(i) }, output(2)] }));
  }
  const t0 = performance.now();
  await sw.apply(mods);
  const ms = performance.now() - t0;
  t.diagnostic(`10 000 flows applied in ${ms.toFixed(0)} ms`);
  assert.ok(ms < 5000, `10 000 flows took ${ms.toFixed(0)} ms`);
  const t1 = performance.now();
  const stats = await sw.dumpFlows({ table: 20 });
  t.diagnostic(`10 000 flows dumped and decoded in ${(performance.now() - t1).toFixed(0)} ms`);
  assert.equal(stats.length, 10_000);
  assert.ok(stats.every((s) => s.flow !== undefined));
});

test('a bridge reconnecting after del-controller/set-controller is picked up again', async () => {
  const br = bridgeName();
  const dpid = await addBridge(br);
  const sw = backend.bridge(br, dpid);
  await backend.waitForSwitch(dpid);
  assert.ok(backend.isConnected(dpid));
  const gone = new Promise<bigint>((resolve) => {
    const h = (d: bigint) => { if (d === dpid) { backend.off('switch-disconnected', h); resolve(d); } };
    backend.on('switch-disconnected', h);
  });
  await ovs.vsctl('del-controller', br);
  assert.equal(await gone, dpid);
  assert.equal(backend.isConnected(dpid), false);
  const back = new Promise<bigint>((resolve) => {
    const h = (d: bigint) => { if (d === dpid) { backend.off('switch-connected', h); resolve(d); } };
    backend.on('switch-connected', h);
  });
  // apply() waits for the switch to come back.
  const applied = sw.apply([add({ table: 1, priority: 1, match: {}, actions: [] })]);
  await ovs.vsctl('set-controller', br, `tcp:127.0.0.1:${controlled!.port}`);
  await ovs.vsctl('set', 'controller', br, 'connection_mode=out-of-band');
  assert.equal(await back, dpid);
  await applied;
  assert.deepEqual(await ovs.dumpFlows(br), ['table=1, priority=1 actions=drop']);
});

test('apply() to a switch that never connects fails with the bridge and datapath id', async () => {
  const b = new NativeBackend({ listenAddress: '127.0.0.1', listenPort: 0, connectTimeoutSec: 0.3, requestTimeoutSec: 1 });
  await b.start();
  try {
    await assert.rejects(b.bridge('br-nowhere', 0xabcn).apply([add({ table: 0, priority: 0, match: {}, actions: [] })]), (e: unknown) => {
      assert.ok(e instanceof OpenFlowError);
      assert.equal(e.bridge, 'br-nowhere');
      assert.match(e.message, /0x0000000000000abc did not connect/);
      return true;
    });
  } finally {
    await b.stop();
  }
});

test('start() on a port in use fails with a clear error naming address:port', async () => {
  const p = await freePort();
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(p, '127.0.0.1', r));
  const b = new NativeBackend({ listenAddress: '127.0.0.1', listenPort: p, connectTimeoutSec: 1, requestTimeoutSec: 1 });
  try {
    await assert.rejects(b.start(), new RegExp(`127\\.0\\.0\\.1:${p}.*EADDRINUSE`));
  } finally {
    await b.stop();
    await new Promise<void>((r) => blocker.close(() => r()));
  }
});
