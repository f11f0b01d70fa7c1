// OpenFlow 1.3 (wire version 0x04) messages: encode and decode as pure functions over Buffers.
// Only the messages the agent's controller needs are modelled; anything else decodes to
// { type: 'unknown' } with its raw body, so a switch's asynchronous messages never break a session.
import type { Action, Match } from '../../flow.js';
import { OFPTT_ALL } from '../../flow.js';
import type { MeterMod } from '../../meter.js';
import { Reader, Writer } from './buffer.js';
import { OfCodecError } from './errors.js';
import { decodeInstructions, putInstructions } from './actions.js';
import { decodeMatch, putMatch } from './fields.js';
import { decodePacketIn, putPacketIn, type PacketInBody } from './packet-in.js';
import { decodePacketOut, putPacketOut, type PacketOutBody } from './packet-out.js';
import { decodeMeterMod, meterModFailureName, OFPET_METER_MOD_FAILED, OFPT_METER_MOD, putMeterMod } from './meters.js';
import {
  decodeMultipartReply,
  decodeMultipartRequest,
  multipartType,
  putMultipartReply,
  putMultipartRequest,
  type MultipartReply,
  type MultipartRequest,
} from './multipart.js';

export {
  OFPMP,
  OFPMPF_REPLY_MORE,
  OFPMPF_REQ_MORE,
  type FlowStatsEntry,
  type FlowStatsRequestBody,
  type MultipartReply,
  type MultipartRequest,
  type PortDescEntry,
} from './multipart.js';

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
  PACKET_OUT: 13,
  FLOW_MOD: 14,
  MULTIPART_REQUEST: 18,
  MULTIPART_REPLY: 19,
  BARRIER_REQUEST: 20,
  BARRIER_REPLY: 21,
  METER_MOD: OFPT_METER_MOD,
} as const;

export const OFPFC = { ADD: 0, MODIFY: 1, MODIFY_STRICT: 2, DELETE: 3, DELETE_STRICT: 4 } as const;
export type FlowModCommand = 'add' | 'modify' | 'modify_strict' | 'delete' | 'delete_strict';
const COMMAND_CODES: Record<FlowModCommand, number> = { add: 0, modify: 1, modify_strict: 2, delete: 3, delete_strict: 4 };
const COMMAND_NAMES: FlowModCommand[] = ['add', 'modify', 'modify_strict', 'delete', 'delete_strict'];

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
  const codeName = type === 5 ? OFPFMFC_NAMES[code] : type === OFPET_METER_MOD_FAILED ? meterModFailureName(code) : undefined;
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
  meter?: number;
  actions: Action[];
  gotoTable?: number;
}

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
  | { type: 'meter_mod'; xid: number; mod: MeterMod }
  | { type: 'barrier_request'; xid: number }
  | { type: 'barrier_reply'; xid: number }
  | { type: 'multipart_request'; xid: number; flags: number; request: MultipartRequest }
  | { type: 'multipart_reply'; xid: number; flags: number; reply: MultipartReply }
  | ({ type: 'packet_in'; xid: number } & PacketInBody)
  | ({ type: 'packet_out'; xid: number } & PacketOutBody)
  | { type: 'unknown'; xid: number; version: number; msgType: number; data: Buffer };

export type OfMessageType = OfMessage['type'];
export type { PacketInBody, PacketOutBody };

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
  putInstructions(w, fm);
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
    case 'meter_mod':
      start = header(w, OFPT.METER_MOD, msg.xid);
      putMeterMod(w, msg.mod);
      break;
    case 'multipart_request':
      start = header(w, OFPT.MULTIPART_REQUEST, msg.xid);
      w.u16(multipartType(msg.request)).u16(msg.flags).zeros(4);
      putMultipartRequest(w, msg.request);
      break;
    case 'multipart_reply':
      start = header(w, OFPT.MULTIPART_REPLY, msg.xid);
      w.u16(multipartType(msg.reply)).u16(msg.flags).zeros(4);
      putMultipartReply(w, msg.reply);
      break;
    case 'packet_in':
      start = header(w, OFPT.PACKET_IN, msg.xid);
      putPacketIn(w, msg);
      break;
    case 'packet_out':
      start = header(w, OFPT.PACKET_OUT, msg.xid);
      putPacketOut(w, msg);
      break;
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

/** ofp_flow_mod after the header; refused when it holds what the model has no words for. */
function decodeFlowMod(r: Reader, xid: number): OfMessage {
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
  if (ins.meter !== undefined) msg.meter = ins.meter;
  return msg;
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
    case OFPT.FLOW_MOD:
      return decodeFlowMod(r, xid);
    case OFPT.METER_MOD:
      return { type: 'meter_mod', xid, mod: decodeMeterMod(r) };
    case OFPT.PACKET_IN:
      return { type: 'packet_in', xid, ...decodePacketIn(r) };
    case OFPT.PACKET_OUT:
      return { type: 'packet_out', xid, ...decodePacketOut(r) };
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
