// `ovs-ofctl -O OpenFlow13 dump-flows` text back into the typed flow model: the inverse of
// src/openflow/text.ts for everything the agent itself writes. With of_interface = ovs-ofctl this
// is the only way a restarted agent can read what a previous run left (the OVS firewall continues
// its conjunction ids above the highest `conj_id` found on br-int, as the reference does).
// A line using something the model has no words for decodes to an error naming the token, and the
// dump keeps the line's stats without a flow.
import { bytesToIpv6, ipv4ToBytes, ipv6ToBytes } from '../native/codec/addr.js';
import type { Action, CtAction, FieldRef, FieldValue, Flow, IpAddress, LearnAction, LearnSpec, Masked, Match, NxmFieldName, PortNo, ReservedPort, SetFieldName, TransportPort } from '../flow.js';
import { CT_STATE, ETH_TYPE, IP_PROTO, OFPP, OFPVID_PRESENT, ctState } from '../flow.js';

/** A token of a dump line the model cannot express (or that is malformed), with the line part it was in. */
export class FlowTextError extends Error {
  constructor(readonly token: string, why: string) {
    super(`cannot decode '${token}': ${why}`);
    this.name = 'FlowTextError';
  }
}

/** Header words of a dump line that are statistics or flags, not part of the flow's match. */
const STATS_KEYS = ['cookie', 'duration', 'table', 'n_packets', 'n_bytes', 'idle_timeout', 'hard_timeout', 'idle_age', 'hard_age', 'importance'] as const;
type StatsKey = (typeof STATS_KEYS)[number];
const FLAG_WORDS = new Set(['reset_counts', 'send_flow_rem', 'check_overlap', 'no_packet_counts', 'no_byte_counts', 'no_readonly_table']);

const PROTOCOL_WORDS: Record<string, { ethType: number; ipProto?: number }> = {
  ip: { ethType: ETH_TYPE.IPV4 },
  ipv6: { ethType: ETH_TYPE.IPV6 },
  arp: { ethType: ETH_TYPE.ARP },
  icmp: { ethType: ETH_TYPE.IPV4, ipProto: IP_PROTO.ICMP },
  tcp: { ethType: ETH_TYPE.IPV4, ipProto: IP_PROTO.TCP },
  udp: { ethType: ETH_TYPE.IPV4, ipProto: IP_PROTO.UDP },
  sctp: { ethType: ETH_TYPE.IPV4, ipProto: IP_PROTO.SCTP },
  icmp6: { ethType: ETH_TYPE.IPV6, ipProto: IP_PROTO.ICMPV6 },
  tcp6: { ethType: ETH_TYPE.IPV6, ipProto: IP_PROTO.TCP },
  udp6: { ethType: ETH_TYPE.IPV6, ipProto: IP_PROTO.UDP },
  sctp6: { ethType: ETH_TYPE.IPV6, ipProto: IP_PROTO.SCTP },
};

const NXM_FIELDS = new Set<NxmFieldName>([
  'NXM_OF_IN_PORT', 'OXM_OF_IN_PORT', 'NXM_OF_ETH_DST', 'NXM_OF_ETH_SRC', 'NXM_OF_ETH_TYPE', 'NXM_OF_VLAN_TCI',
  'NXM_OF_IP_SRC', 'NXM_OF_IP_DST', 'NXM_OF_IP_PROTO', 'NXM_OF_TCP_SRC', 'NXM_OF_TCP_DST', 'NXM_OF_UDP_SRC', 'NXM_OF_UDP_DST', 'NXM_OF_ARP_OP', 'NXM_OF_ARP_SPA', 'NXM_OF_ARP_TPA', 'NXM_NX_ARP_SHA',
  'NXM_NX_ARP_THA', 'NXM_NX_TUN_ID', 'NXM_NX_REG0', 'NXM_NX_REG1', 'NXM_NX_REG2', 'NXM_NX_REG3', 'NXM_NX_REG4',
  'NXM_NX_REG5', 'NXM_NX_REG6', 'NXM_NX_REG7', 'NXM_NX_CT_MARK', 'NXM_NX_CT_ZONE', 'OXM_OF_METADATA', 'NXM_NX_PKT_MARK',
]);

