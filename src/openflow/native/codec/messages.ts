// OpenFlow 1.3 (wire version 0x04) messages: encode and decode as pure functions over Buffers.
// Only the messages the agent's controller needs are modelled; anything else decodes to
// { type: 'unknown' } with its raw body, so a switch's asynchronous messages never break a session.
import type { Action, FlowStats, Match, PortDesc } from '../../flow.js';
import { OFPTT_ALL } from '../../flow.js';
import { bytesToMac } from './addr.js';
import { Reader, Writer } from './buffer.js';
import { OfCodecError } from './errors.js';
import { decodeInstructions, putInstructions, type Undecoded } from './actions.js';
import { decodeMatch, putMatch, type OpaqueOxm } from './fields.js';

export const OFP_VERSION = 0x04;
export const OFP_HEADER_LEN = 8;

export const OFPT = {
  HELLO: 0,
  ERROR: 1,
  ECHO_REQUEST: 2,
  ECHO_REPLY: 3,
  EXPERIMENTER: 4,
  FEATURES_REQUEST: 5,
  FEATURES_REPLY: 6,
  GET_CONFIG_REQUEST: 7,
  GET_CONFIG_REPLY: 8,
  SET_CONFIG: 9,
  PACKET_IN: 10,
  FLOW_REMOVED: 11,
  PORT_STATUS: 12,
  FLOW_MOD: 14,
  MULTIPART_REQUEST: 18,
  MULTIPART_REPLY: 19,
  BARRIER_REQUEST: 20,
  BARRIER_REPLY: 21,
} as const;

export const OFPFC = { ADD: 0, MODIFY: 1, MODIFY_STRICT: 2, DELETE: 3, DELETE_STRICT: 4 } as const;
export type FlowModCommand = 'add' | 'modify' | 'modify_strict' | 'delete' | 'delete_strict';
const COMMAND_CODES: Record<FlowModCommand, number> = { add: 0, modify: 1, modify_strict: 2, delete: 3, delete_strict: 4 };
const COMMAND_NAMES: FlowModCommand[] = ['add', 'modify', 'modify_strict', 'delete', 'delete_strict'];

export const OFPMP = { DESC: 0, FLOW: 1, AGGREGATE: 2, TABLE: 3, PORT_STATS: 4, PORT_DESC: 13 } as const;
export const OFPMPF_REQ_MORE = 1;
export const OFPMPF_REPLY_MORE = 1;
export const OFP_NO_BUFFER = 0xffffffff;
export const OFPP_ANY = 0xffffffff;
export const OFPG_ANY = 0xffffffff;
export const OFPHET_VERSIONBITMAP = 1;

/** OFPT_ERROR types (OpenFlow 1.3 §7.4.4), by number, for readable messages. */
export const OFPET_NAMES: Record<number, string> = {
  0: 'OFPET_HELLO_FAILED',
  1: 'OFPET_BAD_REQUEST',
  2: 'OFPET_BAD_ACTION',
  3: 'OFPET_BAD_INSTRUCTION',
  4: 'OFPET_BAD_MATCH',
  5: 'OFPET_FLOW_MOD_FAILED',
  6: 'OFPET_GROUP_MOD_FAILED',
  7: 'OFPET_PORT_MOD_FAILED',
  8: 'OFPET_TABLE_MOD_FAILED',
  9: 'OFPET_QUEUE_OP_FAILED',
  10: 'OFPET_SWITCH_CONFIG_FAILED',
  11: 'OFPET_ROLE_REQUEST_FAILED',
  12: 'OFPET_METER_MOD_FAILED',
  13: 'OFPET_TABLE_FEATURES_FAILED',
  0xffff: 'OFPET_EXPERIMENTER',
};
export const OFPET = { HELLO_FAILED: 0, BAD_REQUEST: 1 } as const;
export const OFPHFC_INCOMPATIBLE = 0;

