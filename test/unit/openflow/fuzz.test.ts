// Mutated-frame fuzz for the OpenFlow 1.3 codec: every message kind the controller exchanges,
// with bits flipped, bytes replaced, lengths corrupted, frames truncated, extended and spliced.
// Whatever a switch (or something pretending to be one) sends, decoding either yields a message
// or throws OfCodecError: never another exception (a TypeError or RangeError would end the
// controller's session handler in an unplanned way), never a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, flowModBody, MessageSplitter, OfCodecError, OFPMPF_REPLY_MORE, type OfMessage } from '../../../src/openflow/native/codec/index.js';
import { ct, ctState, exact, masked, output, popVlan, pushVlan, setVlan, type Action, type Flow } from '../../../src/openflow/flow.js';
import type { Meter } from '../../../src/openflow/meter.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const ACTIONS: Action[] = [
  pushVlan(),
  setVlan(7),
  popVlan(),
  { type: 'set_field', field: 'tun_id', value: 0x3e9n },
  { type: 'set_field', field: 'eth_src', value: 'fa:16:3e:00:00:21' },
  { type: 'set_field', field: 'arp_op', value: 2 },
  { type: 'set_field', field: 'arp_spa', value: '10.0.0.21' },
  { type: 'move', src: { field: 'NXM_NX_ARP_SHA' }, dst: { field: 'NXM_NX_ARP_THA' } },
  { type: 'load', dst: { field: 'NXM_NX_REG5' }, value: 42n },
  { type: 'resubmit', table: 3 },
  { type: 'resubmit', inPort: 5, table: 7 },
  {
    type: 'learn', table: 20, hardTimeout: 300, priority: 1, cookie: 0x1234n,
    specs: [
      { kind: 'match_field', dst: { field: 'NXM_OF_VLAN_TCI', ofs: 0, nBits: 12 }, src: { field: 'NXM_OF_VLAN_TCI', ofs: 0, nBits: 12 } },
      { kind: 'load_value', dst: { field: 'NXM_OF_VLAN_TCI' }, value: 0n },
      { kind: 'output', src: { field: 'OXM_OF_IN_PORT' } },
    ],
  },
  output(3),
  output('NORMAL'),
  ct({ commit: true, table: 72, zone: { field: 'NXM_NX_REG6', ofs: 0, nBits: 16 }, exec: [{ type: 'set_field', field: 'ct_mark', value: 1 }] }),
  ct({ zone: 7 }),
  { type: 'ct_clear' },
  { type: 'set_field', field: 'reg7', value: 0x11 },
  { type: 'set_queue', queueId: 3 },
  { type: 'set_field', field: 'pkt_mark', value: 0x12345678 },
];

/** The OVS firewall's matches and its conjunction action (which OVS wants alone in a flow). */
const FIREWALL_FLOW: Flow = {
  table: 82,
  priority: 70,
  cookie: 0xa8f5fba2016423cfn,
  match: {
    conjId: 17,
    ctState: ctState('+new-est'),
    ctZone: 1,
    ctMark: masked(0, 1),
    ethType: 0x0800,
    ipProto: 6,
    ipv4Src: masked('10.0.0.0', '255.255.255.0'),
    tcpSrc: 1024,
    tcpDst: masked(0x3e8, 0xfff8),
    regs: { 5: exact(3), 6: exact(1) },
  },
  actions: [{ type: 'conjunction', id: 16, clause: 2, nClauses: 2 }],
};

const SCTP_ICMP_FLOWS: Flow[] = [
  { table: 82, priority: 73, match: { ethType: 0x0800, ipProto: 132, sctpSrc: masked(0x400, 0xfc00), sctpDst: 5000 }, actions: [output(3)] },
  { table: 82, priority: 72, match: { ethType: 0x0800, ipProto: 1, icmpv4Type: 8, icmpv4Code: 0 }, actions: [output(3)] },
];