const SET_FIELDS = new Set<SetFieldName>([
  'vlan_vid', 'eth_src', 'eth_dst', 'ipv4_dst', 'arp_op', 'arp_spa', 'arp_tpa', 'arp_sha', 'arp_tha', 'tun_id',
  'reg0', 'reg1', 'reg2', 'reg3', 'reg4', 'reg5', 'reg6', 'reg7', 'ct_mark', 'metadata', 'pkt_mark', 'ip_dscp',
]);

/** The whole-field names a learn spec may use for a constant match (text.ts prints them so). */
const LEARN_WHOLE_FIELDS: Record<string, NxmFieldName> = {
  eth_type: 'NXM_OF_ETH_TYPE', vlan_tci: 'NXM_OF_VLAN_TCI', in_port: 'NXM_OF_IN_PORT', arp_op: 'NXM_OF_ARP_OP',
  tun_id: 'NXM_NX_TUN_ID', reg0: 'NXM_NX_REG0', reg1: 'NXM_NX_REG1', reg2: 'NXM_NX_REG2', reg3: 'NXM_NX_REG3',
  reg4: 'NXM_NX_REG4', reg5: 'NXM_NX_REG5', reg6: 'NXM_NX_REG6', reg7: 'NXM_NX_REG7', ct_mark: 'NXM_NX_CT_MARK',
  ct_zone: 'NXM_NX_CT_ZONE', metadata: 'OXM_OF_METADATA', nw_proto: 'NXM_OF_IP_PROTO', ip_proto: 'NXM_OF_IP_PROTO',
};

/** Whole IPv4 fields a learn spec matches on a constant address, printed dotted (`ip_src=192.0.2.1`). */
const LEARN_IPV4_FIELDS: Record<string, NxmFieldName> = { ip_src: 'NXM_OF_IP_SRC', ip_dst: 'NXM_OF_IP_DST' };

const RESERVED_PORTS = new Set<string>(Object.keys(OFPP));

function integer(text: string, token: string): number {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text)) throw new FlowTextError(token, `'${text}' is not an integer`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new FlowTextError(token, `'${text}' is out of range`);
  return n;
}

function bigInteger(text: string, token: string): bigint {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text)) throw new FlowTextError(token, `'${text}' is not an integer`);
  return BigInt(text);
}

function masked<T>(text: string, parse: (s: string) => T): Masked<T> {
  const slash = text.indexOf('/');
  return slash < 0 ? { value: parse(text) } : { value: parse(text.slice(0, slash)), mask: parse(text.slice(slash + 1)) };
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
function mac(text: string, token: string): string {
  if (!MAC_RE.test(text)) throw new FlowTextError(token, `'${text}' is not a MAC address`);
  return text.toLowerCase();
}

/** The mask bytes of a prefix length. */
function prefixBytes(len: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = len >= (i + 1) * 8 ? 0xff : len <= i * 8 ? 0 : (0xff << (8 - (len - i * 8))) & 0xff;
  return out;
}

/** `a.b.c.d`, `a.b.c.d/len` or `a.b.c.d/mask`; a /32 is exact, as OVS prints it. */
function ipv4Masked(text: string, token: string): Masked<IpAddress> {
  const [addr, mask] = text.split('/') as [string, string | undefined];
  const check = (a: string): string => {
    try {
      ipv4ToBytes(a);
    } catch (e) {
      throw new FlowTextError(token, `'${a}' is not an IPv4 address (${(e as Error).message})`);
    }
    return a;
  };
  check(addr);
  if (mask === undefined) return { value: addr };
  if (/^\d+$/.test(mask)) {
    const len = Number(mask);
    if (len > 32) throw new FlowTextError(token, `prefix length ${len} > 32`);
    return len === 32 ? { value: addr } : { value: addr, mask: [...prefixBytes(len, 4)].join('.') };
  }
  return { value: addr, mask: check(mask) };
}

/** IPv6 in RFC 5952 form (as the native decoder gives it), with `/len` or `/mask`. */
function ipv6Masked(text: string, token: string): Masked<IpAddress> {
  const slash = text.indexOf('/');
  const canon = (a: string): string => {
    try {
      return bytesToIpv6(ipv6ToBytes(a));
    } catch (e) {
      throw new FlowTextError(token, `'${a}' is not an IPv6 address (${(e as Error).message})`);
    }
  };
  if (slash < 0) return { value: canon(text) };
  const value = canon(text.slice(0, slash));
  const mask = text.slice(slash + 1);
  if (/^\d+$/.test(mask)) {
    const len = Number(mask);
    if (len > 128) throw new FlowTextError(token, `prefix length ${len} > 128`);
    return len === 128 ? { value } : { value, mask: bytesToIpv6(prefixBytes(len, 16)) };
  }
  return { value, mask: canon(mask) };
}

/** `ct_state=+est-rel` (some flags compared) or `est|trk` / `0` (every flag compared). */
function ctStateMasked(text: string, token: string): Masked<number> {
  if (/^[+-]/.test(text)) {
    try {
      return ctState(text);
    } catch (e) {
      throw new FlowTextError(token, (e as Error).message);
    }
  }
  if (text === '0') return { value: 0, mask: 0xff };
  let value = 0;
  for (const name of text.split('|')) {
    const bit = CT_STATE[name as keyof typeof CT_STATE];
    if (bit === undefined) throw new FlowTextError(token, `unknown ct_state flag '${name}'`);
    value |= bit;
  }
  return { value, mask: 0xff };
}

function transportPort(text: string, token: string): TransportPort {
  if (!text.includes('/')) return integer(text, token);
  const m = masked(text, (s) => integer(s, token));
  return m.mask === 0xffff ? m.value : m;
}

/** Splits at commas outside parentheses and brackets. */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter((s) => s !== '');
}

