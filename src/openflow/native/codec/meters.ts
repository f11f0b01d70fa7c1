// OpenFlow 1.3 meter messages (§7.3.4.4 OFPT_METER_MOD, §7.3.5.13-14 OFPMP_METER_CONFIG and
// OFPMP_METER_FEATURES), between the wire and the model of src/openflow/meter.ts. Each layout is
// written once here; messages.ts frames them.
import type { Meter, MeterBand, MeterBandType, MeterCapability, MeterFeatures, MeterMod } from '../../meter.js';
import { METER_MOD_FAILURES } from '../../meter.js';
import type { Reader, Writer } from './buffer.js';
import { OfCodecError } from './errors.js';

export const OFPT_METER_MOD = 29;
export const OFPMP_METER_CONFIG = 10;
export const OFPMP_METER_FEATURES = 11;
/** OFPET_METER_MOD_FAILED: the error type of a refused meter mod. */
export const OFPET_METER_MOD_FAILED = 12;
/** OFPM_ALL: every meter, in a meter config request. */
export const OFPM_ALL = 0xffffffff;

const OFPMC = { add: 0, modify: 1, delete: 2 } as const;
const OFPMC_NAMES = ['add', 'modify', 'delete'] as const;
/** ofp_meter_flags. */
const OFPMF = { kbps: 1, pktps: 2, burst: 4, stats: 8 } as const;
const OFPMBT_DROP = 1;
/** ofp_meter_band_drop: type, len, rate, burst_size, 4 pad bytes. */
const BAND_DROP_LEN = 16;
/** ofp_meter_config before its bands: length, flags, meter_id. */
const METER_CONFIG_HEADER_LEN = 8;

/** 1 << OFPMBT_* in OFPMP_METER_FEATURES band_types. */
const BAND_TYPE_BITS: [MeterBandType, number][] = [
  ['drop', 1 << 1],
  ['dscp_remark', 1 << 2],
];
const CAPABILITY_BITS: [MeterCapability, number][] = [
  ['kbps', OFPMF.kbps],
  ['pktps', OFPMF.pktps],
  ['burst', OFPMF.burst],
  ['stats', OFPMF.stats],
];

/** The OFPMMFC name of a meter mod error code, if OpenFlow 1.3 names it. */
export function meterModFailureName(code: number): string | undefined {
  return METER_MOD_FAILURES[code];
}

function meterFlags(m: Meter): number {
  return OFPMF[m.unit] | (m.burst ? OFPMF.burst : 0) | (m.stats ? OFPMF.stats : 0);
}

