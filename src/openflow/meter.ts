// OpenFlow 1.3 meters (§7.3.4.4) in the model's plain data: what the QoS extension installs
// (packet-rate limits with OFPMF_PKTPS, bandwidth limits with OFPMF_KBPS on the userspace
// datapath) and what a meter dump gives back, so an audit compares the two directly.
// A flow sends its packets through a meter with Flow.meter (the OFPIT_METER instruction).

/** The unit of a meter's band rates: OFPMF_PKTPS (packets/s) or OFPMF_KBPS (kilobits/s). */
export type MeterUnit = 'pktps' | 'kbps';

/**
 * OFPMBT_DROP: packets above `rate` are dropped. `burstSize` (packets or kilobits, in the meter's
 * unit) only with the meter's burst flag: OpenFlow ignores it otherwise (OVS reports the rate there,
 * and ovs-ofctl neither prints nor takes it), so it is absent then, and when zero. Open vSwitch
 * implements no other band type (meter-features: `band_types: drop`), so no other is modelled.
 */
export interface MeterBand {
  type: 'drop';
  rate: number;
  burstSize?: number;
}

export interface Meter {
  /** 1..0xffff0000 (OFPM_MAX); the reserved ids above are not meters a controller makes. */
  id: number;
  unit: MeterUnit;
  /** OFPMF_BURST: the bands' burst sizes apply (ovs-ofctl wants a burst_size on every band then). */
  burst?: true;
  /** OFPMF_STATS: the switch keeps per-meter counters. */
  stats?: true;
  bands: MeterBand[];
}

export type MeterMod =
  | { command: 'add'; meter: Meter }
  | { command: 'modify'; meter: Meter }
  /** Deleting a meter deletes every flow whose meter instruction names it (OpenFlow 1.3 §6.6). */
  | { command: 'delete'; meterId: number };

/** Bits of OFPMP_METER_FEATURES capabilities (ofp_meter_flags), by the words ovs-ofctl prints. */
export type MeterCapability = 'kbps' | 'pktps' | 'burst' | 'stats';
/** Band types of OFPMP_METER_FEATURES (1 << OFPMBT_*), by the words ovs-ofctl prints. */
export type MeterBandType = 'drop' | 'dscp_remark';

export interface MeterFeatures {
  maxMeter: number;
  bandTypes: MeterBandType[];
  capabilities: MeterCapability[];
  maxBands: number;
  maxColor: number;
}

/** OFPM_MAX: the last meter id a controller may use. */
export const OFPM_MAX = 0xffff0000;

/**
 * One drop band at `rate`, the burst flag set when a burst is given: neutron's packet-rate limit
 * (pktps, rate = kpps * 1000, burst = kpps burst * 1000) and the agent's bandwidth limit (kbps).
 */
export function dropMeter(id: number, unit: MeterUnit, rate: number, burstSize?: number): Meter {
  if (burstSize === undefined || burstSize === 0) return { id, unit, bands: [{ type: 'drop', rate }] };
  return { id, unit, burst: true, bands: [{ type: 'drop', rate, burstSize }] };
}

/**
 * Whether the switch can meter at all: the reference's check, every figure non-zero (a datapath
 * without meter support answers zeros).
 */
export function metersUsable(f: MeterFeatures): boolean {
  return f.maxMeter > 0 && f.bandTypes.length > 0 && f.capabilities.length > 0 && f.maxBands > 0;
}

/** The switch refused a meter mod, by OpenFlow's name for why (ofp_meter_mod_failed_code). */
export type MeterModFailure =
  | 'OFPMMFC_UNKNOWN'
  | 'OFPMMFC_METER_EXISTS'
  | 'OFPMMFC_INVALID_METER'
  | 'OFPMMFC_UNKNOWN_METER'
  | 'OFPMMFC_BAD_COMMAND'
  | 'OFPMMFC_BAD_FLAGS'
  | 'OFPMMFC_BAD_RATE'
  | 'OFPMMFC_BAD_BURST'
  | 'OFPMMFC_BAD_BAND'
  | 'OFPMMFC_BAD_BAND_VALUE'
  | 'OFPMMFC_OUT_OF_METERS'
  | 'OFPMMFC_OUT_OF_BANDS';

/** ofp_meter_mod_failed_code by number (OpenFlow 1.3 §7.4.4). */
export const METER_MOD_FAILURES: readonly MeterModFailure[] = [
  'OFPMMFC_UNKNOWN',
  'OFPMMFC_METER_EXISTS',
  'OFPMMFC_INVALID_METER',
  'OFPMMFC_UNKNOWN_METER',
  'OFPMMFC_BAD_COMMAND',
  'OFPMMFC_BAD_FLAGS',
  'OFPMMFC_BAD_RATE',
  'OFPMMFC_BAD_BURST',
  'OFPMMFC_BAD_BAND',
  'OFPMMFC_BAD_BAND_VALUE',
  'OFPMMFC_OUT_OF_METERS',
  'OFPMMFC_OUT_OF_BANDS',
];

export function isMeterModFailure(name: string): name is MeterModFailure {
  return (METER_MOD_FAILURES as readonly string[]).includes(name);
}
