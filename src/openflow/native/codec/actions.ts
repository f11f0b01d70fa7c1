// OpenFlow 1.3 actions and instructions, plus the Nicira (vendor 0x00002320) extension actions
// the agent uses: resubmit, reg_move, reg_load, learn, ct, ct_clear and conjunction. Layouts follow
// OpenFlow 1.3 §7.2.5 and OVS's nicira-ext.h / ofp-actions.c. putAction and decodeNx dispatch;
// the conntrack and conjunction actions have their encoder and decoder side by side below.
import type { Action, CtAction, CtNat, FieldRef, LearnAction, LearnSpec, NxmFieldName, PortNo } from '../../flow.js';
import { OFPP } from '../../flow.js';
import { Reader, Writer } from './buffer.js';
import { OfCodecError } from './errors.js';
import { bytesToIpv4, ipv4ToBytes } from './addr.js';
import { decodeSetFieldTlv, nxmField, nxmFieldBits, nxmFieldByHeader, oxmClassOf, oxmLengthOf, putSetFieldTlv } from './fields.js';

export const OFPAT = { OUTPUT: 0, SET_QUEUE: 21, PUSH_VLAN: 17, POP_VLAN: 18, SET_FIELD: 25, EXPERIMENTER: 0xffff } as const;
export const OFPIT = { GOTO_TABLE: 1, WRITE_METADATA: 2, WRITE_ACTIONS: 3, APPLY_ACTIONS: 4, CLEAR_ACTIONS: 5, METER: 6 } as const;
export const NX_VENDOR_ID = 0x00002320;
export const NXAST = {
  RESUBMIT: 1,
  REG_MOVE: 6,
  REG_LOAD: 7,
  RESUBMIT_TABLE: 14,
  LEARN: 16,
  CONJUNCTION: 34,
  CT: 35,
  NAT: 36,
  CT_CLEAR: 43,
} as const;
/** OFPCML_NO_BUFFER: send the whole packet to the controller. */
export const OFPCML_NO_BUFFER = 0xffff;
/** OpenFlow 1.0-style 16-bit OFPP_IN_PORT, used by NXAST_RESUBMIT. */
const OFPP10_IN_PORT = 0xfff8;

const NX_LEARN_SRC_IMMEDIATE = 1 << 13;
const NX_LEARN_DST_MATCH = 0 << 11;
const NX_LEARN_DST_LOAD = 1 << 11;
const NX_LEARN_DST_OUTPUT = 2 << 11;
const NX_LEARN_N_BITS_MASK = 0x3ff;

/** nx_action_conntrack flags: NX_CT_F_COMMIT; NX_CT_F_FORCE (0x2) is not in the model. */
const NX_CT_F_COMMIT = 0x1;
/** nx_action_conntrack.recirc_table when the packet is not recirculated. */
const NX_CT_RECIRC_NONE = 0xff;
/** nx_action_nat flags and range_present bits the model uses. */
const NX_NAT_F_SRC = 0x1;
const NX_NAT_F_DST = 0x2;
const NX_NAT_RANGE_IPV4_MIN = 0x1;
/** OVS accepts 2..64 clauses per conjunction (decode_NXAST_RAW_CONJUNCTION). */
const CONJUNCTION_MAX_CLAUSES = 64;

/** Something in a flow the codec has no model for; kept byte-exact so the entry is still usable. */
export interface Undecoded {
  where: 'match' | 'action' | 'instruction';
  description: string;
  data: Buffer;
}

const RESERVED_BY_NUMBER = new Map<number, keyof typeof OFPP>(
  (Object.entries(OFPP) as [keyof typeof OFPP, number][]).map(([k, v]) => [v, k]),
);

export function portNumber(p: PortNo): number {
  if (typeof p === 'number') return p;
  const n = OFPP[p];
  if (n === undefined) throw new OfCodecError(`unknown reserved port ${String(p)}`);
  return n;
}

