import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PULL_BATCH, ResourceCache, fromPrimitive, type Json, type JsonObj } from '../../../src/agent/server/resource-cache.js';
import { buildDeviceDetails, DeviceDetailsError } from '../../../src/agent/ports/device-details.js';

const ovo = (name: string, data: JsonObj): JsonObj => ({
  'versioned_object.name': name,
  'versioned_object.namespace': 'versionedobjects',
  'versioned_object.version': '1.7',
  'versioned_object.data': data,
});

function port(over: JsonObj = {}): JsonObj {
  return {
    id: 'p1',
    network_id: 'n1',
    mac_address: 'FA:16:3E:11:22:33',
    admin_state_up: true,
    device_owner: 'compute:nova',
    status: 'DOWN',
    revision_number: 3,
    fixed_ips: [ovo('IPAllocation', { port_id: 'p1', subnet_id: 's1', network_id: 'n1', ip_address: '192.0.2.5' })],
    allowed_address_pairs: [ovo('AllowedAddressPair', { port_id: 'p1', mac_address: 'fa:16:3e:00:00:99', ip_address: '192.0.2.99/32' })],
    security: ovo('PortSecurity', { id: 'p1', port_security_enabled: true }),
    bindings: [ovo('PortBinding', { port_id: 'p1', host: 'compute1', profile: '{}', vif_type: 'ovs', vnic_type: 'normal', status: 'ACTIVE' })],
    binding_levels: [
      ovo('PortBindingLevel', {
        port_id: 'p1',
        host: 'compute1',
        level: 0,
        driver: 'openvswitch',
        segment: ovo('NetworkSegment', { id: 'seg', network_id: 'n1', network_type: 'vxlan', physical_network: null, segmentation_id: 1001 }),
      }),
    ],
    ...over,
  };
}

test('primitives unwrap recursively into plain data', () => {
  const d = fromPrimitive(ovo('Port', port())) as JsonObj;
  assert.equal((d['fixed_ips'] as JsonObj[])[0]!['ip_address'], '192.0.2.5');
  assert.equal((d['security'] as JsonObj)['port_security_enabled'], true);
});

test('a miss pulls once from the server; pushes update the cache and raise port events', async () => {
  const pulls: Json[] = [];
  const cache = new ResourceCache(async (type, version, filter) => {
    pulls.push([type, version, filter]);
    return [ovo('Port', port())];
  });
  const updated: string[][] = [];
  cache.on('port-updated', (id, changed) => updated.push([id, ...changed]));
  assert.equal((await cache.get('Port', 'p1'))?.['mac_address'], 'FA:16:3E:11:22:33');
  assert.deepEqual(pulls, [['Port', '1.7', { id: ['p1'] }]]);
  await cache.get('Port', 'p1');
  assert.equal(pulls.length, 1, 'hit: no second pull');
  updated.length = 0;
  cache.onPush([ovo('Port', port({ admin_state_up: false, revision_number: 4 }))], 'updated');
  assert.deepEqual(updated, [['p1', 'admin_state_up']]);
  // Older revisions are ignored; a status-only change does not ask for rewiring.
  cache.onPush([ovo('Port', port({ admin_state_up: true, revision_number: 2 }))], 'updated');
  cache.onPush([ovo('Port', port({ admin_state_up: false, status: 'ACTIVE', revision_number: 5 }))], 'updated');
  assert.equal(updated.length, 1);
});

