// What DVR remembers of this host (the reference's LocalDVRSubnetMapping and OVSPort): the subnets
// a distributed router or a centralized SNAT port serves here, and the ports on them.
import type { NetworkType } from '../../config/index.js';
import { isDvrPhysicalType } from '../../bridges/dvr.js';
import type { DvrSubnetInfo } from './dvr-rpc.js';

export const DEVICE_OWNER_DVR_INTERFACE = 'network:router_interface_distributed';
export const DEVICE_OWNER_ROUTER_SNAT = 'network:router_centralized_snat';

/** Owners DVR routes for besides compute ports (neutron's get_other_dvr_serviced_device_owners, host_dvr_for_dhcp on). */
const OTHER_DVR_SERVICED = ['neutron:LOADBALANCER', 'neutron:LOADBALANCERV2', 'trunk:subport', 'network:dhcp'];

/** A port a distributed router delivers to on this host (neutron's is_dvr_serviced). */
export function isDvrServiced(deviceOwner: string): boolean {
  return deviceOwner.startsWith('compute:') || OTHER_DVR_SERVICED.includes(deviceOwner);
}

/** The network a port sits on, as DVR writes its flows. */
export interface DvrNetwork {
  networkType: NetworkType;
  /** The local VLAN on br-int. */
  lvid: number;
  segmentationId: number | undefined;
  physicalNetwork: string | undefined;
}

/** The VLAN br-int's DVR_TO_SRC_MAC flows match: the segment's on a provider network (none on flat), else the local one. */
export function toSrcMacVlan(net: DvrNetwork): number | undefined {
  return isDvrPhysicalType(net.networkType) ? net.segmentationId : net.lvid;
}

/** A subnet served by DVR (a router interface) or by a centralized SNAT port on this host. */
export class LocalDvrSubnet {
  /** DVR-serviced ports on it: ofport by port id. */
  readonly computePorts = new Map<string, number>();
  /** Router interfaces on it: ofport by port id. */
  readonly routerPorts = new Map<string, number>();
  /** A distributed router interface serves it (a csnat port alone does not). */
  dvrOwned = false;

  constructor(
    readonly info: DvrSubnetInfo,
    public csnatOfport: number | undefined = undefined,
  ) {}
}

/** A port DVR wrote flows for. */
export class DvrLocalPort {
  readonly subnets = new Set<string>();
  /** A router interface's address on each subnet. */
  readonly ips = new Map<string, string[]>();

  constructor(
    readonly id: string,
    readonly ofport: number,
    readonly mac: string,
    readonly deviceOwner: string,
    readonly network: DvrNetwork,
  ) {}

  addSubnet(subnetId: string, fixedIp?: string): void {
    this.subnets.add(subnetId);
    if (fixedIp === undefined) return;
    const ips = this.ips.get(subnetId) ?? [];
    ips.push(fixedIp);
    this.ips.set(subnetId, ips);
  }

  removeSubnet(subnetId: string): void {
    this.subnets.delete(subnetId);
    this.ips.delete(subnetId);
  }
}
