// Distributed virtual routing (DVR) on the three kinds of bridge, as the reference's native
// br_int / br_tun / br_phys and their DVR mixin (br_dvr_process.py) write the flows:
//   br-int   LOCAL_SWITCHING sends traffic from another host's DVR MAC to DVR_TO_SRC_MAC(_PHYSICAL),
//            where the router's gateway MAC is put back as source before it reaches the local VM;
//            ARP answers sent to this host's DVR MAC go to ARP_DVR_MAC_TO_DST_MAC(_PHYSICAL).
//   br-tun / a provider bridge   DVR_PROCESS(_PHYSICAL) rewrites the router interface MAC to this
//            host's DVR MAC on the way out and drops traffic to it from outside; DVR_NOT_LEARN
//            keeps other hosts' DVR MACs out of MAC learning.
// Where the reference is odd (a delete that misses the flow it means), these verbs do the same, so
// a swap between the agents leaves the same flows; each such place says so.
import { type Flow, type Match, ETH_TYPE, IP_PROTO, exact, output, popVlan, untagged, vlan } from '../openflow/flow.js';
import type { FlowBatch } from './ovs-bridge.js';
import { dropFlow, gotoFlow, normalFlow } from './flows.js';
import { INT, PHYS, TUN } from './tables.js';
import { acceptedEgressDirectFilters, acceptedEgressDirectFlows } from '../firewall/openvswitch/port-flows.js';
import type { NetworkType } from './tables.js';

/** Networks whose DVR flows sit on a provider bridge (the others are tunnelled). */
export const DVR_PHYSICAL_NETWORK_TYPES: readonly NetworkType[] = ['vlan', 'flat'];

export const isDvrPhysicalType = (t: NetworkType): boolean => DVR_PHYSICAL_NETWORK_TYPES.includes(t);

const ARP_REPLY = 2;
const ND_ROUTER_ADVERT = 134;

/** Priorities of br-int's LOCAL_SWITCHING the DVR flows use. */
const INT_PRIORITY = { FROM_DVR_MAC_TUN: 2, FROM_DVR_MAC_PHYSICAL: 4, TO_DVR_MAC: 5, ARP_REPLY_TO_GATEWAY: 99 } as const;

/** vlan_vid of a DVR match: tagged with `tag`, or untagged (a flat network's segment has no VID). */
const vidMatch = (tag: number | undefined): Match => ({ vlanVid: tag ? vlan(tag) : untagged() });

const toSrcMacTable = (t: NetworkType): number => (isDvrPhysicalType(t) ? INT.DVR_TO_SRC_MAC_PHYSICAL : INT.DVR_TO_SRC_MAC);
const arpDstMacTable = (t: NetworkType): number => (isDvrPhysicalType(t) ? INT.ARP_DVR_MAC_TO_DST_MAC_PHYSICAL : INT.ARP_DVR_MAC_TO_DST_MAC);

