// Which columns of a Port row differ from what the agent set, and how the repair reports them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { portDrift, type PortExpectation } from '../../../src/agent/repair/ovsdb-drift.js';
import type { PortRow } from '../../../src/ovsdb/replica.js';

const want: PortExpectation = {
  name: 'tap1',
  tag: 3,
  otherConfig: new Map([['net_uuid', 'n1'], ['network_type', 'vxlan'], ['segmentation_id', '100'], ['tag', '3']]),
  vlanModeCleared: true,
};
const row = (o: Partial<PortRow> = {}): PortRow => ({
  uuid: 'u1', name: 'tap1', tag: 3, externalIds: new Map(), interfaces: [], trunks: [], vlanMode: undefined, qos: undefined,
  otherConfig: new Map([['net_uuid', 'n1'], ['network_type', 'vxlan'], ['segmentation_id', '100'], ['tag', '3'], ['foreign', 'kept']]),
  ...o,
});

test('a row as the agent set it (other keys of other_config are not ours) has no drift', () => {
  assert.deepEqual(portDrift(want, row()), []);
});

test('a cleared tag, removed keys and a trunk vlan_mode are each one drift, with found and wanted values', () => {
  const oc = row().otherConfig;
  oc.delete('net_uuid');
  oc.set('segmentation_id', '7');
  const d = portDrift(want, row({ tag: undefined, otherConfig: oc, vlanMode: 'trunk', trunks: [5] }));
  assert.deepEqual(d, [
    { column: 'tag', found: '[]', want: '3' },
    { column: 'other_config', found: '{net_uuid=<absent>, segmentation_id="7"}', want: '{net_uuid="n1", segmentation_id="100"}' },
    { column: 'vlan_mode/trunks', found: 'vlan_mode=trunk trunks=[5]', want: 'vlan_mode=[] trunks=[]' },
  ]);
});

test('a dead port (tag 4095 only) owns no other_config and no vlan_mode', () => {
  const dead: PortExpectation = { name: 'tap1', tag: 4095, otherConfig: new Map(), vlanModeCleared: false };
  assert.deepEqual(portDrift(dead, row({ tag: 4095, vlanMode: 'trunk', otherConfig: new Map() })), []);
  assert.deepEqual(portDrift(dead, row({ tag: 1 })).map((x) => x.column), ['tag']);
});
