// Flows in the text syntax of ovs-ofctl(8) / ovs-fields(7). Used by the ovs-ofctl backend to
// write flows, and by logs and the pipeline view to show them. The spelling follows what OVS
// itself prints for OpenFlow 1.3 dumps, so a rendered flow reads like `dump-flows` output.
import { bytesToIpv6, ipv4ToBytes, ipv6ToBytes } from './native/codec/addr.js';
import type { Action, FieldRef, FieldValue, Flow, FlowFilter, FlowMod, IpAddress, LearnSpec, Masked, Match, NxmFieldName, PortNo, SetFieldName, TransportPort } from './flow.js';
import { CT_STATE, ETH_TYPE, IP_PROTO, OFPP, OFPVID_PRESENT, transportPortMasked } from './flow.js';
import type { Meter } from './meter.js';

/** `0x`-prefixed hex, as OVS prints ethertypes and masked ports. */
const hex = (v: number | bigint): string => '0x' + v.toString(16);
/**
 * C's `%#x`, which OVS uses for registers, marks, tunnel ids and immediates: `0x`-prefixed hex,
 * except that zero is a bare `0` (`reg5=0`, `load:0->...`).
 */
const hexc = (v: number | bigint): string => (v.toString(16) === '0' ? '0' : '0x' + v.toString(16));

function maskedText<T extends number | bigint | string>(m: Masked<T>, fmt: (v: T) => string): string {
  return m.mask === undefined ? fmt(m.value) : `${fmt(m.value)}/${fmt(m.mask)}`;
}

const str = (v: string): string => v;

/** Leading one bits of a netmask, or undefined when the mask is not a prefix. */
function prefixLength(bytes: Uint8Array): number | undefined {
  let n = 0;
  let ended = false;
  for (const b of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const one = (b >> bit) & 1;
      if (one && ended) return undefined;
      if (one) n++;
      else ended = true;
    }
  }
  return n;
}

/** `10.0.0.0/24` when the mask is a prefix, `10.0.0.0/255.0.255.0` otherwise (OVS's format_ip_netmask). */
function ipv4Text(m: Masked<IpAddress>): string {
  if (m.mask === undefined) return m.value;
  const len = prefixLength(ipv4ToBytes(m.mask));
  if (len === 32) return m.value;
  return len === undefined ? `${m.value}/${m.mask}` : `${m.value}/${len}`;
}

/** IPv6 in RFC 5952 form, with `/prefix` when the mask is one (OVS's format_ipv6_netmask). */
function ipv6Text(m: Masked<IpAddress>): string {
  const value = bytesToIpv6(ipv6ToBytes(m.value));
  if (m.mask === undefined) return value;
  const mask = ipv6ToBytes(m.mask);
  const len = prefixLength(mask);
  if (len === 128) return value;
  return len === undefined ? `${value}/${bytesToIpv6(mask)}` : `${value}/${len}`;
}

/** The protocol shorthand OVS prints (arp, icmp6 ...) and which prerequisite fields it covers. */
function protocolKeyword(m: Match): { word?: string; coversEthType: boolean; coversIpProto: boolean } {
  const t = m.ethType;
  const p = m.ipProto;
  if (t === ETH_TYPE.ARP) return { word: 'arp', coversEthType: true, coversIpProto: false };
  const byProto: Record<number, string> | undefined =
    t === ETH_TYPE.IPV4
      ? { [IP_PROTO.ICMP]: 'icmp', [IP_PROTO.TCP]: 'tcp', [IP_PROTO.UDP]: 'udp', [IP_PROTO.SCTP]: 'sctp' }
      : t === ETH_TYPE.IPV6
        ? { [IP_PROTO.ICMPV6]: 'icmp6', [IP_PROTO.TCP]: 'tcp6', [IP_PROTO.UDP]: 'udp6', [IP_PROTO.SCTP]: 'sctp6' }
        : undefined;
  if (!byProto) return { coversEthType: false, coversIpProto: false };
  if (p !== undefined && byProto[p]) return { word: byProto[p], coversEthType: true, coversIpProto: true };
  return { word: t === ETH_TYPE.IPV4 ? 'ip' : 'ipv6', coversEthType: true, coversIpProto: false };
}