const FLOW: Flow = {
  table: 71,
  priority: 65,
  cookie: 0xdeadbeefn,
  match: {
    inPort: 5,
    ethDst: exact('fa:16:3e:00:00:01'),
    ethSrc: masked('fa:16:3e:00:00:00', 'ff:ff:ff:00:00:00'),
    ethType: 0x86dd,
    vlanVid: masked(0x1000, 0x1000),
    ipProto: 58,
    ipv6Src: exact('fe80::f816:3eff:fe00:1'),
    icmpv6Type: 136,
    ndTarget: exact('2001:db8::1:2'),
    tunId: masked(0x3e9n, 0xffffn),
    regs: { 5: exact(3) },
  },
  actions: ACTIONS,
  gotoTable: 72,
};

/** The QoS extension's flows: a meter instruction, pkt_mark, set_queue and ip_dscp. */
const QOS_FLOWS: Flow[] = [
  { table: 59, priority: 100, match: { inPort: 5, ethSrc: exact('fa:16:3e:00:00:01'), pktMark: masked(5, 0xff) }, meter: 7, actions: [], gotoTable: 60 },
  { table: 0, priority: 65535, match: { ethType: 0x86dd, regs: { 2: exact(0) } }, meter: 9, actions: [{ type: 'set_field', field: 'ip_dscp', value: 26 }, { type: 'set_queue', queueId: 0 }, { type: 'resubmit', inPort: 5 }] },
];

const PPS_METER: Meter = { id: 7, unit: 'pktps', burst: true, bands: [{ type: 'drop', rate: 1000, burstSize: 100 }] };
const KBPS_METER: Meter = { id: 8, unit: 'kbps', stats: true, bands: [{ type: 'drop', rate: 10000 }, { type: 'drop', rate: 20000 }] };

const entry = (table: number, priority: number, flow: Flow) => ({
  table, priority, cookie: 3n, packetCount: 1n, byteCount: 2n, durationSec: 3, durationNsec: 4, idleTimeout: 0, hardTimeout: 0, flags: 0, flow,
});

