import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeMessage,
  encodeMessage,
  flowModBody,
  flowModToWire,
  MessageSplitter,
  OfCodecError,
  OFPMPF_REPLY_MORE,
  type FlowStatsEntry,
  type OfMessage,
} from '../../../src/openflow/native/codec/index.js';
import { formatFlowModLine } from '../../../src/openflow/text.js';
import { ct, ctState, exact, masked, output, popVlan, pushVlan, resubmit, setReg, setVlan, untagged, vlan, type Action, type Flow, type LearnAction } from '../../../src/openflow/flow.js';

const hex = (b: Buffer): string => b.toString('hex');
const roundTrip = (m: OfMessage): OfMessage => decodeMessage(encodeMessage(m));
/** The wire bytes (hex) of a FLOW_MOD adding `flow`. */
const addFlowHex = (flow: Flow): string => hex(encodeMessage({ type: 'flow_mod', xid: 1, ...flowModToWire({ command: 'add', flow }) }));

const LEARN: LearnAction = {
  type: 'learn',
  table: 20,
  hardTimeout: 300,
  priority: 1,
  cookie: 0x4bf9ca21f8548ef1n,
  specs: [
    { kind: 'match_field', dst: { field: 'NXM_OF_VLAN_TCI', ofs: 0, nBits: 12 }, src: { field: 'NXM_OF_VLAN_TCI', ofs: 0, nBits: 12 } },
    { kind: 'match_field', dst: { field: 'NXM_OF_ETH_DST' }, src: { field: 'NXM_OF_ETH_SRC' } },
    { kind: 'match_value', dst: { field: 'NXM_NX_REG1', ofs: 4, nBits: 8 }, value: 0xabn },
    { kind: 'load_value', dst: { field: 'NXM_OF_VLAN_TCI' }, value: 0n },
    { kind: 'load_field', dst: { field: 'NXM_NX_TUN_ID' }, src: { field: 'NXM_NX_TUN_ID' } },
    { kind: 'output', src: { field: 'OXM_OF_IN_PORT' } },
  ],
};

const ALL_ACTIONS: Action[] = [
  pushVlan(),
  setVlan(1),
  popVlan(),
  { type: 'set_field', field: 'tun_id', value: 0x3e9n },
  { type: 'set_field', field: 'eth_src', value: 'fa:16:3e:00:00:21' },
  { type: 'set_field', field: 'eth_dst', value: 'fa:16:3e:00:00:22' },
  { type: 'set_field', field: 'arp_op', value: 2 },
  { type: 'set_field', field: 'arp_spa', value: '10.0.0.21' },
  { type: 'set_field', field: 'arp_tpa', value: '10.0.0.22' },
  { type: 'set_field', field: 'arp_sha', value: 'fa:16:3e:00:00:21' },
  { type: 'set_field', field: 'arp_tha', value: 'fa:16:3e:00:00:23' },
  { type: 'set_field', field: 'reg6', value: 7 },
  { type: 'set_field', field: 'metadata', value: 0x1234567890n },
  { type: 'move', src: { field: 'NXM_NX_ARP_SHA' }, dst: { field: 'NXM_NX_ARP_THA' } },
  { type: 'move', src: { field: 'NXM_NX_REG0', ofs: 0, nBits: 12 }, dst: { field: 'NXM_OF_VLAN_TCI', ofs: 0, nBits: 12 } },
  { type: 'load', dst: { field: 'NXM_NX_REG5' }, value: 42n },
  { type: 'load', dst: { field: 'NXM_NX_TUN_ID', ofs: 8, nBits: 16 }, value: 0xbeefn },
  { type: 'resubmit', table: 3 },
  { type: 'resubmit', inPort: 5 },
  { type: 'resubmit', inPort: 5, table: 7 },
  { type: 'resubmit' },
  LEARN,
  output(3),
  output('IN_PORT'),
  output('NORMAL'),
  output('CONTROLLER'),
  { type: 'output', port: 4, maxLen: 128 },
];

