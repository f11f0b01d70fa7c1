// Tunnel ports on br-tun, named and configured as the reference does (flows.md §5.1), and the
// tunnel endpoints the agent keeps ports to.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { TunnelBridge } from '../../bridges/br-tun.js';
import { TUNNEL_TYPES, type TunnelType } from '../../bridges/tables.js';
import type { AgentContext } from '../context.js';
import { getLogger } from '../../util/log.js';

const LOG = getLogger('agent');

function ipv4ToHex(ip: string): string {
  return ip
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('');
}

/** RFC 4648 base32, lower-case, no padding. */
function base32(buf: Buffer): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** The reference's get_tunnel_hash: 8 hex digits for IPv4, a base32 SHA-1 prefix of `len` for IPv6. */
function tunnelHash(ip: string, len: number): string | undefined {
  const v = isIP(ip);
  if (v === 4) return ipv4ToHex(ip);
  if (v === 6) return base32(createHash('sha1').update(ip).digest()).slice(0, len);
  return undefined;
}

/** OVS limits port names to 15 characters (IFNAMSIZ less the NUL). */
const DEVICE_NAME_MAX_LEN = 15;

/** `vxlan-c0000214` for 192.0.2.20; IPv6 remotes get a base32 SHA-1 prefix. Undefined for an invalid IP. */
export function tunnelPortName(type: TunnelType, remoteIp: string): string | undefined {
  const hash = tunnelHash(remoteIp, DEVICE_NAME_MAX_LEN - type.length - 1);
  return hash === undefined ? undefined : `${type}-${hash}`;
}

/**
 * Neutron's fullstack test agent's name (get_tunnel_name_full): `vxl-<sha1(local hash)>-<sha1(remote
 * hash)>`, 5 hex digits each, so agents sharing one Open vSwitch name their ports to one remote apart.
 */
export function tunnelPortNameByBothIps(type: TunnelType, localIp: string, remoteIp: string): string | undefined {
  const prefix = type.slice(0, 3);
  const len = Math.floor((DEVICE_NAME_MAX_LEN - prefix.length - 2) / 2);
  const [local, remote] = [tunnelHash(localIp, len), tunnelHash(remoteIp, len)];
  if (local === undefined || remote === undefined) return undefined;
  const sha = (s: string) => createHash('sha1').update(s).digest('hex').slice(0, len);
  return `${prefix}-${sha(local)}-${sha(remote)}`;
}

export interface TunnelOptionSettings {
  localIp: string;
  vxlanUdpPort: number;
  dontFragment: boolean;
  tunnelCsum: boolean;
  dscp: number | undefined;
  dscpInherit: boolean;
  hwOffload: boolean;
}

/** OVSDB Interface type and options of a tunnel port. */
export function tunnelInterface(type: TunnelType, remoteIp: string, s: TunnelOptionSettings): { ifaceType: string; options: Record<string, string> } {
  const v6 = isIP(remoteIp) === 6 || isIP(s.localIp) === 6;
  const ifaceType = type === 'gre' && v6 ? 'ip6gre' : type;
  const options: Record<string, string> = {
    df_default: s.dontFragment ? 'true' : 'false',
    in_key: 'flow',
    out_key: 'flow',
    local_ip: s.localIp,
    remote_ip: remoteIp,
  };
  if (!s.hwOffload) options['egress_pkt_mark'] = '0';
  if (type === 'vxlan' && s.vxlanUdpPort !== 4789) options['dst_port'] = String(s.vxlanUdpPort);
  if (s.tunnelCsum) options['csum'] = 'true';
  if (s.dscpInherit) options['tos'] = 'inherit';
  else if (s.dscp !== undefined) options['tos'] = String(s.dscp << 2);
  if (ifaceType === 'ip6gre') options['packet_type'] = 'legacy_l2';
  return { ifaceType, options };
}

/**
 * Tunnel ports on br-tun and the flood flows over them (agent-loop.md §6): from tunnel_sync at
 * start and after a reconnect, from tunnel_update/tunnel_delete, and from l2population.
 */
export class TunnelPorts {
  /** ofport of each tunnel port, by type and remote IP. */
  private readonly ofports = new Map<TunnelType, Map<string, number>>(TUNNEL_TYPES.map((t) => [t, new Map()]));

  constructor(private readonly ctx: AgentContext) {}

  ofportsOf(type: TunnelType): Map<string, number> {
    return this.ofports.get(type)!;
  }

  /** ovs-vswitchd restarted: the ports are set up again by the next tunnel_sync. */
  forgetAll(): void {
    for (const m of this.ofports.values()) m.clear();
  }

