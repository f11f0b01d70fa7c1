import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyPorts, type WiredPort } from '../../../src/agent/ports/pass-plan.js';
import type { VifPort } from '../../../src/ovsdb/ops.js';

function vif(ifaceId: string, ofport: number): VifPort {
  return { portName: `tap${ifaceId}`, ifaceName: `tap${ifaceId}`, ofport, ifaceId, mac: 'fa:16:3e:00:00:01', tag: undefined, otherConfig: new Map(), externalIds: new Map() };
}
function wired(ifaceId: string, ofport: number): WiredPort {
  return { ifaceId, portName: `tap${ifaceId}`, ofport };
}
const ids = (xs: Array<{ ifaceId: string }>) => xs.map((x) => x.ifaceId).sort();

test('new ports are added, gone ones removed, server changes updated, unchanged ones left alone', () => {
  const vifs = new Map([['a', vif('a', 1)], ['b', vif('b', 2)], ['c', vif('c', 3)]]);
  const w = new Map([['b', wired('b', 2)], ['c', wired('c', 3)], ['gone', wired('gone', 9)]]);
  const ch = classifyPorts(vifs, w, new Set(['c']), new Set(['x']), false);
  assert.deepEqual(ids(ch.added), ['a']);
  assert.deepEqual(ids(ch.updated), ['c']);
  assert.deepEqual(ids(ch.removed), ['gone']);
  assert.deepEqual(ch.moved, []);
  assert.deepEqual(ch.deleted, ['x']);
});

test('a port whose ofport changed is updated and its old wiring is moved away', () => {
  const ch = classifyPorts(new Map([['a', vif('a', 7)]]), new Map([['a', wired('a', 4)]]), new Set(), new Set(), false);
  assert.deepEqual(ids(ch.updated), ['a']);
  assert.equal(ch.moved[0]?.ofport, 4);
  assert.deepEqual(ch.added, []);
});

test('a full sync adds every port, wired or not', () => {
  const vifs = new Map([['a', vif('a', 1)], ['b', vif('b', 2)]]);
  const ch = classifyPorts(vifs, new Map([['a', wired('a', 1)]]), new Set(['a']), new Set(), true);
  assert.deepEqual(ids(ch.added), ['a', 'b']);
  assert.deepEqual(ch.updated, []);
});
