import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OvsdbReplica, type RowChange } from '../../../src/ovsdb/replica.js';
import { parseOvsdbEndpoint, formatOvsdbEndpoint } from '../../../src/ovsdb/client.js';
import { OvsdbOps } from '../../../src/ovsdb/ops.js';
import { OvsdbClient } from '../../../src/ovsdb/client.js';
import type { Json, TableUpdates } from '../../../src/ovsdb/protocol.js';

type R = Record<string, Json>;
function tu(...tables: Array<[string, Array<[string, { old?: R; new?: R }]>]>): TableUpdates {
  return tables.map(([table, rows]) => ({ table, rows: rows.map(([uuid, update]) => ({ uuid, update })) }));
}
const uuids = (...u: string[]): Json => ['set', u.map((x) => ['uuid', x])];
const map = (o: Record<string, string>): Json => ['map', Object.entries(o)];

function bridgeRow(name: string, ports: string[], extra: R = {}): R {
  return { name, ports: uuids(...ports), datapath_type: 'netdev', datapath_id: ['set', []], protocols: ['set', []], controller: ['set', []], external_ids: map({}), other_config: map({}), fail_mode: ['set', []], mcast_snooping_enable: false, ...extra };
}
function portRow(name: string, ifaces: string[], extra: R = {}): R {
  return { name, interfaces: uuids(...ifaces), tag: ['set', []], other_config: map({}), external_ids: map({}), vlan_mode: ['set', []], trunks: ['set', []], ...extra };
}
function ifaceRow(name: string, extra: R = {}): R {
  return { name, ofport: ['set', []], external_ids: map({}), type: '', options: map({}), error: ['set', []], ...extra };
}

function collect(r: OvsdbReplica): RowChange[][] {
  const events: RowChange[][] = [];
  r.on('update', (c) => events.push(c));
  return events;
}

test('replica: initial snapshot gives typed rows and lookups', () => {
  const r = new OvsdbReplica();
  const events = collect(r);
  r.resync(tu(
    ['Open_vSwitch', [['root', { new: { bridges: uuids('b1'), datapath_types: ['set', ['netdev', 'system']], iface_types: ['set', ['internal', 'patch']], other_config: map({ 'hw-offload': 'false' }) } }]]],
    ['Bridge', [['b1', { new: bridgeRow('br-x', ['p1', 'p2'], { datapath_id: '0000aabbccddeeff', protocols: 'OpenFlow13', fail_mode: 'secure' }) }]]],
    ['Port', [['p1', { new: portRow('br-x', ['i1']) }], ['p2', { new: portRow('tap1', ['i2'], { tag: 5, other_config: map({ net_uuid: 'n1' }) }) }]]],
    ['Interface', [['i1', { new: ifaceRow('br-x', { type: 'internal', ofport: 65534 }) }], ['i2', { new: ifaceRow('tap1', { ofport: 3, external_ids: map({ 'iface-id': 'port-a', 'attached-mac': 'fa:16:3e:00:00:01' }) }) }]]],
  ));
  assert.equal(events.length, 1);
  assert.equal(events[0].length, 6);
  assert.ok(events[0].every((c) => c.old === undefined && c.new !== undefined));

  const b = r.bridge('br-x');
  assert.ok(b);
  assert.equal(b.datapathId, '0000aabbccddeeff');
  assert.deepEqual(b.protocols, ['OpenFlow13']);
  assert.equal(b.failMode, 'secure');
  assert.deepEqual(r.portsOfBridge('br-x').map((p) => p.name), ['br-x', 'tap1']);
  assert.deepEqual(r.interfacesOfPort('tap1').map((i) => i.name), ['tap1']);
  assert.equal(r.port('tap1')?.tag, 5);
  assert.equal(r.iface('tap1')?.ofport, 3);
  assert.equal(r.bridgeOfInterface('tap1')?.name, 'br-x');
  assert.equal(r.portOfInterface('tap1')?.name, 'tap1');
  assert.equal(r.openVSwitch()?.otherConfig.get('hw-offload'), 'false');

  const ops = new OvsdbOps(new OvsdbClient({ endpoint: 'unix:/nonexistent' }), r);
  assert.deepEqual(ops.vifPorts('br-x'), [{
    portName: 'tap1', ifaceName: 'tap1', ofport: 3, ifaceId: 'port-a', mac: 'fa:16:3e:00:00:01', tag: 5,
    otherConfig: new Map([['net_uuid', 'n1']]), externalIds: new Map([['iface-id', 'port-a'], ['attached-mac', 'fa:16:3e:00:00:01']]),
  }]);
  assert.deepEqual(ops.openVSwitch().datapathTypes, ['netdev', 'system']);
  assert.deepEqual(ops.listBridges(), ['br-x']);
  assert.equal(ops.bridgeExists('br-y'), false);
});

