// The flows of the OVS firewall that do not come from security-group rules: the base flows of
// the firewall tables, and per port its classification (table 60), anti-spoofing and
// ARP/ND/DHCP handling (71, 81), conntrack state handling (72, 82), the accept-or-ingress
// decision (73) and the direct-output flows of `explicitly_egress_direct` (94).
import {
  type Action,
  type Flow,
  type FlowFilter,
  type Match,
  ETH_TYPE,
  IP_PROTO,
  ct,
  output,
  popVlan,
  pushVlan,
  resubmit,
  setReg,
  setVlan,
  untagged,
  vlan,
} from '../../openflow/flow.js';
import { INT } from '../../bridges/tables.js';
import type { FirewallPort } from '../types.js';
import { eui64LinkLocal, ipVersion, parsePrefix, prefixMatch } from './addresses.js';
import { CT_MARK_INVALID, CT_MARK_NORMAL, CT_STATES, CT_ZONE_NET, REG_NET, REG_PORT } from './rules.js';

/** The tables whose unmatched packets the firewall drops. */
export const OVS_FIREWALL_TABLES = [
  INT.BASE_EGRESS_TABLE,
  INT.RULES_EGRESS_TABLE,
  INT.ACCEPT_OR_INGRESS_TABLE,
  INT.BASE_INGRESS_TABLE,
  INT.RULES_INGRESS_TABLE,
] as const;

const ICMPV6 = { MLD_QUERY: 130, RS: 133, RA: 134, NS: 135, NA: 136 } as const;

export type PortForFlows = Pick<
  FirewallPort,
  'ofport' | 'localVlan' | 'mac' | 'fixedIps' | 'allowedAddressPairs' | 'networkType' | 'segmentationId'
>;

export interface PortFlowOptions {
  /** `[securitygroup] permitted_ethertypes`: hex ethertypes VMs may send besides IP/ARP. */
  permittedEthertypes: readonly string[];
  /** `[agent] explicitly_egress_direct`. */
  explicitlyEgressDirect: boolean;
  /** The patch port towards br-tun / the physical bridge of this port's network, if any (egress-direct flows). */
  egressDirectPatchOfport?: number;
  /** Called with a warning the flows imply (an unusable permitted ethertype). */
  warn?: (msg: string) => void;
}

const regPort = (p: number): Match['regs'] => ({ [REG_PORT]: { value: p } });
const ipProtoMatch = (ethType: number, ipProto: number, extra: Match = {}): Match => ({ ethType, ipProto, ...extra });

/** Base flows at driver start (and after an OVS restart): default drops, the untracking loop, 91→94→NORMAL. */
export function baseFlows(): Flow[] {
  const flows: Flow[] = OVS_FIREWALL_TABLES.map((table) => ({ table, priority: 0, match: {}, actions: [] }));
  flows.push(
    { table: INT.BASE_EGRESS_TABLE, priority: 110, match: { ctState: CT_STATES.TRACKED }, actions: [{ type: 'ct_clear' }, resubmit(INT.BASE_EGRESS_TABLE)] },
    { table: INT.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE, priority: 1, match: {}, actions: [output('NORMAL')] },
    { table: INT.ACCEPTED_EGRESS_TRAFFIC_TABLE, priority: 1, match: {}, actions: [resubmit(INT.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE)] },
    { table: INT.ACCEPTED_INGRESS_TRAFFIC_TABLE, priority: 0, match: {}, actions: [] },
    { table: INT.DROPPED_TRAFFIC_TABLE, priority: 0, match: {}, actions: [] },
  );
  return flows;
}

/** Invalid connections are dropped whichever port they belong to (installed with the first filtered port). */
export function sharedTrackedFlows(): Flow[] {
  return [INT.RULES_EGRESS_TABLE, INT.RULES_INGRESS_TABLE].map((table) => ({
    table,
    priority: 50,
    match: { ctState: CT_STATES.INVALID },
    actions: [resubmit(INT.DROPPED_TRAFFIC_TABLE)],
  }));
}

