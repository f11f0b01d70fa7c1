// OpenFlow table numbers of the neutron OVS pipelines (neutron_lib ovs_constants), by bridge.

/** br-int tables. */
export const INT = {
  LOCAL_SWITCHING: 0,
  DVR_TO_SRC_MAC: 1,
  DVR_TO_SRC_MAC_PHYSICAL: 2,
  ARP_DVR_MAC_TO_DST_MAC: 3,
  ARP_DVR_MAC_TO_DST_MAC_PHYSICAL: 4,
  CANARY_TABLE: 23,
  ARP_SPOOF_TABLE: 24,
  MAC_SPOOF_TABLE: 25,
  LOCAL_EGRESS_TABLE: 30,
  LOCAL_IP_TABLE: 31,
  PACKET_RATE_LIMIT: 59,
  TRANSIENT_TABLE: 60,
  LOCAL_MAC_DIRECT: 61,
  TRANSIENT_EGRESS_TABLE: 62,
  BASE_EGRESS_TABLE: 71,
  RULES_EGRESS_TABLE: 72,
  ACCEPT_OR_INGRESS_TABLE: 73,
  DHCP_IPV4_TABLE: 77,
  DHCP_IPV6_TABLE: 78,
  BASE_INGRESS_TABLE: 81,
  RULES_INGRESS_TABLE: 82,
  ACCEPTED_EGRESS_TRAFFIC_TABLE: 91,
  ACCEPTED_INGRESS_TRAFFIC_TABLE: 92,
  DROPPED_TRAFFIC_TABLE: 93,
  ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE: 94,
} as const;

/** Tables of br-int scanned for stale cookies. Like the reference, 3, 4 and 94 are not. */
export const INT_BR_ALL_TABLES = [0, 1, 2, 23, 24, 25, 61, 30, 31, 59, 60, 62, 71, 72, 73, 77, 78, 81, 82, 91, 92, 93];

/** br-tun tables. */
export const TUN = {
  LOCAL_SWITCHING: 0,
  DVR_PROCESS: 1,
  PATCH_LV_TO_TUN: 2,
  GRE_TUN_TO_LV: 3,
  VXLAN_TUN_TO_LV: 4,
  GENEVE_TUN_TO_LV: 6,
  DVR_NOT_LEARN: 9,
  LEARN_FROM_TUN: 10,
  UCAST_TO_TUN: 20,
  ARP_RESPONDER: 21,
  FLOOD_TO_TUN: 22,
} as const;

export const TUN_BR_ALL_TABLES = [0, 1, 2, 3, 4, 6, 9, 10, 20, 21, 22];

export type TunnelType = 'gre' | 'vxlan' | 'geneve';
export const TUNNEL_TYPES: readonly TunnelType[] = ['gre', 'vxlan', 'geneve'];

/** TUN_TO_LV table of each tunnel type. */
export const TUN_TABLE: Record<TunnelType, number> = {
  gre: TUN.GRE_TUN_TO_LV,
  vxlan: TUN.VXLAN_TUN_TO_LV,
  geneve: TUN.GENEVE_TUN_TO_LV,
};

/** Physical (provider) bridge tables. */
export const PHYS = {
  LOCAL_SWITCHING: 0,
  DVR_PROCESS_PHYSICAL: 1,
  LOCAL_VLAN_TRANSLATION: 2,
  DVR_NOT_LEARN_PHYSICAL: 3,
} as const;

export const PHY_BR_ALL_TABLES = [0, 1, 2, 3];

/** Ports isolated from everything are tagged with this VLAN; table 0 drops it at top priority. */
export const DEAD_VLAN_TAG = 4095;
