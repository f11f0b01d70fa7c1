import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Flow, output, resubmit } from '../../../../src/openflow/flow.js';
import { OwnedFlowTable, flowKey } from '../../../../src/firewall/openvswitch/flow-table.js';

const f = (match: Flow['match'], actions = [output(3)], priority = 90): Flow => ({ table: 73, priority, match, actions });

test('a match is one key whatever order its fields were written in; priority and table count', () => {
  const a = flowKey(f({ ethDst: { value: 'fa:16:3e:00:00:01' }, regs: { 6: { value: 1 }, 5: { value: 3 } } }));
  const b = flowKey(f({ regs: { 5: { value: 3 }, 6: { value: 1 } }, ethDst: { value: 'fa:16:3e:00:00:01' } }));
  assert.equal(a, b);
  assert.notEqual(a, flowKey(f({ ethDst: { value: 'fa:16:3e:00:00:01' }, regs: { 6: { value: 1 }, 5: { value: 3 } } }, undefined, 91)));
  assert.notEqual(a, flowKey(f({ ethDst: { value: 'fa:16:3e:00:00:01', mask: 'ff:ff:ff:ff:ff:00' }, regs: { 6: { value: 1 }, 5: { value: 3 } } })));
});

test('a flow two owners want stays until both release it; changed actions are re-added, unchanged ones not', () => {
  const t = new OwnedFlowTable();
  const shared = f({ ethDst: { value: 'fa:16:3e:00:00:99' } });
  t.set('port:a', [shared, f({ regs: { 5: { value: 3 } } })]);
  t.set('port:b', [shared]);
  let c = t.changes();
  assert.equal(c.add.length, 2);
  assert.equal(c.remove.length, 0);
  t.markApplied(c);
  t.set('port:a', []);
  c = t.changes();
  assert.deepEqual([c.add.length, c.remove.length], [0, 1], 'only the flow no one wants any more');
  t.markApplied(c);
  t.set('port:b', [f({ ethDst: { value: 'fa:16:3e:00:00:99' } }, [resubmit(81)])]);
  c = t.changes();
  assert.deepEqual([c.add.length, c.remove.length], [1, 0], 'new actions: re-added in place');
  t.markApplied(c);
  t.set('port:b', [f({ ethDst: { value: 'fa:16:3e:00:00:99' } }, [resubmit(81)])]);
  assert.deepEqual([t.changes().add.length, t.changes().remove.length], [0, 0], 'same flow again: nothing to send');
  t.set('port:b', [{ ...f({ ethDst: { value: 'fa:16:3e:00:00:99' } }, [resubmit(81)]), meter: 7 }]);
  assert.deepEqual(t.changes().add.map((x) => x.meter), [7], 'a meter added is an instruction changed: re-added');
});

test('changes not marked applied (a failed batch) are sent again', () => {
  const t = new OwnedFlowTable();
  t.set('x', [f({ inPort: 3 })]);
  assert.equal(t.changes().add.length, 1);
  assert.equal(t.changes().add.length, 1, 'still pending');
  t.markApplied(t.changes());
  assert.equal(t.changes().add.length, 0);
});
