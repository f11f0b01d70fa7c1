import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refusalReason, refusedFlow } from '../../../src/openflow/ofctl/backend.js';

// stderr of `ovs-ofctl --bundle add-flows` as Open vSwitch 3.1 prints it.
const SWITCH_REFUSED = `Error OFPFMFC_TABLE_FULL for: OFPT_FLOW_MOD (OF1.3) (xid=0x8): ADD table:30 priority=3 actions=drop
Error OFPBFC_MSG_FAILED for: ONFT_BUNDLE_CONTROL (OF1.3) (xid=0xb):
 bundle_id=0 type=COMMIT_REQUEST flags=atomic ordered
ovs-ofctl: talking to unix:/tmp/ovs/brx.mgmt (Protocol error)
`;
const PARSER_REFUSED = 'ovs-ofctl: -:1: actions are invalid with specified match (OFPBIC_BAD_TABLE_ID)\n';

test('a flow the switch refused is told apart from an unusable bridge', () => {
  assert.equal(refusedFlow(SWITCH_REFUSED), true);
  assert.equal(refusedFlow(PARSER_REFUSED), true);
  assert.equal(refusedFlow('ovs-ofctl: br-nonexistent is not a bridge or a socket\n'), false);
  assert.equal(refusedFlow('ovs-ofctl: /run/openvswitch/br-int.mgmt: failed to open socket (Connection refused)\n'), false);
});

test('the reason is the OpenFlow error name, not the bundle failure that wraps it', () => {
  assert.equal(refusalReason(SWITCH_REFUSED), 'OFPFMFC_TABLE_FULL');
  assert.equal(refusalReason(PARSER_REFUSED), 'OFPBIC_BAD_TABLE_ID');
  assert.equal(refusalReason('ovs-ofctl: -:1: unknown keyword foo\n'), 'ovs-ofctl: -:1: unknown keyword foo');
});
