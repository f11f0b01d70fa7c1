// The flows of one Neutron port or one network, picked out of the bridges' dumps.
//   port:    on br-int, flows naming its ofport (in_port, output, the firewall's reg5) or its MAC,
//            its local VLAN's flows that name no other port, and the flows of every security-group
//            conjunction its own flows use (the remote-group side of its rules)
//   network: its local VLAN on br-int, br-tun and the provider bridges (dl_vlan, the VLAN set on
//            the way in, the firewall's reg6 zone), its tunnel id on br-tun, its segment's VLAN on
//            its physical network's bridge
import type { HostBridge, LocalNetwork, NeutronVif } from './annotate.js';

/** One line of `ovs-ofctl dump-flows`, its statistics' duration dropped. */
export interface DumpedFlow {
  bridge: string;
  table: number;
  priority: number;
  /** The match, as ovs-ofctl prints it (without priority). */
  match: string;
  actions: string;
  line: string;
}

export function parseDump(bridge: string, text: string): DumpedFlow[] {
  const out: DumpedFlow[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('OFPST') || line.startsWith('NXST')) continue;
    const a = line.indexOf(' actions=');
    const head = a >= 0 ? line.slice(0, a) : line;
    const actions = a >= 0 ? line.slice(a + ' actions='.length) : '';
    const table = Number(/\btable=(\d+)/.exec(head)?.[1] ?? 0);
    const prio = /\bpriority=(\d+)/.exec(head);
    // the match follows the statistics: after "n_bytes=N, " (and "idle_age=…, " etc.), or priority=
    const fields = head.split(', ');
    const last = fields[fields.length - 1] ?? '';
    const match = last.replace(/^priority=\d+,?/, '').replace(/^(cookie|duration|table|n_packets|n_bytes|idle_age|hard_age|idle_timeout|hard_timeout|reset_counts|send_flow_rem|importance)=\S*$/, '');
    out.push({ bridge, table, priority: prio ? Number(prio[1]) : 32768, match, actions, line: line.replace(/duration=[^,]+, /, '') });
  }
  // by table, keeping the switch's order within one (a stable sort)
  return out.sort((x, y) => x.table - y.table);
}

const num = (s: string) => Number(s);

/** ofports a flow names: in_port=N, output:N, reg5=0xN (matched or set). */
export function ofportsOf(f: DumpedFlow): Set<number> {
  const s = new Set<number>();
  for (const m of f.match.matchAll(/\bin_port=(\d+)/g)) s.add(num(m[1]!));
  for (const m of f.match.matchAll(/\breg5=(0x[0-9a-f]+|\d+)/g)) s.add(num(m[1]!));
  for (const m of f.actions.matchAll(/\boutput:(\d+)/g)) s.add(num(m[1]!));
  for (const m of f.actions.matchAll(/set_field:(0x[0-9a-f]+|\d+)->reg5/g)) s.add(num(m[1]!));
  return s;
}

/** Local VLANs a flow matches or sets: dl_vlan, vlan_vid set_field (4096 + vid), mod_vlan_vid, reg6 (the firewall's zone). */
export function vlansOf(f: DumpedFlow): Set<number> {
  const s = new Set<number>();
  for (const m of f.match.matchAll(/\bdl_vlan=(\d+)/g)) s.add(num(m[1]!));
  for (const m of f.match.matchAll(/\breg6=(0x[0-9a-f]+|\d+)/g)) s.add(num(m[1]!));
  for (const m of f.actions.matchAll(/set_field:(\d+)->vlan_vid/g)) s.add(num(m[1]!) - 4096);
  for (const m of f.actions.matchAll(/mod_vlan_vid:(\d+)/g)) s.add(num(m[1]!));
  for (const m of f.actions.matchAll(/set_field:(0x[0-9a-f]+|\d+)->reg6/g)) s.add(num(m[1]!));
  return s;
}

export function tunnelIdsOf(f: DumpedFlow): Set<number> {
  const s = new Set<number>();
  for (const m of f.match.matchAll(/\btun_id=(0x[0-9a-f]+|\d+)/g)) s.add(num(m[1]!));
  for (const m of f.actions.matchAll(/set_field:(0x[0-9a-f]+|\d+)->tun_id|set_tunnel:(0x[0-9a-f]+|\d+)/g)) s.add(num((m[1] ?? m[2])!));
  return s;
}