const FULL_MATCH_FLOW: Flow = {
  table: 71,
  priority: 65,
  cookie: 0xdeadbeefn,
  idleTimeout: 10,
  hardTimeout: 20,
  match: {
    inPort: 5,
    metadata: masked(0x10n, 0xf0n),
    ethDst: exact('fa:16:3e:00:00:01'),
    ethSrc: masked('fa:16:3e:00:00:00', 'ff:ff:ff:00:00:00'),
    ethType: 0x86dd,
    vlanVid: masked(0x1000, 0x1000),
    ipProto: 58,
    ipv6Src: exact('fe80::f816:3eff:fe00:1'),
    ipv6Dst: masked('2001:db8::', 'ffff:ffff::'),
    icmpv6Type: 136,
    icmpv6Code: 0,
    ndTarget: exact('2001:db8::1:2'),
    tunId: masked(0x3e9n, 0xffffn),
    regs: { 5: exact(3), 6: masked(0x10, 0xff) },
  },
  actions: ALL_ACTIONS,
  gotoTable: 72,
};

test('fixed messages have their OpenFlow 1.3 wire bytes', () => {
  assert.equal(hex(encodeMessage({ type: 'hello', xid: 1, version: 4, versions: [4] })), '04000010000000010001000800000010');
  assert.equal(hex(encodeMessage({ type: 'echo_request', xid: 0x11223344, data: Buffer.alloc(0) })), '0402000811223344');
  assert.equal(hex(encodeMessage({ type: 'barrier_request', xid: 9 })), '0414000800000009');
  assert.equal(hex(encodeMessage({ type: 'features_request', xid: 2 })), '0405000800000002');
});

test('set_field vlan_vid, push/pop_vlan, output and goto_table encode as OpenFlow 1.3 TLVs', () => {
  const s = addFlowHex({ table: 4, priority: 1, match: { tunId: exact(0x3e9n) }, actions: [pushVlan(), setVlan(1), output(2)], gotoTable: 10 });
  // match: OFPMT_OXM, length 16, NXM_NX_TUN_ID (0x0001, field 16, 8 bytes) = 0x3e9 (no padding needed)
  assert.ok(s.includes('00010010' + '00012008' + '00000000000003e9' + '0004'), s);
  // apply-actions: push_vlan 0x8100; set_field OXM_OF_VLAN_VID(0x80000c02)=0x1001 padded to 16; output port 2 max_len 0
  assert.ok(s.includes('0011000881000000' + '0019001080000c02' + '1001000000000000' + '0000001000000002' + '0000000000000000'), s);
  // goto_table 10
  assert.ok(s.endsWith('000100080a000000'), s);
  // header: cookie 0, mask 0, table 4, ADD, timeouts 0, priority 1, NO_BUFFER, out_port/group ANY, flags 0
  assert.equal(s.slice(16, 96), '0000000000000000' + '0000000000000000' + '04' + '00' + '0000' + '0000' + '0001' + 'ffffffff' + 'ffffffff' + 'ffffffff' + '0000' + '0000');
});

