// The OpenFlow tables of the neutron OVS pipelines (neutron_lib ovs_constants), declared once per
// bridge with their name and what a packet nothing else matches meets there. The table-id
// constants (INT, TUN, PHYS), the tables scanned for stale flows, the operator CLI's table names
// and every bridge's miss flows all derive from these declarations.
import { TUNNEL_NETWORK_TYPES, isTunnelType, type NetworkType, type TunnelType } from '../config/index.js';

/** What the bridge installs for packets no other flow of a table matches. */
export type TableMiss =
  /** Nothing: the table belongs to a feature (DVR, a firewall) that brings its own flows. */
  | { kind: 'none' }
  | { kind: 'drop'; priority: number }
  | { kind: 'goto'; priority: number; table: string }
  | { kind: 'normal'; priority: number };

export interface TableSpec {
  readonly id: number;
  readonly name: string;
  readonly miss: TableMiss;
  /** Scanned for flows of an earlier run after the first full sync (the reference skips a few). */
  readonly staleFlowScan?: false;
}

const NONE: TableMiss = { kind: 'none' };
const DROP: TableMiss = { kind: 'drop', priority: 0 };
const goto = (table: string, priority = 0): TableMiss => ({ kind: 'goto', priority, table });
const normal = (priority: number): TableMiss => ({ kind: 'normal', priority });

/** br-int: VM ports, local VLANs, anti-spoofing, and the tables the OVS firewall fills. */
export const INT_PIPELINE = [
  { id: 0, name: 'LOCAL_SWITCHING', miss: goto('PACKET_RATE_LIMIT') },
  { id: 1, name: 'DVR_TO_SRC_MAC', miss: NONE },
  { id: 2, name: 'DVR_TO_SRC_MAC_PHYSICAL', miss: NONE },
  { id: 3, name: 'ARP_DVR_MAC_TO_DST_MAC', miss: NONE, staleFlowScan: false },
  { id: 4, name: 'ARP_DVR_MAC_TO_DST_MAC_PHYSICAL', miss: NONE, staleFlowScan: false },
  /** Its one flow disappears when ovs-vswitchd restarts with empty tables. */
  { id: 23, name: 'CANARY_TABLE', miss: DROP },
  { id: 24, name: 'ARP_SPOOF_TABLE', miss: DROP },
  { id: 25, name: 'MAC_SPOOF_TABLE', miss: NONE },
  { id: 30, name: 'LOCAL_EGRESS_TABLE', miss: goto('PACKET_RATE_LIMIT') },
  { id: 31, name: 'LOCAL_IP_TABLE', miss: goto('PACKET_RATE_LIMIT') },
  { id: 59, name: 'PACKET_RATE_LIMIT', miss: goto('TRANSIENT_TABLE') },
  { id: 60, name: 'TRANSIENT_TABLE', miss: normal(3) },
  { id: 61, name: 'LOCAL_MAC_DIRECT', miss: NONE },
  { id: 62, name: 'TRANSIENT_EGRESS_TABLE', miss: normal(3) },
  { id: 71, name: 'BASE_EGRESS_TABLE', miss: NONE },
  { id: 72, name: 'RULES_EGRESS_TABLE', miss: NONE },
  { id: 73, name: 'ACCEPT_OR_INGRESS_TABLE', miss: NONE },
  /** Only with the dhcp extension (and [dhcp] enable_ipv6 for 78). */
  { id: 77, name: 'DHCP_IPV4_TABLE', miss: DROP },
  { id: 78, name: 'DHCP_IPV6_TABLE', miss: DROP },
  { id: 81, name: 'BASE_INGRESS_TABLE', miss: NONE },
  { id: 82, name: 'RULES_INGRESS_TABLE', miss: NONE },
  { id: 91, name: 'ACCEPTED_EGRESS_TRAFFIC_TABLE', miss: NONE },
  { id: 92, name: 'ACCEPTED_INGRESS_TRAFFIC_TABLE', miss: NONE },
  { id: 93, name: 'DROPPED_TRAFFIC_TABLE', miss: NONE },
  { id: 94, name: 'ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE', miss: NONE, staleFlowScan: false },
] as const satisfies readonly TableSpec[];