/** Match tokens (in any order) into a Match; priority is returned apart. */
export function parseMatch(tokens: string[]): { match: Match; priority?: number } {
  const m: Match = {};
  let priority: number | undefined;
  const deferred: Array<[string, string, string]> = [];
  for (const token of tokens) {
    const eq = token.indexOf('=');
    if (eq < 0) {
      const proto = PROTOCOL_WORDS[token];
      if (!proto) throw new FlowTextError(token, 'unknown match keyword');
      m.ethType = proto.ethType;
      if (proto.ipProto !== undefined) m.ipProto = proto.ipProto;
      continue;
    }
    const key = token.slice(0, eq);
    const val = token.slice(eq + 1);
    switch (key) {
      case 'priority': priority = integer(val, token); break;
      case 'pkt_mark': m.pktMark = masked(val, (s) => integer(s, token)); break;
      case 'conj_id': m.conjId = integer(val, token); break;
      case 'ct_state': m.ctState = ctStateMasked(val, token); break;
      case 'ct_zone': m.ctZone = integer(val, token); break;
      case 'ct_mark': m.ctMark = masked(val, (s) => integer(s, token)); break;
      case 'tun_id': m.tunId = masked(val, (s) => bigInteger(s, token)); break;
      case 'metadata': m.metadata = masked(val, (s) => bigInteger(s, token)); break;
      case 'in_port': m.inPort = RESERVED_PORTS.has(val) ? OFPP[val as ReservedPort] : integer(val, token); break;
      case 'dl_vlan': m.vlanVid = { value: OFPVID_PRESENT | integer(val, token) }; break;
      case 'vlan_tci': {
        const t = masked(val, (s) => integer(s, token));
        // The TCI's CFI bit is OXM's OFPVID_PRESENT; an all-VID-and-CFI mask is an exact match.
        m.vlanVid = t.mask === undefined || (t.mask & 0x1fff) === 0x1fff ? { value: t.value & 0x1fff } : { value: t.value & 0x1fff, mask: t.mask & 0x1fff };
        break;
      }
      case 'dl_src': m.ethSrc = masked(val, (s) => mac(s, token)); break;
      case 'dl_dst': m.ethDst = masked(val, (s) => mac(s, token)); break;
      case 'dl_type': m.ethType = integer(val, token); break;
      case 'ipv6_src': m.ipv6Src = ipv6Masked(val, token); break;
      case 'ipv6_dst': m.ipv6Dst = ipv6Masked(val, token); break;
      case 'nd_target': m.ndTarget = ipv6Masked(val, token); break;
      case 'arp_spa': m.arpSpa = ipv4Masked(val, token); break;
      case 'arp_tpa': m.arpTpa = ipv4Masked(val, token); break;
      case 'nw_src': m.ipv4Src = ipv4Masked(val, token); break;
      case 'nw_dst': m.ipv4Dst = ipv4Masked(val, token); break;
      case 'nw_proto': m.ipProto = integer(val, token); break;
      case 'arp_op': m.arpOp = integer(val, token); break;
      case 'arp_sha': m.arpSha = masked(val, (s) => mac(s, token)); break;
      case 'arp_tha': m.arpTha = masked(val, (s) => mac(s, token)); break;
      // Their meaning depends on the protocol, which may come later in the line.
      case 'icmp_type': case 'icmp_code': case 'tp_src': case 'tp_dst':
        deferred.push([key, val, token]);
        break;
      default: {
        // reg0..reg7 last: one regular expression run only for a key no case above names.
        const reg = /^reg([0-7])$/.exec(key);
        if (!reg) throw new FlowTextError(token, 'unknown match field');
        (m.regs ??= {})[Number(reg[1])] = masked(val, (s) => integer(s, token));
      }
    }
  }
  for (const [key, val, token] of deferred) {
    if (key === 'icmp_type' || key === 'icmp_code') {
      const v6 = m.ethType === ETH_TYPE.IPV6;
      const n = integer(val, token);
      if (key === 'icmp_type') m[v6 ? 'icmpv6Type' : 'icmpv4Type'] = n;
      else m[v6 ? 'icmpv6Code' : 'icmpv4Code'] = n;
      continue;
    }
    const p = transportPort(val, token);
    const src = key === 'tp_src';
    switch (m.ipProto) {
      case IP_PROTO.TCP: m[src ? 'tcpSrc' : 'tcpDst'] = p; break;
      case IP_PROTO.UDP: m[src ? 'udpSrc' : 'udpDst'] = p; break;
      case IP_PROTO.SCTP: m[src ? 'sctpSrc' : 'sctpDst'] = p; break;
      default: throw new FlowTextError(token, 'transport port without tcp, udp or sctp');
    }
  }
  return priority === undefined ? { match: m } : { match: m, priority };
}

