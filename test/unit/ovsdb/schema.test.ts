// The one declaration of the OVSDB tables the agent uses: what is monitored, how rows read, how writes spell columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BRIDGE, MONITOR_REQUESTS, PORT, parseRow } from '../../../src/ovsdb/schema.js';
import { NamedUuid, OvsdbDatumError } from '../../../src/ovsdb/protocol.js';

test('the monitor request names every declared column by its wire name', () => {
  assert.deepEqual(MONITOR_REQUESTS['Interface'], ['name', 'ofport', 'external_ids', 'type', 'options', 'error', 'ingress_policing_rate', 'ingress_policing_burst']);
  assert.deepEqual(MONITOR_REQUESTS['QoS'], ['type', 'queues', 'other_config', 'external_ids']);
  assert.deepEqual(MONITOR_REQUESTS['Controller'], ['target', 'is_connected', 'connection_mode', 'inactivity_probe', 'controller_rate_limit', 'controller_burst_limit']);
  assert.deepEqual(Object.keys(MONITOR_REQUESTS), ['Open_vSwitch', 'Bridge', 'Port', 'Interface', 'QoS', 'Queue', 'Controller', 'Manager']);
});

test('a wire row reads into its typed row; missing columns take their defaults', () => {
  const port = parseRow('Port', 'u1', { name: 'tap1', tag: 5, other_config: ['map', [['net_uuid', 'n1']]], interfaces: ['uuid', 'i1'] });
  assert.deepEqual(port, {
    uuid: 'u1', name: 'tap1', tag: 5, otherConfig: new Map([['net_uuid', 'n1']]), externalIds: new Map(),
    interfaces: ['i1'], vlanMode: undefined, trunks: [], qos: undefined,
  });
  // QoS.queues: queue rows by number; Port.qos: at most one QoS.
  const qos = parseRow('QoS', 'q1', { type: 'linux-htb', queues: ['map', [[0, ['uuid', 'x0']], [5, ['uuid', 'x5']]]] });
  assert.deepEqual([...qos.queues], [[0, 'x0'], [5, 'x5']]);
  assert.equal(parseRow('Port', 'u2', { name: 'p', qos: ['uuid', 'q1'] }).qos, 'q1');
  assert.equal(parseRow('Interface', 'i2', { name: 'p' }).ingressPolicingRate, 0);
  assert.throws(() => parseRow('QoS', 'q2', { queues: ['map', [['0', ['uuid', 'x0']]]] }), OvsdbDatumError);
  assert.equal(parseRow('Interface', 'i1', { name: 'x', ofport: ['set', []] }).ofport, undefined);
  assert.throws(() => parseRow('Bridge', 'b1', { name: 7 }), OvsdbDatumError);
});

test('typed writes spell the wire columns; null clears an optional column', () => {
  assert.deepEqual(PORT.update([], { tag: null, vlanMode: null, trunks: [] }), {
    op: 'update', table: 'Port', where: [], row: { tag: ['set', []], vlan_mode: ['set', []], trunks: ['set', []] },
  });
  assert.deepEqual(BRIDGE.insert({ name: 'br-x', datapathType: 'netdev', ports: [new NamedUuid('p')] }, 'b'), {
    op: 'insert', table: 'Bridge', 'uuid-name': 'b', row: { name: 'br-x', datapath_type: 'netdev', ports: ['set', [['named-uuid', 'p']]] },
  });
  assert.deepEqual(BRIDGE.mergeMap('otherConfig', { 'mac-table-size': '50000' }), [
    ['other_config', 'delete', ['set', ['mac-table-size']]],
    ['other_config', 'insert', ['map', [['mac-table-size', '50000']]]],
  ]);
  assert.deepEqual(BRIDGE.eq('name', 'br-int'), ['name', '==', 'br-int']);
});