/** br-tun: local VLAN ↔ tunnel id, learning, l2population unicast/flood, ARP responder. */
export const TUN_PIPELINE = [
  { id: 0, name: 'LOCAL_SWITCHING', miss: DROP },
  { id: 1, name: 'DVR_PROCESS', miss: NONE },
  /** Split by destination MAC at priority 0 (unicast → 20, multicast → 22): no plain miss flow. */
  { id: 2, name: 'PATCH_LV_TO_TUN', miss: NONE },
  { id: 3, name: 'GRE_TUN_TO_LV', miss: DROP },
  { id: 4, name: 'VXLAN_TUN_TO_LV', miss: DROP },
  { id: 6, name: 'GENEVE_TUN_TO_LV', miss: DROP },
  { id: 9, name: 'DVR_NOT_LEARN', miss: NONE },
  /** One learn flow at priority 1 for everything. */
  { id: 10, name: 'LEARN_FROM_TUN', miss: NONE },
  { id: 20, name: 'UCAST_TO_TUN', miss: goto('FLOOD_TO_TUN') },
  /** Only with the ARP responder on. */
  { id: 21, name: 'ARP_RESPONDER', miss: goto('FLOOD_TO_TUN') },
  { id: 22, name: 'FLOOD_TO_TUN', miss: DROP },
] as const satisfies readonly TableSpec[];

/** A provider bridge: local VLAN ↔ segment VID towards the physical network. */
export const PHYS_PIPELINE = [
  { id: 0, name: 'LOCAL_SWITCHING', miss: normal(0) },
  { id: 1, name: 'DVR_PROCESS_PHYSICAL', miss: NONE },
  { id: 2, name: 'LOCAL_VLAN_TRANSLATION', miss: NONE },
  { id: 3, name: 'DVR_NOT_LEARN_PHYSICAL', miss: NONE },
  /**
   * DVR only: the reference's DVR mixin, shared by br-tun and the provider bridges, blocks ARP for a
   * router's gateway (and its IPv6 RAs) in table 22 of either bridge; on a provider bridge nothing
   * leads there. Not scanned for stale flows, as the reference's PHY_BR_ALL_TABLES leaves it out.
   */
  { id: 22, name: 'FLOOD_TO_TUN', miss: NONE, staleFlowScan: false },
] as const satisfies readonly TableSpec[];

type TableIds<P extends readonly TableSpec[]> = { readonly [S in P[number] as S['name']]: S['id'] };

function tableIds<const P extends readonly TableSpec[]>(pipeline: P): TableIds<P> {
  return Object.fromEntries(pipeline.map((t) => [t.name, t.id])) as TableIds<P>;
}

function staleFlowTables(pipeline: readonly TableSpec[]): number[] {
  return pipeline.filter((t) => t.staleFlowScan !== false).map((t) => t.id);
}

/** br-int table ids by name. */
export const INT = tableIds(INT_PIPELINE);
/** br-tun table ids by name. */
export const TUN = tableIds(TUN_PIPELINE);
/** Provider bridge table ids by name. */
export const PHYS = tableIds(PHYS_PIPELINE);

/** Tables of br-int scanned for stale cookies. Like the reference, 3, 4 and 94 are not. */
export const INT_BR_ALL_TABLES = staleFlowTables(INT_PIPELINE);
export const TUN_BR_ALL_TABLES = staleFlowTables(TUN_PIPELINE);
export const PHY_BR_ALL_TABLES = staleFlowTables(PHYS_PIPELINE);

/** The tunnel network types, as the configuration knows them (one declaration for the project). */
export type { NetworkType, TunnelType };
export { isTunnelType };
export const TUNNEL_TYPES: readonly TunnelType[] = TUNNEL_NETWORK_TYPES;

/** TUN_TO_LV table of each tunnel type. */
export const TUN_TABLE: Record<TunnelType, number> = {
  gre: TUN.GRE_TUN_TO_LV,
  vxlan: TUN.VXLAN_TUN_TO_LV,
  geneve: TUN.GENEVE_TUN_TO_LV,
};

/** Ports isolated from everything are tagged with this VLAN; table 0 drops it at top priority. */
export const DEAD_VLAN_TAG = 4095;
