import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalVlanManager, NoVlanAvailable } from '../../../src/agent/networks/local-vlan.js';

test('fresh pool hands out 1, 2, 3 and freed ids are not reused until the pool wraps', () => {
  const m = new LocalVlanManager();
  const a = m.allocate('net-a', 'vxlan', undefined, 1001);
  const b = m.allocate('net-b', 'vlan', 'physnet1', 100);
  assert.equal(a.vlan, 1);
  assert.equal(b.vlan, 2);
  m.release(a);
  assert.equal(m.allocate('net-c', 'flat', 'physnet1', undefined).vlan, 3);
  assert.equal(m.get('net-a', 1001), undefined);
  assert.equal(m.get('net-b', 100)?.vlan, 2);
});

test('allocating an existing (network, segment) returns the same mapping', () => {
  const m = new LocalVlanManager();
  const a = m.allocate('n', 'vxlan', undefined, 5);
  assert.equal(m.allocate('n', 'vxlan', undefined, 5), a);
  assert.equal(m.segments('n').length, 1);
});

test('tags restored from OVSDB are reused for their network, others skip them', () => {
  const m = new LocalVlanManager();
  m.addHint('net-old', 1001, 7);
  m.addHint('net-old', 1001, 9); // first port wins
  assert.equal(m.allocate('net-new', 'vxlan', undefined, 2000).vlan, 1);
  assert.equal(m.allocate('net-old', 'vxlan', undefined, 1001).vlan, 7);
  m.addHint('net-gone', undefined, 3);
  m.releaseUnusedHints();
  assert.equal(m.allocate('x', 'local', undefined, undefined).vlan, 2);
  assert.equal(m.allocate('y', 'local', undefined, undefined).vlan, 3, 'an unused hint went back to the pool');
});

test('the dead VLAN and out-of-range tags are never hinted', () => {
  const m = new LocalVlanManager();
  m.addHint('n', 1, 4095);
  m.addHint('n', 1, 0);
  assert.equal(m.allocate('n', 'vxlan', undefined, 1).vlan, 1);
});

test('an exhausted pool raises NoVlanAvailable naming the network', () => {
  const m = new LocalVlanManager();
  for (let i = 0; i < 4094; i++) m.allocate(`n${i}`, 'local', undefined, undefined);
  assert.throws(() => m.allocate('one-too-many', 'vxlan', undefined, 9), (e: unknown) => e instanceof NoVlanAvailable && /one-too-many/.test(e.message));
  m.release(m.get('n10', undefined)!);
  assert.equal(m.allocate('one-too-many', 'vxlan', undefined, 9).vlan, 11);
});
