import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConjIdMap, MAX_CONJ_ID } from '../../../../src/firewall/openvswitch/conj-ids.js';

test('with empty tables the first base id is 16, then +8 per (group, remote, direction, ethertype)', () => {
  const m = new ConjIdMap();
  assert.equal(m.get('sg1', 'sg1', 'ingress', 'IPv4'), 16);
  assert.equal(m.get('sg1', 'sg1', 'ingress', 'IPv6'), 24);
  assert.equal(m.get('sg1', 'sg1', 'ingress', 'IPv4'), 16, 'same key, same id');
  assert.equal(m.get('sg1', 'sg2', 'ingress', 'IPv4'), 32);
  assert.equal(m.get('sg2', 'sg1', 'egress', 'IPv4'), 40);
});

test('numbering continues above the highest conj_id already on br-int (rounded down to a block)', () => {
  assert.equal(new ConjIdMap(17).get('a', 'b', 'ingress', 'IPv4'), 32);
  assert.equal(new ConjIdMap(24).get('a', 'b', 'ingress', 'IPv4'), 40);
  assert.equal(new ConjIdMap(31).get('a', 'b', 'ingress', 'IPv4'), 40);
});

test('freed ids are reused first, in the order they were freed', () => {
  const m = new ConjIdMap();
  m.get('sg1', 'sg1', 'ingress', 'IPv4'); // 16
  m.get('sg2', 'sg1', 'ingress', 'IPv4'); // 24
  m.get('sg2', 'sg2', 'ingress', 'IPv6'); // 32
  assert.deepEqual(m.deleteSg('sg1').map((x) => x.conjId), [16, 24], 'as owner and as remote');
  assert.equal(m.get('sg3', 'sg3', 'egress', 'IPv4'), 16);
  assert.equal(m.get('sg3', 'sg3', 'egress', 'IPv6'), 24);
  assert.equal(m.get('sg3', 'sg4', 'egress', 'IPv6'), 40);
  assert.deepEqual(m.deleteOwner('sg2'), [32]);
  assert.equal(m.get('sg5', 'sg5', 'ingress', 'IPv4'), 32);
});

test('the numbering wraps to 0 below 2^32', () => {
  const m = new ConjIdMap(MAX_CONJ_ID - 24);
  assert.equal(m.get('a', 'b', 'ingress', 'IPv4'), MAX_CONJ_ID - 8);
  assert.equal(m.get('a', 'c', 'ingress', 'IPv4'), 0);
  assert.equal(m.get('a', 'd', 'ingress', 'IPv4'), 8);
  // The block after the highest existing one is the last below the limit: the first id is 0.
  assert.equal(new ConjIdMap(MAX_CONJ_ID - 16).get('a', 'b', 'ingress', 'IPv4'), 0);
});