test('misses of one turn go out together, PULL_BATCH ids per bulk_pull; a pulled port raises no update event', async () => {
  const pulls: string[][] = [];
  const cache = new ResourceCache(async (_type, _version, filter) => {
    const ids = filter['id'] as string[];
    pulls.push(ids);
    // The server does not know "gone".
    return ids.filter((id) => id !== 'gone').map((id) => ovo('Port', port({ id })));
  });
  const updated: string[] = [];
  cache.on('port-updated', (id) => updated.push(id));
  const n = PULL_BATCH * 2 + 50;
  const ids = Array.from({ length: n }, (_, i) => `p${i}`);
  const got = await Promise.all([...ids, 'p0', 'gone'].map((id) => cache.get('Port', id)));
  assert.deepEqual(pulls.map((p) => p.length), [PULL_BATCH, PULL_BATCH, 51], 'p0 asked twice is pulled once');
  assert.deepEqual(got.slice(0, n).map((p) => p?.['id']), ids);
  assert.equal(got[n]?.['id'], 'p0');
  assert.equal(got[n + 1], undefined);
  assert.deepEqual(updated, [], 'the caller wires what it pulled; no second pass for it');
  await cache.get('Port', 'p7');
  assert.equal(pulls.length, 3, 'hits are served from the cache');
});

test('a failed bulk_pull rejects every port of its batch, naming the type and a port', async () => {
  const cache = new ResourceCache(async () => {
    throw new Error('MessagingTimeout: no reply within 60 s');
  });
  const results = await Promise.allSettled(['a1', 'a2'].map((id) => cache.get('Port', id)));
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.match(String((r as PromiseRejectedResult).reason), /bulk_pull of 2 Ports \(a1, \.\.\.\): MessagingTimeout/);
  }
});

test('a deleted object stays deleted, and malformed pushes are skipped without throwing', async () => {
  const cache = new ResourceCache(async () => []);
  const deleted: string[] = [];
  cache.on('port-deleted', (id) => deleted.push(id));
  cache.onPush([ovo('Port', port())], 'updated');
  cache.onPush([ovo('Port', { id: 'p1' })], 'deleted');
  assert.deepEqual(deleted, ['p1']);
  cache.onPush([ovo('Port', port({ revision_number: 9 }))], 'updated');
  assert.equal(cache.getCached('Port', 'p1'), undefined, 'data for a deleted id is ignored');
  for (const bad of [null, 'x', [1, 2], [{ nope: true }], [ovo('Port', { no_id: 1 })]] as Json[]) cache.onPush(bad, 'updated');
  cache.onPush([ovo('Port', port({ id: 'p2' }))], 'exploded');
  assert.equal(cache.getCached('Port', 'p2'), undefined);
});

test('device details as the Zed agent builds them from the cached port', () => {
  const d = buildDeviceDetails('p1', fromPrimitive(ovo('Port', port())) as JsonObj, 'compute1');
  assert.equal(d.kind, 'bound');
  if (d.kind !== 'bound') return;
  assert.equal(d.macAddress, 'fa:16:3e:11:22:33');
  assert.equal(d.networkType, 'vxlan');
  assert.equal(d.segmentationId, 1001);
  assert.equal(d.physicalNetwork, undefined);
  assert.deepEqual(d.fixedIps, [{ subnetId: 's1', ipAddress: '192.0.2.5' }]);
  assert.deepEqual(d.allowedAddressPairs, [{ macAddress: 'fa:16:3e:00:00:99', ipAddress: '192.0.2.99/32' }]);
  assert.equal(d.portSecurityEnabled, true);
});

test('unknown or unbound ports go to the dead VLAN; another host\'s active binding is no_active_binding; no ACTIVE binding fails', () => {
  assert.deepEqual(buildDeviceDetails('px', undefined, 'compute1'), { kind: 'unbound', device: 'px' });
  const unbound = fromPrimitive(ovo('Port', port({ binding_levels: [] }))) as JsonObj;
  assert.equal(buildDeviceDetails('p1', unbound, 'compute1').kind, 'unbound');
  const elsewhere = fromPrimitive(ovo('Port', port())) as JsonObj;
  assert.equal(buildDeviceDetails('p1', elsewhere, 'compute2').kind, 'no_active_binding');
  const inactive = fromPrimitive(
    ovo('Port', port({ bindings: [ovo('PortBinding', { host: 'compute1', status: 'INACTIVE', profile: '{}' })] })),
  ) as JsonObj;
  assert.throws(() => buildDeviceDetails('p1', inactive, 'compute1'), DeviceDetailsError);
});