/** `NXM_NX_REG6[0..15]`, `NXM_OF_ETH_SRC[]`, `NXM_NX_REG0[3]`. */
function fieldRef(text: string, token: string): FieldRef {
  const r = /^([A-Z0-9_]+)\[(?:(\d+)(?:\.\.(\d+))?)?\]$/.exec(text);
  if (!r || !NXM_FIELDS.has(r[1] as NxmFieldName)) throw new FlowTextError(token, `'${text}' is not a known field reference`);
  const field = r[1] as NxmFieldName;
  if (r[2] === undefined) return { field };
  const ofs = Number(r[2]);
  const end = r[3] === undefined ? ofs : Number(r[3]);
  if (end < ofs) throw new FlowTextError(token, `bit range ${ofs}..${end} runs backwards`);
  return { field, ofs, nBits: end - ofs + 1 };
}

function port(text: string, token: string): PortNo {
  if (RESERVED_PORTS.has(text)) return text as ReservedPort;
  return integer(text, token);
}

function setFieldValue(field: SetFieldName, text: string, token: string): FieldValue {
  if (field === 'eth_src' || field === 'eth_dst' || field === 'arp_sha' || field === 'arp_tha') return mac(text, token);
  if (field === 'arp_spa' || field === 'arp_tpa' || field === 'ipv4_dst') return ipv4Masked(text, token).value;
  if (field === 'tun_id' || field === 'metadata') return bigInteger(text, token);
  return integer(text, token);
}

/** The body of `name(...)`, or undefined when `token` is not that call. */
function callBody(token: string, name: string): string | undefined {
  return token.startsWith(`${name}(`) && token.endsWith(')') ? token.slice(name.length + 1, -1) : undefined;
}

function parseCt(body: string, token: string): CtAction {
  const ct: CtAction = { type: 'ct' };
  for (const part of splitTopLevel(body)) {
    const exec = callBody(part, 'exec');
    if (exec !== undefined) {
      ct.exec = splitTopLevel(exec).map(parseAction);
      continue;
    }
    if (part === 'nat') {
      ct.nat = {};
      continue;
    }
    const nat = /^nat\((src|dst)=(\d+\.\d+\.\d+\.\d+)\)$/.exec(part);
    if (nat) {
      ct.nat = { kind: nat[1] as 'src' | 'dst', ipv4: nat[2]! };
      continue;
    }
    if (part === 'commit') ct.commit = true;
    else if (part.startsWith('table=')) ct.table = integer(part.slice(6), token);
    else if (part.startsWith('zone=')) {
      const z = part.slice(5);
      ct.zone = /^\d/.test(z) ? integer(z, token) : fieldRef(z, token);
    } else throw new FlowTextError(token, `unknown ct argument '${part}'`);
  }
  return ct;
}

