// OXM/NXM field headers and the ofp_match (OFPMT_OXM) codec for the `Match` model.
// Header layout (OpenFlow 1.3 §7.2.3.2): class(16) | field(7) | hasmask(1) | length(8).
// Class 0x8000 = OFPXMC_OPENFLOW_BASIC, 0x0000 = NXM_OF (NXM0), 0x0001 = NXM_NX (NXM1).
import type { FieldValue, Match, Masked, NxmFieldName, SetFieldName } from '../../flow.js';
import { bytesToIpv4, bytesToIpv6, bytesToMac, ipv4ToBytes, ipv6ToBytes, macToBytes } from './addr.js';
import { Reader, Writer } from './buffer.js';
import { OfCodecError } from './errors.js';

export const OXM_CLASS = { NXM0: 0x0000, NXM1: 0x0001, OPENFLOW_BASIC: 0x8000, EXPERIMENTER: 0xffff } as const;

/** How a field's value is represented in the model. */
export type ValueKind = 'u8' | 'u16' | 'u32' | 'u64' | 'mac' | 'ipv4' | 'ipv6';

const KIND_BYTES: Record<ValueKind, number> = { u8: 1, u16: 2, u32: 4, u64: 8, mac: 6, ipv4: 4, ipv6: 16 };

export function oxmHeader(oxmClass: number, field: number, hasMask: boolean, length: number): number {
  return ((oxmClass << 16) | (field << 9) | (hasMask ? 0x100 : 0) | length) >>> 0;
}
export const oxmClassOf = (h: number): number => h >>> 16;
export const oxmFieldOf = (h: number): number => (h >>> 9) & 0x7f;
export const oxmHasMask = (h: number): boolean => (h & 0x100) !== 0;
export const oxmLengthOf = (h: number): number => h & 0xff;
/** Header with hasmask cleared and length reduced to the unmasked value length: identifies the field. */
export function oxmFieldId(h: number): number {
  const len = oxmHasMask(h) ? oxmLengthOf(h) / 2 : oxmLengthOf(h);
  return oxmHeader(oxmClassOf(h), oxmFieldOf(h), false, len);
}

export function encodeValue(kind: ValueKind, v: FieldValue, what: string): Buffer {
  const n = KIND_BYTES[kind];
  switch (kind) {
    case 'mac':
      if (typeof v !== 'string') throw new OfCodecError(`${what}: MAC address must be a string`);
      return macToBytes(v);
    case 'ipv4':
      if (typeof v !== 'string') throw new OfCodecError(`${what}: IPv4 address must be a string`);
      return ipv4ToBytes(v);
    case 'ipv6':
      if (typeof v !== 'string') throw new OfCodecError(`${what}: IPv6 address must be a string`);
      return ipv6ToBytes(v);
    default: {
      let big: bigint;
      if (typeof v === 'bigint') big = v;
      else if (typeof v === 'number' && Number.isInteger(v) && v >= 0) big = BigInt(v);
      else if (typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v)) big = BigInt(v);
      else throw new OfCodecError(`${what}: invalid integer value ${String(v)}`);
      if (big < 0n || big >> BigInt(n * 8) !== 0n) throw new OfCodecError(`${what}: value ${big} does not fit in ${n * 8} bits`);
      const b = Buffer.alloc(n);
      for (let i = n - 1; i >= 0; i--) {
        b[i] = Number(big & 0xffn);
        big >>= 8n;
      }
      return b;
    }
  }
}

export function decodeValue(kind: ValueKind, b: Buffer): FieldValue {
  switch (kind) {
    case 'mac':
      return bytesToMac(b);
    case 'ipv4':
      return bytesToIpv4(b);
    case 'ipv6':
      return bytesToIpv6(b);
    case 'u64':
      return b.readBigUInt64BE(0);
    case 'u32':
      return b.readUInt32BE(0);
    case 'u16':
      return b.readUInt16BE(0);
    case 'u8':
      return b[0]!;
  }
}

// ---- Match fields -------------------------------------------------------------------------

