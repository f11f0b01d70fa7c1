// OpenFlow's identity of a flow (table, priority, match) as a string key, shared by whatever keeps
// flow sets: the firewall's owned tables and the bridges' desired-flow registry.
import type { Flow, Match } from './flow.js';

// Every match field: the fields a key is made of. A field added to Match must be added here: the
// Record type refuses to compile otherwise.
const MATCH_FIELDS: Record<keyof Match, true> = {
  inPort: true, ethDst: true, ethSrc: true, ethType: true, vlanVid: true, ipProto: true, ipv4Src: true, ipv4Dst: true,
  ipv6Src: true, ipv6Dst: true, tcpSrc: true, tcpDst: true, udpSrc: true, udpDst: true, sctpSrc: true, sctpDst: true,
  icmpv4Type: true, icmpv4Code: true, icmpv6Type: true, icmpv6Code: true, ndTarget: true, arpOp: true, arpSpa: true,
  arpTpa: true, arpSha: true, arpTha: true, tunId: true, regs: true, metadata: true, ctState: true, ctZone: true,
  ctMark: true, conjId: true, pktMark: true,
};
const FIELDS = new Set<string>(Object.keys(MATCH_FIELDS));

function valueKey(v: unknown): string {
  if (v === null || typeof v !== 'object') return String(v);
  const o = v as Record<string, unknown>;
  // Masked<T>: the common case, kept cheap.
  if ('value' in o) return o.mask === undefined ? String(o.value) : `${String(o.value)}/${String(o.mask)}`;
  return Object.keys(o)
    .sort()
    .map((k) => `${k}:${valueKey(o[k])}`)
    .join(',');
}

/**
 * OpenFlow's identity of a flow: table, priority and match. Canonical (fields sorted), so two
 * matches with the same fields are one key whatever order their properties were written in.
 */
export function flowKey(f: Pick<Flow, 'table' | 'priority' | 'match'>): string {
  const m = f.match;
  let key = `${f.table}|${f.priority}`;
  // A match names a few of the fields: its own keys, sorted by code unit with an
  // insertion sort, cost less than reading every field of FIELD_ORDER from it (an audit keys tens
  // of thousands of flows).
  const fields = Object.keys(m);
  for (let i = 1; i < fields.length; i++) {
    const field = fields[i]!;
    let j = i - 1;
    for (; j >= 0 && fields[j]! > field; j--) fields[j + 1] = fields[j]!;
    fields[j + 1] = field;
  }
  for (const field of fields) {
    if (!FIELDS.has(field)) continue;
    const v = m[field as keyof Match];
    if (v !== undefined) key += `|${field}=${valueKey(v)}`;
  }
  return key;
}