/** Every MAC the port may use: its own and those of its allowed address pairs. */
export function allowedMacs(port: PortForFlows): string[] {
  return [...new Set([port.mac, ...port.allowedAddressPairs.map((p) => p.mac)])].sort();
}

/** (MAC, address or CIDR) pairs per IP version: fixed IPs with the port MAC, allowed pairs, and for IPv6 the EUI-64 link-local address. */
export function allowedPairs(port: PortForFlows): { v4: Array<[string, string]>; v6: Array<[string, string]> } {
  const v4 = new Map<string, [string, string]>();
  const v6 = new Map<string, [string, string]>();
  const add = (mac: string, ip: string): void => {
    (ipVersion(ip) === 4 ? v4 : v6).set(`${mac} ${ip}`, [mac, ip]);
  };
  for (const p of port.allowedAddressPairs) add(p.mac, p.ip);
  add(port.mac, eui64LinkLocal(port.mac));
  for (const ip of port.fixedIps) add(port.mac, ip);
  const sorted = (m: Map<string, [string, string]>) => [...m.values()].sort((a, b) => (a.join(' ') < b.join(' ') ? -1 : 1));
  return { v4: sorted(v4), v6: sorted(v6) };
}

const srcAddr = (ip: string): Match => {
  const p = parsePrefix(ip);
  return p.version === 4 ? { ipv4Src: prefixMatch(p) } : { ipv6Src: prefixMatch(p) };
};

/** Table 60 for a filtered port: its egress by in_port, its ingress by destination MAC on its network. */
export function classificationFlows(port: PortForFlows): Flow[] {
  const P = port.ofport;
  const L = port.localVlan;
  const regs = [setReg(REG_PORT, P), setReg(REG_NET, L)];
  const flows: Flow[] = [
    { table: INT.TRANSIENT_TABLE, priority: 100, match: { inPort: P }, actions: [...regs, resubmit(INT.BASE_EGRESS_TABLE)] },
  ];
  for (const mac of allowedMacs(port)) {
    flows.push({ table: INT.TRANSIENT_TABLE, priority: 90, match: { vlanVid: vlan(L), ethDst: { value: mac } }, actions: [...regs, popVlan(), resubmit(INT.BASE_INGRESS_TABLE)] });
    // Provider networks: frames may reach table 60 with the provider VID or untagged (physical direct flows).
    if (port.networkType === 'vlan' && port.segmentationId !== undefined) {
      flows.push({ table: INT.TRANSIENT_TABLE, priority: 90, match: { vlanVid: vlan(port.segmentationId), ethDst: { value: mac } }, actions: [...regs, popVlan(), resubmit(INT.BASE_INGRESS_TABLE)] });
    } else if (port.networkType === 'flat') {
      flows.push({ table: INT.TRANSIENT_TABLE, priority: 90, match: { vlanVid: untagged(), ethDst: { value: mac } }, actions: [...regs, resubmit(INT.BASE_INGRESS_TABLE)] });
    }
  }
  return flows;
}