  /** tunnel_sync for each tunnel type; without l2population, a port to every endpoint returned. */
  async sync(): Promise<void> {
    const { settings, sync } = this.ctx;
    const local = settings.localIp!;
    for (const type of settings.tunnelTypes) {
      const endpoints = await this.ctx.requireRpc().tunnelSync(local, type);
      if (settings.l2Population) continue;
      for (const ip of endpoints) if (ip !== local) await this.ensurePort(type, ip);
      await this.refreshFloodFlows(type);
    }
    sync.tunnelSyncNeeded = false;
  }

  /** The tunnel port to a remote endpoint, created with its classification flow if missing. */
  async ensurePort(type: TunnelType, remoteIp: string): Promise<number | undefined> {
    const known = this.ofportsOf(type).get(remoteIp);
    if (known !== undefined) return known;
    const { settings, ops } = this.ctx;
    const tun = this.ctx.bridges.tun;
    const name = this.portName(type, remoteIp);
    if (!tun || !name) {
      LOG.error(`cannot create a ${type} tunnel port to '${remoteIp}'`);
      return undefined;
    }
    const { ifaceType, options } = tunnelInterface(type, remoteIp, {
      localIp: settings.localIp!,
      vxlanUdpPort: settings.vxlanUdpPort,
      dontFragment: settings.dontFragment,
      tunnelCsum: settings.tunnelCsum,
      dscp: settings.dscp,
      dscpInherit: settings.dscpInherit,
      hwOffload: ops.openVSwitch().otherConfig.get('hw-offload') === 'true',
    });
    try {
      await ops.addTunnelPort(tun.name, name, ifaceType, options);
      const ofport = await ops.waitOfport(name, settings.ovsdbTimeoutSec * 1000);
      const b = tun.batch();
      TunnelBridge.setupTunnelPort(b, type, ofport);
      await b.commit();
      this.ofportsOf(type).set(remoteIp, ofport);
      LOG.info(`tunnel port ${name} to ${remoteIp} is ofport ${ofport}`);
      return ofport;
    } catch (e) {
      LOG.error(`Failed to set-up ${type} tunnel port to ${remoteIp}`, e);
      return undefined;
    }
  }

  private portName(type: TunnelType, remoteIp: string): string | undefined {
    const { settings } = this.ctx;
    return settings.tunnelPortNaming === 'local-and-remote-ip' ? tunnelPortNameByBothIps(type, settings.localIp!, remoteIp) : tunnelPortName(type, remoteIp);
  }

  /** Delete a tunnel port and its flows once no network floods to it any more. */
  async cleanupPort(ofport: number, type: TunnelType): Promise<void> {
    const tun = this.ctx.bridges.tun;
    for (const lvm of this.ctx.vlans.all()) if (lvm.tunOfports.has(ofport)) return;
    const entry = [...this.ofportsOf(type)].find(([, p]) => p === ofport);
    if (!entry || !tun) return;
    const [ip] = entry;
    this.ofportsOf(type).delete(ip);
    await this.ctx.ops.deletePort(tun.name, this.portName(type, ip)!);
    const b = tun.batch();
    TunnelBridge.cleanupTunnelPort(b, ofport);
    await b.commit();
  }

  /** Without l2population every network of the type floods to every tunnel port of the type. */
  async refreshFloodFlows(type: TunnelType): Promise<void> {
    const tun = this.ctx.bridges.tun;
    const ofports = [...this.ofportsOf(type).values()];
    if (!tun || !ofports.length) return;
    const b = tun.batch();
    for (const lvm of this.ctx.vlans.all()) {
      if (lvm.networkType === type && lvm.segmentationId !== undefined) TunnelBridge.installFloodToTun(b, lvm.vlan, lvm.segmentationId, ofports.values());
    }
    await b.commit();
  }

  /** tunnel_update from the server: another host's endpoint appeared. */
  async onTunnelUpdate(ip: string, type: string): Promise<void> {
    const tunnelType = this.configuredTunnelType(ip, type);
    if (!tunnelType || this.ctx.settings.l2Population) return;
    await this.ensurePort(tunnelType, ip);
    await this.refreshFloodFlows(tunnelType);
  }

  /** tunnel_delete from the server: another host's endpoint went away. */
  async onTunnelDelete(ip: string, type: string): Promise<void> {
    const tunnelType = this.configuredTunnelType(ip, type);
    if (!tunnelType) return;
    const ofport = this.ofportsOf(tunnelType).get(ip);
    if (ofport !== undefined) await this.cleanupPort(ofport, tunnelType);
  }

  /** The tunnel type of a tunnel_update/delete if it is one this agent tunnels with and the endpoint is another host. */
  private configuredTunnelType(ip: string, type: string): TunnelType | undefined {
    const s = this.ctx.settings;
    if (s.tunnelTypes.length === 0) return undefined;
    const configured = s.tunnelTypes.find((t) => t === type);
    if (!ip || !configured) {
      LOG.error(`No tunnel_type specified or tunnel type ${type} not configured; ignoring tunnel to ${ip}`);
      return undefined;
    }
    return ip !== s.localIp ? configured : undefined;
  }
}