export function portFromNumber(n: number): PortNo {
  return RESERVED_BY_NUMBER.get(n) ?? n;
}

/** max_len an output action gets when the model does not say: whole packet to the controller, 0 otherwise. */
export function defaultMaxLen(port: number): number {
  return port === OFPP.CONTROLLER ? OFPCML_NO_BUFFER : 0;
}

function resolveRef(ref: FieldRef, what: string): { header: number; ofs: number; nBits: number } {
  const d = nxmField(ref.field);
  const ofs = ref.ofs ?? 0;
  const nBits = ref.nBits ?? d.bits - ofs;
  if (ofs < 0 || nBits <= 0 || ofs + nBits > d.bits) {
    throw new OfCodecError(`${what}: bit range ${ofs}+${nBits} outside ${ref.field} (${d.bits} bits)`);
  }
  return { header: d.header, ofs, nBits };
}

function refFrom(header: number, ofs: number, nBits: number): FieldRef | undefined {
  const field = nxmFieldByHeader(header);
  if (!field) return undefined;
  const bits = nxmFieldBits(field);
  if (ofs + nBits > bits || nBits <= 0) return undefined;
  return ofs === 0 && nBits === bits ? { field } : { field, ofs, nBits };
}

function nxHeader(w: Writer, subtype: number): number {
  const start = w.pos;
  w.u16(OFPAT.EXPERIMENTER).u16(0).u32(NX_VENDOR_ID).u16(subtype);
  return start;
}

function finish(w: Writer, start: number): void {
  w.padFrom(start, 8);
  w.setU16(start + 2, w.pos - start);
}

function putImmediate(w: Writer, value: bigint, nBits: number, what: string): void {
  const nBytes = Math.ceil(nBits / 16) * 2;
  if (value < 0n || value >> BigInt(nBits) !== 0n) throw new OfCodecError(`${what}: value ${value} does not fit in ${nBits} bits`);
  for (let i = nBytes - 1; i >= 0; i--) w.u8(Number((value >> BigInt(i * 8)) & 0xffn));
}

function putLearn(w: Writer, a: LearnAction): void {
  const start = nxHeader(w, NXAST.LEARN);
  w.u16(a.idleTimeout ?? 0)
    .u16(a.hardTimeout ?? 0)
    .u16(a.priority)
    .u64(a.cookie ?? 0n)
    .u16(a.flags ?? 0)
    .u8(a.table)
    .u8(0)
    .u16(a.finIdleTimeout ?? 0)
    .u16(a.finHardTimeout ?? 0);
  for (const s of a.specs) {
    switch (s.kind) {
      case 'match_field':
      case 'load_field': {
        const dst = resolveRef(s.dst, `learn ${s.kind} dst`);
        const src = resolveRef(s.src, `learn ${s.kind} src`);
        if (src.nBits !== dst.nBits) throw new OfCodecError(`learn ${s.kind}: ${s.src.field} and ${s.dst.field} ranges differ in width`);
        w.u16((s.kind === 'match_field' ? NX_LEARN_DST_MATCH : NX_LEARN_DST_LOAD) | dst.nBits);
        w.u32(src.header).u16(src.ofs).u32(dst.header).u16(dst.ofs);
        break;
      }
      case 'match_value':
      case 'load_value': {
        const dst = resolveRef(s.dst, `learn ${s.kind} dst`);
        w.u16(NX_LEARN_SRC_IMMEDIATE | (s.kind === 'match_value' ? NX_LEARN_DST_MATCH : NX_LEARN_DST_LOAD) | dst.nBits);
        putImmediate(w, s.value, dst.nBits, `learn ${s.kind} ${s.dst.field}`);
        w.u32(dst.header).u16(dst.ofs);
        break;
      }
      case 'output': {
        const src = resolveRef(s.src, 'learn output src');
        w.u16(NX_LEARN_DST_OUTPUT | src.nBits);
        w.u32(src.header).u16(src.ofs);
        break;
      }
    }
  }
  // Specs end at a zero header or at the end of the action; padding provides both.
  finish(w, start);
}

