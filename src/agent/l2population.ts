// l2population (neutron's l2population_rpc.py): the server tells each host where the other hosts'
// ports are, and br-tun gets unicast, flood and ARP responder flows for them instead of learning.
import { isIP } from 'node:net';
import { TunnelBridge } from '../bridges/br-tun.js';
import { TUNNEL_TYPES, type TunnelType } from '../bridges/tables.js';
import type { JsonValue } from '../rpc/index.js';
import type { AgentContext } from './context.js';
import type { LocalVlanMapping } from './local-vlan.js';
import { isObj, type Json, type JsonObj } from './resource-cache.js';
import type { TunnelPorts } from './tunnels.js';
import { getLogger } from '../util/log.js';

const LOG = getLogger('agent');
/** The (mac, ip) entry that means "flood this network to that VTEP". */
const FLOODING_ENTRY = ['00:00:00:00:00:00', '0.0.0.0'];

export class L2Population {
  constructor(
    private readonly ctx: AgentContext,
    private readonly tunnels: TunnelPorts,
  ) {}

  // The handlers change the same flows as port passes: they take the same lock.

  async onAddFdbEntries(fdb: JsonValue, host: JsonValue | undefined): Promise<void> {
    LOG.info(`l2population add_fdb_entries for ${fdbSummary(fdb)}`);
    if (this.forUs(host)) await this.ctx.scheduler.withLock(() => this.fdbAdd(fdb));
  }

  async onRemoveFdbEntries(fdb: JsonValue, host: JsonValue | undefined): Promise<void> {
    LOG.info(`l2population remove_fdb_entries for ${fdbSummary(fdb)}`);
    if (this.forUs(host)) await this.ctx.scheduler.withLock(() => this.fdbRemove(fdb));
  }

  async onUpdateFdbEntries(fdb: JsonValue, host: JsonValue | undefined): Promise<void> {
    LOG.info(`l2population update_fdb_entries for ${fdbSummary(fdb)}`);
    if (this.forUs(host)) await this.ctx.scheduler.withLock(() => this.fdbUpdate(fdb));
  }

  private forUs(host: JsonValue | undefined): boolean {
    return host === undefined || host === null || host === this.ctx.settings.host;
  }

  private fdbNetworks(fdb: JsonValue): Array<[LocalVlanMapping, string, JsonObj]> {
    if (!isObj(fdb as Json)) {
      LOG.warning('l2population message without a fdb_entries object; ignored');
      return [];
    }
    const out: Array<[LocalVlanMapping, string, JsonObj]> = [];
    for (const [netId, v] of Object.entries(fdb as JsonObj)) {
      if (!isObj(v)) continue;
      const seg = typeof v['segment_id'] === 'number' ? v['segment_id'] : undefined;
      const lvm = this.ctx.vlans.get(netId, seg);
      const type = v['network_type'];
      if (!lvm || typeof type !== 'string' || !TUNNEL_TYPES.includes(type as TunnelType)) continue;
      const ports = isObj(v['ports']) ? v['ports'] : {};
      out.push([lvm, type, ports]);
    }
    return out;
  }

