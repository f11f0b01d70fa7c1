// Ports of distributed routers and the ports they route for, bound and unbound as the reference's
// ovs_dvr_neutron_agent does: a router interface bound here makes its subnet a DVR subnet (the
// gateway MAC rewritten to this host's DVR MAC going out, back coming in, for every local port
// on the subnet); a compute port on a DVR subnet gets its delivery flows; a centralized SNAT port
// (dvr_snat host) gets them too.
import { IntDvr, DvrProcess, PHYS_DVR_PROCESS, TUN_DVR_PROCESS, isDvrPhysicalType, type DvrProcessTables } from '../../bridges/dvr.js';
import type { FlowBatch } from '../../bridges/ovs-bridge.js';
import { isTunnelType } from '../../config/index.js';
import { getLogger } from '../../util/log.js';
import type { ExtensionAgentApi } from '../seam.js';
import type { DvrRpc } from './dvr-rpc.js';
import {
  DEVICE_OWNER_DVR_INTERFACE, DEVICE_OWNER_ROUTER_SNAT, DvrLocalPort, LocalDvrSubnet, isDvrServiced, toSrcMacVlan, type DvrNetwork,
} from './dvr-state.js';

const LOG = getLogger('extensions.dvr');

/** A port as DVR binds it. */
export interface DvrPortBinding {
  id: string;
  ofport: number;
  mac: string;
  deviceOwner: string;
  network: DvrNetwork;
  fixedIps: ReadonlyArray<{ subnetId: string; ipAddress: string }>;
}

/** The batches of one bind or unbind: br-int's, and br-tun's or a provider bridge's. */
class DvrBatches {
  readonly int: FlowBatch;
  private readonly others = new Map<string, FlowBatch>();
  constructor(private readonly api: ExtensionAgentApi) {
    this.int = api.intBridge().batch();
  }

  /** The bridge carrying the network off the host and its DVR_PROCESS tables; undefined: none here. */
  process(net: DvrNetwork): { b: FlowBatch; t: DvrProcessTables } | undefined {
    if (isDvrPhysicalType(net.networkType)) {
      const pn = net.physicalNetwork === undefined ? undefined : this.api.physicalNetworks().get(net.physicalNetwork);
      if (!pn) return undefined;
      return { b: this.of(`phys:${pn.bridge.name}`, () => pn.bridge.batch()), t: PHYS_DVR_PROCESS };
    }
    const tun = this.api.tunnelBridge();
    return tun ? { b: this.of('tun', () => tun.bridge.batch()), t: TUN_DVR_PROCESS } : undefined;
  }

  private of(key: string, make: () => FlowBatch): FlowBatch {
    let b = this.others.get(key);
    if (!b) this.others.set(key, (b = make()));
    return b;
  }

  async commit(): Promise<void> {
    for (const b of this.others.values()) await b.commit();
    await this.int.commit();
  }
}

export class DvrPorts {
  /** Subnets served here, by id (local_dvr_map). */
  readonly subnets = new Map<string, LocalDvrSubnet>();
  /** Ports DVR wrote flows for, by id (local_ports). */
  readonly ports = new Map<string, DvrLocalPort>();

  constructor(
    private readonly api: ExtensionAgentApi,
    private readonly rpc: DvrRpc,
    private readonly dvrMac: () => string,
  ) {}

  /** The openvswitch firewall filters ports here: the reference gives its DVR the firewall only then. */
  private ovsFirewall(): boolean {
    return this.api.settings.firewallDriver === 'openvswitch' && this.api.settings.enableSecurityGroup;
  }

  /** The patch port a network leaves br-int by, as the firewall's direct output uses it: patch-tun, a VLAN network's int-<bridge>, none for flat. */
  private egressPatchOfport(net: DvrNetwork): number | undefined {
    if (isTunnelType(net.networkType)) return this.api.tunnelBridge()?.patchTunOfport;
    if (net.networkType !== 'vlan' || net.physicalNetwork === undefined) return undefined;
    return this.api.physicalNetworks().get(net.physicalNetwork)?.intOfport;
  }