// ---- conntrack and conjunction (Nicira), each encoder next to its decoder --------------------

/**
 * struct nx_action_conntrack: flags, zone_src (an NXM header, or 0 for an immediate zone),
 * zone_ofs_nbits or zone_imm, recirc_table, 3 pad bytes, alg; then the nested actions, all
 * counted in the action's length.
 */
function putCt(w: Writer, a: CtAction): void {
  const start = nxHeader(w, NXAST.CT);
  w.u16(a.commit ? NX_CT_F_COMMIT : 0);
  if (a.zone === undefined || typeof a.zone === 'number') {
    const zone = a.zone ?? 0;
    if (!Number.isInteger(zone) || zone < 0 || zone > 0xffff) throw new OfCodecError(`ct zone ${zone} is not a 16-bit number`);
    w.u32(0).u16(zone);
  } else {
    const src = resolveRef(a.zone, 'ct zone');
    if (src.nBits > 16) throw new OfCodecError(`ct zone ${a.zone.field}: ${src.nBits} bits, a zone has 16`);
    w.u32(src.header).u16((src.ofs << 6) | (src.nBits - 1));
  }
  if (a.table !== undefined && (!Number.isInteger(a.table) || a.table < 0 || a.table >= NX_CT_RECIRC_NONE)) {
    throw new OfCodecError(`ct table ${a.table} is not a table number (0..254)`);
  }
  w.u8(a.table ?? NX_CT_RECIRC_NONE).zeros(3).u16(0);
  if (a.nat) putNat(w, a.nat);
  for (const x of a.exec ?? []) putAction(w, x);
  finish(w, start);
}

/** struct nx_action_nat: 2 pad bytes, flags, range_present, then the IPv4 address when given. */
function putNat(w: Writer, nat: CtNat): void {
  const start = nxHeader(w, NXAST.NAT);
  const flags = nat.kind === 'src' ? NX_NAT_F_SRC : nat.kind === 'dst' ? NX_NAT_F_DST : 0;
  w.zeros(2).u16(flags).u16(nat.ipv4 !== undefined ? NX_NAT_RANGE_IPV4_MIN : 0);
  if (nat.ipv4 !== undefined) w.bytes(ipv4ToBytes(nat.ipv4));
  finish(w, start);
}

/** A nested NXAST_NAT the model can say (one kind, at most one IPv4 address), else undefined. */
function decodeNat(raw: Buffer): CtNat | undefined {
  if (raw.length < 16 || raw.readUInt16BE(0) !== OFPAT.EXPERIMENTER || raw.readUInt32BE(4) !== NX_VENDOR_ID || raw.readUInt16BE(8) !== NXAST.NAT) return undefined;
  const flags = raw.readUInt16BE(12);
  const ranges = raw.readUInt16BE(14);
  if ((flags & ~(NX_NAT_F_SRC | NX_NAT_F_DST)) !== 0 || flags === (NX_NAT_F_SRC | NX_NAT_F_DST) || (ranges & ~NX_NAT_RANGE_IPV4_MIN) !== 0) return undefined;
  const nat: CtNat = {};
  if (flags) nat.kind = flags === NX_NAT_F_SRC ? 'src' : 'dst';
  if (ranges & NX_NAT_RANGE_IPV4_MIN) {
    if (raw.length < 20) return undefined;
    nat.ipv4 = bytesToIpv4(raw.subarray(16, 20));
  }
  return nat;
}