/** One of every message kind, as the controller sends or receives them. */
const CORPUS: Buffer[] = ([
  { type: 'hello', xid: 1, version: 4, versions: [1, 4] },
  { type: 'error', xid: 3, version: 4, errType: 5, code: 1, data: Buffer.from('0123456789abcdef', 'hex') },
  { type: 'error', xid: 4, version: 4, errType: 0xffff, code: 9, experimenter: 0x2320, data: Buffer.from('ab', 'hex') },
  { type: 'echo_request', xid: 5, data: Buffer.from('ping') },
  { type: 'echo_reply', xid: 5, data: Buffer.alloc(0) },
  { type: 'features_reply', xid: 6, datapathId: 0xfedcba9876543210n, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0x4f },
  { type: 'get_config_reply', xid: 7, flags: 0, missSendLen: 128 },
  { type: 'barrier_reply', xid: 9 },
  { type: 'flow_mod', xid: 10, ...flowModBody({ command: 'add', cookie: 1n, tableId: 71, priority: 65, match: FLOW.match, actions: ACTIONS }) },
  { type: 'flow_mod', xid: 15, ...flowModBody({ command: 'add', cookie: 2n, tableId: 82, priority: 70, match: FIREWALL_FLOW.match, actions: FIREWALL_FLOW.actions }) },
  { type: 'multipart_reply', xid: 16, flags: 0, reply: { kind: 'flow', entries: [entry(82, 70, FIREWALL_FLOW), ...SCTP_ICMP_FLOWS.map((f) => entry(f.table, f.priority, f))] } },
  { type: 'flow_mod', xid: 11, ...flowModBody({ command: 'delete', cookie: 1n, cookieMask: ~0n & 0xffffffffffffffffn, tableId: 0xff, match: { inPort: 9 } }) },
  { type: 'multipart_request', xid: 12, flags: 0, request: { kind: 'flow', body: { tableId: 0xff, outPort: 0xffffffff, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: {} } } },
  { type: 'multipart_reply', xid: 12, flags: OFPMPF_REPLY_MORE, reply: { kind: 'flow', entries: [entry(71, 65, FLOW), entry(0, 0, { table: 0, priority: 0, match: {}, actions: [output('NORMAL')] })] } },
  { type: 'multipart_reply', xid: 13, flags: 0, reply: { kind: 'port_desc', ports: [{ portNo: 0xfffffffe, name: 'br-int', hwAddr: 'aa:bb:cc:dd:ee:ff', config: 1, state: 4 }, { portNo: 3, name: 'tap1234', hwAddr: 'fa:16:3e:00:00:01', config: 0, state: 0 }] } },
  { type: 'unknown', xid: 14, version: 4, msgType: 12, data: Buffer.from('00112233', 'hex') },
  { type: 'flow_mod', xid: 17, ...flowModBody({ command: 'add', tableId: 59, priority: 100, match: QOS_FLOWS[0]!.match, meter: 7, actions: [], gotoTable: 60 }) },
  { type: 'multipart_reply', xid: 18, flags: 0, reply: { kind: 'flow', entries: QOS_FLOWS.map((f) => entry(f.table, f.priority, f)) } },
  { type: 'meter_mod', xid: 19, mod: { command: 'add', meter: PPS_METER } },
  { type: 'meter_mod', xid: 20, mod: { command: 'delete', meterId: 7 } },
  { type: 'multipart_request', xid: 21, flags: 0, request: { kind: 'meter_config', meterId: 0xffffffff } },
  { type: 'multipart_request', xid: 22, flags: 0, request: { kind: 'meter_features' } },
  { type: 'multipart_reply', xid: 21, flags: 0, reply: { kind: 'meter_config', meters: [PPS_METER, KBPS_METER] } },
  {
    type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: 42, reason: 1, tableId: 93, cookie: 0x8b1d2e3f00000001n,
    match: { inPort: 5, metadata: { value: 0n }, regs: { 5: { value: 5 }, 6: { value: 1 } }, ctState: { value: 0x21 } },
    unknownFields: [{ header: 0x0001d810, payload: Buffer.alloc(16) }],
    data: Buffer.from('ffffffffffff fa163e000001 0806 0001080006040001fa163e000001c0000201000000000000c0000202'.replace(/ /g, ''), 'hex'),
  },
  { type: 'packet_out', xid: 23, bufferId: 0xffffffff, inPort: 0xfffffffd, actions: [{ type: 'output', port: 5, maxLen: 0xffe5 }], data: Buffer.from('fa163e000001fa163e0000000800450000', 'hex') },
  { type: 'multipart_reply', xid: 22, flags: 0, reply: { kind: 'meter_features', features: { maxMeter: 262144, bandTypes: ['drop'], capabilities: ['kbps', 'pktps', 'burst', 'stats'], maxBands: 8, maxColor: 0 } } },
] as OfMessage[]).map((m) => encodeMessage(m));

function mutate(buf: Buffer, r: () => number): Buffer {
  let b = Buffer.from(buf);
  const pick = r() % 8;
  switch (pick) {
    case 0: // flip a few bits anywhere past the header
      for (let k = 0; k < 1 + (r() % 4); k++) {
        const i = 8 + (r() % Math.max(1, b.length - 8));
        if (i < b.length) b[i] = b[i]! ^ (1 << (r() % 8));
      }
      break;
    case 1: // random bytes in the body
      for (let k = 0; k < 1 + (r() % 8); k++) {
        const i = 8 + (r() % Math.max(1, b.length - 8));
        if (i < b.length) b[i] = r() & 0xff;
      }
      break;
    case 2: {
      // a 16-bit length field somewhere in the body set to something else (TLV lengths)
      const i = 8 + 2 * (r() % Math.max(1, (b.length - 10) >> 1));
      if (i + 1 < b.length) b.writeUInt16BE([0, 1, 4, 7, 8, 0xffff, b.length, (r() & 0xff) << 3][r() % 8]!, i);
      break;
    }
    case 3: {
      // truncated, with the header length following the cut (the splitter passes it on)
      const n = 8 + (r() % Math.max(1, b.length - 8));
      b = b.subarray(0, n);
      b.writeUInt16BE(n, 2);
      break;
    }
    case 4: {
      // extended with garbage, header length following
      const extra = Buffer.alloc(1 + (r() % 64));
      for (let i = 0; i < extra.length; i++) extra[i] = r() & 0xff;
      b = Buffer.concat([b, extra]);
      b.writeUInt16BE(b.length, 2);
      break;
    }
    case 5: // a zeroed stretch
      { const s = 8 + (r() % Math.max(1, b.length - 8)); b.fill(0, Math.min(s, b.length), Math.min(s + 8, b.length)); }
      break;
    case 6: {
      // the body of another message under this header
      const other = CORPUS[r() % CORPUS.length]!;
      b = Buffer.concat([b.subarray(0, 8), other.subarray(8)]);
      b.writeUInt16BE(b.length, 2);
      break;
    }
    default: // 0xff everywhere in a stretch (max lengths, max counts)
      { const s = 8 + (r() % Math.max(1, b.length - 8)); b.fill(0xff, Math.min(s, b.length), Math.min(s + 4, b.length)); }
  }
  return b;
}