function parseLearnSpec(part: string, token: string): LearnSpec {
  if (part.startsWith('load:')) {
    const [src, dst] = part.slice(5).split('->') as [string, string | undefined];
    if (dst === undefined) throw new FlowTextError(token, `'${part}' lacks '->'`);
    return /^(0x|\d)/.test(src)
      ? { kind: 'load_value', dst: fieldRef(dst, token), value: bigInteger(src, token) }
      : { kind: 'load_field', dst: fieldRef(dst, token), src: fieldRef(src, token) };
  }
  if (part.startsWith('output:')) return { kind: 'output', src: fieldRef(part.slice(7), token) };
  const eq = part.indexOf('=');
  if (eq < 0) {
    const ref = fieldRef(part, token);
    return { kind: 'match_field', dst: ref, src: ref };
  }
  const lhs = part.slice(0, eq);
  const rhs = part.slice(eq + 1);
  const wholeIpv4 = LEARN_IPV4_FIELDS[lhs];
  if (wholeIpv4) return { kind: 'match_value', dst: { field: wholeIpv4 }, value: rhs.split('.').reduce((acc, o) => (acc << 8n) | BigInt(integer(o, token)), 0n) };
  const whole = LEARN_WHOLE_FIELDS[lhs];
  if (whole) return { kind: 'match_value', dst: { field: whole }, value: bigInteger(rhs, token) };
  const dst = fieldRef(lhs, token);
  return /^(0x|\d)/.test(rhs) ? { kind: 'match_value', dst, value: bigInteger(rhs, token) } : { kind: 'match_field', dst, src: fieldRef(rhs, token) };
}

const LEARN_FLAGS: Record<string, number> = { send_flow_rem: 1, delete_learned: 2 };

function parseLearn(body: string, token: string): LearnAction {
  const learn: LearnAction = { type: 'learn', table: 1, priority: 0x8000, specs: [] };
  for (const part of splitTopLevel(body)) {
    const kv = /^(table|priority|idle_timeout|hard_timeout|fin_idle_timeout|fin_hard_timeout|cookie)=(.*)$/.exec(part);
    if (kv) {
      const v = kv[2]!;
      switch (kv[1]) {
        case 'table': learn.table = integer(v, token); break;
        case 'priority': learn.priority = integer(v, token); break;
        case 'idle_timeout': learn.idleTimeout = integer(v, token); break;
        case 'hard_timeout': learn.hardTimeout = integer(v, token); break;
        case 'fin_idle_timeout': learn.finIdleTimeout = integer(v, token); break;
        case 'fin_hard_timeout': learn.finHardTimeout = integer(v, token); break;
        case 'cookie': learn.cookie = bigInteger(v, token); break;
      }
    } else if (LEARN_FLAGS[part] !== undefined) {
      learn.flags = (learn.flags ?? 0) | LEARN_FLAGS[part]!;
    } else {
      learn.specs.push(parseLearnSpec(part, token));
    }
  }
  return learn;
}

