// OVSDB rows as `ovs-vsctl -f json -d json list` prints them (RFC 7047 notation), and readers of
// their values: the QoS parity snapshot and the QoS benchmark read the QoS, Queue, Port and
// Interface tables this way.
import type { PrivateOvs } from './ovs.js';

export type OvsdbAtom = string | number | boolean | ['uuid', string];
export type OvsdbDatum = OvsdbAtom | ['set', OvsdbAtom[]] | ['map', Array<[OvsdbAtom, OvsdbAtom]>];
export type OvsdbRow = Record<string, OvsdbDatum>;

/** The rows of `table` (all, or the named `records`), with the given columns. */
export async function listRows(ovs: PrivateOvs, table: string, columns: string[], records: string[] = []): Promise<OvsdbRow[]> {
  const text = await ovs.vsctl('-f', 'json', '-d', 'json', `--columns=${columns.join(',')}`, 'list', table, ...records);
  let parsed: { headings: string[]; data: OvsdbDatum[][] };
  try {
    parsed = JSON.parse(text) as { headings: string[]; data: OvsdbDatum[][] };
  } catch (e) {
    throw new Error(`ovs-vsctl list ${table}: not JSON (${e instanceof Error ? e.message : String(e)}): ${text.slice(0, 200)}`);
  }
  return parsed.data.map((values) => Object.fromEntries(parsed.headings.map((h, i) => [h, values[i]!])));
}

export function isUuid(d: OvsdbDatum | undefined): d is ['uuid', string] {
  return Array.isArray(d) && d[0] === 'uuid';
}

/** A uuid reference, or the first of a set of them (an optional reference is a set of 0 or 1). */
export function uuidOf(d: OvsdbDatum | undefined): string | undefined {
  if (isUuid(d)) return d[1];
  if (Array.isArray(d) && d[0] === 'set') {
    const first = (d[1] as OvsdbAtom[])[0];
    return Array.isArray(first) ? first[1] : undefined;
  }
  return undefined;
}

export function mapOf(d: OvsdbDatum | undefined): Map<string, OvsdbAtom> {
  if (!Array.isArray(d) || d[0] !== 'map') return new Map();
  return new Map((d[1] as Array<[OvsdbAtom, OvsdbAtom]>).map(([k, v]) => [String(k), v]));
}

/** A string-to-string map column, keys sorted. */
export function stringMap(d: OvsdbDatum | undefined): Record<string, string> {
  return Object.fromEntries([...mapOf(d)].map(([k, v]) => [k, String(v)]).sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0)));
}