type ScalarMatchKey = Exclude<keyof Match, 'regs'>;

/**
 * How a match field appears in the model: a plain number (exact only), `Masked<T>` (maskable),
 * or a transport port, which is a number when exact and `{value, mask}` for a port range.
 */
type MatchShape = 'exact' | 'masked' | 'port';

interface MatchFieldDesc {
  key: ScalarMatchKey;
  oxmClass: number;
  field: number;
  kind: ValueKind;
  shape: MatchShape;
}

// In OXM field order: OVS checks each field's prerequisites as it parses, so eth_type must precede
// arp_*, ip_proto must precede tcp/udp, and so on. This order satisfies that.
const MATCH_FIELDS: MatchFieldDesc[] = [
  { key: 'inPort', oxmClass: 0x8000, field: 0, kind: 'u32', shape: 'exact' },
  { key: 'metadata', oxmClass: 0x8000, field: 2, kind: 'u64', shape: 'masked' },
  { key: 'ethDst', oxmClass: 0x8000, field: 3, kind: 'mac', shape: 'masked' },
  { key: 'ethSrc', oxmClass: 0x8000, field: 4, kind: 'mac', shape: 'masked' },
  { key: 'ethType', oxmClass: 0x8000, field: 5, kind: 'u16', shape: 'exact' },
  { key: 'vlanVid', oxmClass: 0x8000, field: 6, kind: 'u16', shape: 'masked' },
  { key: 'ipProto', oxmClass: 0x8000, field: 10, kind: 'u8', shape: 'exact' },
  { key: 'ipv4Src', oxmClass: 0x8000, field: 11, kind: 'ipv4', shape: 'masked' },
  { key: 'ipv4Dst', oxmClass: 0x8000, field: 12, kind: 'ipv4', shape: 'masked' },
  // OpenFlow 1.3 lists the L4 ports as exact-only; OVS accepts (and reports) them with a mask.
  { key: 'tcpSrc', oxmClass: 0x8000, field: 13, kind: 'u16', shape: 'port' },
  { key: 'tcpDst', oxmClass: 0x8000, field: 14, kind: 'u16', shape: 'port' },
  { key: 'udpSrc', oxmClass: 0x8000, field: 15, kind: 'u16', shape: 'port' },
  { key: 'udpDst', oxmClass: 0x8000, field: 16, kind: 'u16', shape: 'port' },
  { key: 'sctpSrc', oxmClass: 0x8000, field: 17, kind: 'u16', shape: 'port' },
  { key: 'sctpDst', oxmClass: 0x8000, field: 18, kind: 'u16', shape: 'port' },
  { key: 'icmpv4Type', oxmClass: 0x8000, field: 19, kind: 'u8', shape: 'exact' },
  { key: 'icmpv4Code', oxmClass: 0x8000, field: 20, kind: 'u8', shape: 'exact' },
  { key: 'arpOp', oxmClass: 0x8000, field: 21, kind: 'u16', shape: 'exact' },
  { key: 'arpSpa', oxmClass: 0x8000, field: 22, kind: 'ipv4', shape: 'masked' },
  { key: 'arpTpa', oxmClass: 0x8000, field: 23, kind: 'ipv4', shape: 'masked' },
  { key: 'arpSha', oxmClass: 0x8000, field: 24, kind: 'mac', shape: 'masked' },
  { key: 'arpTha', oxmClass: 0x8000, field: 25, kind: 'mac', shape: 'masked' },
  { key: 'ipv6Src', oxmClass: 0x8000, field: 26, kind: 'ipv6', shape: 'masked' },
  { key: 'ipv6Dst', oxmClass: 0x8000, field: 27, kind: 'ipv6', shape: 'masked' },
  { key: 'icmpv6Type', oxmClass: 0x8000, field: 29, kind: 'u8', shape: 'exact' },
  { key: 'icmpv6Code', oxmClass: 0x8000, field: 30, kind: 'u8', shape: 'exact' },
  { key: 'ndTarget', oxmClass: 0x8000, field: 31, kind: 'ipv6', shape: 'masked' },
  // Nicira (NXM1) fields, as nicira-ext.h / meta-flow.h number them. The conntrack and conjunction
  // fields have no OXM basic equivalent, so OVS reports them under class 0x0001 too.
  { key: 'tunId', oxmClass: 0x0001, field: 16, kind: 'u64', shape: 'masked' }, // NXM_NX_TUN_ID
  { key: 'pktMark', oxmClass: 0x0001, field: 33, kind: 'u32', shape: 'masked' }, // NXM_NX_PKT_MARK
  { key: 'conjId', oxmClass: 0x0001, field: 37, kind: 'u32', shape: 'exact' }, // NXM_NX_CONJ_ID
  { key: 'ctState', oxmClass: 0x0001, field: 105, kind: 'u32', shape: 'masked' }, // NXM_NX_CT_STATE
  { key: 'ctZone', oxmClass: 0x0001, field: 106, kind: 'u16', shape: 'exact' }, // NXM_NX_CT_ZONE
  { key: 'ctMark', oxmClass: 0x0001, field: 107, kind: 'u32', shape: 'masked' }, // NXM_NX_CT_MARK
];