test('replica: updates are reported in order as insert/modify/delete, indexes follow', () => {
  const r = new OvsdbReplica();
  r.resync(tu(['Bridge', [['b1', { new: bridgeRow('br-x', []) }]]]));
  const events = collect(r);
  r.update(tu(
    ['Interface', [['i9', { new: ifaceRow('tap9') }]]],
    ['Port', [['p9', { new: portRow('tap9', ['i9']) }]]],
    ['Bridge', [['b1', { old: { ports: uuids() }, new: bridgeRow('br-x', ['p9']) }]]],
  ));
  assert.equal(events.length, 1);
  assert.deepEqual(events[0].map((c) => [c.table, c.uuid, c.old ? 'old' : '-', c.new ? 'new' : '-']), [
    ['Interface', 'i9', '-', 'new'], ['Port', 'p9', '-', 'new'], ['Bridge', 'b1', 'old', 'new'],
  ]);
  assert.equal(r.bridgeOfInterface('tap9')?.name, 'br-x');

  // ofport assigned: a modify with both rows typed.
  r.update(tu(['Interface', [['i9', { old: { ofport: ['set', []] }, new: ifaceRow('tap9', { ofport: 7 }) }]]]));
  const mod = events[1][0];
  assert.equal(mod.table, 'Interface');
  if (mod.table === 'Interface') {
    assert.equal(mod.old?.ofport, undefined);
    assert.equal(mod.new?.ofport, 7);
  }

  // Rename keeps the name index right.
  r.update(tu(['Interface', [['i9', { old: { name: 'tap9' }, new: ifaceRow('tap9b', { ofport: 7 }) }]]]));
  assert.equal(r.iface('tap9'), undefined);
  assert.equal(r.iface('tap9b')?.ofport, 7);

  // Delete.
  r.update(tu(
    ['Bridge', [['b1', { old: { ports: uuids('p9') }, new: bridgeRow('br-x', []) }]]],
    ['Port', [['p9', { old: portRow('tap9', ['i9']) }]]],
    ['Interface', [['i9', { old: ifaceRow('tap9b') }]]],
  ));
  const del = events[3];
  assert.deepEqual(del.map((c) => [c.table, c.old ? 'old' : '-', c.new ? 'new' : '-']), [['Bridge', 'old', 'new'], ['Port', 'old', '-'], ['Interface', 'old', '-']]);
  assert.equal(r.port('tap9'), undefined);
  assert.equal(r.portOfInterface('tap9b'), undefined);
  assert.deepEqual(r.portsOfBridge('br-x'), []);
});

test('replica: resync reports vanished rows as deleted, new ones as inserted, unchanged ones not at all', () => {
  const r = new OvsdbReplica();
  r.resync(tu(
    ['Bridge', [['b1', { new: bridgeRow('br-x', ['p1', 'p2']) }]]],
    ['Port', [['p1', { new: portRow('a', []) }], ['p2', { new: portRow('b', []) }]]],
  ));
  const events = collect(r);
  r.resync(tu(
    ['Bridge', [['b1', { new: bridgeRow('br-x', ['p1', 'p3']) }]]],
    ['Port', [['p1', { new: portRow('a', []) }], ['p3', { new: portRow('c', []) }]]],
  ));
  assert.equal(events.length, 1);
  const summary = events[0].map((c) => `${c.table}:${c.uuid}:${c.old ? (c.new ? 'modify' : 'delete') : 'insert'}`).sort();
  assert.deepEqual(summary, ['Bridge:b1:modify', 'Port:p2:delete', 'Port:p3:insert']);
  assert.equal(r.port('b'), undefined);
  assert.equal(r.bridgeOfPortRow('c')?.name, 'br-x');
  // Nothing changed: no event.
  r.resync(tu(
    ['Bridge', [['b1', { new: bridgeRow('br-x', ['p3', 'p1']) }]]],
    ['Port', [['p1', { new: portRow('a', []) }], ['p3', { new: portRow('c', []) }]]],
  ));
  assert.equal(events.length, 1);
});

