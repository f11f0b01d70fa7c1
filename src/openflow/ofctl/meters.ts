// `ovs-ofctl -O OpenFlow13 dump-meters` and `meter-features` output back into the meter model
// (src/openflow/meter.ts), and the meter-mod error ovs-ofctl reports, as Open vSwitch 3.1 prints
// them:
//   meter=7 pktps burst bands=
//   type=drop rate=1000 burst_size=100
// and
//   max_meter:262144 max_bands:8 max_color:0
//   band_types: drop
//   capabilities: kbps pktps burst stats
import type { Meter, MeterBand, MeterBandType, MeterCapability, MeterFeatures, MeterModFailure } from '../meter.js';
import { isMeterModFailure } from '../meter.js';

/** A word of a meter dump the model has no place for, or a malformed one. */
export class MeterTextError extends Error {
  constructor(readonly token: string, why: string) {
    super(`cannot decode '${token}' in a meter dump: ${why}`);
    this.name = 'MeterTextError';
  }
}

function u32(text: string, token: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 0xffffffff) throw new MeterTextError(token, `'${text}' is not a 32-bit number`);
  return Number(text);
}

/** A meter's words after `meter=N` up to the next meter: flags, `bands=`, then each band's `type=` and values. */
function parseMeterWords(id: number, words: string[]): Meter {
  let unit: Meter['unit'] | undefined;
  const meter: Omit<Meter, 'unit'> = { id, bands: [] };
  let band: MeterBand | undefined;
  for (const w of words) {
    const [key, value] = w.split('=') as [string, string | undefined];
    if (value === undefined) {
      if (w === 'kbps' || w === 'pktps') unit = w;
      else if (w === 'burst') meter.burst = true;
      else if (w === 'stats') meter.stats = true;
      else throw new MeterTextError(w, `unknown flag of meter ${id}`);
    } else if (key === 'bands' && value === '') {
      continue;
    } else if (key === 'type') {
      if (value !== 'drop') throw new MeterTextError(w, 'drop is the only band type the model has');
      band = { type: 'drop', rate: 0 };
      meter.bands.push(band);
    } else if (band && key === 'rate') {
      band.rate = u32(value, w);
    } else if (band && key === 'burst_size') {
      const burstSize = u32(value, w);
      if (burstSize) band.burstSize = burstSize;
    } else {
      throw new MeterTextError(w, `unexpected in meter ${id}`);
    }
  }
  if (!unit) throw new MeterTextError(`meter=${id}`, 'neither kbps nor pktps');
  return { ...meter, unit };
}

/** Every meter of a `dump-meters` reply (reply header lines skipped), in id order. */
export function parseDumpMeters(text: string): Meter[] {
  const words = text
    .split('\n')
    .filter((l) => !/^OFPST_METER_CONFIG reply/.test(l.trim()))
    .join(' ')
    .split(/\s+/)
    .filter((w) => w !== '');
  const meters: Meter[] = [];
  let id: number | undefined;
  let own: string[] = [];
  const flush = (): void => {
    if (id !== undefined) meters.push(parseMeterWords(id, own));
  };
  for (const w of words) {
    const start = /^meter=(.*)$/.exec(w);
    if (!start) {
      if (id === undefined) throw new MeterTextError(w, 'before the first meter=');
      own.push(w);
      continue;
    }
    flush();
    id = u32(start[1]!, w);
    own = [];
  }
  flush();
  return meters.sort((a, b) => a.id - b.id);
}

const BAND_TYPES = new Set<string>(['drop', 'dscp_remark']);
const CAPABILITIES = new Set<string>(['kbps', 'pktps', 'burst', 'stats']);

/** A `meter-features` reply. Words the model has no name for are left out, as the native decoder leaves their bits. */
export function parseMeterFeatures(text: string): MeterFeatures {
  const figure = (name: string): number => {
    const m = new RegExp(`\\b${name}:(\\d+)`).exec(text);
    if (!m) throw new MeterTextError(text.trim().split('\n')[1] ?? text.trim(), `no ${name}`);
    return Number(m[1]);
  };
  const list = (name: string): string[] => (new RegExp(`^\\s*${name}:(.*)$`, 'm').exec(text)?.[1] ?? '').split(/\s+/).filter((w) => w !== '');
  return {
    maxMeter: figure('max_meter'),
    bandTypes: list('band_types').filter((w): w is MeterBandType => BAND_TYPES.has(w)),
    capabilities: list('capabilities').filter((w): w is MeterCapability => CAPABILITIES.has(w)),
    maxBands: figure('max_bands'),
    maxColor: figure('max_color'),
  };
}

/** The OFPMMFC error ovs-ofctl printed for a refused meter mod (`OFPT_ERROR (OF1.3) (xid=0x2): OFPMMFC_METER_EXISTS`). */
export function meterModFailure(stderr: string): MeterModFailure | undefined {
  const name = /\b(OFPMMFC_[A-Z_]+)\b/.exec(stderr)?.[1];
  return name !== undefined && isMeterModFailure(name) ? name : undefined;
}