test('reg_move and learn encode as Nicira experimenter actions', () => {
  const mv = encodeMessage({
    type: 'flow_mod', xid: 1,
    ...flowModBody({ command: 'add', actions: [{ type: 'move', src: { field: 'NXM_NX_ARP_SHA' }, dst: { field: 'NXM_NX_ARP_THA' } }] }),
  });
  // ffff, len 24, vendor 0x2320, NXAST_REG_MOVE(6), n_bits 48, src_ofs 0, dst_ofs 0, NXM_NX_ARP_SHA, NXM_NX_ARP_THA
  assert.ok(hex(mv).endsWith('ffff0018000023200006' + '0030' + '0000' + '0000' + '00012206' + '00012406'), hex(mv));
  const ln = hex(encodeMessage({ type: 'flow_mod', xid: 1, ...flowModBody({ command: 'add', actions: [{ ...LEARN, specs: [LEARN.specs[0]!, LEARN.specs[3]!, LEARN.specs[5]!] }] }) }));
  const body =
    'ffff' + '0040' + '00002320' + '0010' + // experimenter header, NXAST_LEARN, length 64
    '0000' + '012c' + '0001' + '4bf9ca21f8548ef1' + '0000' + '14' + '00' + '0000' + '0000' + // idle, hard 300, prio 1, cookie, flags, table 20, fin timeouts
    '000c' + '00000802' + '0000' + '00000802' + '0000' + // match field NXM_OF_VLAN_TCI[0..11]
    '2810' + '0000' + '00000802' + '0000' + // load immediate 0 (16 bits) -> NXM_OF_VLAN_TCI
    '1020' + '80000004' + '0000'; // output OXM_OF_IN_PORT (32 bits); 64 bytes, no padding needed
  assert.ok(ln.endsWith(body), ln);
});

test('every message round-trips through encode and decode', () => {
  const msgs: OfMessage[] = [
    { type: 'hello', xid: 1, version: 4, versions: [1, 4, 5] },
    { type: 'hello', xid: 2, version: 4 },
    { type: 'error', xid: 3, version: 4, errType: 5, code: 1, data: Buffer.from('0123456789abcdef', 'hex') },
    { type: 'error', xid: 4, version: 4, errType: 0xffff, code: 9, experimenter: 0x2320, data: Buffer.from('ab', 'hex') },
    { type: 'echo_request', xid: 5, data: Buffer.from('ping') },
    { type: 'echo_reply', xid: 5, data: Buffer.from('ping') },
    { type: 'features_request', xid: 6 },
    { type: 'features_reply', xid: 6, datapathId: 0xfedcba9876543210n, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0x4f },
    { type: 'get_config_request', xid: 7 },
    { type: 'get_config_reply', xid: 7, flags: 0, missSendLen: 128 },
    { type: 'set_config', xid: 8, flags: 1, missSendLen: 0xffff },
    { type: 'barrier_request', xid: 9 },
    { type: 'barrier_reply', xid: 9 },
    { type: 'multipart_request', xid: 10, flags: 0, request: { kind: 'port_desc' } },
    {
      type: 'multipart_request', xid: 11, flags: 0,
      request: { kind: 'flow', body: { tableId: 0xff, outPort: 0xffffffff, outGroup: 0xffffffff, cookie: 5n, cookieMask: 0xffffffffffffffffn, match: { inPort: 3 } } },
    },
    {
      type: 'multipart_reply', xid: 10, flags: OFPMPF_REPLY_MORE,
      reply: { kind: 'port_desc', ports: [{ portNo: 0xfffffffe, name: 'br-int', hwAddr: 'aa:bb:cc:dd:ee:ff', config: 1, state: 4 }] },
    },
    { type: 'multipart_reply', xid: 12, flags: 0, reply: { kind: 'other', mpType: 0, data: Buffer.from('desc') } },
    { type: 'unknown', xid: 13, version: 4, msgType: 12, data: Buffer.from('00112233', 'hex') },
  ];
  for (const m of msgs) assert.deepEqual(roundTrip(m), m, m.type);
});

test('flow mods of every command round-trip with every match field and action', () => {
  for (const command of ['add', 'modify', 'modify_strict', 'delete', 'delete_strict'] as const) {
    const fm = flowModBody({
      command,
      cookie: 0x35be8fdcd673b2f8n,
      cookieMask: command.startsWith('delete') ? 0xffffffffffffffffn : 0n,
      tableId: command.startsWith('delete') ? 0xff : 71,
      idleTimeout: 1,
      hardTimeout: 2,
      priority: 65535,
      match: FULL_MATCH_FLOW.match,
      actions: command.startsWith('delete') ? [] : ALL_ACTIONS,
    });
    if (!command.startsWith('delete')) fm.gotoTable = 72;
    const m: OfMessage = { type: 'flow_mod', xid: 77, ...fm };
    assert.deepEqual(roundTrip(m), m, command);
  }
});