  private async fdbAdd(fdb: JsonValue): Promise<void> {
    const tun = this.ctx.bridges.tun;
    if (!tun) return;
    const s = this.ctx.settings;
    for (const [lvm, type, ports] of this.fdbNetworks(fdb)) {
      const b = tun.batch();
      let floodChanged = false;
      for (const [ip, entries] of Object.entries(ports)) {
        if (ip === s.localIp || !Array.isArray(entries)) continue;
        const ofport = await this.tunnels.ensurePort(type as TunnelType, ip);
        if (ofport === undefined) continue;
        for (const e of entries) {
          if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'string') continue;
          const [mac, addr] = [e[0].toLowerCase(), e[1]];
          if (!validFdbEntry(mac, addr, `add_fdb_entries for network ${lvm.networkId} via ${ip}`)) continue;
          if (mac === FLOODING_ENTRY[0] && addr === FLOODING_ENTRY[1]) {
            lvm.tunOfports.add(ofport);
            floodChanged = true;
          } else {
            if (s.arpResponderEnabled && isIP(addr) === 4) TunnelBridge.installArpResponder(b, lvm.vlan, mac, addr);
            TunnelBridge.installUnicastToTun(b, lvm.vlan, lvm.segmentationId!, mac, ofport);
          }
        }
      }
      if (floodChanged) TunnelBridge.installFloodToTun(b, lvm.vlan, lvm.segmentationId!, lvm.tunOfports);
      await b.commit();
    }
  }

  private async fdbRemove(fdb: JsonValue): Promise<void> {
    const tun = this.ctx.bridges.tun;
    if (!tun) return;
    for (const [lvm, type, ports] of this.fdbNetworks(fdb)) {
      const b = tun.batch();
      const cleanup: number[] = [];
      for (const [ip, entries] of Object.entries(ports)) {
        const ofport = this.tunnels.ofportsOf(type as TunnelType).get(ip);
        if (ip === this.ctx.settings.localIp || ofport === undefined || !Array.isArray(entries)) continue;
        for (const e of entries) {
          if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'string') continue;
          const [mac, addr] = [e[0].toLowerCase(), e[1]];
          if (!validFdbEntry(mac, addr, `remove_fdb_entries for network ${lvm.networkId} via ${ip}`)) continue;
          if (mac === FLOODING_ENTRY[0] && addr === FLOODING_ENTRY[1]) {
            lvm.tunOfports.delete(ofport);
            if (lvm.tunOfports.size) TunnelBridge.installFloodToTun(b, lvm.vlan, lvm.segmentationId!, lvm.tunOfports);
            else TunnelBridge.deleteFloodToTun(b, lvm.vlan);
            cleanup.push(ofport);
          } else {
            TunnelBridge.deleteArpResponder(b, lvm.vlan, addr);
            TunnelBridge.deleteUnicastToTun(b, lvm.vlan, mac);
          }
        }
      }
      await b.commit();
      for (const p of cleanup) await this.tunnels.cleanupPort(p, type as TunnelType);
    }
  }

  private async fdbUpdate(fdb: JsonValue): Promise<void> {
    const tun = this.ctx.bridges.tun;
    const s = this.ctx.settings;
    if (!tun || !isObj(fdb as Json)) return;
    for (const [action, nets] of Object.entries(fdb as JsonObj)) {
      if (action !== 'chg_ip') {
        LOG.warning(`update_fdb_entries: unknown action '${action}'; ignored`);
        continue;
      }
      if (!isObj(nets) || !s.arpResponderEnabled) continue;
      for (const [netId, byIp] of Object.entries(nets)) {
        if (!isObj(byIp)) continue;
        for (const lvm of this.ctx.vlans.segments(netId)) {
          const b = tun.batch();
          for (const [ip, change] of Object.entries(byIp)) {
            if (ip === s.localIp || !isObj(change)) continue;
            for (const [mac, addr] of pairs(change['after'])) if (isIP(addr) === 4) TunnelBridge.installArpResponder(b, lvm.vlan, mac, addr);
            for (const [, addr] of pairs(change['before'])) if (isIP(addr) === 4) TunnelBridge.deleteArpResponder(b, lvm.vlan, addr);
          }
          await b.commit();
        }
      }
    }
  }
}

/** "network <id>: <n> entries on <vtep>, ..." for logs. */
function fdbSummary(fdb: JsonValue): string {
  if (!isObj(fdb as Json)) return `a malformed fdb (${typeof fdb})`;
  return Object.entries(fdb as JsonObj)
    .map(([net, v]) => {
      const ports = isObj(v) && isObj(v['ports']) ? v['ports'] : {};
      const where = Object.entries(ports).map(([ip, e]) => `${Array.isArray(e) ? e.length : '?'} on ${ip}`);
      return `network ${net} (${where.join(', ') || 'no ports'})`;
    })
    .join('; ');
}

function pairs(v: Json | undefined): Array<[string, string]> {
  if (!Array.isArray(v)) return [];
  return v.flatMap((e) =>
    Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string' && validFdbEntry(e[0].toLowerCase(), e[1], 'update_fdb_entries chg_ip')
      ? [[e[0].toLowerCase(), e[1]] as [string, string]]
      : [],
  );
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * An fdb entry the flows can be built from. Checked one entry at a time: a single malformed
 * entry would make the whole batch unencodable, losing the good entries of the same message.
 */
function validFdbEntry(mac: string, addr: string, where: string): boolean {
  if (MAC_RE.test(mac) && (isIP(addr) !== 0 || addr === FLOODING_ENTRY[1])) return true;
  LOG.warning(`${where}: ignoring malformed fdb entry [${JSON.stringify(mac)}, ${JSON.stringify(addr)}]`);
  return false;
}