/** DVR verbs of br-int. */
export const IntDvr = {
  /** At start: both DVR_TO_SRC_MAC tables drop what no VM port claims; traffic from a provider bridge is dropped unless a VLAN or DVR flow takes it. */
  setupFlows(physIntOfports: readonly number[]): Flow[] {
    return [
      dropFlow(INT.DVR_TO_SRC_MAC, 1),
      dropFlow(INT.DVR_TO_SRC_MAC_PHYSICAL, 1),
      ...physIntOfports.map((p) => dropFlow(INT.LOCAL_SWITCHING, 2, { inPort: p })),
    ];
  },

  /** Traffic from another host's DVR MAC over a provider network. */
  addDvrMacPhysical(b: FlowBatch, mac: string, intOfport: number): void {
    b.add(gotoFlow(INT.LOCAL_SWITCHING, INT_PRIORITY.FROM_DVR_MAC_PHYSICAL, INT.DVR_TO_SRC_MAC_PHYSICAL, { inPort: intOfport, ethSrc: exact(mac) }));
  },

  /** Every LOCAL_SWITCHING flow from that MAC, whatever the port (as the reference). */
  removeDvrMacVlan(b: FlowBatch, mac: string): void {
    b.delete({ table: INT.LOCAL_SWITCHING, match: { ethSrc: exact(mac) } });
  },

  /** Traffic from another host's DVR MAC over a tunnel. */
  addDvrMacTun(b: FlowBatch, mac: string, patchTunOfport: number): void {
    b.add(gotoFlow(INT.LOCAL_SWITCHING, INT_PRIORITY.FROM_DVR_MAC_TUN, INT.DVR_TO_SRC_MAC, { inPort: patchTunOfport, ethSrc: exact(mac) }));
  },

  removeDvrMacTun(b: FlowBatch, mac: string, patchTunOfport: number): void {
    b.delete({ table: INT.LOCAL_SWITCHING, match: { inPort: patchTunOfport, ethSrc: exact(mac) } });
  },

  /** This host's own DVR MAC as destination, from a provider bridge: to ARP_DVR_MAC_TO_DST_MAC_PHYSICAL. */
  addGatewayMacArpVlan(b: FlowBatch, mac: string, intOfport: number): void {
    b.add(gotoFlow(INT.LOCAL_SWITCHING, INT_PRIORITY.TO_DVR_MAC, INT.ARP_DVR_MAC_TO_DST_MAC_PHYSICAL, { inPort: intOfport, ethDst: exact(mac) }));
  },

  /** This host's own DVR MAC as destination, from br-tun: to ARP_DVR_MAC_TO_DST_MAC. */
  addGatewayMacArpTun(b: FlowBatch, mac: string, patchTunOfport: number): void {
    b.add(gotoFlow(INT.LOCAL_SWITCHING, INT_PRIORITY.TO_DVR_MAC, INT.ARP_DVR_MAC_TO_DST_MAC, { inPort: patchTunOfport, ethDst: exact(mac) }));
  },

  /** A packet to this host's DVR MAC on the router's network: to the router port, with the gateway MAC. */
  installDstMacForArp(b: FlowBatch, networkType: NetworkType, lvid: number, gatewayMac: string, dvrMac: string, routerOfport: number): void {
    b.add({
      table: arpDstMacTable(networkType),
      priority: 5,
      match: { ...vidMatch(lvid), ethDst: exact(dvrMac) },
      actions: [{ type: 'set_field', field: 'eth_dst', value: gatewayMac }, popVlan(), output(routerOfport)],
    });
  },

  /**
   * The reference deletes in DVR_TO_SRC_MAC(_PHYSICAL), not in the table installDstMacForArp wrote
   * to, so the flow it means stays; done the same way so both agents leave the same flows.
   */
  deleteDstMacForArp(b: FlowBatch, networkType: NetworkType, vlanTag: number | undefined, dvrMac: string): void {
    b.delete({ table: toSrcMacTable(networkType), strict: true, priority: 5, match: { ...vidMatch(vlanTag), ethDst: exact(dvrMac) } });
  },

  /**
   * A routed packet for a local port of a DVR subnet: the subnet's gateway MAC as source (the
   * sending host's DVR MAC off), then straight out of the port. `vlanTag`: the local VLAN
   * (tunnelled) or the segment's VID (provider; undefined for flat).
   */
  installToSrcMac(b: FlowBatch, networkType: NetworkType, vlanTag: number | undefined, gatewayMac: string, dstMac: string, dstOfport: number): void {
    const match: Match = { ...vidMatch(vlanTag), ethDst: exact(dstMac) };
    b.add({
      table: toSrcMacTable(networkType),
      priority: 20,
      match,
      actions: [{ type: 'set_field', field: 'eth_src', value: gatewayMac }],
      gotoTable: INT.PACKET_RATE_LIMIT,
    });
    b.add({ table: INT.TRANSIENT_TABLE, priority: 20, match, actions: [...(vlanTag ? [popVlan()] : []), output(dstOfport)] });
  },

  deleteToSrcMac(b: FlowBatch, networkType: NetworkType, vlanTag: number | undefined, dstMac: string): void {
    const match: Match = { ...vidMatch(vlanTag), ethDst: exact(dstMac) };
    for (const table of [toSrcMacTable(networkType), INT.TRANSIENT_TABLE]) b.delete({ table, strict: true, priority: 20, match });
  },

  /** An ARP reply to this host's DVR MAC about the gateway: delivered to the gateway MAC instead. */
  changeArpDestinationMac(b: FlowBatch, gatewayMac: string, dvrMac: string): void {
    b.add({
      table: INT.LOCAL_SWITCHING,
      priority: INT_PRIORITY.ARP_REPLY_TO_GATEWAY,
      match: arpReplyToDvrMac(gatewayMac, dvrMac),
      actions: [{ type: 'set_field', field: 'eth_dst', value: gatewayMac }],
      gotoTable: INT.PACKET_RATE_LIMIT,
    });
  },

  deleteArpDestinationChange(b: FlowBatch, gatewayMac: string, dvrMac: string): void {
    b.delete({ table: INT.LOCAL_SWITCHING, match: arpReplyToDvrMac(gatewayMac, dvrMac) });
  },

  /**
   * With the openvswitch firewall and `explicitly_egress_direct`: accepted frames to the gateway
   * MAC go straight to the router port, the router's unicast straight to the network's patch port
   * (`patchOfport`: patch-tun, int-<bridge> of a VLAN network; undefined on flat), in table 94.
   * The gateway MAC is the router interface's own, so these are the flows the firewall writes for
   * that (trusted) port; the reference's DVR writes them too, and deletes them with the interface.
   */
  installGatewayEgressDirect(b: FlowBatch, gatewayMac: string, lvid: number, routerOfport: number, patchOfport: number | undefined): void {
    b.add(...acceptedEgressDirectFlows(gatewayMac, lvid, routerOfport, patchOfport));
  },

  /** Both table-94 flows of the gateway MAC on that network, whoever wrote them. */
  deleteGatewayEgressDirect(b: FlowBatch, gatewayMac: string, lvid: number): void {
    for (const f of acceptedEgressDirectFilters(gatewayMac, lvid)) b.delete(f);
  },
};