/** OpenFlow 1.3 §7.4.4 ofp_flow_mod_failed_code: the errors flow programming meets most. */
const OFPFMFC_NAMES: Record<number, string> = {
  0: 'OFPFMFC_UNKNOWN',
  1: 'OFPFMFC_TABLE_FULL',
  2: 'OFPFMFC_BAD_TABLE_ID',
  3: 'OFPFMFC_OVERLAP',
  4: 'OFPFMFC_EPERM',
  5: 'OFPFMFC_BAD_TIMEOUT',
  6: 'OFPFMFC_BAD_COMMAND',
  7: 'OFPFMFC_BAD_FLAGS',
};

export function errorName(type: number, code: number): string {
  const codeName = type === 5 ? OFPFMFC_NAMES[code] : undefined;
  return `${OFPET_NAMES[type] ?? `type ${type}`} code ${code}${codeName ? ` (${codeName})` : ''}`;
}

/** A FLOW_MOD as it is on the wire (OpenFlow 1.3 §7.3.4.1). */
export interface FlowModBody {
  command: FlowModCommand;
  cookie: bigint;
  cookieMask: bigint;
  tableId: number;
  idleTimeout: number;
  hardTimeout: number;
  priority: number;
  bufferId: number;
  outPort: number;
  outGroup: number;
  flags: number;
  match: Match;
  actions: Action[];
  gotoTable?: number;
}

export interface FlowStatsRequestBody {
  tableId: number;
  outPort: number;
  outGroup: number;
  cookie: bigint;
  cookieMask: bigint;
  match: Match;
}

/** One decoded ofp_flow_stats entry: `flow` is set unless something in it could not be modelled. */
export interface FlowStatsEntry extends FlowStats {
  durationNsec: number;
  flags: number;
  /** Parts of the entry the codec could not model (flow is then absent). */
  undecoded?: Undecoded[];
}

export interface PortDescEntry extends PortDesc {
  config: number;
  state: number;
}

export type MultipartRequest =
  | { kind: 'flow'; body: FlowStatsRequestBody }
  | { kind: 'port_desc' }
  | { kind: 'other'; mpType: number; data: Buffer };

export type MultipartReply =
  | { kind: 'flow'; entries: FlowStatsEntry[] }
  | { kind: 'port_desc'; ports: PortDescEntry[] }
  | { kind: 'other'; mpType: number; data: Buffer };

export type OfMessage =
  | { type: 'hello'; xid: number; version: number; versions?: number[] }
  | { type: 'error'; xid: number; version: number; errType: number; code: number; data: Buffer; experimenter?: number }
  | { type: 'echo_request'; xid: number; data: Buffer }
  | { type: 'echo_reply'; xid: number; data: Buffer }
  | { type: 'features_request'; xid: number }
  | { type: 'features_reply'; xid: number; datapathId: bigint; nBuffers: number; nTables: number; auxiliaryId: number; capabilities: number }
  | { type: 'get_config_request'; xid: number }
  | { type: 'get_config_reply'; xid: number; flags: number; missSendLen: number }
  | { type: 'set_config'; xid: number; flags: number; missSendLen: number }
  | ({ type: 'flow_mod'; xid: number } & FlowModBody)
  | { type: 'barrier_request'; xid: number }
  | { type: 'barrier_reply'; xid: number }
  | { type: 'multipart_request'; xid: number; flags: number; request: MultipartRequest }
  | { type: 'multipart_reply'; xid: number; flags: number; reply: MultipartReply }
  | { type: 'unknown'; xid: number; version: number; msgType: number; data: Buffer };

export type OfMessageType = OfMessage['type'];

// ---- encoding ---------------------------------------------------------------------------------

function header(w: Writer, type: number, xid: number, version = OFP_VERSION): number {
  const start = w.pos;
  w.u8(version).u8(type).u16(0).u32(xid);
  return start;
}

function finishMsg(w: Writer, start: number): void {
  const len = w.pos - start;
  if (len > 0xffff) throw new OfCodecError(`message of ${len} bytes exceeds the 65535-byte OpenFlow limit`);
  w.setU16(start + 2, len);
}

