import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrunkIntPatch, isTrunkServicePort, parentPatchPair, subportPatchPair, trunkBridgeName } from '../../../../src/extensions/trunk/names.js';
import { parseSubport, parseSubportBindings, parseTrunk } from '../../../../src/extensions/trunk/trunk-rpc.js';

const TRUNK = '0f3c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const PARENT = '11111111-2222-4333-8444-555555555555';

test('names are the reference\'s: bridge cut to 14 characters, patch ends to 15', () => {
  assert.equal(trunkBridgeName(TRUNK), 'tbr-0f3c1a2b-4');
  assert.deepEqual(parentPatchPair(PARENT), { intName: 'tpi-11111111-22', trunkName: 'tpt-11111111-22' });
  assert.deepEqual(subportPatchPair(PARENT), { intName: 'spi-11111111-22', trunkName: 'spt-11111111-22' });
  assert.ok(isTrunkServicePort('tbr-0f3c1a2b-4d') && isTrunkServicePort('tpt-x') && isTrunkServicePort('spt-x'));
  assert.ok(!isTrunkServicePort('tap11111111-22'));
  assert.ok(isTrunkIntPatch('spi-11111111-22') && !isTrunkIntPatch('spt-11111111-22') && !isTrunkIntPatch('tap1'));
});

const subportPrimitive = (portId: string, seg: unknown) => ({
  'versioned_object.name': 'SubPort',
  'versioned_object.namespace': 'versionedobjects',
  'versioned_object.version': '1.0',
  'versioned_object.data': { port_id: portId, trunk_id: TRUNK, segmentation_type: 'vlan', segmentation_id: seg as number },
});

test('a Trunk primitive gives its parent and subports', () => {
  const sp = subportPrimitive('sub-1', 101);
  const t = parseTrunk({ 'versioned_object.name': 'Trunk', 'versioned_object.data': { id: TRUNK, port_id: PARENT, status: 'DOWN', sub_ports: [sp] } });
  assert.ok(typeof t !== 'string');
  assert.equal(t.parentPortId, PARENT);
  assert.equal(t.subports[0].segmentationId, 101);
  assert.equal(t.subports[0].fields['trunk_id'], TRUNK);
});

test('malformed trunk payloads are named, not crashed on', () => {
  assert.match(String(parseSubport(subportPrimitive('sub-1', '101'))), /segmentation_id "101" is not an integer/);
  assert.match(String(parseTrunk({ 'versioned_object.data': { id: TRUNK, port_id: PARENT, sub_ports: [42] } })), /sub_ports: not an object/);
  assert.equal(typeof parseTrunk([]), 'string');
  assert.deepEqual([...parseSubportBindings({ [TRUNK]: [{ id: 'sub-1', mac_address: 'fa:16:3e:00:00:01' }, { id: 7 }] }, TRUNK)], [['sub-1', 'fa:16:3e:00:00:01']]);
  assert.equal(parseSubportBindings(null, TRUNK).size, 0);
});
