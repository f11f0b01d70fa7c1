// A flow the switch refuses is a state: tried again with back-off, forgotten when the agent wants
// another flow with its identity (or none) or when it is in place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RefusedFlows } from '../../../src/agent/repair/refused-flows.js';
import type { Flow } from '../../../src/openflow/flow.js';
import { flowKey } from '../../../src/openflow/flow-key.js';

const flow: Flow = { table: 60, priority: 3, match: {}, actions: [{ type: 'output', port: 'NORMAL' }] };
const key = flowKey(flow);

test('a refused flow waits 1, 2, 4 ... intervals before its next try, up to the ceiling; its first refusal alone is news', () => {
  let now = 0;
  const r = new RefusedFlows(1000, 4000, () => now);
  assert.equal(r.due('br-int', key, flow, 0), true, 'never refused: due');
  const first = r.refused('br-int', key, flow, 'OFPFMFC_TABLE_FULL');
  assert.deepEqual([first.first, first.retryInMs], [true, 1000]);
  assert.equal(r.due('br-int', key, flow, 0), false);
  assert.equal(r.due('br-int', key, flow, 1000), true, 'due within the slack');
  const waits: number[] = [];
  for (let i = 0; i < 4; i++) {
    now += 10_000;
    const again = r.refused('br-int', key, flow, 'OFPFMFC_TABLE_FULL');
    assert.equal(again.first, false, 'known: not news');
    waits.push(again.retryInMs);
  }
  assert.deepEqual(waits, [2000, 4000, 4000, 4000], 'however long between tries');
  assert.equal(r.list('br-int')[0]?.refusals, 5);
  assert.equal(r.due('br-tun', key, flow, 0), true, 'another bridge is another flow');
});

test('another flow with the same identity is tried at once, and its refusal is news again', () => {
  const now = 0;
  const r = new RefusedFlows(1000, 60000, () => now);
  r.refused('br-int', key, flow, 'OFPFMFC_TABLE_FULL');
  const other: Flow = { ...flow, actions: [] };
  assert.equal(r.due('br-int', key, other, 0), true);
  assert.equal(r.size, 0, 'the old one is forgotten');
  const next = r.refused('br-int', key, other, 'OFPFMFC_TABLE_FULL');
  assert.deepEqual([next.first, next.retryInMs], [true, 1000], 'back-off starts over');
});

test('settled and unwanted flows are forgotten; the next refusal starts over', () => {
  const now = 0;
  const r = new RefusedFlows(1000, 60000, () => now);
  r.refused('br-int', key, flow, 'OFPFMFC_TABLE_FULL');
  r.refused('br-int', key, flow, 'OFPFMFC_TABLE_FULL');
  assert.equal(r.settled('br-int', key)?.refusals, 2);
  assert.equal(r.settled('br-int', key), undefined);
  assert.equal(r.refused('br-int', key, flow, 'x').retryInMs, 1000);
  assert.deepEqual(r.forgetUnwanted('br-int', () => flow), []);
  assert.deepEqual(r.forgetUnwanted('br-int', () => undefined).map((f) => f.key), [key]);
  assert.equal(r.size, 0);
});

test('the refused flows of a bridge the agent no longer has are forgotten', () => {
  const r = new RefusedFlows(1000, 60000, () => 0);
  r.refused('br-int', key, flow, 'x');
  r.refused('br-phys', key, flow, 'x');
  r.forgetOtherBridges(new Set(['br-int', 'br-tun']));
  assert.deepEqual(r.list().map((f) => f.bridge), ['br-int']);
});