/** The body of nx_action_conntrack after its subtype; undefined for what the model cannot say (force, alg, nat). */
function decodeCt(r: Reader): CtAction | undefined {
  const flags = r.u16('ct flags');
  const zoneSrc = r.u32('ct zone_src');
  const zoneOfsNbits = r.u16('ct zone');
  const table = r.u8('ct recirc_table');
  r.skip(3);
  const alg = r.u16('ct alg');
  if ((flags & ~NX_CT_F_COMMIT) !== 0 || alg !== 0) return undefined;
  const a: CtAction = { type: 'ct' };
  if (flags & NX_CT_F_COMMIT) a.commit = true;
  if (table !== NX_CT_RECIRC_NONE) a.table = table;
  if (zoneSrc !== 0) {
    const zone = refFrom(zoneSrc, zoneOfsNbits >> 6, (zoneOfsNbits & 0x3f) + 1);
    if (!zone) return undefined;
    a.zone = zone;
  } else if (zoneOfsNbits !== 0) {
    // Zone 0 is the default zone: OVS neither prints nor distinguishes an explicit zone=0.
    a.zone = zoneOfsNbits;
  }
  const nested = decodeActions(r);
  const nats = nested.unknown.map((u) => decodeNat(u.data));
  if (nats.length > 1 || nats.some((n) => n === undefined)) return undefined;
  if (nats[0]) a.nat = nats[0];
  if (nested.actions.length > 0) a.exec = nested.actions;
  return a;
}

/** struct nx_action_conjunction: clause (counted from 0 on the wire), n_clauses, id. */
function putConjunction(w: Writer, a: Extract<Action, { type: 'conjunction' }>): void {
  const { id, clause, nClauses } = a;
  if (!Number.isInteger(nClauses) || nClauses < 2 || nClauses > CONJUNCTION_MAX_CLAUSES) {
    throw new OfCodecError(`conjunction(${id},${clause}/${nClauses}): number of clauses must be 2..${CONJUNCTION_MAX_CLAUSES}`);
  }
  if (!Number.isInteger(clause) || clause < 1 || clause > nClauses) {
    throw new OfCodecError(`conjunction(${id},${clause}/${nClauses}): clause must be 1..${nClauses}`);
  }
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new OfCodecError(`conjunction id ${id} is not a 32-bit number`);
  const start = nxHeader(w, NXAST.CONJUNCTION);
  w.u8(clause - 1).u8(nClauses).u32(id);
  finish(w, start);
}

/** The body of nx_action_conjunction after its subtype; what OVS itself refuses is not modelled. */
function decodeConjunction(r: Reader): Action | undefined {
  const clause = r.u8('conjunction clause');
  const nClauses = r.u8('conjunction n_clauses');
  const id = r.u32('conjunction id');
  if (nClauses < 2 || nClauses > CONJUNCTION_MAX_CLAUSES || clause >= nClauses) return undefined;
  return { type: 'conjunction', id, clause: clause + 1, nClauses };
}

/** NXAST_CT_CLEAR has no body: the 10-byte Nicira header padded to 16 (ext_action_header). */
function putCtClear(w: Writer): void {
  finish(w, nxHeader(w, NXAST.CT_CLEAR));
}