test('model flow mods map to wire defaults: ADD with NO_BUFFER, deletes on OFPTT_ALL with cookie mask', () => {
  const add = flowModToWire({ command: 'add', flow: { table: 3, priority: 0, match: {}, actions: [] } });
  assert.equal(add.command, 'add');
  assert.equal(add.bufferId, 0xffffffff);
  assert.equal(add.outPort, 0xffffffff);
  assert.equal(add.flags, 0);
  const del = flowModToWire({ command: 'delete', filter: { cookie: 7n, cookieMask: 0xffffffffffffffffn, match: { inPort: 2 } } });
  assert.equal(del.command, 'delete');
  assert.equal(del.tableId, 0xff);
  assert.equal(del.cookieMask, 0xffffffffffffffffn);
  const strict = flowModToWire({ command: 'delete', filter: { table: 4, strict: true, priority: 9, match: { vlanVid: untagged() } } });
  assert.equal(strict.command, 'delete_strict');
  assert.equal(strict.priority, 9);
  assert.equal(
    formatFlowModLine({ command: 'add', flow: { table: 21, priority: 1, match: { ethType: 0x0806, vlanVid: vlan(1), arpTpa: exact('10.0.0.21') }, actions: [] } }),
    'add table=21, priority=1,arp,dl_vlan=1,arp_tpa=10.0.0.21 actions=drop',
  );
});

test('invalid values fail encoding with an OfCodecError naming the field', () => {
  assert.throws(
    () => encodeMessage({ type: 'flow_mod', xid: 1, ...flowModBody({ command: 'add', match: { ethDst: exact('fa:16:3e:zz:00:01') } }) }),
    (e: unknown) => e instanceof OfCodecError && /fa:16:3e:zz:00:01/.test(e.message),
  );
  assert.throws(
    () => encodeMessage({ type: 'flow_mod', xid: 1, ...flowModBody({ command: 'add', actions: [{ type: 'set_field', field: 'vlan_vid', value: 0x10000 }] }) }),
    (e: unknown) => e instanceof OfCodecError && /vlan_vid/.test(e.message),
  );
  assert.throws(
    () => encodeMessage({ type: 'flow_mod', xid: 1, ...flowModBody({ command: 'add', actions: [{ type: 'move', src: { field: 'NXM_NX_REG0' }, dst: { field: 'NXM_OF_ETH_DST' } }] }) }),
    (e: unknown) => e instanceof OfCodecError && /differ in width/.test(e.message),
  );
});