/** bulk_pull as the server answers it: every filter field IN its values (a list field: contains one). */
function fakeServer(objects: Array<[string, JsonObj]>) {
  const pulls: Array<[string, JsonObj]> = [];
  const pull = async (type: string, _version: string, filter: JsonObj): Promise<Json> => {
    pulls.push([type, filter]);
    return objects
      .filter(([t, o]) => t === type && Object.entries(filter).every(([k, vs]) => (vs as string[]).some((v) => (Array.isArray(o[k]) ? (o[k] as Json[]).includes(v) : o[k] === v))))
      .map(([t, o]) => ovo(t, o));
  };
  return { pulls, pull };
}

const rule = (id: string, sg: string, over: JsonObj = {}): JsonObj => ({ id, security_group_id: sg, direction: 'ingress', ethertype: 'IPv4', revision_number: 1, ...over });

test('queries by filter pull once per value (misses only, together), then pushes keep the answer current', async () => {
  const server = fakeServer([
    ['SecurityGroupRule', rule('r1', 'sg1')],
    ['SecurityGroupRule', rule('r2', 'sg2')],
    ['Port', { id: 'p1', security_group_ids: ['sg1', 'sg2'], revision_number: 1 }],
    ['Port', { id: 'p2', security_group_ids: ['sg3'], revision_number: 1 }],
  ]);
  const cache = new ResourceCache(server.pull);
  const ids = (os: JsonObj[]) => os.map((o) => o['id']).sort();
  assert.deepEqual(ids(await cache.query('SecurityGroupRule', { field: 'security_group_id', values: ['sg1'] })), ['r1']);
  assert.deepEqual(ids(await cache.query('SecurityGroupRule', { field: 'security_group_id', values: ['sg1', 'sg2'] })), ['r1', 'r2']);
  assert.deepEqual(server.pulls, [
    ['SecurityGroupRule', { security_group_id: ['sg1'] }],
    ['SecurityGroupRule', { security_group_id: ['sg2'] }],
  ], 'sg1 was asked already: only sg2 goes to the server');
  // A list field matches if it contains a value.
  assert.deepEqual(ids(await cache.query('Port', { field: 'security_group_ids', values: ['sg2', 'sg3'] })), ['p1', 'p2']);
  // Concurrent queries of one value share their pull.
  await Promise.all([cache.query('Port', { field: 'security_group_ids', values: ['sg9'] }), cache.query('Port', { field: 'security_group_ids', values: ['sg9'] })]);
  assert.equal(server.pulls.length, 4);
  // Afterwards the answer comes from the cache, kept current by pushes.
  cache.onPush([ovo('SecurityGroupRule', rule('r3', 'sg1'))], 'created');
  cache.onPush([ovo('SecurityGroupRule', { id: 'r1' })], 'deleted');
  assert.deepEqual(ids(await cache.query('SecurityGroupRule', { field: 'security_group_id', values: ['sg1'] })), ['r3']);
  assert.equal(server.pulls.length, 4);
});

test('a failed query pull names type, filter and cause, and is asked again next time', async () => {
  let fail = true;
  const cache = new ResourceCache(async () => {
    if (fail) throw new Error('MessagingTimeout');
    return [ovo('SecurityGroupRule', rule('r1', 'sg1'))];
  });
  await assert.rejects(cache.query('SecurityGroupRule', { field: 'security_group_id', values: ['sg1'] }), /bulk_pull of SecurityGroupRule with security_group_id in \(sg1\): MessagingTimeout/);
  fail = false;
  assert.equal((await cache.query('SecurityGroupRule', { field: 'security_group_id', values: ['sg1'] })).length, 1);
});