  /** Forget everything (the bridges were set up anew: their flows are gone). */
  reset(): void {
    this.subnets.clear();
    this.ports.clear();
  }

  /** bind_port_to_dvr. */
  async bind(port: DvrPortBinding): Promise<void> {
    const type = port.network.networkType;
    if (!isTunnelType(type) && !isDvrPhysicalType(type)) {
      LOG.debug(`DVR: Port ${port.id} is with network_type ${type} not supported for dvr plumbing`);
      return;
    }
    const known = this.ports.get(port.id);
    if (known && (known.ofport !== port.ofport || known.network.lvid !== port.network.lvid)) {
      LOG.info(`DVR: Port ${port.id} changed port number to ${port.ofport}, rebinding.`);
      await this.unbind(port.id);
    }
    if (port.deviceOwner === DEVICE_OWNER_DVR_INTERFACE) await this.bindRouterInterface(port);
    if (isDvrServiced(port.deviceOwner)) await this.bindServicedPort(port);
    if (port.deviceOwner === DEVICE_OWNER_ROUTER_SNAT) await this.bindCsnatPort(port);
  }

  /** The subnet's DVR state, asked of the server the first time; undefined when the server has it no more. */
  private async subnetOf(subnetId: string, fixedIps: DvrPortBinding['fixedIps'] | null, csnatOfport?: number): Promise<LocalDvrSubnet | undefined> {
    const known = this.subnets.get(subnetId);
    if (known) return known;
    const info = await this.rpc.subnetForDvr(subnetId, fixedIps);
    if (!info) {
      LOG.warning(`DVR: Unable to retrieve subnet information for subnet_id ${subnetId}. The subnet or the gateway may have already been deleted`);
      return undefined;
    }
    const ldm = new LocalDvrSubnet(info, csnatOfport);
    this.subnets.set(subnetId, ldm);
    return ldm;
  }

  /** A serviced port's delivery flows on one subnet, its record created on first sight. */
  private deliver(b: DvrBatches, ldm: LocalDvrSubnet, subnetId: string, p: { id: string; ofport: number; mac: string; deviceOwner: string; network: DvrNetwork }): void {
    ldm.computePorts.set(p.id, p.ofport);
    let rec = this.ports.get(p.id);
    if (!rec) this.ports.set(p.id, (rec = new DvrLocalPort(p.id, p.ofport, p.mac, p.deviceOwner, p.network)));
    rec.addSubnet(subnetId);
    const gatewayMac = ldm.info.gatewayMac;
    if (gatewayMac === undefined) return;
    IntDvr.installToSrcMac(b.int, p.network.networkType, toSrcMacVlan(p.network), gatewayMac, rec.mac, rec.ofport);
  }