test('flow stats replies decode to FlowStats with the flow; unknown parts are kept opaque', () => {
  const entry: FlowStatsEntry = {
    table: 71, priority: 65, cookie: 0xdeadbeefn, packetCount: 10n, byteCount: 1000n, durationSec: 5, durationNsec: 6,
    idleTimeout: 10, hardTimeout: 20, flags: 0, flow: FULL_MATCH_FLOW,
  };
  const drop: FlowStatsEntry = {
    table: 0, priority: 0, cookie: 0n, packetCount: 0n, byteCount: 0n, durationSec: 0, durationNsec: 0, idleTimeout: 0, hardTimeout: 0, flags: 0,
    flow: { table: 0, priority: 0, cookie: 0n, match: {}, actions: [] },
  };
  const msg: OfMessage = { type: 'multipart_reply', xid: 3, flags: OFPMPF_REPLY_MORE, reply: { kind: 'flow', entries: [entry, drop] } };
  assert.deepEqual(roundTrip(msg), msg);

  // Splice an action the codec does not model (OFPAT_DEC_NW_TTL = 24) and an unknown OXM field
  // (OXM_OF_IP_DSCP = 8) into an entry by hand.
  const buf = encodeMessage({ type: 'multipart_reply', xid: 4, flags: 0, reply: { kind: 'flow', entries: [drop] } });
  const fixed = buf.subarray(0, 16 + 48); // header + multipart header + fixed flow_stats part
  const match = Buffer.from('00010009' + '80001001' + '2e' + '00000000000000', 'hex'); // ofp_match len 9, ip_dscp=46, pad 7
  const instr = Buffer.from('00040020' + '00000000' + '0018000800000000' + '0000001000000001' + '0000000000000000', 'hex');
  const entryLen = 48 + match.length + instr.length;
  const spliced = Buffer.concat([fixed, match, instr]);
  spliced.writeUInt16BE(spliced.length, 2);
  spliced.writeUInt16BE(entryLen, 16);
  const out = decodeMessage(spliced);
  assert.equal(out.type, 'multipart_reply');
  if (out.type !== 'multipart_reply' || out.reply.kind !== 'flow') return;
  const [e] = out.reply.entries;
  assert.ok(e);
  assert.equal(e.flow, undefined);
  assert.deepEqual(e.undecoded?.map((u) => u.where), ['match', 'action']);
  assert.match(e.undecoded![1]!.description, /action type 24/);
});

test('the stream splitter reassembles messages from any chunking', () => {
  const msgs: OfMessage[] = [
    { type: 'hello', xid: 1, version: 4, versions: [4] },
    { type: 'echo_request', xid: 2, data: Buffer.alloc(300, 7) },
    { type: 'flow_mod', xid: 3, ...flowModToWire({ command: 'add', flow: FULL_MATCH_FLOW }) },
    { type: 'barrier_reply', xid: 4 },
  ];
  const stream = Buffer.concat(msgs.map(encodeMessage));
  for (const chunkSize of [1, 3, 7, 8, 9, 64, 1000, stream.length]) {
    const s = new MessageSplitter();
    const got: OfMessage[] = [];
    for (let off = 0; off < stream.length; off += chunkSize) {
      const r = s.push(stream.subarray(off, off + chunkSize));
      assert.equal(r.error, undefined);
      got.push(...r.messages.map(decodeMessage));
    }
    assert.deepEqual(got, msgs, `chunk size ${chunkSize}`);
    assert.equal(s.pendingBytes, 0);
  }
});

test('the stream splitter rejects bad lengths and versions with an error, and stays failed', () => {
  const short = new MessageSplitter();
  const r1 = short.push(Buffer.from('0402000400000001', 'hex'));
  assert.match(r1.error?.message ?? '', /length 4/);
  assert.ok(short.push(encodeMessage({ type: 'barrier_reply', xid: 1 })).error, 'stays failed');

  const v = new MessageSplitter();
  const ok = encodeMessage({ type: 'barrier_reply', xid: 1 });
  const r2 = v.push(Buffer.concat([ok, Buffer.from('0114000800000002', 'hex')]));
  assert.equal(r2.messages.length, 1, 'messages before the bad one are delivered');
  assert.match(r2.error?.message ?? '', /version 0x01/);

  // A peer speaking another version may still say HELLO or ERROR (negotiation).
  const h = new MessageSplitter();
  const r3 = h.push(Buffer.from('0100000800000001', 'hex'));
  assert.equal(r3.error, undefined);
  assert.equal(r3.messages.length, 1);
});