test('a security group push records its rules; its delete drops them as rule deletions; object events carry old and new', async () => {
  const cache = new ResourceCache(async () => []);
  const events: string[] = [];
  cache.on('object-updated', (type, id, old, _now, changed) => events.push(`upd ${type} ${id} ${old ? 'old' : 'new'} ${changed.sort().join(',')}`));
  cache.on('object-deleted', (type, id, old) => events.push(`del ${type} ${id} ${old ? String(old['security_group_id'] ?? '') : 'uncached'}`));
  cache.onPush([ovo('SecurityGroup', { id: 'sg1', stateful: true, revision_number: 1, rules: [ovo('SecurityGroupRule', rule('r1', 'sg1')), ovo('SecurityGroupRule', rule('r2', 'sg1'))] })], 'updated');
  assert.deepEqual(events.splice(0), [
    'upd SecurityGroupRule r1 new direction,ethertype,id,security_group_id',
    'upd SecurityGroupRule r2 new direction,ethertype,id,security_group_id',
    'upd SecurityGroup sg1 new id,rules,stateful',
  ]);
  assert.equal(cache.getCached('SecurityGroupRule', 'r2')?.['direction'], 'ingress');
  cache.onPush([ovo('SecurityGroup', { id: 'sg1' })], 'deleted');
  assert.deepEqual(events.splice(0), ['del SecurityGroupRule r1 sg1', 'del SecurityGroupRule r2 sg1', 'del SecurityGroup sg1 ']);
  assert.deepEqual(await cache.query('SecurityGroupRule', { field: 'security_group_id', values: ['sg1'] }), []);
  cache.onPush([ovo('SecurityGroupRule', rule('r1', 'sg1', { revision_number: 5 }))], 'updated');
  assert.equal(cache.getCached('SecurityGroupRule', 'r1'), undefined, 'a rule deleted with its group stays deleted');
});

test('a Local IP associated again with the same port after a dissociation is taken (its id comes back); other deleted ids stay deleted', async () => {
  const assoc = (): JsonObj => ({ id: 'lip1_p1', local_ip_id: 'lip1', fixed_port_id: 'p1', fixed_ip: '198.51.100.10', local_ip: ovo('LocalIP', { id: 'lip1', local_ip_address: '198.51.100.100' }) });
  let pulled: Json = [];
  const cache = new ResourceCache(async () => pulled);
  const events: string[] = [];
  cache.on('object-updated', (type, id, old) => events.push(`upd ${type} ${id}${old ? '' : ' new'}`));
  cache.on('object-deleted', (type, id) => events.push(`del ${type} ${id}`));
  const q = { field: 'fixed_port_id', values: ['p1'] };
  cache.onPush([ovo('LocalIPAssociation', assoc())], 'created');
  assert.equal((await cache.query('LocalIPAssociation', q)).length, 1);
  cache.onPush([ovo('LocalIPAssociation', { id: 'lip1_p1' })], 'deleted');
  assert.deepEqual(await cache.query('LocalIPAssociation', q), []);
  // Crossing the delete: an update, or a pull reply, is older than it and does not bring it back.
  cache.onPush([ovo('LocalIPAssociation', assoc())], 'updated');
  pulled = [ovo('LocalIPAssociation', assoc())];
  assert.equal(await cache.get('LocalIPAssociation', 'lip1_p1'), undefined);
  assert.deepEqual(await cache.query('LocalIPAssociation', q), []);
  // Associated again: the server pushes it created, with the same id.
  cache.onPush([ovo('LocalIPAssociation', assoc())], 'created');
  assert.equal((await cache.query('LocalIPAssociation', q))[0]?.['fixed_ip'], '198.51.100.10');
  assert.deepEqual(events, ['upd LocalIPAssociation lip1_p1 new', 'del LocalIPAssociation lip1_p1', 'upd LocalIPAssociation lip1_p1 new']);
  // A port id is a UUID never made again: a late "created" for a deleted port is still ignored.
  cache.onPush([ovo('Port', port())], 'created');
  cache.onPush([ovo('Port', { id: 'p1' })], 'deleted');
  cache.onPush([ovo('Port', port({ revision_number: 9 }))], 'created');
  assert.equal(cache.getCached('Port', 'p1'), undefined);
});