const RESERVED_PORT_NAMES = new Map<number, string>(Object.entries(OFPP).map(([name, n]) => [n, name]));

/**
 * OXM vlan_vid (OFPVID_PRESENT|vid) as OVS prints it in terms of the TCI, whose CFI bit stands
 * for OFPVID_PRESENT: `dl_vlan=5` for one tagged VID, `vlan_tci=0x0000/0x1fff` for untagged.
 */
function vlanText(v: Masked<number>): string {
  const tci = v.value & 0x1fff;
  const mask = (v.mask ?? 0x1fff) & 0x1fff;
  if (mask === 0x1fff && (tci & OFPVID_PRESENT) !== 0) return `dl_vlan=${tci & 0xfff}`;
  const pad = (x: number): string => x.toString(16).padStart(4, '0');
  return `vlan_tci=0x${pad(tci)}/0x${pad(mask)}`;
}

/** The match in OVS's own order and spelling (lib/match.c match_format). */
export function formatMatch(m: Match): string[] {
  const out: string[] = [];
  // pkt_mark, then conjunction and conntrack fields, all before the protocol keyword.
  if (m.pktMark) out.push(`pkt_mark=${u32MaskedText(m.pktMark)}`);
  if (m.conjId !== undefined) out.push(`conj_id=${m.conjId}`);
  if (m.ctState) out.push(`ct_state=${ctStateText(m.ctState)}`);
  if (m.ctZone !== undefined) out.push(`ct_zone=${m.ctZone}`);
  if (m.ctMark) out.push(`ct_mark=${maskedText(m.ctMark, hexc)}`);
  const proto = protocolKeyword(m);
  if (proto.word) out.push(proto.word);
  if (m.regs) {
    for (const [reg, val] of Object.entries(m.regs).sort(([a], [b]) => Number(a) - Number(b))) {
      out.push(`reg${reg}=${maskedText(val, hexc)}`);
    }
  }
  if (m.tunId) out.push(`tun_id=${maskedText(m.tunId, hexc)}`);
  if (m.metadata) out.push(`metadata=${maskedText(m.metadata, hexc)}`);
  if (m.inPort !== undefined) out.push(`in_port=${RESERVED_PORT_NAMES.get(m.inPort) ?? m.inPort}`);
  if (m.vlanVid !== undefined) out.push(vlanText(m.vlanVid));
  if (m.ethSrc) out.push(`dl_src=${maskedText(m.ethSrc, str)}`);
  if (m.ethDst) out.push(`dl_dst=${maskedText(m.ethDst, str)}`);
  if (m.ethType !== undefined && !proto.coversEthType) out.push(`dl_type=0x${m.ethType.toString(16).padStart(4, '0')}`);
  if (m.ipv6Src) out.push(`ipv6_src=${ipv6Text(m.ipv6Src)}`);
  if (m.ipv6Dst) out.push(`ipv6_dst=${ipv6Text(m.ipv6Dst)}`);
  if (m.arpSpa) out.push(`arp_spa=${ipv4Text(m.arpSpa)}`);
  if (m.arpTpa) out.push(`arp_tpa=${ipv4Text(m.arpTpa)}`);
  if (m.ipv4Src) out.push(`nw_src=${ipv4Text(m.ipv4Src)}`);
  if (m.ipv4Dst) out.push(`nw_dst=${ipv4Text(m.ipv4Dst)}`);
  if (m.ipProto !== undefined && !proto.coversIpProto) out.push(`nw_proto=${m.ipProto}`);
  if (m.arpOp !== undefined) out.push(`arp_op=${m.arpOp}`);
  if (m.arpSha) out.push(`arp_sha=${maskedText(m.arpSha, str)}`);
  if (m.arpTha) out.push(`arp_tha=${maskedText(m.arpTha, str)}`);
  if (m.icmpv4Type !== undefined) out.push(`icmp_type=${m.icmpv4Type}`);
  if (m.icmpv4Code !== undefined) out.push(`icmp_code=${m.icmpv4Code}`);
  if (m.icmpv6Type !== undefined) out.push(`icmp_type=${m.icmpv6Type}`);
  if (m.icmpv6Code !== undefined) out.push(`icmp_code=${m.icmpv6Code}`);
  if (m.ndTarget) out.push(`nd_target=${ipv6Text(m.ndTarget)}`);
  for (const [name, p] of [
    ['tp_src', m.tcpSrc ?? m.udpSrc ?? m.sctpSrc],
    ['tp_dst', m.tcpDst ?? m.udpDst ?? m.sctpDst],
  ] as const) {
    if (p !== undefined) out.push(`${name}=${transportPortText(p)}`);
  }
  return out;
}

