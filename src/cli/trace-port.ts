// `ovs-agent trace --port PORT_ID --to IP[:PORT] [--proto tcp|udp|icmp]`: the packet a port's VM
// would send, traced through the bridges, and what becomes of it in one line.
//
// How the packet is built (and what an operator can override):
//   in_port, source MAC  the port's ofport and MAC on br-int (OVSDB: iface-id, attached-mac)
//   source IP            the address the agent's anti-spoofing flows allow for that port on br-int
//                        (arp_spa / nw_src / ipv6_src matched with its ofport); --from IP otherwise
//   destination MAC      a port on this host's br-int with that address (found the same way); else
//                        the MAC br-tun's ARP responder answers for it (l2population); else --to-mac;
//                        else ff:ff:ff:ff:ff:ff, which follows the path a VM's ARP request would take
//   protocol             --proto, or tcp with a port / icmp without; echo request for icmp
// Conntrack: ofproto/trace resumes each recirculation as a new connection (--ct-next trk,new), the
// first packet of a connection, which is what security-group rules decide on.
import type { DumpedFlow } from './flow-views.js';
import type { NeutronVif } from './annotate.js';

export type Proto = 'tcp' | 'udp' | 'icmp';

export interface TraceTarget {
  ip: string;
  port: number | undefined;
}

/** `IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address. */
export function parseTarget(s: string): TraceTarget | undefined {
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(s);
  if (v6) return { ip: v6[1]!.toLowerCase(), port: v6[2] !== undefined ? Number(v6[2]) : undefined };
  if (s.includes(':') && s.split(':').length > 2) return /^[0-9a-fA-F:.]+$/.test(s) ? { ip: s.toLowerCase(), port: undefined } : undefined;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d+))?$/.exec(s);
  if (!v4) return undefined;
  const port = v4[2] !== undefined ? Number(v4[2]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { ip: v4[1]!, port };
}

const isV6 = (ip: string) => ip.includes(':');

/** Addresses the agent's br-int flows allow as source for this ofport (link-local and 0.0.0.0 last). */
export function portAddresses(flows: readonly DumpedFlow[], intBridge: string, ofport: number): string[] {
  const found: string[] = [];
  const hex = `0x${ofport.toString(16)}`;
  for (const f of flows) {
    if (f.bridge !== intBridge) continue;
    if (!new RegExp(`\\b(in_port=${ofport}|reg5=${hex})(,|$)`).test(f.match)) continue;
    for (const m of f.match.matchAll(/\b(?:arp_spa|nw_src|ipv6_src)=([0-9a-fA-F:.]+)(?:\/[0-9.:a-fA-F]+)?(?=,|$)/g)) {
      const ip = m[1]!.toLowerCase();
      if (!found.includes(ip)) found.push(ip);
    }
  }
  const weak = (ip: string) => ip === '0.0.0.0' || ip.startsWith('fe80:');
  return [...found.filter((ip) => !weak(ip)), ...found.filter((ip) => ip.startsWith('fe80:'))];
}

export interface DestinationMac {
  mac: string;
  /** Where it came from, for the operator. */
  source: string;
}

export function destinationMac(flows: readonly DumpedFlow[], intBridge: string, tunBridge: string | undefined, vifs: readonly NeutronVif[], ip: string): DestinationMac | undefined {
  for (const v of vifs) {
    if (portAddresses(flows, intBridge, v.ofport).includes(ip)) return { mac: v.mac, source: `port ${v.portId} (${v.name}) on ${intBridge}` };
  }
  if (tunBridge) {
    for (const f of flows) {
      if (f.bridge !== tunBridge || !new RegExp(`\\barp_tpa=${ip.replace(/\./g, '\\.')}(,|$)`).test(f.match)) continue;
      const mac = /set_field:([0-9a-f:]{17})->eth_src|mod_dl_src:([0-9a-f:]{17})/.exec(f.actions);
      if (mac) return { mac: (mac[1] ?? mac[2])!, source: `${tunBridge}'s ARP responder (l2population)` };
    }
  }
  return undefined;
}

export interface PacketSpec {
  ofport: number;
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  proto: Proto;
  dstPort: number | undefined;
}

/** The ofproto/trace flow for the packet. */
export function traceFlow(p: PacketSpec): string {
  const v6 = isV6(p.dstIp);
  const proto = p.proto === 'icmp' ? (v6 ? 'icmp6' : 'icmp') : v6 ? `${p.proto}6` : p.proto;
  const addr = v6 ? `ipv6_src=${p.srcIp},ipv6_dst=${p.dstIp}` : `nw_src=${p.srcIp},nw_dst=${p.dstIp}`;
  const l4 =
    p.proto === 'icmp'
      ? `,icmp_type=${v6 ? 128 : 8},icmp_code=0`
      : p.proto === 'udp'
        ? `,udp_src=40000,udp_dst=${p.dstPort ?? 53}` // ofproto/trace refuses tp_src/tp_dst for UDP
        : `,tp_src=40000,tp_dst=${p.dstPort ?? 80}`;
  return `in_port=${p.ofport},dl_src=${p.srcMac},dl_dst=${p.dstMac},${proto},${addr},nw_ttl=64${l4}`;
}

// ---- reading ofproto/trace output