function putFlowModBody(w: Writer, fm: FlowModBody): void {
  w.u64(fm.cookie)
    .u64(fm.cookieMask)
    .u8(fm.tableId)
    .u8(COMMAND_CODES[fm.command])
    .u16(fm.idleTimeout)
    .u16(fm.hardTimeout)
    .u16(fm.priority)
    .u32(fm.bufferId)
    .u32(fm.outPort)
    .u32(fm.outGroup)
    .u16(fm.flags)
    .zeros(2);
  putMatch(w, fm.match);
  putInstructions(w, fm.actions, fm.gotoTable);
}

/**
 * Append one message to a writer (lets a batch of flow mods share one buffer).
 * Over 80 lines as one switch with a short case per message type: the encoder table reads best whole.
 */
export function encodeInto(w: Writer, msg: OfMessage): void {
  let start: number;
  switch (msg.type) {
    case 'hello': {
      start = header(w, OFPT.HELLO, msg.xid, msg.version);
      if (msg.versions && msg.versions.length > 0) {
        const maxV = Math.max(...msg.versions);
        const words = new Array<number>(Math.floor(maxV / 32) + 1).fill(0);
        for (const v of msg.versions) words[Math.floor(v / 32)]! |= 1 << v % 32;
        const el = w.pos;
        w.u16(OFPHET_VERSIONBITMAP).u16(4 + 4 * words.length);
        for (const x of words) w.u32(x >>> 0);
        w.padFrom(el, 8);
      }
      break;
    }
    case 'error':
      start = header(w, OFPT.ERROR, msg.xid, msg.version);
      w.u16(msg.errType);
      if (msg.errType === 0xffff) w.u16(msg.code).u32(msg.experimenter ?? 0);
      else w.u16(msg.code);
      w.bytes(msg.data);
      break;
    case 'echo_request':
    case 'echo_reply':
      start = header(w, msg.type === 'echo_request' ? OFPT.ECHO_REQUEST : OFPT.ECHO_REPLY, msg.xid);
      w.bytes(msg.data);
      break;
    case 'features_request':
      start = header(w, OFPT.FEATURES_REQUEST, msg.xid);
      break;
    case 'features_reply':
      start = header(w, OFPT.FEATURES_REPLY, msg.xid);
      w.u64(msg.datapathId).u32(msg.nBuffers).u8(msg.nTables).u8(msg.auxiliaryId).zeros(2).u32(msg.capabilities).u32(0);
      break;
    case 'get_config_request':
      start = header(w, OFPT.GET_CONFIG_REQUEST, msg.xid);
      break;
    case 'get_config_reply':
    case 'set_config':
      start = header(w, msg.type === 'set_config' ? OFPT.SET_CONFIG : OFPT.GET_CONFIG_REPLY, msg.xid);
      w.u16(msg.flags).u16(msg.missSendLen);
      break;
    case 'flow_mod':
      start = header(w, OFPT.FLOW_MOD, msg.xid);
      putFlowModBody(w, msg);
      break;
    case 'barrier_request':
    case 'barrier_reply':
      start = header(w, msg.type === 'barrier_request' ? OFPT.BARRIER_REQUEST : OFPT.BARRIER_REPLY, msg.xid);
      break;
    case 'multipart_request': {
      start = header(w, OFPT.MULTIPART_REQUEST, msg.xid);
      const rq = msg.request;
      const mpType = rq.kind === 'flow' ? OFPMP.FLOW : rq.kind === 'port_desc' ? OFPMP.PORT_DESC : rq.mpType;
      w.u16(mpType).u16(msg.flags).zeros(4);
      if (rq.kind === 'flow') {
        const b = rq.body;
        w.u8(b.tableId).zeros(3).u32(b.outPort).u32(b.outGroup).zeros(4).u64(b.cookie).u64(b.cookieMask);
        putMatch(w, b.match);
      } else if (rq.kind === 'other') {
        w.bytes(rq.data);
      }
      break;
    }
    case 'multipart_reply': {
      start = header(w, OFPT.MULTIPART_REPLY, msg.xid);
      const rp = msg.reply;
      const mpType = rp.kind === 'flow' ? OFPMP.FLOW : rp.kind === 'port_desc' ? OFPMP.PORT_DESC : rp.mpType;
      w.u16(mpType).u16(msg.flags).zeros(4);
      if (rp.kind === 'flow') for (const e of rp.entries) putFlowStats(w, e);
      else if (rp.kind === 'port_desc') for (const p of rp.ports) putPort(w, p);
      else w.bytes(rp.data);
      break;
    }
    case 'unknown':
      start = header(w, msg.msgType, msg.xid, msg.version);
      w.bytes(msg.data);
      break;
  }
  finishMsg(w, start);
}