export function putAction(w: Writer, a: Action): void {
  const start = w.pos;
  switch (a.type) {
    case 'output': {
      const port = portNumber(a.port);
      w.u16(OFPAT.OUTPUT).u16(16).u32(port).u16(a.maxLen ?? defaultMaxLen(port)).zeros(6);
      return;
    }
    case 'push_vlan':
      w.u16(OFPAT.PUSH_VLAN).u16(8).u16(a.ethertype).zeros(2);
      return;
    case 'pop_vlan':
      w.u16(OFPAT.POP_VLAN).u16(8).zeros(4);
      return;
    case 'set_field':
      w.u16(OFPAT.SET_FIELD).u16(0);
      putSetFieldTlv(w, a.field, a.value);
      finish(w, start);
      return;
    case 'resubmit': {
      const inPort = a.inPort ?? OFPP10_IN_PORT;
      if (a.table === undefined) {
        nxHeader(w, NXAST.RESUBMIT);
        w.u16(inPort).zeros(4);
      } else {
        nxHeader(w, NXAST.RESUBMIT_TABLE);
        w.u16(inPort).u8(a.table).zeros(3);
      }
      finish(w, start);
      return;
    }
    case 'move': {
      const src = resolveRef(a.src, 'move src');
      const dst = resolveRef(a.dst, 'move dst');
      if (src.nBits !== dst.nBits) throw new OfCodecError(`move ${a.src.field}->${a.dst.field}: ranges differ in width`);
      nxHeader(w, NXAST.REG_MOVE);
      w.u16(src.nBits).u16(src.ofs).u16(dst.ofs).u32(src.header).u32(dst.header);
      finish(w, start);
      return;
    }
    case 'load': {
      const dst = resolveRef(a.dst, 'load dst');
      if (a.value < 0n || a.value >> BigInt(dst.nBits) !== 0n) {
        throw new OfCodecError(`load ${a.value}->${a.dst.field}: value does not fit in ${dst.nBits} bits`);
      }
      nxHeader(w, NXAST.REG_LOAD);
      w.u16((dst.ofs << 6) | (dst.nBits - 1)).u32(dst.header).u64(a.value);
      finish(w, start);
      return;
    }
    case 'learn':
      putLearn(w, a);
      return;
    case 'ct':
      putCt(w, a);
      return;
    case 'ct_clear':
      putCtClear(w);
      return;
    case 'conjunction':
      putConjunction(w, a);
      return;
    case 'set_queue':
      if (!Number.isInteger(a.queueId) || a.queueId < 0 || a.queueId > 0xffffffff) throw new OfCodecError(`set_queue ${a.queueId} is not a 32-bit queue id`);
      w.u16(OFPAT.SET_QUEUE).u16(8).u32(a.queueId);
      return;
    default: {
      const never: never = a;
      throw new OfCodecError(`cannot encode action ${JSON.stringify(never)}`);
    }
  }
}

export function putActions(w: Writer, actions: Action[]): void {
  for (const a of actions) putAction(w, a);
}

/** What a flow's instructions say, as the model has it (Flow and FlowModBody both are one). */
export interface InstructionsModel {
  meter?: number;
  actions: Action[];
  gotoTable?: number;
}

/** Instructions of a flow, in the order OpenFlow 1.3 applies them: meter, apply-actions, goto-table; none = drop. */
export function putInstructions(w: Writer, { meter, actions, gotoTable }: InstructionsModel): void {
  if (meter !== undefined) {
    if (!Number.isInteger(meter) || meter < 1 || meter > 0xffffffff) throw new OfCodecError(`meter ${meter} is not a meter id`);
    w.u16(OFPIT.METER).u16(8).u32(meter);
  }
  if (actions.length > 0) {
    const start = w.pos;
    w.u16(OFPIT.APPLY_ACTIONS).u16(0).zeros(4);
    putActions(w, actions);
    w.setU16(start + 2, w.pos - start);
  }
  if (gotoTable !== undefined) w.u16(OFPIT.GOTO_TABLE).u16(8).u8(gotoTable).zeros(3);
}

// ---- decoding -------------------------------------------------------------------------------

/** Read an NXM/OXM header inside an action: 4 bytes, or 8 for experimenter-class headers. */
function readFieldHeader(r: Reader, what: string): number {
  const h = r.u32(what);
  if (oxmClassOf(h) === 0xffff) r.skip(4, `${what} experimenter id`);
  return h;
}

