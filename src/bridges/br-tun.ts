// The tunnel bridge (br-tun) pipeline: classification by in_port, local VLAN ↔ tunnel id, MAC
// learning from tunnels, l2population unicast/flood flows and the ARP responder (flows.md §3.4, §5).
import { type Action, type Flow, type Match, ETH_TYPE, exact, masked, output, popVlan, pushVlan, setVlan, vlan } from '../openflow/flow.js';
import { type FlowBatch, OVSBridge } from './ovs-bridge.js';
import { gotoFlow, inPortFilter } from './flows.js';
import { missFlows } from './pipeline.js';
import { TUN, TUN_PIPELINE, TUN_TABLE, type TunnelType } from './tables.js';

const UNICAST = masked('00:00:00:00:00:00', '01:00:00:00:00:00');
const MULTICAST = masked('01:00:00:00:00:00', '01:00:00:00:00:00');

const tunToLvMatch = (segmentationId: number): Match => ({ tunId: exact(BigInt(segmentationId)) });
const floodMatch = (lvid: number): Match => ({ vlanVid: vlan(lvid) });
const unicastMatch = (lvid: number, mac?: string): Match => (mac ? { vlanVid: vlan(lvid), ethDst: exact(mac) } : { vlanVid: vlan(lvid) });
const arpResponderMatch = (lvid: number, ip?: string): Match =>
  ip ? { ethType: ETH_TYPE.ARP, vlanVid: vlan(lvid), arpTpa: exact(ip) } : { ethType: ETH_TYPE.ARP, vlanVid: vlan(lvid) };
/** Leave br-tun on a tunnel: the local VLAN off, the network's tunnel id on. */
const toTunnel = (segmentationId: number): Action[] => [popVlan(), { type: 'set_field', field: 'tun_id', value: BigInt(segmentationId) }];

export class TunnelBridge extends OVSBridge {
  /**
   * Default flows; `arpResponder` = [agent] arp_responder and l2_population. With distributed
   * routing, br-int's traffic is sent on by the DVR flows instead (through DVR_PROCESS), as the
   * reference leaves it to its DVR agent: installing the plain one here would replace the DVR one
   * on every set-up (an agent restart) until the DVR flows are written again, and routed packets
   * would leave with the router's MAC meanwhile.
   */
  defaultFlows(patchIntOfport: number, arpResponder: boolean, distributedRouting = false): Flow[] {
    // Every declared table's miss flow, so every tunnel type's TUN_TO_LV drop whatever
    // tunnel_types says; ARP_RESPONDER's only with the responder on.
    const flows = missFlows(TUN_PIPELINE, (t) => t.id !== TUN.ARP_RESPONDER || arpResponder);
    if (!distributedRouting) flows.push(gotoFlow(TUN.LOCAL_SWITCHING, 1, TUN.PATCH_LV_TO_TUN, { inPort: patchIntOfport }));
    if (arpResponder) {
      flows.push(gotoFlow(TUN.PATCH_LV_TO_TUN, 1, TUN.ARP_RESPONDER, { ethType: ETH_TYPE.ARP, ethDst: exact('ff:ff:ff:ff:ff:ff') }));
    }
    flows.push(
      gotoFlow(TUN.PATCH_LV_TO_TUN, 0, TUN.UCAST_TO_TUN, { ethDst: UNICAST }),
      gotoFlow(TUN.PATCH_LV_TO_TUN, 0, TUN.FLOOD_TO_TUN, { ethDst: MULTICAST }),
    );
    flows.push({
      table: TUN.LEARN_FROM_TUN,
      priority: 1,
      match: {},
      actions: [
        {
          type: 'learn',
          table: TUN.UCAST_TO_TUN,
          priority: 1,
          hardTimeout: 300,
          cookie: this.cookie,
          specs: [
            { kind: 'match_field', dst: { field: 'NXM_OF_VLAN_TCI', ofs: 0, nBits: 12 }, src: { field: 'NXM_OF_VLAN_TCI', ofs: 0, nBits: 12 } },
            { kind: 'match_field', dst: { field: 'NXM_OF_ETH_DST' }, src: { field: 'NXM_OF_ETH_SRC' } },
            { kind: 'load_value', dst: { field: 'NXM_OF_VLAN_TCI' }, value: 0n },
            { kind: 'load_field', dst: { field: 'NXM_NX_TUN_ID' }, src: { field: 'NXM_NX_TUN_ID' } },
            { kind: 'output', src: { field: 'OXM_OF_IN_PORT' } },
          ],
        },
        output(patchIntOfport),
      ],
    });
    return flows;
  }