test('fuzz: every message kind, mutated 4000 times each, decodes or throws OfCodecError', () => {
  for (const [k, valid] of CORPUS.entries()) {
    assert.doesNotThrow(() => decodeMessage(valid), `corpus message ${k} decodes`);
  }
  const r = rng(0x0f13);
  const failures: string[] = [];
  let decoded = 0;
  let refused = 0;
  const t0 = Date.now();
  for (const [k, valid] of CORPUS.entries()) {
    for (let i = 0; i < 4000; i++) {
      const b = mutate(valid, r);
      let m: OfMessage;
      try {
        m = decodeMessage(b);
        decoded++;
      } catch (e) {
        if (e instanceof OfCodecError) refused++;
        else if (failures.length < 10) failures.push(`message ${k} mutation ${i}: ${String(e)}: ${b.toString('hex')}`);
        continue;
      }
      // What decoded must be something the codec can encode again (the controller logs and
      // re-encodes flows it dumped) or refuse with its own error.
      try {
        encodeMessage(m);
      } catch (e) {
        if (!(e instanceof OfCodecError) && failures.length < 10) failures.push(`message ${k} mutation ${i} re-encode: ${String(e)}: ${b.toString('hex')}`);
      }
    }
  }
  const ms = Date.now() - t0;
  assert.deepEqual(failures, [], 'only OfCodecError');
  assert.ok(refused > 1000 && decoded > 1000, `mutations exercise both paths: ${decoded} decoded, ${refused} refused`);
  assert.ok(ms < 20000, `fuzzing took ${ms} ms`);
});

test('fuzz: a stream of mutated frames through the splitter never throws; each frame fails alone or the stream stops cleanly', () => {
  const r = rng(0xbeef);
  for (let round = 0; round < 300; round++) {
    const frames = Array.from({ length: 1 + (r() % 12) }, () => {
      const v = CORPUS[r() % CORPUS.length]!;
      return r() % 3 === 0 ? mutate(v, r) : v;
    });
    const stream = Buffer.concat(frames);
    const s = new MessageSplitter();
    let failed = false;
    for (let off = 0; off < stream.length && !failed; ) {
      const n = 1 + (r() % 97);
      let res: ReturnType<MessageSplitter['push']>;
      assert.doesNotThrow(() => (res = s.push(stream.subarray(off, off + n))), `round ${round}: splitter threw`);
      off += n;
      for (const m of res!.messages) {
        try {
          decodeMessage(m);
        } catch (e) {
          assert.ok(e instanceof OfCodecError, `round ${round}: ${String(e)}`);
        }
      }
      if (res!.error) failed = true;
    }
    if (failed) {
      // A failed splitter stays failed: the controller drops the connection, it does not resync on garbage.
      assert.ok(s.push(CORPUS[0]!).error, `round ${round}: splitter recovered from a framing error`);
    }
  }
});