function decodeLearnSpecs(r: Reader): LearnSpec[] | undefined {
  const specs: LearnSpec[] = [];
  while (r.remaining >= 2) {
    const h = r.u16('learn spec header');
    if (h === 0) break;
    const nBits = h & NX_LEARN_N_BITS_MASK;
    const immediate = (h & NX_LEARN_SRC_IMMEDIATE) !== 0;
    const dstType = h & (3 << 11);
    if ((h & 0xc000) !== 0 || nBits === 0) return undefined;
    let srcRef: FieldRef | undefined;
    let value: bigint | undefined;
    if (immediate) {
      const b = r.bytes(Math.ceil(nBits / 16) * 2, 'learn immediate value');
      value = 0n;
      for (const x of b) value = (value << 8n) | BigInt(x);
    } else {
      const sh = readFieldHeader(r, 'learn src field');
      srcRef = refFrom(sh, r.u16('learn src ofs'), nBits);
      if (!srcRef) return undefined;
    }
    if (dstType === NX_LEARN_DST_OUTPUT) {
      if (!srcRef) return undefined;
      specs.push({ kind: 'output', src: srcRef });
      continue;
    }
    if (dstType !== NX_LEARN_DST_MATCH && dstType !== NX_LEARN_DST_LOAD) return undefined;
    const dh = readFieldHeader(r, 'learn dst field');
    const dst = refFrom(dh, r.u16('learn dst ofs'), nBits);
    if (!dst) return undefined;
    const isMatch = dstType === NX_LEARN_DST_MATCH;
    if (srcRef) specs.push({ kind: isMatch ? 'match_field' : 'load_field', dst, src: srcRef });
    else specs.push({ kind: isMatch ? 'match_value' : 'load_value', dst, value: value! });
  }
  return specs;
}

/** One Nicira action body (after the 10-byte experimenter header); undefined if not in the model. */
function decodeNx(subtype: number, r: Reader): Action | undefined {
  switch (subtype) {
    case NXAST.RESUBMIT: {
      const inPort = r.u16('resubmit in_port');
      return inPort === OFPP10_IN_PORT ? { type: 'resubmit' } : { type: 'resubmit', inPort };
    }
    case NXAST.RESUBMIT_TABLE: {
      const inPort = r.u16('resubmit in_port');
      const table = r.u8('resubmit table');
      const a: Action = { type: 'resubmit' };
      if (inPort !== OFPP10_IN_PORT) a.inPort = inPort;
      if (table !== 0xff) a.table = table;
      return a;
    }
    case NXAST.REG_MOVE: {
      const nBits = r.u16('reg_move n_bits');
      const srcOfs = r.u16('reg_move src_ofs');
      const dstOfs = r.u16('reg_move dst_ofs');
      const src = refFrom(readFieldHeader(r, 'reg_move src'), srcOfs, nBits);
      const dst = refFrom(readFieldHeader(r, 'reg_move dst'), dstOfs, nBits);
      return src && dst ? { type: 'move', src, dst } : undefined;
    }
    case NXAST.REG_LOAD: {
      const ofsNbits = r.u16('reg_load ofs_nbits');
      const dst = refFrom(r.u32('reg_load dst'), ofsNbits >> 6, (ofsNbits & 0x3f) + 1);
      const value = r.u64('reg_load value');
      return dst ? { type: 'load', dst, value } : undefined;
    }
    case NXAST.LEARN: {
      const idleTimeout = r.u16('learn idle_timeout');
      const hardTimeout = r.u16('learn hard_timeout');
      const priority = r.u16('learn priority');
      const cookie = r.u64('learn cookie');
      const flags = r.u16('learn flags');
      const table = r.u8('learn table_id');
      r.skip(1);
      const finIdleTimeout = r.u16('learn fin_idle_timeout');
      const finHardTimeout = r.u16('learn fin_hard_timeout');
      const specs = decodeLearnSpecs(r);
      if (!specs) return undefined;
      const a: LearnAction = { type: 'learn', table, priority, specs };
      if (idleTimeout) a.idleTimeout = idleTimeout;
      if (hardTimeout) a.hardTimeout = hardTimeout;
      if (finIdleTimeout) a.finIdleTimeout = finIdleTimeout;
      if (finHardTimeout) a.finHardTimeout = finHardTimeout;
      if (cookie) a.cookie = cookie;
      if (flags) a.flags = flags;
      return a;
    }
    case NXAST.CONJUNCTION:
      return decodeConjunction(r);
    case NXAST.CT:
      return decodeCt(r);
    case NXAST.CT_CLEAR:
      return { type: 'ct_clear' };
    default:
      return undefined;
  }
}

