// OFPT_PACKET_IN (OpenFlow 1.3 §7.4.1): a packet the switch sends to the controller, with the
// pipeline fields it had (in_port, registers, metadata, tunnel, conntrack) as an OXM match.
// The fixed part's layout is declared once (PACKET_IN_FIXED); encoder and decoder both walk it.
import type { Match } from '../../flow.js';
import { Reader, Writer } from './buffer.js';
import { OfCodecError } from './errors.js';
import { decodeMatch, putMatch, type OpaqueOxm } from './fields.js';

/** The fixed fields between the header and the match, in wire order. */
export interface PacketInFixed {
  /** OFP_NO_BUFFER when the whole packet is in `data` (what `controller` actions ask for). */
  bufferId: number;
  /** The packet's full length on the datapath; `data` may be shorter (max_len). */
  totalLen: number;
  /** OFPR_NO_MATCH, OFPR_ACTION, OFPR_INVALID_TTL. */
  reason: number;
  tableId: number;
  /** The cookie of the flow that sent the packet (the log extension's per-port cookie). */
  cookie: bigint;
}

export interface PacketInBody extends PacketInFixed {
  match: Match;
  /** Match fields the model has no key for (ct_label, tunnel metadata ...), byte-exact. */
  unknownFields: OpaqueOxm[];
  data: Buffer;
}

type FixedSize = 1 | 2 | 4 | 8;

const PACKET_IN_FIXED: readonly { key: keyof PacketInFixed; size: FixedSize }[] = [
  { key: 'bufferId', size: 4 },
  { key: 'totalLen', size: 2 },
  { key: 'reason', size: 1 },
  { key: 'tableId', size: 1 },
  { key: 'cookie', size: 8 },
];
/** Two zero bytes between the padded match and the frame. */
const PACKET_IN_PAD = 2;

export const OFPR_NAMES: Record<number, string> = { 0: 'no_match', 1: 'action', 2: 'invalid_ttl' };

export function putPacketIn(w: Writer, p: PacketInBody): void {
  for (const { key, size } of PACKET_IN_FIXED) {
    const v = p[key];
    if (size === 8) {
      if (typeof v !== 'bigint') throw new OfCodecError(`packet_in ${key} must be a bigint`);
      w.u64(v);
      continue;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= 2 ** (size * 8)) {
      throw new OfCodecError(`packet_in ${key} ${String(v)} does not fit in ${size * 8} bits`);
    }
    if (size === 4) w.u32(v);
    else if (size === 2) w.u16(v);
    else w.u8(v);
  }
  putMatch(w, p.match, p.unknownFields);
  w.zeros(PACKET_IN_PAD);
  w.bytes(p.data);
}

export function decodePacketIn(r: Reader): PacketInBody {
  const fixed: Record<string, number | bigint> = {};
  for (const { key, size } of PACKET_IN_FIXED) {
    const what = `packet_in ${key}`;
    fixed[key] = size === 8 ? r.u64(what) : size === 4 ? r.u32(what) : size === 2 ? r.u16(what) : r.u8(what);
  }
  const m = decodeMatch(r);
  r.skip(PACKET_IN_PAD, 'packet_in padding');
  const data = Buffer.from(r.bytes(r.remaining, 'packet_in data'));
  return { ...(fixed as unknown as PacketInFixed), match: m.match, unknownFields: m.unknown, data };
}