/** One action as OVS prints it for OpenFlow 1.3 (goto_table is handled by the caller). */
export function parseAction(token: string): Action {
  const simple: Record<string, Action> = { pop_vlan: { type: 'pop_vlan' }, strip_vlan: { type: 'pop_vlan' }, ct_clear: { type: 'ct_clear' } };
  if (simple[token]) return simple[token]!;
  if (RESERVED_PORTS.has(token)) return { type: 'output', port: token as ReservedPort };
  if (token.startsWith('output:')) return { type: 'output', port: port(token.slice(7), token) };
  const controller = /^CONTROLLER:(\d+)$/.exec(token);
  if (controller) return { type: 'output', port: 'CONTROLLER', maxLen: Number(controller[1]) };
  if (token.startsWith('push_vlan:')) return { type: 'push_vlan', ethertype: integer(token.slice(10), token) };
  if (token.startsWith('set_queue:')) return { type: 'set_queue', queueId: integer(token.slice(10), token) };
  if (token.startsWith('resubmit:')) return { type: 'resubmit', inPort: integer(token.slice(9), token) };
  const resubmit = callBody(token, 'resubmit');
  if (resubmit !== undefined) {
    const [inPort, table] = resubmit.split(',') as [string, string | undefined];
    const a: Action = { type: 'resubmit' };
    if (inPort) a.inPort = integer(inPort, token);
    if (table) a.table = integer(table, token);
    return a;
  }
  const conj = /^conjunction\((\d+),(\d+)\/(\d+)\)$/.exec(token);
  if (conj) return { type: 'conjunction', id: Number(conj[1]), clause: Number(conj[2]), nClauses: Number(conj[3]) };
  const ct = callBody(token, 'ct');
  if (ct !== undefined) return parseCt(ct, token);
  const learn = callBody(token, 'learn');
  if (learn !== undefined) return parseLearn(learn, token);
  const arrow = /^(set_field|load|move):(.+)->(.+)$/.exec(token);
  if (arrow) {
    const [, verb, src, dst] = arrow as unknown as [string, string, string, string];
    if (verb === 'move') return { type: 'move', src: fieldRef(src, token), dst: fieldRef(dst, token) };
    if (verb === 'load') return { type: 'load', dst: fieldRef(dst, token), value: bigInteger(src, token) };
    if (dst === 'ip_dst') return { type: 'set_field', field: 'ipv4_dst', value: ipv4Masked(src, token).value };
    if (!SET_FIELDS.has(dst as SetFieldName)) throw new FlowTextError(token, `set_field of '${dst}' is not in the model`);
    if (src.includes('/')) throw new FlowTextError(token, 'masked set_field is not in the model');
    return { type: 'set_field', field: dst as SetFieldName, value: setFieldValue(dst as SetFieldName, src, token) };
  }
  throw new FlowTextError(token, 'unknown action');
}

/** What the actions part of a line holds: the flow's instructions. */
export type Instructions = Pick<Flow, 'actions' | 'gotoTable' | 'meter'>;

/** The actions part (after `actions=`): a meter, actions and a goto_table, each optional; `drop` is none. */
export function parseActions(text: string): Instructions {
  const out: Instructions = { actions: [] };
  for (const token of splitTopLevel(text)) {
    if (token === 'drop') continue;
    if (token.startsWith('goto_table:')) out.gotoTable = integer(token.slice(11), token);
    else if (token.startsWith('meter:')) out.meter = integer(token.slice(6), token);
    else out.actions.push(parseAction(token));
  }
  return out;
}

export interface DumpLine {
  /** Header values: cookie, duration, table, n_packets, n_bytes, timeouts ... as printed. */
  header: Map<string, string>;
  /** The flow, or why it could not be decoded. */
  flow: Flow | FlowTextError;
}

/**
 * A dump line taken apart in one pass: the header values the statistics are made of (as printed;
 * the last of a repeated key), and the flow or why it could not be decoded.
 */
export interface ScannedDumpLine {
  cookie: string | undefined;
  duration: string | undefined;
  table: string | undefined;
  nPackets: string | undefined;
  nBytes: string | undefined;
  idleTimeout: string | undefined;
  hardTimeout: string | undefined;
  flow: Flow | FlowTextError;
}

/**
 * What the lines of one dump share, decoded once: the actions texts (br-tun's unicast flows have
 * one per network) and the cookie (one per agent run, on nearly every line). Flows decoded with one
 * decoder share their actions arrays: read-only for every reader of a dump.
 */
export class DumpDecoder {
  private readonly actionsByText = new Map<string, Instructions>();
  private cookieText: string | undefined;
  private cookieValue = 0n;

  /** The actions part of a line (after `actions=`), as parseActions gives it. */
  actions(text: string): Instructions {
    let actions = this.actionsByText.get(text);
    if (actions === undefined) {
      actions = parseActions(text);
      this.actionsByText.set(text, actions);
    }
    return actions;
  }

  /** A cookie as printed (`0x...`); a SyntaxError for one that is not a number, as BigInt gives. */
  cookie(text: string): bigint {
    if (text !== this.cookieText) {
      this.cookieValue = BigInt(text);
      this.cookieText = text;
    }
    return this.cookieValue;
  }
}