/**
 * OVS keeps ct_state in 8 bits and reports an exact ct_state match as mask 0xff; the model says
 * "exact" by leaving the mask out, so that mask is dropped when decoding.
 */
const CT_STATE_ALL_BITS = 0xff;

const NXM_NX_REG_FIRST = 0; // NXM_NX_REG0..7 are NXM1 fields 0..7, 4 bytes each.
const OXM_OF_TUNNEL_ID = oxmHeader(0x8000, 38, false, 8);
const NXM_OF_IN_PORT16 = oxmHeader(0x0000, 0, false, 2);

const MATCH_BY_ID = new Map<number, MatchFieldDesc>();
for (const d of MATCH_FIELDS) MATCH_BY_ID.set(oxmHeader(d.oxmClass, d.field, false, KIND_BYTES[d.kind]), d);
// Alternative encodings a switch may answer with: OXM tunnel_id for tun_id.
MATCH_BY_ID.set(OXM_OF_TUNNEL_ID, MATCH_FIELDS.find((d) => d.key === 'tunId')!);

/** An OXM TLV the codec has no model field for; kept byte-exact. */
export interface OpaqueOxm {
  header: number;
  /** Everything after the 4-byte header (experimenter id included for class 0xffff). */
  payload: Buffer;
}

function isMasked<T>(v: unknown): v is Masked<T> {
  return typeof v === 'object' && v !== null && 'value' in v;
}

function putTlv(w: Writer, oxmClass: number, field: number, kind: ValueKind, value: FieldValue, mask: FieldValue | undefined, what: string): void {
  const n = KIND_BYTES[kind];
  const hasMask = mask !== undefined;
  w.u32(oxmHeader(oxmClass, field, hasMask, hasMask ? n * 2 : n));
  w.bytes(encodeValue(kind, value, what));
  if (hasMask) w.bytes(encodeValue(kind, mask, `${what} mask`));
}

/** Write the OXM TLVs of a match (no ofp_match framing). */
export function putOxmFields(w: Writer, match: Match): void {
  for (const d of MATCH_FIELDS) {
    const v = match[d.key];
    if (v === undefined) continue;
    if (d.shape === 'exact' || (d.shape === 'port' && typeof v === 'number')) {
      if (typeof v !== 'number') throw new OfCodecError(`match field ${d.key} must be a number`);
      putTlv(w, d.oxmClass, d.field, d.kind, v, undefined, `match ${d.key}`);
    } else {
      if (!isMasked<FieldValue>(v)) throw new OfCodecError(`match field ${d.key} must be {value, mask?}`);
      putTlv(w, d.oxmClass, d.field, d.kind, v.value, v.mask, `match ${d.key}`);
    }
  }
  if (match.regs) {
    for (const [k, v] of Object.entries(match.regs).sort((a, b) => Number(a[0]) - Number(b[0]))) {
      const reg = Number(k);
      if (!Number.isInteger(reg) || reg < 0 || reg > 7) throw new OfCodecError(`match on unknown register reg${k}`);
      putTlv(w, 0x0001, NXM_NX_REG_FIRST + reg, 'u32', v.value, v.mask, `match reg${reg}`);
    }
  }
}

