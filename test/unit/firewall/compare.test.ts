// The flow comparison the firewall parity test will use: normalisation of dumps and consistent
// renumbering of conjunction ids (each agent allocates its own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffFlows, normaliseFlows, renumberConjunctions } from '../../integration/firewall/compare.js';

// A remote-group rule as the reference writes it (ids 16/17), and the same pipeline from an agent
// that allocated 40/41 and listed its flows in another order.
const reference = [
  ' cookie=0x5b1c, duration=3.2s, table=82, n_packets=0, n_bytes=0, priority=70,ct_state=+est-rel-rpl,ip,reg5=0x3 actions=conjunction(16,2/2)',
  ' cookie=0x5b1c, duration=3.2s, table=82, n_packets=0, n_bytes=0, priority=70,ct_state=+new-est,ip,reg5=0x3 actions=conjunction(17,2/2)',
  ' cookie=0x5b1c, table=82, priority=70,ct_state=+est-rel-rpl,ip,reg6=0x1,nw_src=192.0.2.11 actions=conjunction(16,1/2)',
  ' cookie=0x5b1c, table=82, priority=70,ct_state=+new-est,ip,reg6=0x1,nw_src=192.0.2.11 actions=conjunction(17,1/2)',
  ' cookie=0x5b1c, table=82, priority=70,conj_id=16,ct_state=+est-rel-rpl,ip,reg5=0x3 actions=set_field:0x10->reg7,output:3',
  ' cookie=0x5b1c, table=82, priority=70,conj_id=17,ct_state=+new-est,ip,reg5=0x3 actions=set_field:0x11->reg7,ct(commit,zone=NXM_NX_REG6[0..15]),output:3,resubmit(,92)',
  ' cookie=0x5b1c, table=94, priority=1 reset_counts actions=NORMAL',
];
const oursRenumbered = [
  'table=82, priority=70,conj_id=41,ct_state=+new-est,ip,reg5=0x3 actions=set_field:0x29->reg7,ct(commit,zone=NXM_NX_REG6[0..15]),output:3,resubmit(,92)',
  'table=82, priority=70,ct_state=+new-est,ip,reg6=0x1,nw_src=192.0.2.11 actions=conjunction(41,1/2)',
  'table=82, priority=70,ct_state=+est-rel-rpl,ip,reg6=0x1,nw_src=192.0.2.11 actions=conjunction(40,1/2)',
  'table=82, priority=70,ct_state=+new-est,ip,reg5=0x3 actions=conjunction(41,2/2)',
  'table=82, priority=70,conj_id=40,ct_state=+est-rel-rpl,ip,reg5=0x3 actions=set_field:0x28->reg7,output:3',
  'table=94, priority=1 actions=NORMAL',
  'table=82, priority=70,ct_state=+est-rel-rpl,ip,reg5=0x3 actions=conjunction(40,2/2)',
];

test('normalising strips cookies, statistics and reset_counts, and sorts', () => {
  assert.deepEqual(normaliseFlows(['OFPST_FLOW reply (OF1.3) (xid=0x2):', ...reference.slice(0, 1), reference[6]!, '']), [
    'table=82, priority=70,ct_state=+est-rel-rpl,ip,reg5=0x3 actions=conjunction(16,2/2)',
    'table=94, priority=1 actions=NORMAL',
  ]);
});

test('conjunction ids are renumbered by first appearance, independent of the ids chosen', () => {
  const a = renumberConjunctions(normaliseFlows(reference));
  const b = renumberConjunctions(normaliseFlows(oursRenumbered));
  assert.deepEqual(a, b);
  // Match, conjunction action and reg7 value all follow the same mapping.
  assert.ok(a.includes('table=82, priority=70,conj_id=1,ct_state=+est-rel-rpl,ip,reg5=0x3 actions=set_field:0x1->reg7,output:3'), a.join('\n'));
  assert.ok(a.includes('table=82, priority=70,ct_state=+new-est,ip,reg6=0x1,nw_src=192.0.2.11 actions=conjunction(2,1/2)'), a.join('\n'));
  assert.equal(diffFlows(reference, oursRenumbered).equal, true);
});

test('ids swapped between two rules are a difference, and the diff says which flows', () => {
  // Ours ties the per-port flow of the +new-est rule to the +est-rel-rpl conjunction: wrong.
  const wrong = oursRenumbered.map((l) => l.replace('+new-est,ip,reg5=0x3 actions=conjunction(41,2/2)', '+new-est,ip,reg5=0x3 actions=conjunction(40,2/2)'));
  const d = diffFlows(reference, wrong, 'remote-group.flows');
  assert.equal(d.equal, false);
  assert.deepEqual(d.missing, ['table=82, priority=70,ct_state=+new-est,ip,reg5=0x3 actions=conjunction(2,2/2)']);
  assert.deepEqual(d.extra, ['table=82, priority=70,ct_state=+new-est,ip,reg5=0x3 actions=conjunction(1,2/2)']);
  assert.match(d.report, /^remote-group\.flows: 1 flow\(s\) missing, 1 extra/);
  assert.match(d.report, /\n- table=82.*conjunction\(2,2\/2\)\n\+ table=82.*conjunction\(1,2\/2\)$/);
});

test('a flow present twice on one side only is reported once as extra', () => {
  const d = diffFlows(['table=94, priority=1 actions=NORMAL'], ['table=94, priority=1 actions=NORMAL', 'table=94, priority=1 actions=NORMAL']);
  assert.deepEqual(d.extra, ['table=94, priority=1 actions=NORMAL']);
  assert.deepEqual(d.missing, []);
});

test('a flow with several conjunction actions: their order does not matter, their ids do', () => {
  const mk = (x: number, y: number, member: string): string[] => [
    `table=82, priority=70,ct_state=+new-est,ip,reg6=0x1,nw_src=192.0.2.11 actions=${member}`,
    `table=82, priority=70,conj_id=${x},ct_state=+new-est,ip,reg5=0x3 actions=output:3`,
    `table=82, priority=70,conj_id=${y},ct_state=+new-est,ip,reg5=0x4 actions=output:4`,
  ];
  const reference = mk(17, 25, 'conjunction(17,1/2),conjunction(25,1/2)');
  assert.equal(diffFlows(reference, mk(9, 33, 'conjunction(33,1/2),conjunction(9,1/2)')).equal, true);
  const d = diffFlows(reference, mk(9, 33, 'conjunction(9,1/2),conjunction(9,2/2)'));
  assert.equal(d.equal, false, 'the member flow no longer feeds port 4');
  assert.deepEqual(d.missing, ['table=82, priority=70,ct_state=+new-est,ip,reg6=0x1,nw_src=192.0.2.11 actions=conjunction(1,1/2),conjunction(2,1/2)']);
});