const SPACE = 0x20;
const COMMA = 0x2c;
const EQUALS = 0x3d;

/** The statistics key `l` has from `i` to the `=` at `eq`, without cutting the key out of the line. */
function statsKeyAt(l: string, i: number, eq: number): StatsKey | undefined {
  const length = eq - i;
  for (const key of STATS_KEYS) if (key.length === length && l.startsWith(key, i)) return key;
  return undefined;
}

/**
 * One dump-flows (or `--no-stats`, or add-flows) line, already trimmed and not blank: header fields
 * and flags separated by `, `, then the match (with priority) and ` actions=`. The words before
 * `actions=` are split at runs of spaces and commas in one scan; a statistics key or a flag is
 * header wherever it stands, anything else is match. `header`, when given, receives every header
 * word as key and value in the order printed (a flag's value is '').
 */
export function scanDumpLine(l: string, decoder: DumpDecoder, header?: string[]): ScannedDumpLine {
  const at = l.indexOf('actions=');
  const headEnd = at < 0 ? l.length : at;
  const matchTokens: string[] = [];
  let cookie: string | undefined;
  let duration: string | undefined;
  let table: string | undefined;
  let nPackets: string | undefined;
  let nBytes: string | undefined;
  let idleTimeout: string | undefined;
  let hardTimeout: string | undefined;
  let i = 0;
  while (i < headEnd) {
    let c = l.charCodeAt(i);
    if (c === SPACE || c === COMMA) {
      i++;
      continue;
    }
    let j = i;
    let eq = -1;
    while (j < headEnd && (c = l.charCodeAt(j)) !== SPACE && c !== COMMA) {
      if (c === EQUALS && eq < 0) eq = j;
      j++;
    }
    const key = eq < 0 ? undefined : statsKeyAt(l, i, eq);
    if (key !== undefined) {
      const value = l.slice(eq + 1, j);
      header?.push(key, value);
      switch (key) {
        case 'cookie': cookie = value; break;
        case 'duration': duration = value; break;
        case 'table': table = value; break;
        case 'n_packets': nPackets = value; break;
        case 'n_bytes': nBytes = value; break;
        case 'idle_timeout': idleTimeout = value; break;
        case 'hard_timeout': hardTimeout = value; break;
      }
    } else {
      const token = l.slice(i, j);
      if (eq < 0 && FLAG_WORDS.has(token)) header?.push(token, '');
      else matchTokens.push(token);
    }
    i = j;
  }
  let flow: Flow | FlowTextError;
  try {
    if (at < 0) throw new FlowTextError(l.slice(0, 60), 'no actions= part');
    const { match, priority } = parseMatch(matchTokens);
    const actions = decoder.actions(l.slice(at + 8));
    const decoded: Flow = { table: Number(table ?? 0), priority: priority ?? 0x8000, match, actions: actions.actions };
    if (actions.gotoTable !== undefined) decoded.gotoTable = actions.gotoTable;
    if (actions.meter !== undefined) decoded.meter = actions.meter;
    if (cookie !== undefined) decoded.cookie = decoder.cookie(cookie);
    const idle = Number(idleTimeout ?? 0);
    const hard = Number(hardTimeout ?? 0);
    if (idle) decoded.idleTimeout = idle;
    if (hard) decoded.hardTimeout = hard;
    flow = decoded;
  } catch (e) {
    if (!(e instanceof FlowTextError)) throw e;
    flow = e;
  }
  return { cookie, duration, table, nPackets, nBytes, idleTimeout, hardTimeout, flow };
}

/**
 * One dump-flows (or `--no-stats`, or add-flows) line: header fields and flags separated by
 * `, `, then the match (with priority) and ` actions=`. Undefined for blank and reply-header lines.
 */
export function parseDumpLine(line: string): DumpLine | undefined {
  const l = line.trim();
  if (!l || l.startsWith('OFPST_') || l.startsWith('NXST_')) return undefined;
  const header: string[] = [];
  const { flow } = scanDumpLine(l, new DumpDecoder(), header);
  const map = new Map<string, string>();
  for (let i = 0; i < header.length; i += 2) map.set(header[i]!, header[i + 1]!);
  return { header: map, flow };
}