/** ofp_match with OFPMT_OXM, padded to 8 bytes; `opaque` TLVs (kept from a decode) follow the model's. */
export function putMatch(w: Writer, match: Match, opaque: readonly OpaqueOxm[] = []): void {
  const start = w.pos;
  w.u16(1).u16(0);
  putOxmFields(w, match);
  for (const o of opaque) {
    if (oxmLengthOf(o.header) !== o.payload.length) throw new OfCodecError(`opaque OXM 0x${o.header.toString(16)}: length ${oxmLengthOf(o.header)} != payload ${o.payload.length}`);
    w.u32(o.header).bytes(o.payload);
  }
  w.setU16(start + 2, w.pos - start);
  w.padFrom(start, 8);
}

export interface DecodedMatch {
  match: Match;
  unknown: OpaqueOxm[];
}

/** Parse a run of OXM TLVs. Unknown fields are kept opaque; malformed TLVs throw OfCodecError. */
export function decodeOxmFields(r: Reader): DecodedMatch {
  const match: Match = {};
  const unknown: OpaqueOxm[] = [];
  const m = match as Record<string, unknown>;
  while (r.remaining > 0) {
    const header = r.u32('OXM header');
    const len = oxmLengthOf(header);
    const payload = r.bytes(len, 'OXM payload');
    const id = oxmFieldId(header);
    const hasMask = oxmHasMask(header);
    const cls = oxmClassOf(header);
    const d = cls === OXM_CLASS.EXPERIMENTER ? undefined : MATCH_BY_ID.get(id);
    const vlen = hasMask ? len / 2 : len;
    if (d && vlen === KIND_BYTES[d.kind] && (!hasMask || d.shape !== 'exact')) {
      const value = decodeValue(d.kind, payload.subarray(0, vlen));
      let mask = hasMask ? decodeValue(d.kind, payload.subarray(vlen)) : undefined;
      if (d.key === 'ctState' && mask === CT_STATE_ALL_BITS) mask = undefined;
      if (d.shape === 'exact' || (d.shape === 'port' && mask === undefined)) m[d.key] = value;
      else m[d.key] = mask === undefined ? { value } : { value, mask };
      continue;
    }
    if (cls === OXM_CLASS.NXM1 && oxmFieldOf(header) <= 7 && vlen === 4 && id === oxmHeader(1, oxmFieldOf(header), false, 4)) {
      const reg = oxmFieldOf(header) - NXM_NX_REG_FIRST;
      const value = payload.readUInt32BE(0);
      match.regs ??= {};
      match.regs[reg] = hasMask ? { value, mask: payload.readUInt32BE(4) } : { value };
      continue;
    }
    if (id === NXM_OF_IN_PORT16 && !hasMask) {
      match.inPort = payload.readUInt16BE(0);
      continue;
    }
    unknown.push({ header, payload: Buffer.from(payload) });
  }
  return { match, unknown };
}

/** Parse an ofp_match (type OFPMT_OXM) including its padding. */
export function decodeMatch(r: Reader): DecodedMatch {
  const type = r.u16('ofp_match.type');
  const length = r.u16('ofp_match.length');
  if (type !== 1) throw new OfCodecError(`ofp_match type ${type} is not OFPMT_OXM`);
  if (length < 4) throw new OfCodecError(`ofp_match length ${length} < 4`);
  const fields = r.sub(length - 4, 'ofp_match fields');
  const padded = Math.ceil(length / 8) * 8;
  r.skip(padded - length, 'ofp_match padding');
  return decodeOxmFields(fields);
}

// ---- Field references for NXM actions (move, load, learn) --------------------------------

