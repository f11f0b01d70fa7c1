// OFPT_PACKET_IN: the wire layout of OpenFlow 1.3 §7.4.1 (as Open vSwitch sends it for a
// `controller` action), both ways, and what the controller's bounded queue does with a flood.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, OfCodecError, type OfMessage } from '../../../src/openflow/native/codec/index.js';
import { PacketInQueue } from '../../../src/openflow/native/packet-in-queue.js';
import type { PacketIn } from '../../../src/openflow/backend.js';

const FRAME = Buffer.from('fa163e000002fa163e0000010800450000545d1f40004001c6c0c0000201c00002020800f7ff00010001', 'hex');

const PACKET_IN: OfMessage = {
  type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: FRAME.length, reason: 1, tableId: 93, cookie: 0x8b1d2e3f00000001n,
  match: { inPort: 5, regs: { 5: { value: 5 }, 6: { value: 1 } } },
  unknownFields: [{ header: 0x0001d810, payload: Buffer.alloc(16) }], // NXM_NX_CT_LABEL, 16 bytes: no model key
  data: FRAME,
};

test('a packet-in has the OpenFlow 1.3 layout: fixed part, padded OXM match, two pad bytes, the frame', () => {
  const b = encodeMessage(PACKET_IN);
  assert.equal(b[0], 4);
  assert.equal(b[1], 10, 'OFPT_PACKET_IN');
  assert.equal(b.readUInt16BE(2), b.length);
  assert.equal(b.readUInt32BE(8), 0xffffffff, 'buffer_id');
  assert.equal(b.readUInt16BE(12), FRAME.length, 'total_len');
  assert.equal(b[14], 1, 'reason OFPR_ACTION');
  assert.equal(b[15], 93, 'table_id');
  assert.equal(b.readBigUInt64BE(16), 0x8b1d2e3f00000001n, 'cookie');
  assert.equal(b.readUInt16BE(24), 1, 'OFPMT_OXM');
  const matchLen = b.readUInt16BE(26);
  // in_port (4+4) + reg5 (4+4) + reg6 (4+4) + ct_label (4+16) after the 4-byte match header
  assert.equal(matchLen, 4 + 8 + 8 + 8 + 20);
  assert.equal(b.readUInt32BE(28), 0x80000004, 'OXM_OF_IN_PORT');
  const afterMatch = 24 + Math.ceil(matchLen / 8) * 8;
  assert.deepEqual([...b.subarray(afterMatch, afterMatch + 2)], [0, 0]);
  assert.deepEqual(b.subarray(afterMatch + 2), FRAME);
});

test('a packet-in round-trips, the fields the model has no key for kept byte-exact', () => {
  const back = decodeMessage(encodeMessage(PACKET_IN));
  assert.deepEqual(back, PACKET_IN);
});

test('a truncated or inconsistent packet-in is an OfCodecError', () => {
  const b = encodeMessage(PACKET_IN);
  for (const n of [9, 20, 27, 40]) {
    const cut = Buffer.from(b.subarray(0, n));
    cut.writeUInt16BE(n, 2);
    assert.throws(() => decodeMessage(cut), OfCodecError, `cut at ${n}`);
  }
  const badMatch = Buffer.from(b);
  badMatch.writeUInt16BE(0, 24); // OFPMT_STANDARD: not OpenFlow 1.3
  assert.throws(() => decodeMessage(badMatch), OfCodecError);
});

const frame = (xid: number): Buffer => encodeMessage({ ...PACKET_IN, xid } as OfMessage);
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('the packet-in queue delivers in order, a slice per turn, and drops and counts beyond its capacity', async () => {
  const q = new PacketInQueue({ capacity: 10, slice: 4 });
  const got: PacketIn[] = [];
  const off = q.subscribe(7n, 'br-int', (p) => got.push(p));
  q.push(8n, frame(1)); // a datapath nobody listens to: not even counted
  for (let i = 0; i < 15; i++) q.push(7n, frame(i));
  assert.deepEqual(q.countersOf(7n), { received: 15, delivered: 0, dropped: 5, malformed: 0 });
  assert.deepEqual(q.countersOf(8n), { received: 0, delivered: 0, dropped: 0, malformed: 0 });
  await turn();
  assert.equal(got.length, 4, 'one slice per event-loop turn');
  for (let i = 0; i < 5; i++) await turn();
  assert.equal(got.length, 10);
  assert.equal(got[0]!.bridge, 'br-int');
  assert.equal(got[0]!.cookie, 0x8b1d2e3f00000001n);
  assert.equal(got[0]!.reason, 'action');
  assert.equal(got[0]!.tableId, 93);
  assert.deepEqual(got[0]!.match.regs?.[5], { value: 5 });
  assert.deepEqual(got[0]!.data, FRAME);
  const garbage = frame(99).subarray(0, 30);
  garbage.writeUInt16BE(30, 2);
  q.push(7n, garbage);
  await turn();
  assert.deepEqual(q.countersOf(7n), { received: 16, delivered: 10, dropped: 5, malformed: 1 });
  off();
  q.push(7n, frame(100));
  await turn();
  assert.equal(got.length, 10, 'nothing after unsubscribing');
});

test('a listener that throws is logged; the next packet is still delivered', async () => {
  const q = new PacketInQueue();
  let n = 0;
  q.subscribe(1n, 'br-int', () => {
    n++;
    if (n === 1) throw new Error('boom');
  });
  q.push(1n, frame(1));
  q.push(1n, frame(2));
  await turn();
  assert.equal(n, 2);
});
