// The tunnel bridge (br-tun) pipeline: classification by in_port, local VLAN ↔ tunnel id, MAC
// learning from tunnels, l2population unicast/flood flows and the ARP responder (flows.md §3.4, §5).
import { type Flow, type FlowFilter, ETH_TYPE, exact, masked, output, popVlan, pushVlan, setVlan, vlan } from '../openflow/flow.js';
import { OVSBridge } from './ovs-bridge.js';
import { TUN, TUN_TABLE, type TunnelType } from './tables.js';

const UNICAST = masked('00:00:00:00:00:00', '01:00:00:00:00:00');
const MULTICAST = masked('01:00:00:00:00:00', '01:00:00:00:00:00');

export class TunnelBridge extends OVSBridge {
  /** Default flows; `arpResponder` = [agent] arp_responder and l2_population. */
  defaultFlows(patchIntOfport: number, arpResponder: boolean): Flow[] {
    const flows: Flow[] = [
      { table: TUN.LOCAL_SWITCHING, priority: 1, match: { inPort: patchIntOfport }, actions: [], gotoTable: TUN.PATCH_LV_TO_TUN },
      { table: TUN.LOCAL_SWITCHING, priority: 0, match: {}, actions: [] },
    ];
    if (arpResponder) {
      flows.push({
        table: TUN.PATCH_LV_TO_TUN,
        priority: 1,
        match: { ethType: ETH_TYPE.ARP, ethDst: exact('ff:ff:ff:ff:ff:ff') },
        actions: [],
        gotoTable: TUN.ARP_RESPONDER,
      });
    }
    flows.push(
      { table: TUN.PATCH_LV_TO_TUN, priority: 0, match: { ethDst: UNICAST }, actions: [], gotoTable: TUN.UCAST_TO_TUN },
      { table: TUN.PATCH_LV_TO_TUN, priority: 0, match: { ethDst: MULTICAST }, actions: [], gotoTable: TUN.FLOOD_TO_TUN },
    );
    // Every tunnel type's TUN_TO_LV table gets its drop, whatever tunnel_types says.
    for (const t of Object.values(TUN_TABLE)) flows.push({ table: t, priority: 0, match: {}, actions: [] });
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
    flows.push({ table: TUN.UCAST_TO_TUN, priority: 0, match: {}, actions: [], gotoTable: TUN.FLOOD_TO_TUN });
    if (arpResponder) {
      flows.push({ table: TUN.ARP_RESPONDER, priority: 0, match: {}, actions: [], gotoTable: TUN.FLOOD_TO_TUN });
    }
    flows.push({ table: TUN.FLOOD_TO_TUN, priority: 0, match: {}, actions: [] });
    return flows;
  }

  /** Packets arriving on a tunnel port go to that tunnel type's TUN_TO_LV table. */
  static tunnelPortFlow(type: TunnelType, ofport: number): Flow {
    return { table: TUN.LOCAL_SWITCHING, priority: 1, match: { inPort: ofport }, actions: [], gotoTable: TUN_TABLE[type] };
  }

  /** Tunnel id of a network → its local VLAN, then learning. */
  static tunToLvFlow(type: TunnelType, segmentationId: number, lvid: number): Flow {
    return {
      table: TUN_TABLE[type],
      priority: 1,
      match: { tunId: exact(BigInt(segmentationId)) },
      actions: [pushVlan(), setVlan(lvid)],
      gotoTable: TUN.LEARN_FROM_TUN,
    };
  }

  /** Broadcast/multicast/unknown unicast of a network to the given tunnel ports. */
  static floodFlow(lvid: number, segmentationId: number, ofports: Iterable<number>): Flow {
    const ports = [...ofports].sort((a, b) => a - b);
    return {
      table: TUN.FLOOD_TO_TUN,
      priority: 1,
      match: { vlanVid: vlan(lvid) },
      actions: [popVlan(), { type: 'set_field', field: 'tun_id', value: BigInt(segmentationId) }, ...ports.map((p) => output(p))],
    };
  }

  static floodFilter(lvid: number): FlowFilter {
    return { table: TUN.FLOOD_TO_TUN, match: { vlanVid: vlan(lvid) } };
  }

  /** l2population: a known remote MAC goes straight to its VTEP's tunnel port. */
  static unicastFlow(lvid: number, segmentationId: number, mac: string, ofport: number): Flow {
    return {
      table: TUN.UCAST_TO_TUN,
      priority: 2,
      match: { vlanVid: vlan(lvid), ethDst: exact(mac) },
      actions: [popVlan(), { type: 'set_field', field: 'tun_id', value: BigInt(segmentationId) }, output(ofport)],
    };
  }

  static unicastFilter(lvid: number, mac?: string): FlowFilter {
    return { table: TUN.UCAST_TO_TUN, match: mac ? { vlanVid: vlan(lvid), ethDst: exact(mac) } : { vlanVid: vlan(lvid) } };
  }

  /** l2population ARP responder: answer ARP for a remote port's IP locally. */
  static arpResponderFlow(lvid: number, mac: string, ip: string): Flow {
    return {
      table: TUN.ARP_RESPONDER,
      priority: 1,
      match: { ethType: ETH_TYPE.ARP, vlanVid: vlan(lvid), arpTpa: exact(ip) },
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
    };
  }

  static arpResponderFilter(lvid: number, ip?: string): FlowFilter {
    return {
      table: TUN.ARP_RESPONDER,
      match: ip ? { ethType: ETH_TYPE.ARP, vlanVid: vlan(lvid), arpTpa: exact(ip) } : { ethType: ETH_TYPE.ARP, vlanVid: vlan(lvid) },
    };
  }

  static tunToLvFilter(type: TunnelType, segmentationId: number): FlowFilter {
    return { table: TUN_TABLE[type], match: { tunId: exact(BigInt(segmentationId)) } };
  }
}