export function encodeMessage(msg: OfMessage): Buffer {
  const w = new Writer(msg.type === 'flow_mod' || msg.type === 'multipart_reply' ? 256 : 64);
  encodeInto(w, msg);
  return w.toBuffer();
}

function putFlowStats(w: Writer, e: FlowStatsEntry): void {
  if (!e.flow) throw new OfCodecError('cannot encode a flow-stats entry without its flow');
  const start = w.pos;
  w.u16(0)
    .u8(e.table)
    .u8(0)
    .u32(e.durationSec)
    .u32(e.durationNsec)
    .u16(e.priority)
    .u16(e.idleTimeout)
    .u16(e.hardTimeout)
    .u16(e.flags)
    .zeros(4)
    .u64(e.cookie)
    .u64(e.packetCount)
    .u64(e.byteCount);
  putMatch(w, e.flow.match);
  putInstructions(w, e.flow.actions, e.flow.gotoTable);
  w.setU16(start, w.pos - start);
}

function putPort(w: Writer, p: PortDescEntry): void {
  const name = Buffer.alloc(16);
  name.write(p.name.slice(0, 15), 'utf8');
  w.u32(p.portNo).zeros(4);
  w.bytes(Buffer.from(p.hwAddr.split(':').map((x) => parseInt(x, 16))));
  w.zeros(2).bytes(name).u32(p.config).u32(p.state).zeros(24);
}

// ---- decoding ---------------------------------------------------------------------------------

function decodeHello(r: Reader, xid: number, version: number): OfMessage {
  const msg: OfMessage = { type: 'hello', xid, version };
  while (r.remaining >= 4) {
    const elType = r.u16('hello element type');
    const elLen = r.u16('hello element length');
    if (elLen < 4) throw new OfCodecError(`hello element length ${elLen} < 4`);
    const body = r.sub(elLen - 4, 'hello element');
    r.skip(Math.min(r.remaining, (8 - (elLen % 8)) % 8));
    if (elType === OFPHET_VERSIONBITMAP) {
      const versions: number[] = [];
      for (let word = 0; body.remaining >= 4; word++) {
        const bits = body.u32('version bitmap');
        for (let b = 0; b < 32; b++) if (bits & (1 << b)) versions.push(word * 32 + b);
      }
      msg.versions = versions;
    }
  }
  return msg;
}

function decodeMatchUndecoded(unknown: OpaqueOxm[]): Undecoded[] {
  return unknown.map((u) => ({
    where: 'match' as const,
    description: `OXM field class=0x${(u.header >>> 16).toString(16)} field=${(u.header >>> 9) & 0x7f}`,
    data: u.payload,
  }));
}

function decodeFlowStatsEntry(r: Reader): FlowStatsEntry {
  const start = r.pos;
  const length = r.u16('flow_stats length');
  if (length < 56) throw new OfCodecError(`flow_stats entry length ${length} < 56`);
  r.pos = start;
  const e = r.sub(length, 'flow_stats entry');
  e.skip(2);
  const table = e.u8('table_id');
  e.skip(1);
  const durationSec = e.u32();
  const durationNsec = e.u32();
  const priority = e.u16();
  const idleTimeout = e.u16();
  const hardTimeout = e.u16();
  const flags = e.u16();
  e.skip(4);
  const cookie = e.u64();
  const packetCount = e.u64();
  const byteCount = e.u64();
  const m = decodeMatch(e);
  const ins = decodeInstructions(e);
  const undecoded = [...decodeMatchUndecoded(m.unknown), ...ins.unknown];
  const entry: FlowStatsEntry = {
    table,
    priority,
    cookie,
    packetCount,
    byteCount,
    durationSec,
    durationNsec,
    idleTimeout,
    hardTimeout,
    flags,
  };
  if (undecoded.length > 0) {
    entry.undecoded = undecoded;
  } else {
    entry.flow = { table, priority, match: m.match, actions: ins.actions, cookie };
    if (ins.gotoTable !== undefined) entry.flow.gotoTable = ins.gotoTable;
    if (idleTimeout) entry.flow.idleTimeout = idleTimeout;
    if (hardTimeout) entry.flow.hardTimeout = hardTimeout;
  }
  return entry;
}