  // ---- tunnel ports (flows.md §5.1)

  /** Packets arriving on a tunnel port go to that tunnel type's TUN_TO_LV table. */
  static setupTunnelPort(b: FlowBatch, type: TunnelType, ofport: number): void {
    b.add(gotoFlow(TUN.LOCAL_SWITCHING, 1, TUN_TABLE[type], { inPort: ofport }));
  }

  static cleanupTunnelPort(b: FlowBatch, ofport: number): void {
    b.delete(inPortFilter(ofport));
  }

  // ---- local VLANs of tunnel networks

  /**
   * Tunnel id of a network → its local VLAN, then learning; with DVR (`distributed`) first through
   * DVR_NOT_LEARN, which keeps other hosts' DVR MACs out of learning.
   */
  static provisionLocalVlan(b: FlowBatch, type: TunnelType, lvid: number, segmentationId: number, distributed = false): void {
    b.add({
      table: TUN_TABLE[type],
      priority: 1,
      match: tunToLvMatch(segmentationId),
      actions: [pushVlan(), setVlan(lvid)],
      gotoTable: distributed ? TUN.DVR_NOT_LEARN : TUN.LEARN_FROM_TUN,
    });
  }

  static reclaimLocalVlan(b: FlowBatch, type: TunnelType, segmentationId: number): void {
    b.delete({ table: TUN_TABLE[type], match: tunToLvMatch(segmentationId) });
  }

  /** Broadcast/multicast/unknown unicast of a network to the given tunnel ports. */
  static installFloodToTun(b: FlowBatch, lvid: number, segmentationId: number, ofports: Iterable<number>): void {
    const ports = [...ofports].sort((x, y) => x - y);
    b.add({ table: TUN.FLOOD_TO_TUN, priority: 1, match: floodMatch(lvid), actions: [...toTunnel(segmentationId), ...ports.map((p) => output(p))] });
  }

  static deleteFloodToTun(b: FlowBatch, lvid: number): void {
    b.delete({ table: TUN.FLOOD_TO_TUN, match: floodMatch(lvid) });
  }

  // ---- l2population

  /** A known remote MAC goes straight to its VTEP's tunnel port. */
  static installUnicastToTun(b: FlowBatch, lvid: number, segmentationId: number, mac: string, ofport: number): void {
    b.add({ table: TUN.UCAST_TO_TUN, priority: 2, match: unicastMatch(lvid, mac), actions: [...toTunnel(segmentationId), output(ofport)] });
  }

  /** One MAC's unicast flow, or (no MAC) every one of the network. */
  static deleteUnicastToTun(b: FlowBatch, lvid: number, mac?: string): void {
    b.delete({ table: TUN.UCAST_TO_TUN, match: unicastMatch(lvid, mac) });
  }

  /** ARP for a remote port's IP answered locally. */
  static installArpResponder(b: FlowBatch, lvid: number, mac: string, ip: string): void {
    b.add({
      table: TUN.ARP_RESPONDER,
      priority: 1,
      match: arpResponderMatch(lvid, ip),
      actions: [
        { type: 'set_field', field: 'arp_op', value: 2 },
        { type: 'move', src: { field: 'NXM_NX_ARP_SHA' }, dst: { field: 'NXM_NX_ARP_THA' } },
        { type: 'move', src: { field: 'NXM_OF_ARP_SPA' }, dst: { field: 'NXM_OF_ARP_TPA' } },
        { type: 'set_field', field: 'arp_sha', value: mac },
        { type: 'set_field', field: 'arp_spa', value: ip },
        { type: 'move', src: { field: 'NXM_OF_ETH_SRC' }, dst: { field: 'NXM_OF_ETH_DST' } },
        { type: 'set_field', field: 'eth_src', value: mac },
        output('IN_PORT'),
      ],
    });
  }

  /** One IP's responder, or (no IP) every one of the network. */
  static deleteArpResponder(b: FlowBatch, lvid: number, ip?: string): void {
    b.delete({ table: TUN.ARP_RESPONDER, match: arpResponderMatch(lvid, ip) });
  }
}
