// Human-readable flows in ovs-ofctl's vocabulary, for error messages and logs. Close to what
// `ovs-ofctl dump-flows` prints, but not a parser-grade serialization.
import type { Action, FieldRef, Flow, FlowMod, LearnSpec, Match } from '../../flow.js';
import { OFPTT_ALL, OFPVID_PRESENT } from '../../flow.js';

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

function masked(name: string, v: { value: unknown; mask?: unknown } | undefined, fmt: (x: never) => string = String): string | undefined {
  if (!v) return undefined;
  const f = fmt as (x: unknown) => string;
  return v.mask === undefined ? `${name}=${f(v.value)}` : `${name}=${f(v.value)}/${f(v.mask)}`;
}

export function formatMatch(m: Match): string {
  const parts: (string | undefined)[] = [];
  const proto: Record<number, string> = { 0x0806: 'arp', 0x0800: 'ip', 0x86dd: 'ipv6' };
  if (m.ethType !== undefined) parts.push(proto[m.ethType] ?? `dl_type=${hex(m.ethType)}`);
  if (m.inPort !== undefined) parts.push(`in_port=${m.inPort}`);
  if (m.vlanVid) {
    const { value, mask } = m.vlanVid;
    if (mask === undefined && value & OFPVID_PRESENT) parts.push(`dl_vlan=${value & 0xfff}`);
    else if (mask === undefined && value === 0) parts.push('vlan_tci=0x0000/0x1fff');
    else parts.push(masked('vlan_vid', m.vlanVid, (x: number) => hex(x)));
  }
  parts.push(masked('dl_src', m.ethSrc), masked('dl_dst', m.ethDst));
  if (m.ipProto !== undefined) parts.push(`nw_proto=${m.ipProto}`);
  parts.push(masked('nw_src', m.ipv4Src), masked('nw_dst', m.ipv4Dst));
  parts.push(masked('ipv6_src', m.ipv6Src), masked('ipv6_dst', m.ipv6Dst));
  for (const [k, n] of [['tcpSrc', 'tcp_src'], ['tcpDst', 'tcp_dst'], ['udpSrc', 'udp_src'], ['udpDst', 'udp_dst'], ['icmpv6Type', 'icmp_type'], ['icmpv6Code', 'icmp_code'], ['arpOp', 'arp_op']] as const) {
    const v = m[k];
    if (v !== undefined) parts.push(`${n}=${v}`);
  }
  parts.push(masked('nd_target', m.ndTarget));
  parts.push(masked('arp_spa', m.arpSpa), masked('arp_tpa', m.arpTpa), masked('arp_sha', m.arpSha), masked('arp_tha', m.arpTha));
  parts.push(masked('tun_id', m.tunId, (x: bigint) => hex(x)));
  parts.push(masked('metadata', m.metadata, (x: bigint) => hex(x)));
  for (const [r, v] of Object.entries(m.regs ?? {})) parts.push(masked(`reg${r}`, v, (x: number) => hex(x)));
  return parts.filter((p): p is string => p !== undefined).join(',');
}

function ref(r: FieldRef): string {
  if (r.ofs === undefined && r.nBits === undefined) return `${r.field}[]`;
  const ofs = r.ofs ?? 0;
  return r.nBits === 1 ? `${r.field}[${ofs}]` : `${r.field}[${ofs}..${ofs + (r.nBits ?? 1) - 1}]`;
}

function learnSpec(s: LearnSpec): string {
  switch (s.kind) {
    case 'match_field':
      return s.dst.field === s.src.field && s.dst.ofs === s.src.ofs && s.dst.nBits === s.src.nBits ? ref(s.dst) : `${ref(s.dst)}=${ref(s.src)}`;
    case 'match_value':
      return `${ref(s.dst)}=${hex(s.value)}`;
    case 'load_field':
      return `load:${ref(s.src)}->${ref(s.dst)}`;
    case 'load_value':
      return `load:${s.value === 0n ? '0' : hex(s.value)}->${ref(s.dst)}`;
    case 'output':
      return `output:${ref(s.src)}`;
  }
}

export function formatAction(a: Action): string {
  switch (a.type) {
    case 'output':
      return typeof a.port === 'number' ? `output:${a.port}` : a.port;
    case 'push_vlan':
      return `push_vlan:${hex(a.ethertype)}`;
    case 'pop_vlan':
      return 'pop_vlan';
    case 'set_field':
      return `set_field:${typeof a.value === 'bigint' || a.field === 'tun_id' ? hex(a.value as bigint) : String(a.value)}->${a.field}`;
    case 'resubmit':
      return `resubmit(${a.inPort ?? ''},${a.table ?? ''})`;
    case 'move':
      return `move:${ref(a.src)}->${ref(a.dst)}`;
    case 'load':
      return `load:${hex(a.value)}->${ref(a.dst)}`;
    case 'ct':
    case 'ct_clear':
    case 'conjunction':
      return a.type;
    case 'learn': {
      const p = [`table=${a.table}`];
      if (a.idleTimeout) p.push(`idle_timeout=${a.idleTimeout}`);
      if (a.hardTimeout) p.push(`hard_timeout=${a.hardTimeout}`);
      p.push(`priority=${a.priority}`);
      if (a.cookie) p.push(`cookie=${hex(a.cookie)}`);
      return `learn(${[...p, ...a.specs.map(learnSpec)].join(',')})`;
    }
  }
}

export function formatFlow(f: Flow): string {
  const head = [`table=${f.table}`, `priority=${f.priority}`];
  if (f.cookie !== undefined) head.unshift(`cookie=${hex(f.cookie)}`);
  const match = formatMatch(f.match);
  const acts = f.actions.map(formatAction);
  if (f.gotoTable !== undefined) acts.push(`goto_table:${f.gotoTable}`);
  return `${head.join(', ')}${match ? ',' + match : ''} actions=${acts.length ? acts.join(',') : 'drop'}`;
}

export function formatFlowMod(mod: FlowMod): string {
  if (mod.command !== 'delete') return `${mod.command} ${formatFlow(mod.flow)}`;
  const f = mod.filter;
  const p = [`table=${f.table === undefined || f.table === OFPTT_ALL ? 'ALL' : f.table}`];
  if (f.strict) p.push(`priority=${f.priority ?? 0}`);
  if (f.cookie !== undefined || f.cookieMask !== undefined) p.push(`cookie=${hex(f.cookie ?? 0n)}/${hex(f.cookieMask ?? 0n)}`);
  if (f.outPort !== undefined) p.push(`out_port=${f.outPort}`);
  const match = f.match ? formatMatch(f.match) : '';
  return `${f.strict ? 'delete_strict' : 'delete'} ${p.join(',')}${match ? ',' + match : ''}`;
}