interface NxmFieldDesc {
  header: number;
  bits: number;
}

const NXM_FIELDS: Record<NxmFieldName, NxmFieldDesc> = {
  NXM_OF_IN_PORT: { header: oxmHeader(0, 0, false, 2), bits: 16 },
  OXM_OF_IN_PORT: { header: oxmHeader(0x8000, 0, false, 4), bits: 32 },
  NXM_OF_ETH_DST: { header: oxmHeader(0, 1, false, 6), bits: 48 },
  NXM_OF_ETH_SRC: { header: oxmHeader(0, 2, false, 6), bits: 48 },
  NXM_OF_ETH_TYPE: { header: oxmHeader(0, 3, false, 2), bits: 16 },
  NXM_OF_VLAN_TCI: { header: oxmHeader(0, 4, false, 2), bits: 16 },
  NXM_OF_IP_SRC: { header: oxmHeader(0, 7, false, 4), bits: 32 },
  NXM_OF_IP_DST: { header: oxmHeader(0, 8, false, 4), bits: 32 },
  NXM_OF_IP_PROTO: { header: oxmHeader(0, 6, false, 1), bits: 8 },
  NXM_OF_TCP_SRC: { header: oxmHeader(0, 9, false, 2), bits: 16 },
  NXM_OF_TCP_DST: { header: oxmHeader(0, 10, false, 2), bits: 16 },
  NXM_OF_UDP_SRC: { header: oxmHeader(0, 11, false, 2), bits: 16 },
  NXM_OF_UDP_DST: { header: oxmHeader(0, 12, false, 2), bits: 16 },
  NXM_OF_ARP_OP: { header: oxmHeader(0, 15, false, 2), bits: 16 },
  NXM_OF_ARP_SPA: { header: oxmHeader(0, 16, false, 4), bits: 32 },
  NXM_OF_ARP_TPA: { header: oxmHeader(0, 17, false, 4), bits: 32 },
  NXM_NX_ARP_SHA: { header: oxmHeader(1, 17, false, 6), bits: 48 },
  NXM_NX_ARP_THA: { header: oxmHeader(1, 18, false, 6), bits: 48 },
  NXM_NX_TUN_ID: { header: oxmHeader(1, 16, false, 8), bits: 64 },
  NXM_NX_REG0: { header: oxmHeader(1, 0, false, 4), bits: 32 },
  NXM_NX_REG1: { header: oxmHeader(1, 1, false, 4), bits: 32 },
  NXM_NX_REG2: { header: oxmHeader(1, 2, false, 4), bits: 32 },
  NXM_NX_REG3: { header: oxmHeader(1, 3, false, 4), bits: 32 },
  NXM_NX_REG4: { header: oxmHeader(1, 4, false, 4), bits: 32 },
  NXM_NX_REG5: { header: oxmHeader(1, 5, false, 4), bits: 32 },
  NXM_NX_REG6: { header: oxmHeader(1, 6, false, 4), bits: 32 },
  NXM_NX_REG7: { header: oxmHeader(1, 7, false, 4), bits: 32 },
  NXM_NX_CT_ZONE: { header: oxmHeader(1, 106, false, 2), bits: 16 },
  NXM_NX_CT_MARK: { header: oxmHeader(1, 107, false, 4), bits: 32 },
  NXM_NX_PKT_MARK: { header: oxmHeader(1, 33, false, 4), bits: 32 },
  OXM_OF_METADATA: { header: oxmHeader(0x8000, 2, false, 8), bits: 64 },
};

const NXM_BY_HEADER = new Map<number, NxmFieldName>();
for (const [name, d] of Object.entries(NXM_FIELDS) as [NxmFieldName, NxmFieldDesc][]) NXM_BY_HEADER.set(d.header, name);
// A switch may re-encode these with their OpenFlow-basic headers.
NXM_BY_HEADER.set(OXM_OF_TUNNEL_ID, 'NXM_NX_TUN_ID');