function putBands(w: Writer, bands: readonly MeterBand[]): void {
  for (const b of bands) {
    for (const [what, v] of [['rate', b.rate], ['burst_size', b.burstSize ?? 0]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new OfCodecError(`meter band ${what} ${v} is not a 32-bit number`);
    }
    w.u16(OFPMBT_DROP).u16(BAND_DROP_LEN).u32(b.rate).u32(b.burstSize ?? 0).zeros(4);
  }
}

/**
 * Bands up to the end of `r`; a band of another type is refused (Open vSwitch has only drop).
 * Without OFPMF_BURST a band's burst_size means nothing (OVS reports the rate there) and is left out.
 */
function decodeBands(r: Reader, meterId: number, flags: number): MeterBand[] {
  const bands: MeterBand[] = [];
  while (r.remaining > 0) {
    const type = r.u16('meter band type');
    const len = r.u16('meter band length');
    if (len < BAND_DROP_LEN || len % 8 !== 0) throw new OfCodecError(`meter ${meterId}: band length ${len}`);
    const body = r.sub(len - 4, 'meter band');
    if (type !== OFPMBT_DROP) throw new OfCodecError(`meter ${meterId}: band type ${type} is not drop, the only band the model has`);
    const rate = body.u32('meter band rate');
    const burstSize = body.u32('meter band burst_size');
    bands.push(burstSize && flags & OFPMF.burst ? { type: 'drop', rate, burstSize } : { type: 'drop', rate });
  }
  return bands;
}

/** A meter from its wire flags: exactly one unit, as the switch requires. */
function meterFrom(id: number, flags: number, bands: MeterBand[]): Meter {
  const kbps = (flags & OFPMF.kbps) !== 0;
  if (kbps === ((flags & OFPMF.pktps) !== 0)) throw new OfCodecError(`meter ${id}: flags 0x${flags.toString(16)} name neither or both of kbps and pktps`);
  const m: Meter = { id, unit: kbps ? 'kbps' : 'pktps', bands };
  if (flags & OFPMF.burst) m.burst = true;
  if (flags & OFPMF.stats) m.stats = true;
  return m;
}

/** ofp_meter_mod after the header: command, flags, meter_id, bands. */
export function putMeterMod(w: Writer, mod: MeterMod): void {
  const id = mod.command === 'delete' ? mod.meterId : mod.meter.id;
  if (!Number.isInteger(id) || id < 1 || id > 0xffffffff) throw new OfCodecError(`meter id ${id} is not a meter`);
  if (mod.command === 'delete') {
    w.u16(OFPMC.delete).u16(0).u32(id);
    return;
  }
  w.u16(OFPMC[mod.command]).u16(meterFlags(mod.meter)).u32(id);
  putBands(w, mod.meter.bands);
}

export function decodeMeterMod(r: Reader): MeterMod {
  const code = r.u16('meter_mod command');
  const flags = r.u16('meter_mod flags');
  const meterId = r.u32('meter_mod meter_id');
  const command = OFPMC_NAMES[code];
  if (command === undefined) throw new OfCodecError(`meter_mod command ${code} unknown`);
  const bands = decodeBands(r, meterId, flags);
  if (command === 'delete') return { command, meterId };
  return { command, meter: meterFrom(meterId, flags, bands) };
}

/** One ofp_meter_config of a METER_CONFIG reply. */
export function putMeterConfig(w: Writer, m: Meter): void {
  const start = w.pos;
  w.u16(0).u16(meterFlags(m)).u32(m.id);
  putBands(w, m.bands);
  w.setU16(start, w.pos - start);
}

export function decodeMeterConfig(r: Reader): Meter {
  const start = r.pos;
  const length = r.u16('meter_config length');
  if (length < METER_CONFIG_HEADER_LEN) throw new OfCodecError(`meter_config length ${length} < ${METER_CONFIG_HEADER_LEN}`);
  r.pos = start;
  const e = r.sub(length, 'meter_config entry');
  e.skip(2);
  const flags = e.u16('meter_config flags');
  const id = e.u32('meter_config meter_id');
  return meterFrom(id, flags, decodeBands(e, id, flags));
}

/** ofp_meter_features: max_meter, band_types, capabilities, max_bands, max_color, 2 pad bytes. */
export function putMeterFeatures(w: Writer, f: MeterFeatures): void {
  const bits = <T>(names: readonly T[], table: [T, number][]): number => table.reduce((acc, [n, bit]) => (names.includes(n) ? acc | bit : acc), 0);
  w.u32(f.maxMeter).u32(bits(f.bandTypes, BAND_TYPE_BITS)).u32(bits(f.capabilities, CAPABILITY_BITS)).u8(f.maxBands).u8(f.maxColor).zeros(2);
}

/** Bits the model has no word for are left out: they say nothing about the drop meters it makes. */
export function decodeMeterFeatures(r: Reader): MeterFeatures {
  const maxMeter = r.u32('meter_features max_meter');
  const bandBits = r.u32('meter_features band_types');
  const capabilityBits = r.u32('meter_features capabilities');
  const maxBands = r.u8('meter_features max_bands');
  const maxColor = r.u8('meter_features max_color');
  r.skip(2);
  return {
    maxMeter,
    bandTypes: BAND_TYPE_BITS.filter(([, bit]) => bandBits & bit).map(([n]) => n),
    capabilities: CAPABILITY_BITS.filter(([, bit]) => capabilityBits & bit).map(([n]) => n),
    maxBands,
    maxColor,
  };
}