function decodePort(r: Reader): PortDescEntry {
  const portNo = r.u32('port_no');
  r.skip(4);
  const hwAddr = bytesToMac(r.bytes(6, 'hw_addr'));
  r.skip(2);
  const rawName = r.bytes(16, 'port name');
  const nul = rawName.indexOf(0);
  const name = rawName.subarray(0, nul < 0 ? 16 : nul).toString('utf8');
  const config = r.u32('port config');
  const state = r.u32('port state');
  r.skip(24, 'port features/speeds');
  return { portNo, name, hwAddr, config, state };
}

function decodeMultipartReply(r: Reader, mpType: number): MultipartReply {
  if (mpType === OFPMP.FLOW) {
    const entries: FlowStatsEntry[] = [];
    while (r.remaining > 0) entries.push(decodeFlowStatsEntry(r));
    return { kind: 'flow', entries };
  }
  if (mpType === OFPMP.PORT_DESC) {
    const ports: PortDescEntry[] = [];
    while (r.remaining > 0) ports.push(decodePort(r));
    return { kind: 'port_desc', ports };
  }
  return { kind: 'other', mpType, data: Buffer.from(r.bytes(r.remaining)) };
}

function decodeMultipartRequest(r: Reader, mpType: number): MultipartRequest {
  if (mpType === OFPMP.FLOW) {
    const tableId = r.u8('table_id');
    r.skip(3);
    const outPort = r.u32('out_port');
    const outGroup = r.u32('out_group');
    r.skip(4);
    const cookie = r.u64('cookie');
    const cookieMask = r.u64('cookie_mask');
    const m = decodeMatch(r);
    if (m.unknown.length > 0) throw new OfCodecError('flow stats request with an undecodable match');
    return { kind: 'flow', body: { tableId, outPort, outGroup, cookie, cookieMask, match: m.match } };
  }
  if (mpType === OFPMP.PORT_DESC) return { kind: 'port_desc' };
  return { kind: 'other', mpType, data: Buffer.from(r.bytes(r.remaining)) };
}

