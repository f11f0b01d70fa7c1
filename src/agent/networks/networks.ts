// Networks wired on this host: a local VLAN on br-int per (network, segment), provisioned on the
// bridges for its first port and reclaimed with its last one (agent-loop.md §3), and moved to a new
// segmentation id when the server changes it.
import { IntegrationBridge } from '../../bridges/br-int.js';
import { PhysicalBridge } from '../../bridges/br-phys.js';
import { TunnelBridge } from '../../bridges/br-tun.js';
import { DEAD_VLAN_TAG, isTunnelType } from '../../bridges/tables.js';
import type { AgentContext } from '../context.js';
import type { BoundDeviceDetails } from '../ports/device-details.js';
import type { LocalVlanMapping } from './local-vlan.js';
import type { PassBatches } from '../ports/pass-batches.js';
import { singleSegment } from '../server/rpc-payloads.js';
import type { TunnelPorts } from './tunnels.js';
import { getLogger } from '../../util/log.js';

const LOG = getLogger('agent');

/** A port as the network side sees it: which network it is bound to, if any. */
export interface NetworkPort {
  readonly ifaceId: string;
  readonly portName: string;
  lvm?: LocalVlanMapping | undefined;
}

export class Networks {
  constructor(
    private readonly ctx: AgentContext,
    private readonly tunnels: TunnelPorts,
  ) {}

  /** Tags of ports already wired by a previous run: their networks get the same VLANs again. */
  restoreLocalVlanHints(): void {
    const { ops, settings, vlans } = this.ctx;
    for (const v of ops.vifPorts(settings.integrationBridge)) {
      const net = v.otherConfig.get('net_uuid');
      if (v.tag === undefined || v.tag === DEAD_VLAN_TAG || !net || v.ofport === undefined || v.ofport < 0) continue;
      const seg = v.otherConfig.get('segmentation_id');
      vlans.addHint(net, seg !== undefined ? Number(seg) : undefined, v.tag);
    }
  }

  /** The local VLAN of a port's network; `created` when this port is the network's first here. */
  ensureLocalVlan(d: BoundDeviceDetails): { lvm: LocalVlanMapping; created: boolean } {
    const existing = this.ctx.vlans.get(d.networkId, d.segmentationId);
    if (existing) return { lvm: existing, created: false };
    const lvm = this.ctx.vlans.allocate(d.networkId, d.networkType, d.physicalNetwork, d.segmentationId);
    LOG.info(`Assigning ${lvm.vlan} as local vlan for net-id=${d.networkId}, seg-id=${d.segmentationId ?? 'None'}`);
    return { lvm, created: true };
  }

  /** Flows that carry a network's traffic between its local VLAN and its tunnel or physical network. */
  provision(lvm: LocalVlanMapping, batches: PassBatches): void {
    const type = lvm.networkType;
    if (isTunnelType(type)) {
      if (!batches.tun || !this.ctx.settings.tunnelTypes.includes(type) || lvm.segmentationId === undefined) {
        LOG.error(`Cannot provision ${type} network for net-id=${lvm.networkId} - tunneling disabled`);
        return;
      }
      TunnelBridge.provisionLocalVlan(batches.tun, type, lvm.vlan, lvm.segmentationId, this.ctx.settings.enableDistributedRouting);
      const ofports = this.tunnels.ofportsOf(type);
      if (ofports.size) TunnelBridge.installFloodToTun(batches.tun, lvm.vlan, lvm.segmentationId, ofports.values());
    } else if (type === 'vlan' || type === 'flat') {
      const pn = lvm.physicalNetwork ? this.ctx.bridges.phys.get(lvm.physicalNetwork) : undefined;
      if (!pn) {
        LOG.error(`Cannot provision ${type} network for net-id=${lvm.networkId} - no bridge for physical_network ${lvm.physicalNetwork}`);
        return;
      }
      const seg = type === 'vlan' ? lvm.segmentationId : undefined;
      PhysicalBridge.provisionLocalVlan(batches.physOf(pn.physnet), pn.physOfport, lvm.vlan, seg, this.ctx.settings.enableDistributedRouting);
      IntegrationBridge.provisionLocalVlan(batches.int, pn.intOfport, lvm.vlan, seg);
    } else if (type !== 'local') {
      LOG.error(`Cannot provision unknown network type ${type} for net-id=${lvm.networkId}`);
    }
  }