export function nxmField(name: NxmFieldName): NxmFieldDesc {
  const d = NXM_FIELDS[name];
  if (!d) throw new OfCodecError(`unknown NXM field ${String(name)}`);
  return d;
}

/** NXM field name for a (4-byte, unmasked) header, or undefined. */
export function nxmFieldByHeader(header: number): NxmFieldName | undefined {
  return NXM_BY_HEADER.get(oxmFieldId(header));
}

export function nxmFieldBits(name: NxmFieldName): number {
  return nxmField(name).bits;
}

// ---- Set-field targets ----------------------------------------------------------------------

interface SetFieldDesc {
  oxmClass: number;
  field: number;
  kind: ValueKind;
}

const SET_FIELDS: Record<SetFieldName, SetFieldDesc> = {
  vlan_vid: { oxmClass: 0x8000, field: 6, kind: 'u16' },
  eth_dst: { oxmClass: 0x8000, field: 3, kind: 'mac' },
  eth_src: { oxmClass: 0x8000, field: 4, kind: 'mac' },
  arp_op: { oxmClass: 0x8000, field: 21, kind: 'u16' },
  ipv4_dst: { oxmClass: 0x8000, field: 12, kind: 'ipv4' },
  arp_spa: { oxmClass: 0x8000, field: 22, kind: 'ipv4' },
  arp_tpa: { oxmClass: 0x8000, field: 23, kind: 'ipv4' },
  arp_sha: { oxmClass: 0x8000, field: 24, kind: 'mac' },
  arp_tha: { oxmClass: 0x8000, field: 25, kind: 'mac' },
  tun_id: { oxmClass: 0x8000, field: 38, kind: 'u64' },
  reg0: { oxmClass: 0x0001, field: 0, kind: 'u32' },
  reg1: { oxmClass: 0x0001, field: 1, kind: 'u32' },
  reg2: { oxmClass: 0x0001, field: 2, kind: 'u32' },
  reg3: { oxmClass: 0x0001, field: 3, kind: 'u32' },
  reg4: { oxmClass: 0x0001, field: 4, kind: 'u32' },
  reg5: { oxmClass: 0x0001, field: 5, kind: 'u32' },
  reg6: { oxmClass: 0x0001, field: 6, kind: 'u32' },
  reg7: { oxmClass: 0x0001, field: 7, kind: 'u32' },
  ct_mark: { oxmClass: 0x0001, field: 107, kind: 'u32' },
  metadata: { oxmClass: 0x8000, field: 2, kind: 'u64' },
  pkt_mark: { oxmClass: 0x0001, field: 33, kind: 'u32' },
  ip_dscp: { oxmClass: 0x8000, field: 8, kind: 'u8' },
};

const SET_FIELD_BY_ID = new Map<number, SetFieldName>();
for (const [name, d] of Object.entries(SET_FIELDS) as [SetFieldName, SetFieldDesc][]) {
  SET_FIELD_BY_ID.set(oxmHeader(d.oxmClass, d.field, false, KIND_BYTES[d.kind]), name);
}
SET_FIELD_BY_ID.set(NXM_FIELDS.NXM_NX_TUN_ID.header, 'tun_id');

/** Write one unmasked OXM TLV for a set_field action. */
export function putSetFieldTlv(w: Writer, field: SetFieldName, value: FieldValue): void {
  const d = SET_FIELDS[field];
  if (!d) throw new OfCodecError(`set_field on unsupported field ${String(field)}`);
  putTlv(w, d.oxmClass, d.field, d.kind, value, undefined, `set_field ${field}`);
}

/** Decode the OXM TLV of a set_field; undefined when the field is not in the model. */
export function decodeSetFieldTlv(header: number, payload: Buffer): { field: SetFieldName; value: FieldValue } | undefined {
  if (oxmHasMask(header)) return undefined;
  const name = SET_FIELD_BY_ID.get(header);
  if (!name) return undefined;
  const d = SET_FIELDS[name];
  if (payload.length !== KIND_BYTES[d.kind]) return undefined;
  return { field: name, value: decodeValue(d.kind, payload) };
}