  /** _bind_distributed_router_interface_port. */
  private async bindRouterInterface(port: DvrPortBinding): Promise<void> {
    const fixed = port.fixedIps[0];
    if (!fixed) return;
    const ldm = await this.subnetOf(fixed.subnetId, port.fixedIps);
    if (!ldm) return;
    ldm.dvrOwned = true;
    const net = port.network;
    const dvrMac = this.dvrMac();
    const b = new DvrBatches(this.api);
    if (this.ovsFirewall() && this.api.settings.explicitlyEgressDirect && ldm.info.gatewayMac !== undefined) {
      IntDvr.installGatewayEgressDirect(b.int, ldm.info.gatewayMac, net.lvid, port.ofport, this.egressPatchOfport(net));
    }
    const serviced = await this.rpc.portsOnHostBySubnet(fixed.subnetId);
    const vifs = new Map(this.api.ops.vifPorts(this.api.settings.integrationBridge).filter((v) => v.ofport !== undefined && v.ofport > 0).map((v) => [v.ifaceId, v]));
    for (const s of serviced) {
      const vif = vifs.get(s.id);
      if (vif) this.deliver(b, ldm, fixed.subnetId, { id: s.id, ofport: vif.ofport!, mac: vif.mac, deviceOwner: s.deviceOwner, network: net });
    }
    IntDvr.installDstMacForArp(b.int, net.networkType, net.lvid, port.mac, dvrMac, port.ofport);
    const out = b.process(net);
    if (!out) {
      LOG.error(`DVR: router interface ${port.id}: no bridge carries its ${net.networkType} network${net.physicalNetwork ? ` (physical network ${net.physicalNetwork})` : ''}; its DVR_PROCESS flows are left out`);
    } else {
      if (ldm.info.ipVersion === 4) DvrProcess.installIpv4(out.b, out.t, net.lvid, fixed.ipAddress);
      else DvrProcess.installIpv6(out.b, out.t, net.lvid, port.mac);
      DvrProcess.install(out.b, out.t, net.lvid, port.mac, dvrMac);
    }
    const rec = new DvrLocalPort(port.id, port.ofport, port.mac, port.deviceOwner, net);
    rec.addSubnet(fixed.subnetId, fixed.ipAddress);
    this.ports.set(port.id, rec);
    ldm.routerPorts.set(port.id, port.ofport);
    if (ldm.info.ipVersion === 4 && ldm.info.gatewayMac !== undefined) IntDvr.changeArpDestinationMac(b.int, ldm.info.gatewayMac, dvrMac);
    await b.commit();
  }

  /** _bind_port_on_dvr_subnet: a serviced port on subnets a router interface here serves. */
  private async bindServicedPort(port: DvrPortBinding): Promise<void> {
    const b = new DvrBatches(this.api);
    for (const ip of port.fixedIps) {
      const ldm = this.subnets.get(ip.subnetId);
      // A subnet only a csnat port serves: DVR plumbs the port once a router interface comes.
      if (!ldm?.dvrOwned) continue;
      LOG.debug(`DVR: Plumbing compute port ${port.id}`);
      this.deliver(b, ldm, ip.subnetId, port);
    }
    await b.commit();
  }

  /** _bind_centralized_snat_port_on_dvr_subnet. */
  private async bindCsnatPort(port: DvrPortBinding): Promise<void> {
    const subnetId = port.fixedIps[0]?.subnetId;
    if (subnetId === undefined) return;
    const known = this.ports.get(port.id);
    if (known) {
      const first = [...known.subnets][0];
      if (first !== subnetId) LOG.error(`Centralized-SNAT port ${port.id} on subnet ${subnetId} already seen on a different subnet ${String(first)}`);
      return;
    }
    const existing = this.subnets.get(subnetId);
    const ldm = existing ?? (await this.subnetOf(subnetId, null, port.ofport));
    if (!ldm) return;
    if (existing) existing.csnatOfport = port.ofport;
    const rec = new DvrLocalPort(port.id, port.ofport, port.mac, port.deviceOwner, port.network);
    rec.addSubnet(subnetId);
    this.ports.set(port.id, rec);
    const b = new DvrBatches(this.api);
    if (ldm.info.gatewayMac !== undefined) IntDvr.installToSrcMac(b.int, port.network.networkType, toSrcMacVlan(port.network), ldm.info.gatewayMac, rec.mac, rec.ofport);
    await b.commit();
  }

  /** unbind_port_from_dvr: the port left (or is bound anew); what DVR wrote for it goes. */
  async unbind(portId: string): Promise<void> {
    const rec = this.ports.get(portId);
    if (!rec) {
      LOG.debug(`DVR: Non distributed port, ignoring ${portId}`);
      return;
    }
    const b = new DvrBatches(this.api);
    if (rec.deviceOwner === DEVICE_OWNER_DVR_INTERFACE) this.unbindRouterInterface(b, rec);
    if (isDvrServiced(rec.deviceOwner)) this.unbindServicedPort(b, rec);
    if (rec.deviceOwner === DEVICE_OWNER_ROUTER_SNAT) this.unbindCsnatPort(b, rec);
    await b.commit();
  }

