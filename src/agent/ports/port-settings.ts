// What a port bound in a pass is: its tag and other_config in OVSDB (as the reference writes them)
// and its wiring as the firewall driver is told about it.
import type { PortSettings, VifPort } from '../../ovsdb/ops.js';
import type { PortWiring } from '../../firewall/types.js';
import type { BoundDeviceDetails } from './device-details.js';
import type { LocalVlanMapping } from '../networks/local-vlan.js';

export function portWiring(p: Pick<VifPort, 'ofport' | 'portName'>, localVlan: number, d: BoundDeviceDetails): PortWiring {
  return {
    ofport: p.ofport!,
    vifName: p.portName,
    localVlan,
    networkType: d.networkType,
    physicalNetwork: d.physicalNetwork,
    segmentationId: d.segmentationId,
  };
}

/** Tag and other_config of a port bound to a local VLAN, as the reference writes them. */
export function taggedPortSettings(portName: string, lvm: LocalVlanMapping, d: BoundDeviceDetails): PortSettings {
  return {
    port: portName,
    tag: lvm.vlan,
    clearVlanModeAndTrunks: true,
    otherConfig: {
      net_uuid: d.networkId,
      network_type: d.networkType,
      physical_network: d.physicalNetwork ?? 'None',
      ...(d.segmentationId !== undefined ? { segmentation_id: String(d.segmentationId) } : {}),
      tag: String(lvm.vlan),
    },
  };
}