test('random bytes give errors, never exceptions or hangs', () => {
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const valid = encodeMessage({ type: 'multipart_reply', xid: 1, flags: 0, reply: { kind: 'flow', entries: [{
    table: 1, priority: 2, cookie: 3n, packetCount: 0n, byteCount: 0n, durationSec: 0, durationNsec: 0, idleTimeout: 0, hardTimeout: 0, flags: 0, flow: FULL_MATCH_FLOW,
  }] } });
  let errors = 0;
  for (let i = 0; i < 3000; i++) {
    const s = new MessageSplitter();
    let buf: Buffer;
    if (i % 2 === 0) {
      buf = Buffer.alloc(1 + (rnd() % 200));
      for (let j = 0; j < buf.length; j++) buf[j] = rnd() & 0xff;
    } else {
      // A valid message with some bytes flipped (the header kept plausible half of the time).
      buf = Buffer.from(valid);
      for (let k = 0; k < 1 + (rnd() % 6); k++) buf[(i % 4 === 1 ? 8 : 0) + (rnd() % (buf.length - 8))] = rnd() & 0xff;
    }
    let r: ReturnType<MessageSplitter['push']> = { messages: [] };
    for (let off = 0; off < buf.length; off += 1 + (rnd() % 50)) {
      r = s.push(buf.subarray(off, off + 1 + (rnd() % 50)));
      for (const m of r.messages) {
        try {
          decodeMessage(m);
        } catch (e) {
          assert.ok(e instanceof OfCodecError, `decodeMessage threw ${String(e)}`);
          errors++;
        }
      }
      if (r.error) break;
    }
    if (r.error) errors++;
  }
  assert.ok(errors > 1000, `only ${errors} errors for 3000 garbage inputs`);
});

// ---- conntrack, conjunction and the firewall's match fields --------------------------------

const CT_ZONE_REG6 = { field: 'NXM_NX_REG6', ofs: 0, nBits: 16 } as const;

test('ct, ct_clear and conjunction have the wire layout of nicira-ext.h / ofp-actions.c', () => {
  const s = addFlowHex({
    table: 72, priority: 40, match: { ethType: 0x0800 },
    actions: [
      { type: 'ct', commit: true, table: 73, zone: CT_ZONE_REG6, exec: [{ type: 'set_field', field: 'ct_mark', value: 1 }] },
      { type: 'ct_clear' },
      { type: 'ct', zone: 5 },
    ],
  });
  // struct nx_action_conntrack: OFPAT_VENDOR, len 40 (24 + nested), NX_VENDOR_ID, NXAST_CT (35), flags NX_CT_F_COMMIT,
  // zone_src NXM_NX_REG6 (0x00010c04), zone_ofs_nbits = 0<<6 | (16-1), recirc_table 73, pad[3], alg 0; then
  // the nested set_field of NXM_NX_CT_MARK (class 0x0001, field 107, 4 bytes) = 1, padded to 16.
  const ct = 'ffff0028' + '00002320' + '0023' + '0001' + '00010c04' + '000f' + '49' + '000000' + '0000' + '00190010' + '0001d604' + '00000001' + '00000000';
  // NXAST_CT_CLEAR (43): the Nicira header padded to 16.
  const ctClear = 'ffff0010' + '00002320' + '002b' + '000000000000';
  // An immediate zone: zone_src 0, zone_imm 5, recirc_table NX_CT_RECIRC_NONE.
  const ctZone5 = 'ffff0018' + '00002320' + '0023' + '0000' + '00000000' + '0005' + 'ff' + '000000' + '0000';
  assert.ok(s.includes(ct + ctClear + ctZone5), s);

  const c = addFlowHex({ table: 82, priority: 70, match: {}, actions: [{ type: 'conjunction', id: 16, clause: 2, nClauses: 2 }] });
  // struct nx_action_conjunction: NXAST_CONJUNCTION (34), clause counted from 0, n_clauses, id.
  assert.ok(c.includes('ffff0010' + '00002320' + '0022' + '01' + '02' + '00000010'), c);
});