  /** _unbind_distributed_router_interface_port, with the reference's deletes as they are. */
  private unbindRouterInterface(b: DvrBatches, rec: DvrLocalPort): void {
    const net = rec.network;
    const vlanToUse = toSrcMacVlan(net);
    const dvrMac = this.dvrMac();
    const out = b.process(net);
    for (const subnetId of [...rec.subnets]) {
      const ldm = this.subnets.get(subnetId);
      if (!ldm) continue;
      const info = ldm.info;
      const isGatewayPort = info.gatewayIp !== undefined && rec.ips.get(subnetId)?.[0] === info.gatewayIp;
      if (isGatewayPort || info.gatewayIp === undefined) {
        ldm.dvrOwned = false;
        for (const id of ldm.computePorts.keys()) {
          const comp = this.ports.get(id);
          if (comp) IntDvr.deleteToSrcMac(b.int, net.networkType, vlanToUse, comp.mac);
        }
        ldm.computePorts.clear();
      }
      IntDvr.deleteDstMacForArp(b.int, net.networkType, vlanToUse, dvrMac);
      if (ldm.csnatOfport === undefined && ldm.routerPorts.size <= 1) this.subnets.delete(subnetId);
      if (out && info.ipVersion === 4 && info.gatewayIp !== undefined) DvrProcess.deleteIpv4(out.b, out.t, net.lvid, info.gatewayIp);
      if (out && info.ipVersion === 6 && info.gatewayMac !== undefined) DvrProcess.deleteIpv6(out.b, out.t, net.lvid, info.gatewayMac);
      rec.removeSubnet(subnetId);
      ldm.routerPorts.delete(rec.id);
      // As the reference: whenever its openvswitch firewall runs, explicitly_egress_direct or not.
      if (this.ovsFirewall() && info.gatewayMac !== undefined) IntDvr.deleteGatewayEgressDirect(b.int, info.gatewayMac, net.lvid);
      if (info.ipVersion === 4 && info.gatewayMac !== undefined) IntDvr.deleteArpDestinationChange(b.int, info.gatewayMac, dvrMac);
    }
    if (out) DvrProcess.delete(out.b, out.t, net.lvid, rec.mac);
    this.ports.delete(rec.id);
  }

  /** _unbind_port_on_dvr_subnet. */
  private unbindServicedPort(b: DvrBatches, rec: DvrLocalPort): void {
    LOG.debug(`DVR: Removing plumbing for compute port ${rec.id}`);
    for (const subnetId of rec.subnets) {
      const ldm = this.subnets.get(subnetId);
      if (!ldm) continue;
      ldm.computePorts.delete(rec.id);
      IntDvr.deleteToSrcMac(b.int, rec.network.networkType, toSrcMacVlan(rec.network), rec.mac);
    }
    this.ports.delete(rec.id);
  }

  /** _unbind_centralized_snat_port_on_dvr_subnet. */
  private unbindCsnatPort(b: DvrBatches, rec: DvrLocalPort): void {
    LOG.debug(`DVR: Removing plumbing for csnat port ${rec.id}`);
    const subnetId = [...rec.subnets][0];
    const ldm = subnetId === undefined ? undefined : this.subnets.get(subnetId);
    if (!ldm || subnetId === undefined) return;
    ldm.csnatOfport = undefined;
    IntDvr.deleteToSrcMac(b.int, rec.network.networkType, toSrcMacVlan(rec.network), rec.mac);
    if (!ldm.dvrOwned) this.subnets.delete(subnetId);
    this.ports.delete(rec.id);
  }
}
