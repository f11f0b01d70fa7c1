// The integration bridge (br-int) pipeline: VM ports, local VLANs, and the hand-off to br-tun and
// the provider bridges. Flows as the reference's native br_int writes them (flows.md §3.2, §4, §6).
import { type Flow, type Match, ETH_TYPE, IP_PROTO, exact, pushVlan, setVlan, untagged, vlan } from '../openflow/flow.js';
import { FlowBatch, OVSBridge } from './ovs-bridge.js';
import { dropFlow, gotoFlow } from './flows.js';
import { missFlows } from './pipeline.js';
import { DEAD_VLAN_TAG, INT, INT_PIPELINE } from './tables.js';
import { cidrMatch } from './addresses.js';
import { getLogger } from '../util/log.js';

const LOG = getLogger('bridges.br_int');

/** Priorities of LOCAL_SWITCHING (table 0) that several verbs share. */
const LOCAL_SWITCHING_PRIORITY = {
  /** A VM port's or a patch port's own traffic, dropped. */
  DROP_PORT: 2,
  /** Traffic of a provider network, translated to its local VLAN. */
  LOCAL_VLAN: 3,
  /** A port's traffic, sent through MAC anti-spoofing. */
  ALLOWED_MACS: 9,
  /** A port's ARP and neighbour advertisements, sent through ARP/ND anti-spoofing. */
  ARP_ND_SPOOFING: 10,
  DEAD_VLAN: 65535,
} as const;
/** Priority of the allow rules of MAC_SPOOF_TABLE and ARP_SPOOF_TABLE. */
const ALLOW_RULE_PRIORITY = 2;
const ND_NEIGHBOR_ADVERT = 136;

export interface IntDefaultsOptions {
  /** `[agent] extensions` contains dhcp. */
  dhcp?: boolean;
  /** `[dhcp] enable_ipv6`. */
  dhcpIpv6?: boolean;
}

export type OvsStatus = 'normal' | 'restarted' | 'dead';

/** Traffic from a provider bridge's patch port on the segment's VID (untagged for flat). */
const localVlanMatch = (intPatchOfport: number, segmentationId: number | undefined): Match => ({
  inPort: intPatchOfport,
  vlanVid: segmentationId === undefined ? untagged() : vlan(segmentationId),
});
const dropPortMatch = (ofport: number): Match => ({ inPort: ofport });
const arpMatch = (ofport: number): Match => ({ ethType: ETH_TYPE.ARP, inPort: ofport });
const neighborAdvertMatch = (ofport: number): Match => ({
  ethType: ETH_TYPE.IPV6,
  ipProto: IP_PROTO.ICMPV6,
  inPort: ofport,
  icmpv6Type: ND_NEIGHBOR_ADVERT,
});

/** Client-to-server DHCP traffic of one IP version, from TRANSIENT_TABLE to its DHCP table. */
const dhcpRequestsFlow = (dhcpTable: number, dst: Match, udpSrc: number, udpDst: number): Flow =>
  gotoFlow(INT.TRANSIENT_TABLE, 101, dhcpTable, { ...dst, ipProto: IP_PROTO.UDP, udpSrc, udpDst });

export class IntegrationBridge extends OVSBridge {
  static defaultFlows(opts: IntDefaultsOptions = {}): Flow[] {
    // The DHCP tables exist only with the dhcp extension (IPv6 also with [dhcp] enable_ipv6).
    const dhcpTableOff = (id: number) =>
      (id === INT.DHCP_IPV4_TABLE && !opts.dhcp) || (id === INT.DHCP_IPV6_TABLE && !(opts.dhcp && opts.dhcpIpv6));
    const flows = missFlows(INT_PIPELINE, (t) => !dhcpTableOff(t.id));
    flows.push(dropFlow(INT.LOCAL_SWITCHING, LOCAL_SWITCHING_PRIORITY.DEAD_VLAN, { vlanVid: vlan(DEAD_VLAN_TAG) }));
    // DHCP requests go to the dhcp extension's tables.
    if (opts.dhcp) flows.push(dhcpRequestsFlow(INT.DHCP_IPV4_TABLE, { ethType: ETH_TYPE.IPV4, ipv4Dst: exact('255.255.255.255') }, 68, 67));
    if (opts.dhcp && opts.dhcpIpv6) flows.push(dhcpRequestsFlow(INT.DHCP_IPV6_TABLE, { ethType: ETH_TYPE.IPV6, ipv6Dst: exact('ff02::1:2') }, 546, 547));
    return flows;
  }

  async setupDefaultFlows(opts: IntDefaultsOptions = {}): Promise<void> {
    await this.installFlows(...IntegrationBridge.defaultFlows(opts));
  }

  /**
   * The canary tells an OVS restart apart from a healthy switch: its flow in CANARY_TABLE
   * disappears when ovs-vswitchd loses its flow tables.
   */
  async checkCanaryTable(): Promise<OvsStatus> {
    try {
      const flows = await this.ofSwitch.dumpFlows({ table: INT.CANARY_TABLE });
      return flows.length === 0 ? 'restarted' : 'normal';
    } catch (e) {
      // As the reference logs it on every check: an operator sees the outage between the crash
      // and "OVS is restarted", and a check failing for another reason does not go unnoticed.
      LOG.warning(`${this.name}: OVS is dead (cannot read the canary table); checking again`, e);
      return 'dead';
    }
  }

  // ---- local VLANs of provider networks (flows.md §4)