/** Table 71: what the port may send before its rules are looked at (spoofing, ARP, ND, DHCP). */
export function baseEgressFlows(port: PortForFlows, opts: PortFlowOptions): Flow[] {
  const P = port.ofport;
  const own = { inPort: P, regs: regPort(P) };
  const t = INT.BASE_EGRESS_TABLE;
  const toNormal = [resubmit(INT.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE)];
  const toRules = [ct({ table: INT.RULES_EGRESS_TABLE, zone: CT_ZONE_NET })];
  const toAccept = [resubmit(INT.ACCEPT_OR_INGRESS_TABLE)];
  const toDrop = [resubmit(INT.DROPPED_TRAFFIC_TABLE)];
  const { v4, v6 } = allowedPairs(port);
  const flows: Flow[] = [];
  for (const [mac, ip] of v4) {
    const spa = prefixMatch(parsePrefix(ip));
    flows.push({ table: t, priority: 95, match: { ...own, ethType: ETH_TYPE.ARP, ethSrc: { value: mac }, arpSpa: spa }, actions: toNormal });
    flows.push({ table: t, priority: 65, match: { ...own, ethType: ETH_TYPE.IPV4, ethSrc: { value: mac }, ...srcAddr(ip) }, actions: toRules });
  }
  for (const [mac, ip] of v6) {
    for (const type of [ICMPV6.MLD_QUERY, ICMPV6.RS, ICMPV6.NS]) {
      flows.push({ table: t, priority: 95, match: { ...own, ...ipProtoMatch(ETH_TYPE.IPV6, IP_PROTO.ICMPV6), ethSrc: { value: mac }, ...srcAddr(ip), icmpv6Type: type }, actions: toNormal });
    }
    // Neighbour advertisements are checked by target, not source: a VM announces only its own addresses.
    flows.push({ table: t, priority: 95, match: { ...own, ...ipProtoMatch(ETH_TYPE.IPV6, IP_PROTO.ICMPV6), icmpv6Type: ICMPV6.NA, ndTarget: prefixMatch(parsePrefix(ip)) }, actions: toNormal });
    flows.push({ table: t, priority: 65, match: { ...own, ethType: ETH_TYPE.IPV6, ethSrc: { value: mac }, ...srcAddr(ip) }, actions: toRules });
  }
  // DHCP requests, also before the client has an address (0.0.0.0).
  for (const [mac, ip] of [...v4, [port.mac, '0.0.0.0'] as [string, string]]) {
    flows.push({ table: t, priority: 80, match: { ...own, ...ipProtoMatch(ETH_TYPE.IPV4, IP_PROTO.UDP), ethSrc: { value: mac }, ...srcAddr(ip), udpSrc: 68, udpDst: 67 }, actions: toAccept });
  }
  for (const [mac, ip] of v6) {
    flows.push({ table: t, priority: 80, match: { ...own, ...ipProtoMatch(ETH_TYPE.IPV6, IP_PROTO.UDP), ethSrc: { value: mac }, ...srcAddr(ip), udpSrc: 546, udpDst: 547 }, actions: toAccept });
  }
  // A VM must not act as a DHCP server or IPv6 router.
  flows.push(
    { table: t, priority: 70, match: { ...own, ...ipProtoMatch(ETH_TYPE.IPV4, IP_PROTO.UDP), udpSrc: 67, udpDst: 68 }, actions: toDrop },
    { table: t, priority: 70, match: { ...own, ...ipProtoMatch(ETH_TYPE.IPV6, IP_PROTO.UDP), udpSrc: 547, udpDst: 546 }, actions: toDrop },
    { table: t, priority: 70, match: { ...own, ...ipProtoMatch(ETH_TYPE.IPV6, IP_PROTO.ICMPV6), icmpv6Type: ICMPV6.RA }, actions: toDrop },
  );
  for (const e of opts.permittedEthertypes) {
    const n = /^0x[0-9a-f]+$/i.test(e.trim()) ? parseInt(e.trim(), 16) : NaN;
    if (Number.isNaN(n) || n > 0xffff) {
      opts.warn?.(`Custom ethertype ${e} is not a hexadecimal number.`);
      continue;
    }
    flows.push({ table: t, priority: 95, match: { ethType: n, regs: regPort(P) }, actions: toNormal });
  }
  flows.push({ table: t, priority: 10, match: own, actions: [{ type: 'ct_clear' }, ...toDrop] });
  return flows;
}