export function conjIdsOf(f: DumpedFlow): Set<number> {
  const s = new Set<number>();
  for (const m of f.match.matchAll(/\bconj_id=(\d+)/g)) s.add(num(m[1]!));
  for (const m of f.actions.matchAll(/conjunction\((\d+),/g)) s.add(num(m[1]!));
  return s;
}

function macsOf(f: DumpedFlow): Set<string> {
  const s = new Set<string>();
  for (const m of `${f.match} ${f.actions}`.toLowerCase().matchAll(/([0-9a-f]{2}(?::[0-9a-f]{2}){5})/g)) s.add(m[1]!);
  return s;
}

/** A selected flow and why it belongs to the view. */
export interface ViewFlow {
  flow: DumpedFlow;
  reasons: string[];
}

const isMiss = (f: DumpedFlow) => f.match === '';

/** The flows of one port on br-int (see the header). */
export function portFlows(flows: readonly DumpedFlow[], intBridge: string, vif: NeutronVif, others: readonly NeutronVif[]): ViewFlow[] {
  const otherOfports = new Set(others.filter((o) => o.portId !== vif.portId).map((o) => o.ofport));
  const selected = new Map<DumpedFlow, string[]>();
  const add = (f: DumpedFlow, why: string) => {
    const r = selected.get(f) ?? [];
    if (!r.includes(why)) r.push(why);
    selected.set(f, r);
  };
  const onInt = flows.filter((f) => f.bridge === intBridge);
  for (const f of onInt) {
    if (isMiss(f)) continue;
    const ports = ofportsOf(f);
    if (ports.has(vif.ofport)) add(f, `ofport ${vif.ofport}`);
    if (macsOf(f).has(vif.mac)) add(f, `MAC ${vif.mac}`);
    const namesOther = [...ports].some((p) => otherOfports.has(p));
    if (vif.localVlan !== undefined && vlansOf(f).has(vif.localVlan) && !namesOther) add(f, `local VLAN ${vif.localVlan}`);
  }
  const conj = new Set<number>();
  for (const f of selected.keys()) for (const c of conjIdsOf(f)) conj.add(c);
  for (const f of onInt) {
    if (selected.has(f)) continue;
    const ids = [...conjIdsOf(f)].filter((c) => conj.has(c));
    if (ids.length === 0) continue;
    if ([...ofportsOf(f)].some((p) => otherOfports.has(p))) continue; // another port's half of the same rule
    const vlans = vlansOf(f);
    if (vif.localVlan !== undefined && vlans.size > 0 && !vlans.has(vif.localVlan)) continue; // the same group on another network
    add(f, `security-group conjunction ${ids.join(',')}`);
  }
  return order(flows, selected);
}

/** The flows of one network on every bridge of the agent (see the header). */
export function networkFlows(flows: readonly DumpedFlow[], bridges: readonly HostBridge[], net: LocalNetwork, physnetOf: ReadonlyMap<string, string>): ViewFlow[] {
  const kind = new Map(bridges.map((b) => [b.name, b.kind]));
  const selected = new Map<DumpedFlow, string[]>();
  for (const f of flows) {
    if (isMiss(f)) continue;
    const why: string[] = [];
    const k = kind.get(f.bridge);
    if (k === 'phys') {
      // On the provider bridge the local VLAN comes from br-int and leaves as the segment's VLAN.
      if (physnetOf.get(f.bridge) !== net.physicalNetwork) continue;
      if (vlansOf(f).has(net.localVlan)) why.push(`local VLAN ${net.localVlan}`);
    } else {
      if (vlansOf(f).has(net.localVlan)) why.push(`local VLAN ${net.localVlan}`);
      if (k === 'tun' && net.segmentationId !== undefined && tunnelIdsOf(f).has(net.segmentationId)) why.push(`tunnel id ${net.segmentationId}`);
      if (k === 'int' && net.networkType === 'vlan' && net.segmentationId !== undefined && /\bdl_vlan=/.test(f.match) &&
        new RegExp(`\\bdl_vlan=${net.segmentationId}\\b`).test(f.match) && /mod_vlan_vid:|->vlan_vid/.test(f.actions) && vlansOf(f).has(net.localVlan)) {
        why.push(`segment VLAN ${net.segmentationId}`);
      }
    }
    if (why.length) selected.set(f, why);
  }
  return order(flows, selected);
}

/** In dump order (bridge, then table and priority as ovs-ofctl sorts them). */
function order(flows: readonly DumpedFlow[], selected: Map<DumpedFlow, string[]>): ViewFlow[] {
  return flows.filter((f) => selected.has(f)).map((f) => ({ flow: f, reasons: selected.get(f)! }));
}
