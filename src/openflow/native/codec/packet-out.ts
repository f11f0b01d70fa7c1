// OFPT_PACKET_OUT (OpenFlow 1.3 §7.3.7): a packet the controller hands the switch with the
// actions to apply to it (the dhcp extension's replies: output to the VM's port). The fixed part's
// layout is declared once (PACKET_OUT_FIXED); encoder and decoder both walk it.
import type { Action } from '../../flow.js';
import { Reader, Writer } from './buffer.js';
import { OfCodecError } from './errors.js';
import { decodeActions, putActions, type Undecoded } from './actions.js';

/** The fixed fields between the header and the action list, in wire order. */
export interface PacketOutFixed {
  /** OFP_NO_BUFFER: the packet is in `data` (the switch buffers nothing for this agent). */
  bufferId: number;
  /** The port the packet is taken as coming from (OFPP_CONTROLLER for a packet the agent built). */
  inPort: number;
}

export interface PacketOutBody extends PacketOutFixed {
  actions: Action[];
  /** Actions the model has no words for (decoding only), byte-exact. */
  unknownActions?: Undecoded[];
  data: Buffer;
}

const PACKET_OUT_FIXED: readonly { key: keyof PacketOutFixed; size: 4 }[] = [
  { key: 'bufferId', size: 4 },
  { key: 'inPort', size: 4 },
];
/** actions_len (2 bytes) then six zero bytes, then the actions. */
const PACKET_OUT_PAD = 6;

export function putPacketOut(w: Writer, p: PacketOutBody): void {
  for (const { key } of PACKET_OUT_FIXED) {
    const v = p[key];
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new OfCodecError(`packet_out ${key} ${String(v)} does not fit in 32 bits`);
    w.u32(v);
  }
  const lenAt = w.pos;
  w.u16(0).zeros(PACKET_OUT_PAD);
  const actionsStart = w.pos;
  putActions(w, p.actions);
  for (const u of p.unknownActions ?? []) w.bytes(u.data);
  const actionsLen = w.pos - actionsStart;
  if (actionsLen > 0xffff) throw new OfCodecError(`packet_out actions of ${actionsLen} bytes exceed 65535`);
  w.setU16(lenAt, actionsLen);
  w.bytes(p.data);
}

export function decodePacketOut(r: Reader): PacketOutBody {
  const fixed: Record<string, number> = {};
  for (const { key } of PACKET_OUT_FIXED) fixed[key] = r.u32(`packet_out ${key}`);
  const actionsLen = r.u16('packet_out actions_len');
  r.skip(PACKET_OUT_PAD, 'packet_out padding');
  const decoded = decodeActions(r.sub(actionsLen, 'packet_out actions'));
  const data = Buffer.from(r.bytes(r.remaining, 'packet_out data'));
  const body: PacketOutBody = { ...(fixed as unknown as PacketOutFixed), actions: decoded.actions, data };
  if (decoded.unknown.length) body.unknownActions = decoded.unknown;
  return body;
}
