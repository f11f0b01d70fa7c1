import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateOvs } from '../../lab/ovs.js';

test('private OVS starts, takes a netdev bridge and a flow, and stops', async () => {
  const ovs = await PrivateOvs.start({ tcp: true });
  try {
    await ovs.addBridge('br-harness');
    await ovs.ofctl('-O', 'OpenFlow13', 'add-flow', 'br-harness', 'table=3,priority=7,actions=drop');
    assert.deepEqual(await ovs.dumpFlows('br-harness'), ['priority=0 actions=NORMAL', 'table=3, priority=7 actions=drop']);
  } finally {
    await ovs.stop();
  }
});