function arpReplyToDvrMac(gatewayMac: string, dvrMac: string): Match {
  return { ethType: ETH_TYPE.ARP, ethDst: exact(dvrMac), arpOp: ARP_REPLY, arpTha: exact(gatewayMac) };
}

/** DVR verbs of br-tun. */
export const TunDvr = {
  /** At start: br-int's traffic through DVR_PROCESS first; DVR_NOT_LEARN falls through to learning. */
  setupFlows(patchIntOfport: number): Flow[] {
    return [
      gotoFlow(TUN.LOCAL_SWITCHING, 1, TUN.DVR_PROCESS, { inPort: patchIntOfport }),
      gotoFlow(TUN.DVR_NOT_LEARN, 0, TUN.LEARN_FROM_TUN),
      gotoFlow(TUN.DVR_PROCESS, 0, TUN.PATCH_LV_TO_TUN),
    ];
  },

  /** Another host's DVR MAC arriving from a tunnel: straight to br-int, not learnt. */
  addDvrMacTun(b: FlowBatch, mac: string, patchIntOfport: number): void {
    b.add({ table: TUN.DVR_NOT_LEARN, priority: 1, match: { ethSrc: exact(mac) }, actions: [output(patchIntOfport)] });
  },

  removeDvrMacTun(b: FlowBatch, mac: string): void {
    b.delete({ table: TUN.DVR_NOT_LEARN, match: { ethSrc: exact(mac) } });
  },
};

/** DVR verbs of a provider bridge. */
export const PhysDvr = {
  /** At start: br-int's traffic through DVR_PROCESS_PHYSICAL, the wire's through DVR_NOT_LEARN_PHYSICAL. */
  setupFlows(physOfport: number): Flow[] {
    return [
      gotoFlow(PHYS.LOCAL_SWITCHING, 2, PHYS.DVR_PROCESS_PHYSICAL, { inPort: physOfport }),
      gotoFlow(PHYS.LOCAL_SWITCHING, 1, PHYS.DVR_NOT_LEARN_PHYSICAL),
      gotoFlow(PHYS.DVR_PROCESS_PHYSICAL, 0, PHYS.LOCAL_VLAN_TRANSLATION),
      dropFlow(PHYS.LOCAL_VLAN_TRANSLATION, 2, { inPort: physOfport }),
      normalFlow(PHYS.DVR_NOT_LEARN_PHYSICAL, 1),
    ];
  },

  /** Another host's DVR MAC arriving from the wire: straight to br-int, not learnt. */
  addDvrMacPhysical(b: FlowBatch, mac: string, physOfport: number): void {
    b.add({ table: PHYS.DVR_NOT_LEARN_PHYSICAL, priority: 2, match: { ethSrc: exact(mac) }, actions: [output(physOfport)] });
  },

  removeDvrMacVlan(b: FlowBatch, mac: string): void {
    b.delete({ table: PHYS.DVR_NOT_LEARN_PHYSICAL, match: { ethSrc: exact(mac) } });
  },
};

