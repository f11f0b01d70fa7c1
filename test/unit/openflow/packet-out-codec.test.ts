// OFPT_PACKET_OUT: the wire layout of OpenFlow 1.3 §7.3.7, both ways. The expected bytes are what
// `ovs-ofctl -O OpenFlow13 ofp-print` (Open vSwitch 3.x) decodes as
//   OFPT_PACKET_OUT (OF1.3) (xid=0x7): in_port=CONTROLLER actions=output:5 data_len=44
//   udp,...,dl_src=fa:16:3e:00:00:00,dl_dst=fa:16:3e:00:00:01,nw_src=192.0.2.1,nw_dst=255.255.255.255,...,tp_src=67,tp_dst=68
// and the native backend's packet-outs are taken by a real switch in the dhcp integration test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, OfCodecError, OFP_NO_BUFFER, type OfMessage } from '../../../src/openflow/native/codec/index.js';

const FRAME = Buffer.from('fa163e000001fa163e00000008004500001c00000000ff11f8e1c0000201ffffffff00430044000800000000', 'hex');
const OFPP_CONTROLLER = 0xfffffffd;

const PACKET_OUT: OfMessage = { type: 'packet_out', xid: 7, bufferId: OFP_NO_BUFFER, inPort: OFPP_CONTROLLER, actions: [{ type: 'output', port: 5 }], data: FRAME };
const OVS_ACCEPTED = '040d005400000007fffffffffffffffd001000000000000000000010000000050000000000000000' + FRAME.toString('hex');

test('a packet-out has the OpenFlow 1.3 layout Open vSwitch accepts: buffer_id, in_port, actions_len, 6 pad bytes, actions, frame', () => {
  const b = encodeMessage(PACKET_OUT);
  assert.equal(b.toString('hex'), OVS_ACCEPTED);
  assert.equal(b[1], 13, 'OFPT_PACKET_OUT');
  assert.equal(b.readUInt16BE(16), 16, 'actions_len: one output action');
});

test('a packet-out round-trips', () => {
  assert.deepEqual(decodeMessage(encodeMessage(PACKET_OUT)), PACKET_OUT);
  const ref = { ...PACKET_OUT, actions: [{ type: 'output' as const, port: 5, maxLen: 0xffe5 }] };
  assert.deepEqual(decodeMessage(encodeMessage(ref)), ref);
});

test('a truncated or inconsistent packet-out is an OfCodecError', () => {
  const b = encodeMessage(PACKET_OUT);
  for (const n of [9, 15, 20, 30]) {
    const cut = Buffer.from(b.subarray(0, n));
    cut.writeUInt16BE(n, 2);
    assert.throws(() => decodeMessage(cut), OfCodecError, `cut at ${n}`);
  }
  const long = Buffer.from(b);
  long.writeUInt16BE(0x4000, 16); // actions_len past the message
  assert.throws(() => decodeMessage(long), OfCodecError);
  assert.throws(() => encodeMessage({ ...PACKET_OUT, inPort: -1 } as OfMessage), OfCodecError);
});