  /** Traffic from a physnet (segment VID, or untagged for flat) → local VLAN. */
  static provisionLocalVlan(b: FlowBatch, intPatchOfport: number, lvid: number, segmentationId: number | undefined): void {
    b.add({
      table: INT.LOCAL_SWITCHING,
      priority: LOCAL_SWITCHING_PRIORITY.LOCAL_VLAN,
      match: localVlanMatch(intPatchOfport, segmentationId),
      actions: segmentationId === undefined ? [pushVlan(), setVlan(lvid)] : [setVlan(lvid)],
      gotoTable: INT.PACKET_RATE_LIMIT,
    });
  }

  static reclaimLocalVlan(b: FlowBatch, intPatchOfport: number, segmentationId: number | undefined): void {
    b.delete({ match: localVlanMatch(intPatchOfport, segmentationId) });
  }

  // ---- ports (flows.md §6)

  /** A port's (or a patch port's) own traffic dropped before anything else sees it. */
  static dropPortFlow(ofport: number): Flow {
    return dropFlow(INT.LOCAL_SWITCHING, LOCAL_SWITCHING_PRIORITY.DROP_PORT, dropPortMatch(ofport));
  }

  static dropPort(b: FlowBatch, ofport: number): void {
    b.add(IntegrationBridge.dropPortFlow(ofport));
  }

  static stopDroppingPort(b: FlowBatch, ofport: number): void {
    b.delete({ table: INT.LOCAL_SWITCHING, strict: true, priority: LOCAL_SWITCHING_PRIORITY.DROP_PORT, match: dropPortMatch(ofport) });
  }

  /** Every flow, in any table, that matches the port's traffic. */
  static deletePortFlows(b: FlowBatch, ofport: number): void {
    b.delete({ match: { inPort: ofport } });
  }

  // ---- anti-spoofing (noop/iptables firewall), flows.md §6.3

  /** Only these source MACs may leave the port. */
  static setAllowedMacsForPort(b: FlowBatch, ofport: number, macs: readonly string[]): void {
    for (const mac of macs) {
      b.add(gotoFlow(INT.MAC_SPOOF_TABLE, ALLOW_RULE_PRIORITY, INT.LOCAL_EGRESS_TABLE, { inPort: ofport, ethSrc: exact(mac) }));
    }
    b.add(gotoFlow(INT.LOCAL_SWITCHING, LOCAL_SWITCHING_PRIORITY.ALLOWED_MACS, INT.MAC_SPOOF_TABLE, { inPort: ofport }));
  }

  static deleteAllowedMacs(b: FlowBatch, ofport: number): void {
    b.delete({ table: INT.LOCAL_SWITCHING, strict: true, priority: LOCAL_SWITCHING_PRIORITY.ALLOWED_MACS, match: { inPort: ofport } });
    b.delete({ table: INT.MAC_SPOOF_TABLE, match: { inPort: ofport } });
  }

  /** Port security off: the port's LOCAL_SWITCHING and MAC anti-spoofing flows go, any MAC passes. */
  static allowAllMacsForPort(b: FlowBatch, ofport: number): void {
    b.delete({ table: INT.LOCAL_SWITCHING, match: { inPort: ofport } });
    b.delete({ table: INT.MAC_SPOOF_TABLE, match: { inPort: ofport } });
  }

  /** Neighbour advertisements only for these targets (addresses or CIDRs); none given, none pass. */
  static installIcmpv6NaSpoofingProtection(b: FlowBatch, ofport: number, targets: readonly string[]): void {
    for (const t of targets) {
      b.add(gotoFlow(INT.ARP_SPOOF_TABLE, ALLOW_RULE_PRIORITY, INT.PACKET_RATE_LIMIT, { ...neighborAdvertMatch(ofport), ndTarget: cidrMatch(t) }));
    }
    b.add(gotoFlow(INT.LOCAL_SWITCHING, LOCAL_SWITCHING_PRIORITY.ARP_ND_SPOOFING, INT.ARP_SPOOF_TABLE, neighborAdvertMatch(ofport)));
  }

  /**
   * ARP only from these addresses (or CIDRs). None given (a port with IPv6 addresses only), none
   * passes: its ARP still goes to the anti-spoofing table, as the reference does.
   */
  static installArpSpoofingProtection(b: FlowBatch, ofport: number, addresses: readonly string[]): void {
    for (const a of addresses) {
      b.add(gotoFlow(INT.ARP_SPOOF_TABLE, ALLOW_RULE_PRIORITY, INT.MAC_SPOOF_TABLE, { ...arpMatch(ofport), arpSpa: cidrMatch(a) }));
    }
    b.add(gotoFlow(INT.LOCAL_SWITCHING, LOCAL_SWITCHING_PRIORITY.ARP_ND_SPOOFING, INT.ARP_SPOOF_TABLE, arpMatch(ofport)));
  }

  /** Remove a port's ARP/ND protection (port security off, or the port went away). */
  static deleteArpSpoofingProtection(b: FlowBatch, ofport: number): void {
    b.delete({ table: INT.LOCAL_SWITCHING, match: arpMatch(ofport) });
    b.delete({ table: INT.LOCAL_SWITCHING, match: neighborAdvertMatch(ofport) });
    IntegrationBridge.deleteArpSpoofingAllowRules(b, ofport);
  }

  static deleteArpSpoofingAllowRules(b: FlowBatch, ofport: number): void {
    b.delete({ table: INT.ARP_SPOOF_TABLE, match: { inPort: ofport } });
  }
}
