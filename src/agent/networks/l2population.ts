// l2population (neutron's l2population_rpc.py): the server tells each host where the other hosts'
// ports are, and br-tun gets unicast, flood and ARP responder flows for them instead of learning.
// Messages arrive parsed (rpc-payloads.ts).
import { isIP } from 'node:net';
import { TunnelBridge } from '../../bridges/br-tun.js';
import { isTunnelType, type TunnelType } from '../../bridges/tables.js';
import type { AgentContext } from '../context.js';
import type { LocalVlanMapping } from './local-vlan.js';
import { FLOODING_ENTRY, fdbSummary, type FdbEntry, type FdbIpChange, type FdbNetwork } from '../server/rpc-payloads.js';
import type { TunnelPorts } from './tunnels.js';
import { getLogger } from '../../util/log.js';

const LOG = getLogger('agent');

const isFlooding = (e: FdbEntry): boolean => e.mac === FLOODING_ENTRY.mac && e.ip === FLOODING_ENTRY.ip;

export class L2Population {
  constructor(
    private readonly ctx: AgentContext,
    private readonly tunnels: TunnelPorts,
  ) {}

  // The handlers change the same flows as port passes: they take the same lock.

  async onAddFdbEntries(networks: FdbNetwork[], forThisHost: boolean): Promise<void> {
    LOG.info(`l2population add_fdb_entries for ${fdbSummary(networks)}`);
    if (forThisHost) await this.ctx.scheduler.withLock(() => this.fdbAdd(networks));
  }

  async onRemoveFdbEntries(networks: FdbNetwork[], forThisHost: boolean): Promise<void> {
    LOG.info(`l2population remove_fdb_entries for ${fdbSummary(networks)}`);
    if (forThisHost) await this.ctx.scheduler.withLock(() => this.fdbRemove(networks));
  }

  async onUpdateFdbEntries(changes: FdbIpChange[], forThisHost: boolean): Promise<void> {
    LOG.info(`l2population update_fdb_entries for ${changes.length} chg_ip change(s)`);
    if (forThisHost) await this.ctx.scheduler.withLock(() => this.fdbUpdate(changes));
  }

  /** The networks of the message that are wired here on a tunnel network, with their local VLAN. */
  private wiredTunnelNetworks(networks: FdbNetwork[]): Array<[LocalVlanMapping, TunnelType, FdbNetwork]> {
    const out: Array<[LocalVlanMapping, TunnelType, FdbNetwork]> = [];
    for (const n of networks) {
      const lvm = this.ctx.vlans.get(n.networkId, n.segmentId);
      const type = n.networkType;
      if (!lvm || !isTunnelType(type)) continue;
      out.push([lvm, type, n]);
    }
    return out;
  }

  private async fdbAdd(networks: FdbNetwork[]): Promise<void> {
    const tun = this.ctx.bridges.tun;
    if (!tun) return;
    const s = this.ctx.settings;
    for (const [lvm, type, net] of this.wiredTunnelNetworks(networks)) {
      const b = tun.batch();
      let floodChanged = false;
      for (const [vtep, entries] of net.ports) {
        if (vtep === s.localIp) continue;
        const ofport = await this.tunnels.ensurePort(type, vtep);
        if (ofport === undefined) continue;
        for (const e of entries.good(`add_fdb_entries for network ${net.networkId} via ${vtep}`)) {
          if (isFlooding(e)) {
            lvm.tunOfports.add(ofport);
            floodChanged = true;
          } else {
            if (s.arpResponderEnabled && isIP(e.ip) === 4) TunnelBridge.installArpResponder(b, lvm.vlan, e.mac, e.ip);
            TunnelBridge.installUnicastToTun(b, lvm.vlan, lvm.segmentationId!, e.mac, ofport);
          }
        }
      }
      if (floodChanged) TunnelBridge.installFloodToTun(b, lvm.vlan, lvm.segmentationId!, lvm.tunOfports);
      await b.commit();
    }
  }

  private async fdbRemove(networks: FdbNetwork[]): Promise<void> {
    const tun = this.ctx.bridges.tun;
    if (!tun) return;
    for (const [lvm, type, net] of this.wiredTunnelNetworks(networks)) {
      const b = tun.batch();
      const cleanup: number[] = [];
      for (const [vtep, entries] of net.ports) {
        const ofport = this.tunnels.ofportsOf(type).get(vtep);
        if (vtep === this.ctx.settings.localIp || ofport === undefined) continue;
        for (const e of entries.good(`remove_fdb_entries for network ${net.networkId} via ${vtep}`)) {
          if (isFlooding(e)) {
            lvm.tunOfports.delete(ofport);
            if (lvm.tunOfports.size) TunnelBridge.installFloodToTun(b, lvm.vlan, lvm.segmentationId!, lvm.tunOfports);
            else TunnelBridge.deleteFloodToTun(b, lvm.vlan);
            cleanup.push(ofport);
          } else {
            TunnelBridge.deleteArpResponder(b, lvm.vlan, e.ip);
            TunnelBridge.deleteUnicastToTun(b, lvm.vlan, e.mac);
          }
        }
      }
      await b.commit();
      for (const p of cleanup) await this.tunnels.cleanupPort(p, type);
    }
  }

  /** A remote port's IPs changed: only the ARP responder knows IPs. */
  private async fdbUpdate(changes: FdbIpChange[]): Promise<void> {
    const tun = this.ctx.bridges.tun;
    const s = this.ctx.settings;
    if (!tun || !s.arpResponderEnabled) return;
    const byNetwork = new Map<string, FdbIpChange[]>();
    for (const c of changes) byNetwork.set(c.networkId, [...(byNetwork.get(c.networkId) ?? []), c]);
    for (const [networkId, netChanges] of byNetwork) {
      for (const lvm of this.ctx.vlans.segments(networkId)) {
        const b = tun.batch();
        for (const c of netChanges) {
          if (c.vtep === s.localIp) continue;
          const where = 'update_fdb_entries chg_ip';
          for (const e of c.after.good(where)) if (isIP(e.ip) === 4) TunnelBridge.installArpResponder(b, lvm.vlan, e.mac, e.ip);
          for (const e of c.before.good(where)) if (isIP(e.ip) === 4) TunnelBridge.deleteArpResponder(b, lvm.vlan, e.ip);
        }
        await b.commit();
      }
    }
  }
}