function decodeBody(r: Reader, version: number, type: number, xid: number): OfMessage {
  if (type === OFPT.HELLO) return decodeHello(r, xid, version);
  if (type === OFPT.ERROR) {
    const errType = r.u16('error type');
    const code = r.u16('error code');
    if (errType === 0xffff) {
      const experimenter = r.u32('error experimenter');
      return { type: 'error', xid, version, errType, code, experimenter, data: Buffer.from(r.bytes(r.remaining)) };
    }
    return { type: 'error', xid, version, errType, code, data: Buffer.from(r.bytes(r.remaining)) };
  }
  if (version !== OFP_VERSION) return { type: 'unknown', xid, version, msgType: type, data: Buffer.from(r.bytes(r.remaining)) };
  switch (type) {
    case OFPT.ECHO_REQUEST:
      return { type: 'echo_request', xid, data: Buffer.from(r.bytes(r.remaining)) };
    case OFPT.ECHO_REPLY:
      return { type: 'echo_reply', xid, data: Buffer.from(r.bytes(r.remaining)) };
    case OFPT.FEATURES_REQUEST:
      return { type: 'features_request', xid };
    case OFPT.FEATURES_REPLY: {
      const datapathId = r.u64('datapath_id');
      const nBuffers = r.u32('n_buffers');
      const nTables = r.u8('n_tables');
      const auxiliaryId = r.u8('auxiliary_id');
      r.skip(2);
      const capabilities = r.u32('capabilities');
      r.skip(4, 'reserved');
      return { type: 'features_reply', xid, datapathId, nBuffers, nTables, auxiliaryId, capabilities };
    }
    case OFPT.GET_CONFIG_REQUEST:
      return { type: 'get_config_request', xid };
    case OFPT.GET_CONFIG_REPLY:
    case OFPT.SET_CONFIG: {
      const flags = r.u16('config flags');
      const missSendLen = r.u16('miss_send_len');
      return { type: type === OFPT.SET_CONFIG ? 'set_config' : 'get_config_reply', xid, flags, missSendLen };
    }
    case OFPT.FLOW_MOD: {
      const cookie = r.u64('cookie');
      const cookieMask = r.u64('cookie_mask');
      const tableId = r.u8('table_id');
      const cmd = r.u8('command');
      const command = COMMAND_NAMES[cmd];
      if (!command) throw new OfCodecError(`flow_mod command ${cmd} unknown`);
      const idleTimeout = r.u16();
      const hardTimeout = r.u16();
      const priority = r.u16();
      const bufferId = r.u32();
      const outPort = r.u32();
      const outGroup = r.u32();
      const flags = r.u16();
      r.skip(2);
      const m = decodeMatch(r);
      const ins = decodeInstructions(r);
      if (m.unknown.length > 0 || ins.unknown.length > 0) throw new OfCodecError('flow_mod with fields or actions this codec does not model');
      const msg: OfMessage = {
        type: 'flow_mod', xid, command, cookie, cookieMask, tableId, idleTimeout, hardTimeout, priority,
        bufferId, outPort, outGroup, flags, match: m.match, actions: ins.actions,
      };
      if (ins.gotoTable !== undefined) msg.gotoTable = ins.gotoTable;
      return msg;
    }
    case OFPT.BARRIER_REQUEST:
      return { type: 'barrier_request', xid };
    case OFPT.BARRIER_REPLY:
      return { type: 'barrier_reply', xid };
    case OFPT.MULTIPART_REQUEST:
    case OFPT.MULTIPART_REPLY: {
      const mpType = r.u16('multipart type');
      const flags = r.u16('multipart flags');
      r.skip(4);
      if (type === OFPT.MULTIPART_REQUEST) return { type: 'multipart_request', xid, flags, request: decodeMultipartRequest(r, mpType) };
      return { type: 'multipart_reply', xid, flags, reply: decodeMultipartReply(r, mpType) };
    }
    default:
      return { type: 'unknown', xid, version, msgType: type, data: Buffer.from(r.bytes(r.remaining)) };
  }
}

/**
 * Decode one complete message (as produced by MessageSplitter). Throws OfCodecError, and only
 * that, when the bytes are malformed.
 */
export function decodeMessage(buf: Buffer): OfMessage {
  try {
    if (buf.length < OFP_HEADER_LEN) throw new OfCodecError(`message of ${buf.length} bytes is shorter than the header`);
    const version = buf[0]!;
    const type = buf[1]!;
    const length = buf.readUInt16BE(2);
    const xid = buf.readUInt32BE(4);
    if (length !== buf.length) throw new OfCodecError(`header length ${length} != buffer length ${buf.length}`);
    return decodeBody(new Reader(buf, OFP_HEADER_LEN, length), version, type, xid);
  } catch (e) {
    if (e instanceof OfCodecError) throw e;
    // Anything else is a bug in a decoder; still surface it as a codec error with the cause.
    throw new OfCodecError(`decoder failure: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Fill FLOW_MOD wire defaults. */
export function flowModBody(partial: Partial<FlowModBody> & { command: FlowModCommand }): FlowModBody {
  return {
    cookie: 0n,
    cookieMask: 0n,
    tableId: 0,
    idleTimeout: 0,
    hardTimeout: 0,
    priority: 0,
    bufferId: OFP_NO_BUFFER,
    outPort: OFPP_ANY,
    outGroup: OFPG_ANY,
    flags: 0,
    match: {},
    actions: [],
    ...partial,
  };
}

export { OFPTT_ALL };