test('conntrack, conj_id, masked port and ICMPv4 matches are NXM/OXM TLVs with the right headers', () => {
  const s = addFlowHex({
    table: 82, priority: 70, actions: [],
    match: { conjId: 16, ctState: ctState('+est-rel-rpl'), ctZone: 1, ctMark: masked(1, 3), ethType: 0x0800, ipProto: 6, tcpDst: masked(0x3e8, 0xfff8) },
  });
  assert.ok(s.includes('80001d04' + '03e8' + 'fff8'), `OXM_OF_TCP_DST with mask: ${s}`);
  assert.ok(s.includes('00014a04' + '00000010'), `NXM_NX_CONJ_ID: ${s}`);
  assert.ok(s.includes('0001d308' + '00000002' + '0000000e'), `NXM_NX_CT_STATE +est-rel-rpl: ${s}`);
  assert.ok(s.includes('0001d402' + '0001'), `NXM_NX_CT_ZONE: ${s}`);
  assert.ok(s.includes('0001d708' + '00000001' + '00000003'), `NXM_NX_CT_MARK masked: ${s}`);

  const i = addFlowHex({ table: 0, priority: 1, actions: [], match: { ethType: 0x0800, ipProto: 1, icmpv4Type: 8, icmpv4Code: 0 } });
  assert.ok(i.includes('80002601' + '08' + '80002801' + '00'), `OXM_OF_ICMPV4_TYPE/CODE: ${i}`);
  const sc = addFlowHex({ table: 0, priority: 1, actions: [], match: { ethType: 0x0800, ipProto: 132, sctpSrc: 7, sctpDst: 5000 } });
  assert.ok(sc.includes('80002202' + '0007' + '80002402' + '1388'), `OXM_OF_SCTP_SRC/DST: ${sc}`);
});

test('firewall flows round-trip through a flow-stats reply', () => {
  const flows: Flow[] = [
    {
      table: 82, priority: 70, cookie: 1n,
      match: { conjId: 17, ctState: ctState('+new-est'), ctZone: 3, ctMark: exact(0), ethType: 0x0800, regs: { 5: exact(3) } },
      actions: [setReg(7, 0x11), ct({ commit: true, zone: CT_ZONE_REG6 }), output(3), resubmit(92)],
    },
    {
      table: 72, priority: 40, cookie: 1n,
      match: { ctState: ctState('+est'), ethType: 0x86dd, regs: { 5: exact(3) } },
      actions: [ct({ commit: true, zone: CT_ZONE_REG6, exec: [{ type: 'set_field', field: 'ct_mark', value: 1 }] })],
    },
    { table: 71, priority: 110, cookie: 1n, match: { ctState: ctState('+trk') }, actions: [{ type: 'ct_clear' }, resubmit(71)] },
    { table: 81, priority: 90, cookie: 1n, match: { ctState: ctState('-trk'), ethType: 0x0800 }, actions: [ct({ table: 82, zone: 9 })] },
    {
      table: 82, priority: 73, cookie: 1n,
      match: { ethType: 0x0800, ipProto: 132, sctpSrc: masked(0x400, 0xfc00), sctpDst: 5000, ipv4Src: masked('10.0.0.0', '255.0.0.0') },
      actions: [{ type: 'conjunction', id: 0xfffffff8, clause: 64, nClauses: 64 }],
    },
    { table: 82, priority: 72, cookie: 1n, match: { ethType: 0x0800, ipProto: 1, icmpv4Type: 3, icmpv4Code: 4 }, actions: [] },
    { table: 82, priority: 71, cookie: 1n, match: { ethType: 0x0800, ipProto: 17, udpSrc: 68, udpDst: masked(0x40, 0xffc0) }, actions: [] },
  ];
  const back = roundTrip({ type: 'multipart_reply', xid: 3, flags: 0, reply: { kind: 'flow', entries: flows.map((flow) => ({ ...statsOf(flow), flow })) } });
  assert.equal(back.type, 'multipart_reply');
  if (back.type !== 'multipart_reply' || back.reply.kind !== 'flow') return;
  assert.deepEqual(back.reply.entries.map((e) => e.undecoded), flows.map(() => undefined));
  assert.deepEqual(back.reply.entries.map((e) => e.flow), flows);
});