function decodeOneAction(type: number, r: Reader): Action | undefined {
  switch (type) {
    case OFPAT.OUTPUT: {
      const port = r.u32('output port');
      const maxLen = r.u16('output max_len');
      const a: Action = { type: 'output', port: portFromNumber(port) };
      if (maxLen !== defaultMaxLen(port)) a.maxLen = maxLen;
      return a;
    }
    case OFPAT.PUSH_VLAN:
      return { type: 'push_vlan', ethertype: r.u16('push_vlan ethertype') };
    case OFPAT.POP_VLAN:
      return { type: 'pop_vlan' };
    case OFPAT.SET_QUEUE:
      return { type: 'set_queue', queueId: r.u32('set_queue queue_id') };
    case OFPAT.SET_FIELD: {
      const header = r.u32('set_field OXM header');
      const payload = r.bytes(oxmLengthOf(header), 'set_field OXM payload');
      const sf = decodeSetFieldTlv(header, payload);
      return sf ? { type: 'set_field', field: sf.field, value: sf.value } : undefined;
    }
    case OFPAT.EXPERIMENTER: {
      const vendor = r.u32('experimenter id');
      if (vendor !== NX_VENDOR_ID) return undefined;
      return decodeNx(r.u16('Nicira subtype'), r);
    }
    default:
      return undefined;
  }
}

export interface DecodedActions {
  actions: Action[];
  unknown: Undecoded[];
}

/** Decode an action list. Unknown actions are kept opaque; broken framing throws OfCodecError. */
export function decodeActions(r: Reader): DecodedActions {
  const actions: Action[] = [];
  const unknown: Undecoded[] = [];
  while (r.remaining > 0) {
    const start = r.pos;
    const type = r.u16('action type');
    const len = r.u16('action length');
    if (len < 8 || len % 8 !== 0) throw new OfCodecError(`action type ${type} has bad length ${len}`);
    const body = r.sub(len - 4, `action type ${type}`);
    const raw = r.buf.subarray(start, start + len);
    let a: Action | undefined;
    try {
      a = decodeOneAction(type, body);
    } catch (e) {
      // A body too short for its type: keep it opaque rather than losing the whole entry.
      if (!(e instanceof OfCodecError)) throw e;
      a = undefined;
    }
    if (a) actions.push(a);
    else unknown.push({ where: 'action', description: describeRawAction(raw), data: Buffer.from(raw) });
  }
  return { actions, unknown };
}

function describeRawAction(raw: Buffer): string {
  const type = raw.readUInt16BE(0);
  if (type === OFPAT.EXPERIMENTER && raw.length >= 10) {
    const vendor = raw.readUInt32BE(4);
    return `experimenter action vendor=0x${vendor.toString(16)} subtype=${raw.readUInt16BE(8)}`;
  }
  return `action type ${type}`;
}

export interface DecodedInstructions extends InstructionsModel {
  unknown: Undecoded[];
}

export function decodeInstructions(r: Reader): DecodedInstructions {
  const out: DecodedInstructions = { actions: [], unknown: [] };
  while (r.remaining > 0) {
    const start = r.pos;
    const type = r.u16('instruction type');
    const len = r.u16('instruction length');
    if (len < 8 || len % 8 !== 0) throw new OfCodecError(`instruction type ${type} has bad length ${len}`);
    const body = r.sub(len - 4, `instruction type ${type}`);
    if (type === OFPIT.GOTO_TABLE) {
      out.gotoTable = body.u8('goto_table table_id');
    } else if (type === OFPIT.METER) {
      out.meter = body.u32('meter meter_id');
    } else if (type === OFPIT.APPLY_ACTIONS) {
      body.skip(4);
      const d = decodeActions(body);
      out.actions.push(...d.actions);
      out.unknown.push(...d.unknown);
    } else {
      out.unknown.push({ where: 'instruction', description: `instruction type ${type}`, data: Buffer.from(r.buf.subarray(start, start + len)) });
    }
  }
  return out;
}

export type { NxmFieldName };