/** Table 73: to a local port of the same network go through its ingress; otherwise commit new connections and switch. */
export function acceptOrIngressFlows(port: PortForFlows): Flow[] {
  const P = port.ofport;
  const t = INT.ACCEPT_OR_INGRESS_TABLE;
  const flows: Flow[] = allowedMacs(port).map((mac) => ({
    table: t,
    priority: 100,
    match: { ethDst: { value: mac }, regs: { [REG_NET]: { value: port.localVlan } } },
    actions: [setReg(REG_PORT, P), resubmit(INT.BASE_INGRESS_TABLE)],
  }));
  for (const ethType of [ETH_TYPE.IPV4, ETH_TYPE.IPV6]) {
    flows.push({ table: t, priority: 90, match: { ctState: CT_STATES.NEW_NOT_ESTABLISHED, ethType, regs: regPort(P) }, actions: [ct({ commit: true, zone: CT_ZONE_NET }), resubmit(INT.ACCEPTED_EGRESS_TRAFFIC_TABLE)] });
  }
  flows.push({ table: t, priority: 80, match: { regs: regPort(P) }, actions: [resubmit(INT.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE)] });
  return flows;
}

/** Table 81: ARP, ND and DHCP replies pass; IP goes through conntrack to the rules of table 82. */
export function baseIngressFlows(port: PortForFlows): Flow[] {
  const P = port.ofport;
  const t = INT.BASE_INGRESS_TABLE;
  const regs = regPort(P);
  const out = [output(P)];
  const flows: Flow[] = [{ table: t, priority: 100, match: { ethType: ETH_TYPE.ARP, regs }, actions: out }];
  for (const type of [ICMPV6.MLD_QUERY, ICMPV6.NS, ICMPV6.NA, ICMPV6.RA]) {
    flows.push({ table: t, priority: 100, match: { ...ipProtoMatch(ETH_TYPE.IPV6, IP_PROTO.ICMPV6), icmpv6Type: type, regs }, actions: out });
  }
  flows.push(
    { table: t, priority: 95, match: { ...ipProtoMatch(ETH_TYPE.IPV4, IP_PROTO.UDP), udpSrc: 67, udpDst: 68, regs }, actions: out },
    { table: t, priority: 95, match: { ...ipProtoMatch(ETH_TYPE.IPV6, IP_PROTO.UDP), udpSrc: 547, udpDst: 546, regs }, actions: out },
  );
  for (const ethType of [ETH_TYPE.IPV4, ETH_TYPE.IPV6]) {
    flows.push({ table: t, priority: 90, match: { ctState: CT_STATES.NOT_TRACKED, ethType, regs }, actions: [ct({ table: INT.RULES_INGRESS_TABLE, zone: CT_ZONE_NET })] });
  }
  flows.push({ table: t, priority: 80, match: { ctState: CT_STATES.TRACKED, regs }, actions: [resubmit(INT.RULES_INGRESS_TABLE)] });
  return flows;
}

/**
 * Tables 72/82 around the rules: connections marked invalid are dropped, replies and related
 * packets of accepted connections pass, new packets no rule accepted are dropped, and an
 * established connection no rule accepts any more is marked (ct_mark=1) so it stays cut.
 */
export function trackedFlows(port: PortForFlows, direction: 'ingress' | 'egress'): Flow[] {
  const P = port.ofport;
  const t = direction === 'ingress' ? INT.RULES_INGRESS_TABLE : INT.RULES_EGRESS_TABLE;
  const regs = regPort(P);
  const drop = [resubmit(INT.DROPPED_TRAFFIC_TABLE)];
  const pass: Action[] = direction === 'ingress' ? [output(P)] : [resubmit(INT.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE)];
  const flows: Flow[] = [{ table: t, priority: 50, match: { ctMark: { value: CT_MARK_INVALID }, regs }, actions: drop }];
  for (const state of [CT_STATES.ESTABLISHED_REPLY, CT_STATES.RELATED]) {
    flows.push({ table: t, priority: 50, match: { ctState: state, ctZone: port.localVlan, ctMark: { value: CT_MARK_NORMAL }, regs }, actions: pass });
  }
  flows.push({ table: t, priority: 40, match: { ctState: CT_STATES.NOT_ESTABLISHED, regs }, actions: drop });
  for (const ethType of [ETH_TYPE.IPV4, ETH_TYPE.IPV6]) {
    flows.push({
      table: t,
      priority: 40,
      match: { ctState: CT_STATES.ESTABLISHED, ethType, regs },
      actions: [ct({ commit: true, zone: CT_ZONE_NET, exec: [{ type: 'set_field', field: 'ct_mark', value: CT_MARK_INVALID }] })],
    });
  }
  return flows;
}