test('an exact ct_state comes back exact although OVS reports it with an 8-bit mask', () => {
  // OVS answers an unmasked NXM_NX_CT_STATE with mask 0x000000ff (its ct_state is 8 bits wide).
  const body = Buffer.from('0001d308' + '00000022' + '000000ff', 'hex');
  const frame = Buffer.concat([Buffer.from('0001' + (4 + body.length).toString(16).padStart(4, '0'), 'hex'), body]);
  const padded = Buffer.concat([frame, Buffer.alloc((8 - (frame.length % 8)) % 8)]);
  const flowMod = encodeMessage({ type: 'flow_mod', xid: 1, ...flowModBody({ command: 'add', match: {} }) });
  // Replace the empty match (0001 0004 00000000) of an encoded flow mod with this one.
  const emptyAt = 8 + 40;
  const msg = Buffer.concat([flowMod.subarray(0, emptyAt), padded, flowMod.subarray(emptyAt + 8)]);
  msg.writeUInt16BE(msg.length, 2);
  const m = decodeMessage(msg);
  assert.ok(m.type === 'flow_mod');
  if (m.type === 'flow_mod') assert.deepEqual(m.match, { ctState: { value: 0x22 } });
});

test('ct and conjunction refuse values OVS would refuse, before anything is sent', () => {
  const enc = (actions: Action[]) => () => encodeMessage({ type: 'flow_mod', xid: 1, ...flowModBody({ command: 'add', match: { ethType: 0x0800 }, actions }) });
  const codec = (re: RegExp) => (e: unknown) => e instanceof OfCodecError && re.test(e.message);
  assert.throws(enc([{ type: 'conjunction', id: 1, clause: 0, nClauses: 2 }]), codec(/clause must be 1\.\.2/));
  assert.throws(enc([{ type: 'conjunction', id: 1, clause: 1, nClauses: 1 }]), codec(/number of clauses must be 2\.\.64/));
  assert.throws(enc([{ type: 'conjunction', id: 2 ** 32, clause: 1, nClauses: 2 }]), codec(/conjunction id/));
  assert.throws(enc([ct({ zone: { field: 'NXM_NX_REG6' } })]), codec(/NXM_NX_REG6: 32 bits, a zone has 16/));
  assert.throws(enc([ct({ zone: 0x10000 })]), codec(/ct zone 65536/));
  assert.throws(enc([ct({ table: 255 })]), codec(/ct table 255/));
});

test('a ct action the model cannot hold (the force flag) stays opaque and the entry unmodelled', () => {
  const flow: Flow = { table: 1, priority: 1, cookie: 0n, match: { ethType: 0x0800 }, actions: [ct({ commit: true })] };
  const buf = encodeMessage({ type: 'multipart_reply', xid: 1, flags: 0, reply: { kind: 'flow', entries: [{ ...statsOf(flow), flow }] } });
  const at = buf.indexOf(Buffer.from('00002320' + '0023' + '0001', 'hex'));
  assert.ok(at > 0);
  buf.writeUInt16BE(0x0003, at + 6); // NX_CT_F_COMMIT | NX_CT_F_FORCE
  const m = decodeMessage(buf);
  assert.ok(m.type === 'multipart_reply' && m.reply.kind === 'flow');
  if (m.type !== 'multipart_reply' || m.reply.kind !== 'flow') return;
  const e = m.reply.entries[0]!;
  assert.equal(e.flow, undefined);
  assert.match(e.undecoded?.[0]?.description ?? '', /vendor=0x2320 subtype=35/);
});

function statsOf(flow: Flow) {
  return {
    table: flow.table, priority: flow.priority, cookie: flow.cookie ?? 0n, packetCount: 0n, byteCount: 0n,
    durationSec: 0, durationNsec: 0, idleTimeout: 0, hardTimeout: 0, flags: 0,
  };
}