test('replica: a malformed row is skipped, the rest of the update still applies', () => {
  const r = new OvsdbReplica();
  const events = collect(r);
  r.update(tu(['Port', [['bad', { new: { name: 5 } }], ['good', { new: portRow('ok', []) }]]]));
  assert.equal(r.port('ok')?.name, 'ok');
  assert.equal(events[0].length, 1);
});

test('replica: waitFor resolves on a later update and times out with the given message', async () => {
  const r = new OvsdbReplica();
  const p = r.waitFor(() => r.iface('late')?.ofport, 1000, () => 'never');
  setTimeout(() => r.update(tu(['Interface', [['i', { new: ifaceRow('late', { ofport: 4 }) }]]])), 10);
  assert.equal(await p, 4);
  await assert.rejects(r.waitFor(() => r.iface('nope'), 20, () => 'interface nope never appeared'), /interface nope never appeared/);
});

test('replica: 3000 ports on one bridge stay fast to add and look up', () => {
  const r = new OvsdbReplica();
  r.resync(tu(['Bridge', [['b', { new: bridgeRow('br-big', []) }]]]));
  const N = 3000;
  const ports: string[] = [];
  const t0 = Date.now();
  for (let i = 0; i < N; i++) {
    ports.push(`p${String(i).padStart(5, '0')}`); // ovsdb-server sends set elements sorted
    r.update(tu(
      ['Interface', [[`i${i}`, { new: ifaceRow(`tap${i}`, { ofport: i + 1, external_ids: map({ 'iface-id': `id${i}`, 'attached-mac': 'fa:16:3e:00:00:01' }) }) }]]],
      ['Port', [[ports[i], { new: portRow(`tap${i}`, [`i${i}`]) }]]],
      ['Bridge', [['b', { new: bridgeRow('br-big', ports) }]]],
    ));
  }
  for (let i = 0; i < N; i++) assert.equal(r.bridgeOfInterface(`tap${i}`)?.name, 'br-big');
  const ops = new OvsdbOps(new OvsdbClient({ endpoint: 'unix:/nonexistent' }), r);
  assert.equal(ops.vifPorts('br-big').length, N);
  assert.ok(Date.now() - t0 < 10000, `took ${Date.now() - t0} ms`);
});

test('endpoint: ovsdb_connection syntax', () => {
  assert.deepEqual(parseOvsdbEndpoint('tcp:127.0.0.1:6640'), { kind: 'tcp', host: '127.0.0.1', port: 6640 });
  assert.deepEqual(parseOvsdbEndpoint('tcp:192.0.2.1'), { kind: 'tcp', host: '192.0.2.1', port: 6640 });
  assert.deepEqual(parseOvsdbEndpoint('tcp:[::1]:6641'), { kind: 'tcp', host: '::1', port: 6641 });
  assert.deepEqual(parseOvsdbEndpoint('tcp:[fe80::1]'), { kind: 'tcp', host: 'fe80::1', port: 6640 });
  assert.deepEqual(parseOvsdbEndpoint('unix:/run/openvswitch/db.sock'), { kind: 'unix', path: '/run/openvswitch/db.sock' });
  assert.equal(formatOvsdbEndpoint(parseOvsdbEndpoint('tcp:[::1]:6641')), 'tcp:[::1]:6641');
  assert.deepEqual(parseOvsdbEndpoint('ssl:127.0.0.1:6641'), { kind: 'ssl', host: '127.0.0.1', port: 6641 });
  assert.equal(formatOvsdbEndpoint(parseOvsdbEndpoint('ssl:[::1]')), 'ssl:[::1]:6640');
  assert.throws(() => new OvsdbClient({ endpoint: 'ssl:127.0.0.1:6640' }), /ssl: needs \[ovs\] ssl_key_file/);
  assert.throws(() => parseOvsdbEndpoint('ptcp:6640'), /passive/);
  assert.throws(() => parseOvsdbEndpoint('tcp:::1:6640'), /\[addr\]/);
  assert.throws(() => parseOvsdbEndpoint('tcp:1.2.3.4:99999'), /bad port/);
  assert.throws(() => parseOvsdbEndpoint('tcp:'), /needs an address/);
  assert.throws(() => parseOvsdbEndpoint('udp:1.2.3.4:1'), /unknown connection method "udp"/);
});
