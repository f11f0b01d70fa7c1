import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDumpFlowsLine } from '../../../src/openflow/ofctl/backend.js';

// `ovs-ofctl -O OpenFlow13 dump-flows` lines of the OVS firewall as Open vSwitch 3.1 prints them
// (the reference's base flows carry reset_counts; actions hold table= and cookie= of their own).
test('firewall dump lines give table, priority, cookie and timeouts, never values from the actions', () => {
  assert.deepEqual(
    parseDumpFlowsLine(' cookie=0xa8f5fba2016423cf, duration=12.5s, table=71, n_packets=3, n_bytes=180, reset_counts priority=110,ct_state=+trk actions=ct_clear,resubmit(,71)'),
    { table: 71, priority: 110, cookie: 0xa8f5fba2016423cfn, packetCount: 3n, byteCount: 180n, durationSec: 12.5, idleTimeout: 0, hardTimeout: 0 },
  );
  const ct = parseDumpFlowsLine(' cookie=0x1, duration=0.1s, table=81, n_packets=0, n_bytes=0, priority=90,ct_state=-trk,ip,reg5=0x3 actions=ct(table=82,zone=NXM_NX_REG6[0..15])');
  assert.equal(ct?.table, 81);
  assert.equal(ct?.priority, 90);
  const conj = parseDumpFlowsLine(' cookie=0x2, duration=0.1s, table=82, n_packets=0, n_bytes=0, idle_timeout=30, priority=70,conj_id=17,ct_state=+new-est,ip,reg5=0x3 actions=set_field:0x11->reg7,ct(commit,zone=NXM_NX_REG6[0..15]),output:3');
  assert.deepEqual([conj?.table, conj?.priority, conj?.cookie, conj?.idleTimeout], [82, 70, 2n, 30]);
  const learn = parseDumpFlowsLine(' cookie=0x3, duration=1s, n_packets=0, n_bytes=0, priority=1 actions=learn(table=20,hard_timeout=300,priority=1,cookie=0x9,NXM_OF_VLAN_TCI[0..11]),output:1');
  assert.deepEqual([learn?.table, learn?.priority, learn?.cookie, learn?.hardTimeout], [0, 1, 3n, 0]);
});
