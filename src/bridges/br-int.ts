// The integration bridge (br-int) pipeline: VM ports, local VLANs, and the hand-off to br-tun and
// the provider bridges. Flows as the reference's native br_int writes them (flows.md §3.2, §4, §6).
import {
  type Flow,
  type FlowFilter,
  type Match,
  ETH_TYPE,
  IP_PROTO,
  exact,
  output,
  pushVlan,
  setVlan,
  untagged,
  vlan,
} from '../openflow/flow.js';
import { FlowBatch, OVSBridge } from './ovs-bridge.js';
import { DEAD_VLAN_TAG, INT } from './tables.js';
import { getLogger } from '../util/log.js';

const LOG = getLogger('bridges.br_int');

const drop = (table: number, priority: number, match: Match = {}): Flow => ({ table, priority, match, actions: [] });
const goto = (table: number, priority: number, gotoTable: number, match: Match = {}): Flow => ({
  table,
  priority,
  match,
  actions: [],
  gotoTable,
});

export interface IntDefaultsOptions {
  /** `[agent] extensions` contains dhcp. */
  dhcp?: boolean;
  /** `[dhcp] enable_ipv6`. */
  dhcpIpv6?: boolean;
}

export type OvsStatus = 'normal' | 'restarted' | 'dead';

export class IntegrationBridge extends OVSBridge {
  static defaultFlows(opts: IntDefaultsOptions = {}): Flow[] {
    const flows: Flow[] = [
      drop(INT.CANARY_TABLE, 0),
      goto(INT.LOCAL_SWITCHING, 0, INT.PACKET_RATE_LIMIT),
      goto(INT.PACKET_RATE_LIMIT, 0, INT.TRANSIENT_TABLE),
      { table: INT.TRANSIENT_TABLE, priority: 3, match: {}, actions: [output('NORMAL')] },
    ];
    if (opts.dhcp) {
      flows.push(
        goto(INT.TRANSIENT_TABLE, 101, INT.DHCP_IPV4_TABLE, {
          ethType: ETH_TYPE.IPV4,
          ipProto: IP_PROTO.UDP,
          ipv4Dst: exact('255.255.255.255'),
          udpSrc: 68,
          udpDst: 67,
        }),
        drop(INT.DHCP_IPV4_TABLE, 0),
      );
      if (opts.dhcpIpv6) {
        flows.push(
          goto(INT.TRANSIENT_TABLE, 101, INT.DHCP_IPV6_TABLE, {
            ethType: ETH_TYPE.IPV6,
            ipProto: IP_PROTO.UDP,
            ipv6Dst: exact('ff02::1:2'),
            udpSrc: 546,
            udpDst: 547,
          }),
          drop(INT.DHCP_IPV6_TABLE, 0),
        );
      }
    }
    flows.push(
      drop(INT.ARP_SPOOF_TABLE, 0),
      drop(INT.LOCAL_SWITCHING, 65535, { vlanVid: vlan(DEAD_VLAN_TAG) }),
      { table: INT.TRANSIENT_EGRESS_TABLE, priority: 3, match: {}, actions: [output('NORMAL')] },
      goto(INT.LOCAL_EGRESS_TABLE, 0, INT.PACKET_RATE_LIMIT),
      goto(INT.LOCAL_IP_TABLE, 0, INT.PACKET_RATE_LIMIT),
    );
    return flows;
  }

  async setupDefaultFlows(opts: IntDefaultsOptions = {}): Promise<void> {
    await this.installFlows(...IntegrationBridge.defaultFlows(opts));
  }

