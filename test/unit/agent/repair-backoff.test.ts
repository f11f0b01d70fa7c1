import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLAP_WINDOW_MS, RepairBackoff } from '../../../src/agent/repair/repair-backoff.js';

test('a first repair is free; repairs that follow soon wait twice as long each time, up to the ceiling', () => {
  let now = 1_000_000;
  const b = new RepairBackoff(1000, 8000, () => now);
  assert.equal(b.waitMs('tag'), 0);
  assert.equal(b.repaired('tag'), false);
  now += 100;
  assert.equal(b.waitMs('tag'), 0, 'the second repair is not held back');
  assert.equal(b.repaired('tag'), true, 'but it is a flap');
  assert.equal(b.waitMs('tag'), 1000);
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    now += b.waitMs('tag');
    b.repaired('tag');
    waits.push(b.waitMs('tag'));
  }
  assert.deepEqual(waits, [2000, 4000, 8000, 8000, 8000]);
  assert.equal(b.flaps, 6);
  assert.equal(b.waitMs('other'), 0, 'other keys are not affected');
});

test('a quiet flap window forgets the flapping', () => {
  let now = 0;
  const b = new RepairBackoff(1000, 60000, () => now);
  b.repaired('k');
  now += 10;
  b.repaired('k');
  now += FLAP_WINDOW_MS + 1;
  assert.equal(b.repaired('k'), false);
  assert.equal(b.waitMs('k'), 0);
});

test('a failed try backs off however long since the previous one; forget starts over', () => {
  let now = 0;
  const b = new RepairBackoff(1000, 4000, () => now);
  assert.deepEqual([b.failed('f'), b.failed('f')], [1000, 2000]);
  now += 10 * FLAP_WINDOW_MS;
  assert.equal(b.failed('f'), 4000, 'no quiet window forgets a failing key');
  assert.equal(b.waitMs('f'), 4000);
  b.forget('f');
  assert.equal(b.waitMs('f'), 0);
  assert.equal(b.failed('f'), 1000);
});