/** Table 94 with `explicitly_egress_direct`: frames to the port's MAC go straight to it; its unicast out the patch port. */
export function egressDirectFlows(port: Pick<PortForFlows, 'ofport' | 'localVlan' | 'mac'>, opts: PortFlowOptions): Flow[] {
  if (!opts.explicitlyEgressDirect) return [];
  return acceptedEgressDirectFlows(port.mac, port.localVlan, port.ofport, opts.egressDirectPatchOfport);
}

/**
 * The reference's install_accepted_egress_direct_flow: accepted frames to `mac` on the network of
 * local VLAN `localVlan` are output to `ofport`; unicast from `mac` leaves by the network's patch
 * port (none for a flat network, whose frames keep going through NORMAL).
 */
export function acceptedEgressDirectFlows(mac: string, localVlan: number, ofport: number, patchOfport: number | undefined): Flow[] {
  const t = INT.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE;
  const net = { [REG_NET]: { value: localVlan } };
  const flows: Flow[] = [{ table: t, priority: 12, match: { ethDst: { value: mac }, regs: net }, actions: [output(ofport)] }];
  if (patchOfport !== undefined) {
    flows.push({
      table: t,
      priority: 10,
      match: { ethSrc: { value: mac }, ethDst: { value: '00:00:00:00:00:00', mask: '01:00:00:00:00:00' }, regs: net },
      // The reference sends mod_vlan_vid:L; on an untagged frame OVS stores it as push_vlan + set_field.
      actions: [pushVlan(), setVlan(localVlan), output(patchOfport)],
    });
  }
  return flows;
}

/** The reference's delete_accepted_egress_direct_flow: every table-94 flow to or from `mac` on that network (non-strict). */
export function acceptedEgressDirectFilters(mac: string, localVlan: number): Array<Omit<FlowFilter, 'cookie' | 'cookieMask'>> {
  const t = INT.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE;
  const net = { [REG_NET]: { value: localVlan } };
  return [
    { table: t, match: { ethDst: { value: mac }, regs: net } },
    { table: t, match: { ethSrc: { value: mac }, regs: net } },
  ];
}

/** Every non-rule flow of a port with port security on. */
export function filteredPortFlows(port: PortForFlows, opts: PortFlowOptions): Flow[] {
  return [
    ...classificationFlows(port),
    ...baseEgressFlows(port, opts),
    ...acceptOrIngressFlows(port),
    ...egressDirectFlows(port, opts),
    ...baseIngressFlows(port),
    ...trackedFlows(port, 'ingress'),
    ...trackedFlows(port, 'egress'),
  ];
}

/** A port without port security, or a trusted network:* port: its egress skips the firewall. */
export function unfilteredPortFlows(port: Pick<PortForFlows, 'ofport' | 'localVlan' | 'mac'>, opts: PortFlowOptions): Flow[] {
  const P = port.ofport;
  return [
    { table: INT.TRANSIENT_TABLE, priority: 100, match: { inPort: P }, actions: [setReg(REG_PORT, P), setReg(REG_NET, port.localVlan), resubmit(INT.ACCEPT_OR_INGRESS_TABLE)] },
    { table: INT.ACCEPT_OR_INGRESS_TABLE, priority: 80, match: { regs: regPort(P) }, actions: [resubmit(INT.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE)] },
    ...egressDirectFlows(port, opts),
  ];
}