/** Where a bridge's DVR_PROCESS table is and where it continues: br-tun's, or a provider bridge's. */
export interface DvrProcessTables {
  process: number;
  next: number;
  /** Table 22 of either bridge (br-tun's FLOOD_TO_TUN): the gateway's ARP and RAs are dropped there. */
  gatewayBlock: number;
}

export const TUN_DVR_PROCESS: DvrProcessTables = { process: TUN.DVR_PROCESS, next: TUN.PATCH_LV_TO_TUN, gatewayBlock: TUN.FLOOD_TO_TUN };
export const PHYS_DVR_PROCESS: DvrProcessTables = { process: PHYS.DVR_PROCESS_PHYSICAL, next: PHYS.LOCAL_VLAN_TRANSLATION, gatewayBlock: PHYS.FLOOD_TO_TUN };

const gatewayArpMatch = (lvid: number, gatewayIp: string): Match => ({ ethType: ETH_TYPE.ARP, vlanVid: vlan(lvid), arpTpa: exact(gatewayIp) });
const gatewayRaMatch = (lvid: number, gatewayMac: string): Match => ({
  ethType: ETH_TYPE.IPV6, ipProto: IP_PROTO.ICMPV6, icmpv6Type: ND_ROUTER_ADVERT, vlanVid: vlan(lvid), ethSrc: exact(gatewayMac),
});

/** DVR_PROCESS verbs, shared by br-tun and the provider bridges (the reference's OVSDVRProcessMixin). */
export const DvrProcess = {
  /** ARP for an IPv4 gateway never leaves the host: every host answers it with its own router. */
  installIpv4(b: FlowBatch, t: DvrProcessTables, lvid: number, gatewayIp: string): void {
    b.add(dropFlow(t.gatewayBlock, 3, gatewayArpMatch(lvid, gatewayIp)));
  },
  deleteIpv4(b: FlowBatch, t: DvrProcessTables, lvid: number, gatewayIp: string): void {
    b.delete({ table: t.gatewayBlock, match: gatewayArpMatch(lvid, gatewayIp) });
  },
  /** Router advertisements of an IPv6 gateway never leave the host. */
  installIpv6(b: FlowBatch, t: DvrProcessTables, lvid: number, gatewayMac: string): void {
    b.add(dropFlow(t.gatewayBlock, 3, gatewayRaMatch(lvid, gatewayMac)));
  },
  deleteIpv6(b: FlowBatch, t: DvrProcessTables, lvid: number, gatewayMac: string): void {
    b.delete({ table: t.gatewayBlock, match: gatewayRaMatch(lvid, gatewayMac) });
  },
  /** Traffic to the router interface MAC from outside dropped; from it, sent with this host's DVR MAC. */
  install(b: FlowBatch, t: DvrProcessTables, lvid: number, routerMac: string, dvrMac: string): void {
    b.add(dropFlow(t.process, 2, { vlanVid: vlan(lvid), ethDst: exact(routerMac) }));
    b.add({
      table: t.process,
      priority: 1,
      match: { vlanVid: vlan(lvid), ethSrc: exact(routerMac) },
      actions: [{ type: 'set_field', field: 'eth_src', value: dvrMac }],
      gotoTable: t.next,
    });
  },
  delete(b: FlowBatch, t: DvrProcessTables, lvid: number, routerMac: string): void {
    b.delete({ table: t.process, match: { vlanVid: vlan(lvid), ethDst: exact(routerMac) } });
    b.delete({ table: t.process, match: { vlanVid: vlan(lvid), ethSrc: exact(routerMac) } });
  },
};