export interface TraceStep {
  bridge: string;
  table: number;
  /** The matched flow as the trace prints it: "match, priority N, cookie C". */
  rule: string;
  actions: string[];
}

export interface TraceSection {
  steps: TraceStep[];
  datapathActions: string;
}

/** Each recirculation is a section with its own steps and datapath actions. */
export function parseTrace(text: string, firstBridge: string): TraceSection[] {
  const sections: TraceSection[] = [];
  let cur: TraceSection = { steps: [], datapathActions: '' };
  let bridge = firstBridge;
  let step: TraceStep | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    const br = /^\s*bridge\("([^"]+)"\)/.exec(line);
    if (br) {
      bridge = br[1]!;
      continue;
    }
    const t = /^\s*(\d+)\. (.*)$/.exec(line);
    if (t) {
      step = { bridge, table: Number(t[1]), rule: t[2]!, actions: [] };
      cur.steps.push(step);
      continue;
    }
    const dp = /^Datapath actions: (.*)$/.exec(line);
    if (dp) {
      cur.datapathActions = dp[1]!.trim();
      sections.push(cur);
      cur = { steps: [], datapathActions: '' };
      step = undefined;
      continue;
    }
    if (/^(Flow|Final flow|Megaflow|Translation failed|=+|recirc\()/.test(line.trim())) {
      step = undefined;
      continue;
    }
    if (step && /^\s{4,}\S/.test(line) && !/^\s*->/.test(line)) step.actions.push(line.trim());
  }
  if (cur.steps.length) sections.push(cur);
  return sections;
}

/** Top-level comma-separated datapath actions ("set(tunnel(...)),3" → two). */
export function splitActions(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (start < s.length) out.push(s.slice(start));
  return out.map((x) => x.trim()).filter(Boolean);
}

/** A datapath port as `ovs-appctl dpif/show` lists it. */
export interface DatapathPort {
  bridge: string;
  name: string;
  ofport: number;
  odp: number;
}

export function parseDpifShow(text: string): DatapathPort[] {
  const out: DatapathPort[] = [];
  let bridge = '';
  for (const line of text.split('\n')) {
    const b = /^  (\S+):\s*$/.exec(line);
    if (b) {
      bridge = b[1]!;
      continue;
    }
    const p = /^\s{4,}(\S+) (\d+)\/(\d+):/.exec(line);
    if (p && bridge) out.push({ bridge, name: p[1]!, ofport: Number(p[2]), odp: Number(p[3]) });
  }
  return out;
}

export interface Verdict {
  kind: 'delivered' | 'dropped';
  /** Where it leaves the datapath (delivered). */
  outputs: Array<{ bridge: string; name: string; ofport: number; portId: string | undefined; tunnel: string | undefined }>;
  /** The step that ended the packet's way (dropped). */
  lastStep: TraceStep | undefined;
  line: string;
}

export function verdict(
  sections: readonly TraceSection[],
  dpPorts: readonly DatapathPort[],
  portIdOf: (name: string) => string | undefined,
  tableName: (bridge: string, table: number) => string | undefined,
): Verdict {
  const last = sections[sections.length - 1];
  const actions = splitActions(last?.datapathActions ?? '');
  const outputs: Verdict['outputs'] = [];
  let tunnel: string | undefined;
  for (const a of actions) {
    const t = /^set\(tunnel\((.*)\)\)$/.exec(a);
    if (t) {
      const id = /tun_id=(0x[0-9a-f]+)/.exec(t[1]!)?.[1];
      const dst = /(?:ipv6_)?dst=([0-9a-f.:]+)/.exec(t[1]!)?.[1];
      tunnel = `tunnel id ${id !== undefined ? Number(id) : '?'} to ${dst ?? '?'}`;
      continue;
    }
    if (/^\d+$/.test(a)) {
      const odp = Number(a);
      const p = dpPorts.find((d) => d.odp === odp);
      outputs.push({ bridge: p?.bridge ?? '?', name: p?.name ?? `datapath port ${odp}`, ofport: p?.ofport ?? -1, portId: p ? portIdOf(p.name) : undefined, tunnel });
      tunnel = undefined;
    }
  }
  if (outputs.length) {
    const where = outputs.map((o) => `${o.name}${o.portId ? ` (port ${o.portId})` : ''} on ${o.bridge}${o.tunnel ? `, ${o.tunnel}` : ''}`);
    const line = outputs.length === 1 ? `delivered to ${where[0]}` : `flooded to ${outputs.length} ports: ${where.join('; ')}`;
    return { kind: 'delivered', outputs, lastStep: undefined, line };
  }
  const steps = last?.steps ?? [];
  const step = steps[steps.length - 1];
  if (!step) return { kind: 'dropped', outputs, lastStep: undefined, line: 'dropped before any table matched it' };
  const where = (st: TraceStep) => {
    const name = tableName(st.bridge, st.table);
    return `${st.bridge} table ${st.table}${name ? ` ${name}` : ''}`;
  };
  const rule = (st: TraceStep) => st.rule.replace(/, cookie 0x[0-9a-f]+$/, '');
  const prev = steps.length > 1 ? steps[steps.length - 2] : undefined;
  const via = prev ? `, sent there by ${where(prev)} flow "${rule(prev)}"` : '';
  return { kind: 'dropped', outputs, lastStep: step, line: `dropped in ${where(step)} by flow "${rule(step)}"${via}` };
}
