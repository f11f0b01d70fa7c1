// Flows in the text syntax of ovs-ofctl(8) / ovs-fields(7). Used by the ovs-ofctl backend to
// write flows, and by logs and the pipeline view to show them. The spelling follows what OVS
// itself prints for OpenFlow 1.3 dumps, so a rendered flow reads like `dump-flows` output.
import {
  type Action,
  type FieldRef,
  type FieldValue,
  type Flow,
  type FlowFilter,
  type FlowMod,
  type LearnSpec,
  type Masked,
  type Match,
  type PortNo,
  type TransportPort,
  CT_STATE,
  ETH_TYPE,
  IP_PROTO,
  OFPVID_PRESENT,
} from './flow.js';

const hex = (v: number | bigint): string => '0x' + v.toString(16);

function maskedText<T extends number | bigint | string>(m: Masked<T>, fmt: (v: T) => string): string {
  return m.mask === undefined ? fmt(m.value) : `${fmt(m.value)}/${fmt(m.mask)}`;
}

const str = (v: string): string => v;

/** Prefix length of a contiguous IPv4/IPv6 mask, undefined for any other mask. */
function prefixLength(mask: string): number | undefined {
  let bits = '';
  if (mask.includes(':')) {
    const [head, tail] = mask.includes('::') ? mask.split('::') : [mask, undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    bits = groups.map((g) => parseInt(g, 16).toString(2).padStart(16, '0')).join('');
  } else {
    bits = mask.split('.').map((o) => Number(o).toString(2).padStart(8, '0')).join('');
  }
  return /^1*0*$/.test(bits) ? bits.indexOf('0') === -1 ? bits.length : bits.indexOf('0') : undefined;
}

/** An IP match as OVS prints it: `10.0.0.0/8` for a prefix, `value/mask` otherwise. */
function ipText(m: Masked<string>): string {
  if (m.mask === undefined) return m.value;
  const len = prefixLength(m.mask);
  return len === undefined ? `${m.value}/${m.mask}` : `${m.value}/${len}`;
}

/** The protocol shorthand OVS prints (arp, icmp6 ...) and which prerequisite fields it covers. */
function protocolKeyword(m: Match): { word?: string; coversEthType: boolean; coversIpProto: boolean } {
  const t = m.ethType;
  const p = m.ipProto;
  if (t === ETH_TYPE.ARP) return { word: 'arp', coversEthType: true, coversIpProto: false };
  if (t === ETH_TYPE.IPV4) {
    const byProto: Record<number, string> = { [IP_PROTO.ICMP]: 'icmp', [IP_PROTO.TCP]: 'tcp', [IP_PROTO.UDP]: 'udp', [IP_PROTO.SCTP]: 'sctp' };
    if (p !== undefined && byProto[p]) return { word: byProto[p], coversEthType: true, coversIpProto: true };
    return { word: 'ip', coversEthType: true, coversIpProto: false };
  }
  if (t === ETH_TYPE.IPV6) {
    const byProto: Record<number, string> = { [IP_PROTO.ICMPV6]: 'icmp6', [IP_PROTO.TCP]: 'tcp6', [IP_PROTO.UDP]: 'udp6', [IP_PROTO.SCTP]: 'sctp6' };
    if (p !== undefined && byProto[p]) return { word: byProto[p], coversEthType: true, coversIpProto: true };
    return { word: 'ipv6', coversEthType: true, coversIpProto: false };
  }
  return { coversEthType: false, coversIpProto: false };
}

export function formatMatch(m: Match): string[] {
  const out: string[] = formatConntrackMatch(m);
  const proto = protocolKeyword(m);
  if (proto.word) out.push(proto.word);
  if (m.inPort !== undefined) out.push(`in_port=${m.inPort}`);
  if (m.vlanVid !== undefined) {
    const { value, mask } = m.vlanVid;
    if (mask === undefined && value === 0) out.push('vlan_tci=0x0000/0x1fff');
    else if (mask === undefined && (value & OFPVID_PRESENT) !== 0) out.push(`dl_vlan=${value & 0xfff}`);
    else out.push(`vlan_vid=${maskedText(m.vlanVid, (v) => hex(v))}`);
  }
  if (m.ethSrc) out.push(`dl_src=${maskedText(m.ethSrc, str)}`);
  if (m.ethDst) out.push(`dl_dst=${maskedText(m.ethDst, str)}`);
  if (m.ethType !== undefined && !proto.coversEthType) out.push(`dl_type=0x${m.ethType.toString(16).padStart(4, '0')}`);
  if (m.ipProto !== undefined && !proto.coversIpProto) out.push(`nw_proto=${m.ipProto}`);
  if (m.ipv4Src) out.push(`nw_src=${ipText(m.ipv4Src)}`);
  if (m.ipv4Dst) out.push(`nw_dst=${ipText(m.ipv4Dst)}`);
  if (m.ipv6Src) out.push(`ipv6_src=${ipText(m.ipv6Src)}`);
  if (m.ipv6Dst) out.push(`ipv6_dst=${ipText(m.ipv6Dst)}`);
  for (const [name, p] of [
    ['tp_src', m.tcpSrc ?? m.udpSrc ?? m.sctpSrc],
    ['tp_dst', m.tcpDst ?? m.udpDst ?? m.sctpDst],
  ] as const) {
    if (p !== undefined) out.push(`${name}=${transportPortText(p)}`);
  }
  if (m.icmpv4Type !== undefined) out.push(`icmp_type=${m.icmpv4Type}`);
  if (m.icmpv4Code !== undefined) out.push(`icmp_code=${m.icmpv4Code}`);
  if (m.icmpv6Type !== undefined) out.push(`icmp_type=${m.icmpv6Type}`);
  if (m.icmpv6Code !== undefined) out.push(`icmp_code=${m.icmpv6Code}`);
  if (m.ndTarget) out.push(`nd_target=${ipText(m.ndTarget)}`);
  if (m.arpOp !== undefined) out.push(`arp_op=${m.arpOp}`);
  if (m.arpSpa) out.push(`arp_spa=${ipText(m.arpSpa)}`);
  if (m.arpTpa) out.push(`arp_tpa=${ipText(m.arpTpa)}`);
  if (m.arpSha) out.push(`arp_sha=${maskedText(m.arpSha, str)}`);
  if (m.arpTha) out.push(`arp_tha=${maskedText(m.arpTha, str)}`);
  if (m.tunId) out.push(`tun_id=${maskedText(m.tunId, (v) => hex(v))}`);
  if (m.regs) {
    for (const [reg, val] of Object.entries(m.regs).sort(([a], [b]) => Number(a) - Number(b))) {
      out.push(`reg${reg}=${maskedText(val, (v) => hex(v))}`);
    }
  }
  if (m.metadata) out.push(`metadata=${maskedText(m.metadata, (v) => hex(v))}`);
  return out;
}

/** Matches OVS prints before the protocol keyword (`conj_id=16,ct_state=+new-est,ip,...`). */
function formatConntrackMatch(m: Match): string[] {
  const out: string[] = [];
  if (m.conjId !== undefined) out.push(`conj_id=${m.conjId}`);
  if (m.ctState) out.push(`ct_state=${ctStateText(m.ctState)}`);
  if (m.ctZone !== undefined) out.push(`ct_zone=${m.ctZone}`);
  if (m.ctMark) out.push(`ct_mark=${maskedText(m.ctMark, (v) => hex(v))}`);
  return out;
}

/** `+est-rel-rpl`: each compared flag in bit order, + when set. */
export function ctStateText(s: Masked<number>): string {
  const mask = s.mask ?? 0xff;
  let out = '';
  for (const [name, bit] of Object.entries(CT_STATE)) {
    if (mask & bit) out += `${s.value & bit ? '+' : '-'}${name}`;
  }
  return out;
}

function transportPortText(p: TransportPort): string {
  return typeof p === 'number' ? String(p) : p.mask === undefined ? String(p.value) : `${hex(p.value)}/${hex(p.mask)}`;
}

export function formatFieldRef(f: FieldRef): string {
  if (f.ofs === undefined && f.nBits === undefined) return `${f.field}[]`;
  const ofs = f.ofs ?? 0;
  const n = f.nBits ?? 1;
  return n === 1 ? `${f.field}[${ofs}]` : `${f.field}[${ofs}..${ofs + n - 1}]`;
}

function formatPort(p: PortNo, maxLen?: number): string {
  if (typeof p === 'number') return `output:${p}`;
  if (p === 'CONTROLLER') return `CONTROLLER:${maxLen ?? 65535}`;
  return p;
}

function formatFieldValue(field: string, v: FieldValue): string {
  if (typeof v === 'string') return v;
  // OVS prints registers, marks and 64-bit fields in hex, VLAN ids and the like in decimal.
  if (field === 'tun_id' || field === 'metadata' || field === 'ct_mark' || /^reg[0-7]$/.test(field)) return hex(v);
  return v.toString();
}

function formatLearnSpec(s: LearnSpec): string {
  switch (s.kind) {
    case 'match_field':
      return sameRef(s.dst, s.src) ? formatFieldRef(s.dst) : `${formatFieldRef(s.dst)}=${formatFieldRef(s.src)}`;
    case 'match_value':
      return `${formatFieldRef(s.dst)}=${hex(s.value)}`;
    case 'load_field':
      return `load:${formatFieldRef(s.src)}->${formatFieldRef(s.dst)}`;
    case 'load_value':
      return `load:${hex(s.value)}->${formatFieldRef(s.dst)}`;
    case 'output':
      return `output:${formatFieldRef(s.src)}`;
  }
}

function sameRef(a: FieldRef, b: FieldRef): boolean {
  return a.field === b.field && a.ofs === b.ofs && a.nBits === b.nBits;
}

export function formatAction(a: Action): string {
  switch (a.type) {
    case 'output':
      return formatPort(a.port, a.maxLen);
    case 'push_vlan':
      return `push_vlan:${hex(a.ethertype)}`;
    case 'pop_vlan':
      return 'pop_vlan';
    case 'set_field':
      return `set_field:${formatFieldValue(a.field, a.value)}->${a.field}`;
    case 'resubmit':
      return `resubmit(${a.inPort ?? ''},${a.table ?? ''})`;
    case 'move':
      return `move:${formatFieldRef(a.src)}->${formatFieldRef(a.dst)}`;
    case 'load':
      return `load:${hex(a.value)}->${formatFieldRef(a.dst)}`;
    case 'ct': {
      const parts: string[] = [];
      if (a.commit) parts.push('commit');
      if (a.table !== undefined) parts.push(`table=${a.table}`);
      if (a.zone !== undefined) parts.push(`zone=${typeof a.zone === 'number' ? a.zone : formatFieldRef(a.zone)}`);
      if (a.exec?.length) parts.push(`exec(${a.exec.map(formatAction).join(',')})`);
      return `ct(${parts.join(',')})`;
    }
    case 'ct_clear':
      return 'ct_clear';
    case 'conjunction':
      return `conjunction(${a.id},${a.clause}/${a.nClauses})`;
    case 'learn': {
      const parts = [`table=${a.table}`];
      if (a.idleTimeout) parts.push(`idle_timeout=${a.idleTimeout}`);
      if (a.hardTimeout) parts.push(`hard_timeout=${a.hardTimeout}`);
      if (a.finIdleTimeout) parts.push(`fin_idle_timeout=${a.finIdleTimeout}`);
      if (a.finHardTimeout) parts.push(`fin_hard_timeout=${a.finHardTimeout}`);
      parts.push(`priority=${a.priority}`);
      if (a.cookie !== undefined) parts.push(`cookie=${hex(a.cookie)}`);
      for (const s of a.specs) parts.push(formatLearnSpec(s));
      return `learn(${parts.join(',')})`;
    }
  }
}

export function formatActions(flow: Pick<Flow, 'actions' | 'gotoTable'>): string {
  const parts = flow.actions.map(formatAction);
  if (flow.gotoTable !== undefined) parts.push(`goto_table:${flow.gotoTable}`);
  return parts.length ? parts.join(',') : 'drop';
}

/** A flow as ovs-ofctl add-flow takes it: `table=..,priority=..,cookie=..,<match>,actions=...`. */
export function formatFlow(flow: Flow): string {
  const head = [`table=${flow.table}`, `priority=${flow.priority}`];
  if (flow.cookie !== undefined) head.push(`cookie=${hex(flow.cookie)}`);
  if (flow.idleTimeout) head.push(`idle_timeout=${flow.idleTimeout}`);
  if (flow.hardTimeout) head.push(`hard_timeout=${flow.hardTimeout}`);
  return [...head, ...formatMatch(flow.match), `actions=${formatActions(flow)}`].join(',');
}

/** The selection part of a delete or stats request. */
export function formatFilter(f: FlowFilter): string {
  const parts: string[] = [];
  if (f.table !== undefined) parts.push(`table=${f.table}`);
  if (f.strict && f.priority !== undefined) parts.push(`priority=${f.priority}`);
  if (f.cookie !== undefined) {
    const mask = f.cookieMask ?? 0xffffffffffffffffn;
    parts.push(mask === 0xffffffffffffffffn ? `cookie=${hex(f.cookie)}/-1` : `cookie=${hex(f.cookie)}/${hex(mask)}`);
  }
  if (f.outPort !== undefined) parts.push(`out_port=${f.outPort}`);
  if (f.match) parts.push(...formatMatch(f.match));
  return parts.join(',');
}

/** One line of an `ovs-ofctl add-flows` file: a command keyword then the flow or selection. */
export function formatFlowModLine(mod: FlowMod): string {
  switch (mod.command) {
    case 'add':
      return `add ${formatFlow(mod.flow)}`;
    case 'modify':
      return `modify ${formatFlow(mod.flow)}`;
    case 'delete':
      return `${mod.filter.strict ? 'delete_strict' : 'delete'} ${formatFilter(mod.filter)}`;
  }
}