/** A 32-bit field as OVS's format_uint32_masked prints it: an all-ones mask is no mask. */
function u32MaskedText(m: Masked<number>): string {
  return m.mask === undefined || m.mask >>> 0 === 0xffffffff ? hexc(m.value) : `${hexc(m.value)}/${hexc(m.mask)}`;
}

/**
 * `+est-rel-rpl`: each compared flag in bit order, + when set. A ct_state compared on every bit
 * prints as OVS does, the set flags joined by `|` (`est|trk`), or `0` when none is set.
 */
export function ctStateText(s: Masked<number>): string {
  const mask = (s.mask ?? 0xff) & 0xff;
  const flags = Object.entries(CT_STATE);
  if (mask === 0xff) {
    const set = flags.filter(([, bit]) => s.value & bit).map(([name]) => name);
    return set.length ? set.join('|') : '0';
  }
  let out = '';
  for (const [name, bit] of flags) {
    if (mask & bit) out += `${s.value & bit ? '+' : '-'}${name}`;
  }
  return out;
}

/** Exact ports in decimal, port ranges as `0x3e8/0xfff8` (OVS's format_be16_masked). */
function transportPortText(p: TransportPort): string {
  const { value, mask } = transportPortMasked(p);
  return mask === undefined || mask === 0xffff ? String(value) : `${hex(value)}/${hex(mask)}`;
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

/** set_field values as OVS's mf_format prints them: hex for registers, marks and ids; decimal for VLAN ids and ARP ops. */
function formatFieldValue(field: SetFieldName, v: FieldValue): string {
  if (typeof v === 'string') return v;
  if (field === 'tun_id' || field === 'metadata' || field === 'ct_mark' || field === 'pkt_mark' || /^reg[0-7]$/.test(field)) return hexc(v);
  return v.toString();
}

/**
 * A learned match on a whole field with a constant prints under the field's own name
 * (`eth_type=0x800`); these are the fields the agent's learn actions can name that way.
 */
const LEARN_WHOLE_FIELD_NAMES: Partial<Record<NxmFieldName, { name: string; decimal?: boolean; ipv4?: boolean }>> = {
  NXM_OF_ETH_TYPE: { name: 'eth_type' },
  NXM_OF_IP_SRC: { name: 'ip_src', ipv4: true },
  NXM_OF_IP_DST: { name: 'ip_dst', ipv4: true },
  NXM_OF_IP_PROTO: { name: 'nw_proto', decimal: true },
  NXM_OF_VLAN_TCI: { name: 'vlan_tci' },
  NXM_OF_IN_PORT: { name: 'in_port', decimal: true },
  NXM_OF_ARP_OP: { name: 'arp_op', decimal: true },
  NXM_NX_TUN_ID: { name: 'tun_id' },
  NXM_NX_REG0: { name: 'reg0' },
  NXM_NX_REG1: { name: 'reg1' },
  NXM_NX_REG2: { name: 'reg2' },
  NXM_NX_REG3: { name: 'reg3' },
  NXM_NX_REG4: { name: 'reg4' },
  NXM_NX_REG5: { name: 'reg5' },
  NXM_NX_REG6: { name: 'reg6' },
  NXM_NX_REG7: { name: 'reg7' },
  NXM_NX_CT_MARK: { name: 'ct_mark' },
  NXM_NX_CT_ZONE: { name: 'ct_zone', decimal: true },
  OXM_OF_METADATA: { name: 'metadata' },
};

function formatLearnSpec(s: LearnSpec): string {
  switch (s.kind) {
    case 'match_field':
      return sameRef(s.dst, s.src) ? formatFieldRef(s.dst) : `${formatFieldRef(s.dst)}=${formatFieldRef(s.src)}`;
    case 'match_value': {
      const whole = s.dst.ofs === undefined && s.dst.nBits === undefined ? LEARN_WHOLE_FIELD_NAMES[s.dst.field] : undefined;
      if (whole?.ipv4) return `${whole.name}=${[24n, 16n, 8n, 0n].map((sh) => ((s.value >> sh) & 0xffn).toString()).join('.')}`;
      if (whole) return `${whole.name}=${whole.decimal ? s.value.toString() : hexc(s.value)}`;
      return `${formatFieldRef(s.dst)}=${hexc(s.value)}`;
    }
    case 'load_field':
      return `load:${formatFieldRef(s.src)}->${formatFieldRef(s.dst)}`;
    case 'load_value':
      return `load:${hexc(s.value)}->${formatFieldRef(s.dst)}`;
    case 'output':
      return `output:${formatFieldRef(s.src)}`;
  }
}

function sameRef(a: FieldRef, b: FieldRef): boolean {
  return a.field === b.field && a.ofs === b.ofs && a.nBits === b.nBits;
}

/** NX_LEARN_F_* flags by the words learn() prints for them. */
const LEARN_FLAG_WORDS: [number, string][] = [
  [1, 'send_flow_rem'],
  [2, 'delete_learned'],
];

/** The OpenFlow default priority, which OVS leaves out when printing a flow or a learn action. */
const OFP_DEFAULT_PRIORITY = 0x8000;

export function formatAction(a: Action): string {
  switch (a.type) {
    case 'output':
      return formatPort(a.port, a.maxLen);
    case 'push_vlan':
      return `push_vlan:${hex(a.ethertype)}`;
    case 'pop_vlan':
      return 'pop_vlan';
    case 'set_field':
      // OVS prints OXM IPV4_DST under its own name for it.
      return `set_field:${formatFieldValue(a.field, a.value)}->${a.field === 'ipv4_dst' ? 'ip_dst' : a.field}`;
    case 'resubmit':
      // OVS's short form when only the port is given.
      if (a.table === undefined && a.inPort !== undefined) return `resubmit:${a.inPort}`;
      return `resubmit(${a.inPort ?? ''},${a.table ?? ''})`;
    case 'move':
      return `move:${formatFieldRef(a.src)}->${formatFieldRef(a.dst)}`;
    case 'load':
      return `load:${hexc(a.value)}->${formatFieldRef(a.dst)}`;
    case 'ct': {
      const parts: string[] = [];
      if (a.commit) parts.push('commit');
      if (a.table !== undefined) parts.push(`table=${a.table}`);
      // Zone 0 is the default zone; OVS does not print it.
      if (typeof a.zone === 'number') {
        if (a.zone !== 0) parts.push(`zone=${a.zone}`);
      } else if (a.zone !== undefined) {
        parts.push(`zone=${formatFieldRef(a.zone)}`);
      }
      if (a.nat) parts.push(a.nat.kind && a.nat.ipv4 ? `nat(${a.nat.kind}=${a.nat.ipv4})` : 'nat');
      if (a.exec?.length) parts.push(`exec(${a.exec.map(formatAction).join(',')})`);
      return `ct(${parts.join(',')})`;
    }
    case 'ct_clear':
      return 'ct_clear';
    case 'conjunction':
      return `conjunction(${a.id},${a.clause}/${a.nClauses})`;
    case 'set_queue':
      return `set_queue:${a.queueId}`;
    case 'learn': {
      const parts = [`table=${a.table}`];
      if (a.idleTimeout) parts.push(`idle_timeout=${a.idleTimeout}`);
      if (a.hardTimeout) parts.push(`hard_timeout=${a.hardTimeout}`);
      if (a.finIdleTimeout) parts.push(`fin_idle_timeout=${a.finIdleTimeout}`);
      if (a.finHardTimeout) parts.push(`fin_hard_timeout=${a.finHardTimeout}`);
      if (a.priority !== OFP_DEFAULT_PRIORITY) parts.push(`priority=${a.priority}`);
      for (const [bit, word] of LEARN_FLAG_WORDS) if ((a.flags ?? 0) & bit) parts.push(word);
      if (a.cookie) parts.push(`cookie=${hex(a.cookie)}`);
      for (const s of a.specs) parts.push(formatLearnSpec(s));
      return `learn(${parts.join(',')})`;
    }
  }
}

/** The instructions as OVS prints them: `meter:N` first (ovs-ofctl reads it only there), actions, `goto_table:N`. */
export function formatActions(flow: Pick<Flow, 'actions' | 'gotoTable' | 'meter'>): string {
  const parts = flow.actions.map(formatAction);
  if (flow.meter !== undefined) parts.unshift(`meter:${flow.meter}`);
  if (flow.gotoTable !== undefined) parts.push(`goto_table:${flow.gotoTable}`);
  return parts.length ? parts.join(',') : 'drop';
}

/**
 * A flow as `ovs-ofctl -O OpenFlow13 dump-flows --no-stats` prints it
 * (`cookie=0x1, table=72, priority=74,ct_state=+est-rel-rpl,ip,reg5=0x3 actions=resubmit(,73)`),
 * which is also what `ovs-ofctl add-flow(s)` reads: table 0, priority 32768 and cookie 0 are
 * the defaults on both sides and left out, as OVS does.
 */
export function formatFlow(flow: Flow): string {
  let head = '';
  if (flow.cookie) head += `cookie=${hex(flow.cookie)}, `;
  if (flow.table !== 0) head += `table=${flow.table}, `;
  if (flow.idleTimeout) head += `idle_timeout=${flow.idleTimeout}, `;
  if (flow.hardTimeout) head += `hard_timeout=${flow.hardTimeout}, `;
  const match = formatMatch(flow.match);
  if (flow.priority !== OFP_DEFAULT_PRIORITY) match.unshift(`priority=${flow.priority}`);
  return `${head}${match.join(',')}${match.length ? ' ' : ''}actions=${formatActions(flow)}`;
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

/**
 * A meter as `ovs-ofctl add-meter`/`mod-meter` read it:
 * `meter=7,pktps,burst,bands=type=drop,rate=1000,burst_size=100` (a burst_size of 0 is left out,
 * as dump-meters does). Without the burst flag the burst size is left out too: ovs-ofctl refuses it
 * then, and Open vSwitch ignores one sent natively without the flag (the reference sends one).
 */
export function formatMeter(m: Meter): string {
  const parts = [`meter=${m.id}`, m.unit];
  if (m.burst) parts.push('burst');
  if (m.stats) parts.push('stats');
  const bands = m.bands.map((b) => `type=${b.type},rate=${b.rate}${b.burstSize && m.burst ? `,burst_size=${b.burstSize}` : ''}`);
  return `${parts.join(',')},bands=${bands.join(',')}`;
}