  /** Traffic arriving from a provider bridge is dropped unless a network of that physnet is wired. */
  static dropFromPhysFlow(intPatchOfport: number): Flow {
    return drop(INT.LOCAL_SWITCHING, 2, { inPort: intPatchOfport });
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

  // ---- local VLANs of provider networks (flows.md §4) ----

  /** Traffic from physnet (segment VID, or untagged for flat) → local VLAN. */
  static provisionFromPhysFlow(intPatchOfport: number, lvid: number, segmentationId: number | undefined): Flow {
    if (segmentationId === undefined) {
      return {
        table: INT.LOCAL_SWITCHING,
        priority: 3,
        match: { inPort: intPatchOfport, vlanVid: untagged() },
        actions: [pushVlan(), setVlan(lvid)],
        gotoTable: INT.PACKET_RATE_LIMIT,
      };
    }
    return {
      table: INT.LOCAL_SWITCHING,
      priority: 3,
      match: { inPort: intPatchOfport, vlanVid: vlan(segmentationId) },
      actions: [setVlan(lvid)],
      gotoTable: INT.PACKET_RATE_LIMIT,
    };
  }

  static reclaimFromPhysFilter(intPatchOfport: number, segmentationId: number | undefined): FlowFilter {
    return { match: { inPort: intPatchOfport, vlanVid: segmentationId === undefined ? untagged() : vlan(segmentationId) } };
  }

  // ---- ports (flows.md §6) ----

  /** A port on the dead VLAN: its own traffic is dropped before anything else sees it. */
  static deadPortFlow(ofport: number): Flow {
    return drop(INT.LOCAL_SWITCHING, 2, { inPort: ofport });
  }

  static alivePortFilter(ofport: number): FlowFilter {
    return { table: INT.LOCAL_SWITCHING, strict: true, priority: 2, match: { inPort: ofport } };
  }

  /** ARP/ND/MAC anti-spoofing for a port (noop/iptables firewall), flows.md §6.3. */
  static antiSpoofFlows(ofport: number, macs: string[], ipv4: Array<{ ip: string; mask?: string }>, ndTargets: Array<{ ip: string; mask?: string }>): Flow[] {
    const flows: Flow[] = [];
    for (const mac of macs) {
      flows.push(goto(INT.MAC_SPOOF_TABLE, 2, INT.LOCAL_EGRESS_TABLE, { inPort: ofport, ethSrc: exact(mac) }));
    }
    flows.push(goto(INT.LOCAL_SWITCHING, 9, INT.MAC_SPOOF_TABLE, { inPort: ofport }));
    if (ndTargets.length) {
      for (const t of ndTargets) {
        flows.push(
          goto(INT.ARP_SPOOF_TABLE, 2, INT.PACKET_RATE_LIMIT, {
            ethType: ETH_TYPE.IPV6,
            ipProto: IP_PROTO.ICMPV6,
            inPort: ofport,
            icmpv6Type: 136,
            ndTarget: t.mask ? { value: t.ip, mask: t.mask } : exact(t.ip),
          }),
        );
      }
      flows.push(goto(INT.LOCAL_SWITCHING, 10, INT.ARP_SPOOF_TABLE, { ethType: ETH_TYPE.IPV6, ipProto: IP_PROTO.ICMPV6, inPort: ofport, icmpv6Type: 136 }));
    }
    if (ipv4.length) {
      for (const a of ipv4) {
        flows.push(
          goto(INT.ARP_SPOOF_TABLE, 2, INT.MAC_SPOOF_TABLE, {
            ethType: ETH_TYPE.ARP,
            inPort: ofport,
            arpSpa: a.mask ? { value: a.ip, mask: a.mask } : exact(a.ip),
          }),
        );
      }
      flows.push(goto(INT.LOCAL_SWITCHING, 10, INT.ARP_SPOOF_TABLE, { ethType: ETH_TYPE.ARP, inPort: ofport }));
    }
    return flows;
  }

  /** Remove a port's ARP/ND protection (port security off, or the port went away). */
  static deleteArpSpoofingProtection(b: FlowBatch, ofport: number): void {
    b.delete({ table: INT.LOCAL_SWITCHING, match: { ethType: ETH_TYPE.ARP, inPort: ofport } });
    b.delete({ table: INT.LOCAL_SWITCHING, match: { ethType: ETH_TYPE.IPV6, ipProto: IP_PROTO.ICMPV6, icmpv6Type: 136, inPort: ofport } });
    b.delete({ table: INT.ARP_SPOOF_TABLE, match: { inPort: ofport } });
  }
}