  /** Take a port off its network; the last port of a network reclaims the VLAN and its flows. */
  unbind(port: NetworkPort, batches: PassBatches): void {
    const lvm = port.lvm;
    if (!lvm) return;
    lvm.vifPorts.delete(port.ifaceId);
    port.lvm = undefined;
    if (lvm.vifPorts.size > 0) return;
    LOG.info(`Reclaiming vlan = ${lvm.vlan} from net-id = ${lvm.networkId}`);
    const type = lvm.networkType;
    if (isTunnelType(type) && batches.tun && lvm.segmentationId !== undefined) {
      TunnelBridge.reclaimLocalVlan(batches.tun, type, lvm.segmentationId);
      TunnelBridge.deleteFloodToTun(batches.tun, lvm.vlan);
      TunnelBridge.deleteUnicastToTun(batches.tun, lvm.vlan);
      TunnelBridge.deleteArpResponder(batches.tun, lvm.vlan);
      if (this.ctx.settings.l2Population) {
        const ofports = [...lvm.tunOfports];
        lvm.tunOfports.clear();
        this.ctx.vlans.release(lvm);
        for (const p of ofports) void this.tunnels.cleanupPort(p, type);
        return;
      }
    } else if (type === 'vlan' || type === 'flat') {
      const pn = lvm.physicalNetwork ? this.ctx.bridges.phys.get(lvm.physicalNetwork) : undefined;
      if (pn) {
        PhysicalBridge.reclaimLocalVlan(batches.physOf(pn.physnet), pn.physOfport, lvm.vlan);
        IntegrationBridge.reclaimLocalVlan(batches.int, pn.intOfport, type === 'vlan' ? lvm.segmentationId : undefined);
      }
    }
    this.ctx.vlans.release(lvm);
  }

  /** The segmentation id of a single-segment VLAN network as the server now has it. */
  currentVlanSegment(networkId: string): number | undefined {
    const segment = singleSegment(this.ctx.cache.getCached('Network', networkId));
    return segment?.networkType === 'vlan' ? segment.segmentationId : undefined;
  }

  /**
   * A VLAN network's segmentation id changed (network_update): the provider-bridge and br-int
   * translation flows move to the new VID; the local VLAN, and so every port's tag, stays.
   * Call under the pass lock.
   */
  async resegment(networkId: string, ports: Iterable<NetworkPort>): Promise<void> {
    const seg = this.currentVlanSegment(networkId);
    if (seg === undefined) return;
    const { bridges, vlans, drift } = this.ctx;
    const wired = [...ports];
    for (const lvm of vlans.segments(networkId)) {
      if (lvm.networkType !== 'vlan' || lvm.segmentationId === seg) continue;
      const pn = lvm.physicalNetwork ? bridges.phys.get(lvm.physicalNetwork) : undefined;
      LOG.info(`network ${networkId}: segmentation id ${lvm.segmentationId} -> ${seg}; local vlan ${lvm.vlan} kept`);
      const moved = vlans.resegment(lvm, seg);
      for (const w of wired) if (w.lvm === lvm) w.lvm = moved;
      if (pn) {
        const phys = pn.bridge.batch();
        PhysicalBridge.reclaimLocalVlan(phys, pn.physOfport, lvm.vlan);
        PhysicalBridge.provisionLocalVlan(phys, pn.physOfport, lvm.vlan, seg, this.ctx.settings.enableDistributedRouting);
        await phys.commit();
        const int = bridges.int.batch();
        IntegrationBridge.reclaimLocalVlan(int, pn.intOfport, lvm.segmentationId);
        IntegrationBridge.provisionLocalVlan(int, pn.intOfport, lvm.vlan, seg);
        await int.commit();
      }
      const settings = wired.filter((w) => w.lvm === moved).map((w) => ({ port: w.portName, otherConfig: { segmentation_id: String(seg) } }));
      if (settings.length) await drift.writePorts(settings, 'merge');
    }
  }
}
