// Public surface of the pure OpenFlow 1.3 codec: what the controller, the native backend and the
// codec's own tests use. Field tables, TLV helpers and action encoders stay inside the codec.
export { OfCodecError } from './errors.js';
export { Writer } from './buffer.js';
export {
  decodeMessage,
  encodeInto,
  encodeMessage,
  errorName,
  flowModBody,
  OFP_VERSION,
  OFPET,
  OFPG_ANY,
  OFP_NO_BUFFER,
  OFPHFC_INCOMPATIBLE,
  OFPMPF_REPLY_MORE,
  OFPP_ANY,
  OFPT,
  type FlowModBody,
  type FlowStatsEntry,
  type MultipartReply,
  type MultipartRequest,
  type OfMessage,
  type PortDescEntry,
} from './messages.js';
export { OFPET_METER_MOD_FAILED, OFPM_ALL } from './meters.js';
export { MessageSplitter } from './stream.js';
export { OFPR_NAMES, type PacketInBody } from './packet-in.js';
export { type PacketOutBody } from './packet-out.js';
export { flowModToWire } from './model.js';
