// OpenFlow 1.3 multipart (OFPT_MULTIPART_REQUEST/REPLY) bodies: flow stats, port descriptions,
// meter configuration and meter features. messages.ts frames them; each body's layout is here once.
import type { FlowStats, Match, PortDesc } from '../../flow.js';
import type { Meter, MeterFeatures } from '../../meter.js';
import { bytesToMac } from './addr.js';
import type { Reader, Writer } from './buffer.js';
import { OfCodecError } from './errors.js';
import { decodeInstructions, putInstructions, type Undecoded } from './actions.js';
import { decodeMatch, putMatch, type OpaqueOxm } from './fields.js';
import { decodeMeterConfig, decodeMeterFeatures, OFPMP_METER_CONFIG, OFPMP_METER_FEATURES, putMeterConfig, putMeterFeatures } from './meters.js';

export const OFPMP = {
  DESC: 0, FLOW: 1, AGGREGATE: 2, TABLE: 3, PORT_STATS: 4, METER_CONFIG: OFPMP_METER_CONFIG, METER_FEATURES: OFPMP_METER_FEATURES, PORT_DESC: 13,
} as const;
export const OFPMPF_REQ_MORE = 1;
export const OFPMPF_REPLY_MORE = 1;

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
  /** One meter's configuration, or every meter's with OFPM_ALL. */
  | { kind: 'meter_config'; meterId: number }
  | { kind: 'meter_features' }
  | { kind: 'other'; mpType: number; data: Buffer };

export type MultipartReply =
  | { kind: 'flow'; entries: FlowStatsEntry[] }
  | { kind: 'port_desc'; ports: PortDescEntry[] }
  | { kind: 'meter_config'; meters: Meter[] }
  | { kind: 'meter_features'; features: MeterFeatures }
  | { kind: 'other'; mpType: number; data: Buffer };

/** The OFPMP_* number of a request or reply kind. */
export function multipartType(m: MultipartRequest | MultipartReply): number {
  switch (m.kind) {
    case 'flow': return OFPMP.FLOW;
    case 'port_desc': return OFPMP.PORT_DESC;
    case 'meter_config': return OFPMP.METER_CONFIG;
    case 'meter_features': return OFPMP.METER_FEATURES;
    case 'other': return m.mpType;
  }
}


export function putMultipartRequest(w: Writer, rq: MultipartRequest): void {
  switch (rq.kind) {
    case 'flow': {
      const b = rq.body;
      w.u8(b.tableId).zeros(3).u32(b.outPort).u32(b.outGroup).zeros(4).u64(b.cookie).u64(b.cookieMask);
      putMatch(w, b.match);
      return;
    }
    case 'meter_config':
      // ofp_meter_multipart_request: meter_id, 4 pad bytes.
      w.u32(rq.meterId).zeros(4);
      return;
    case 'other':
      w.bytes(rq.data);
      return;
    case 'port_desc':
    case 'meter_features':
      return;
  }
}

export function putMultipartReply(w: Writer, rp: MultipartReply): void {
  switch (rp.kind) {
    case 'flow': for (const e of rp.entries) putFlowStats(w, e); return;
    case 'port_desc': for (const p of rp.ports) putPort(w, p); return;
    case 'meter_config': for (const m of rp.meters) putMeterConfig(w, m); return;
    case 'meter_features': putMeterFeatures(w, rp.features); return;
    case 'other': w.bytes(rp.data); return;
  }
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
  putInstructions(w, e.flow);
  w.setU16(start, w.pos - start);
}

function putPort(w: Writer, p: PortDescEntry): void {
  const name = Buffer.alloc(16);
  name.write(p.name.slice(0, 15), 'utf8');
  w.u32(p.portNo).zeros(4);
  w.bytes(Buffer.from(p.hwAddr.split(':').map((x) => parseInt(x, 16))));
  w.zeros(2).bytes(name).u32(p.config).u32(p.state).zeros(24);
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
    if (ins.meter !== undefined) entry.flow.meter = ins.meter;
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

export function decodeMultipartReply(r: Reader, mpType: number): MultipartReply {
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
  if (mpType === OFPMP.METER_CONFIG) {
    const meters: Meter[] = [];
    while (r.remaining > 0) meters.push(decodeMeterConfig(r));
    return { kind: 'meter_config', meters };
  }
  if (mpType === OFPMP.METER_FEATURES) return { kind: 'meter_features', features: decodeMeterFeatures(r) };
  return { kind: 'other', mpType, data: Buffer.from(r.bytes(r.remaining)) };
}

export function decodeMultipartRequest(r: Reader, mpType: number): MultipartRequest {
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
  if (mpType === OFPMP.METER_CONFIG) {
    const meterId = r.u32('meter_config request meter_id');
    r.skip(4);
    return { kind: 'meter_config', meterId };
  }
  if (mpType === OFPMP.METER_FEATURES) return { kind: 'meter_features' };
  return { kind: 'other', mpType, data: Buffer.from(r.bytes(r.remaining)) };
}

