// DVR's payloads as they arrive, and a port the DVR extension leaves alone.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DvrAgentExtension } from '../../../src/extensions/dvr/extension.js';
import { parseHostMacs, parseServicedPorts, parseSubnetInfo } from '../../../src/extensions/dvr/dvr-rpc.js';
import { isDvrServiced } from '../../../src/extensions/dvr/dvr-state.js';
import type { ExtensionPort } from '../../../src/extensions/seam.js';

const port = (o: Partial<ExtensionPort>): ExtensionPort => ({
  portId: 'p1', portName: 'qr-p1', ofport: 5, mac: 'fa:16:3e:00:00:01', networkId: 'n1', localVlan: 1,
  deviceOwner: 'network:router_interface_distributed', portSecurityEnabled: false, interfaceType: 'internal', qosPolicyId: undefined, networkQosPolicyId: undefined,
  segment: { networkType: 'vxlan', segmentationId: 100, physicalNetwork: undefined }, fixedIps: [{ subnetId: 's1', ipAddress: '192.0.2.1' }], ...o,
});

describe('DVR RPC payloads', () => {
  it('MACs come as the server writes them (dashes) and are kept as flows write them', () => {
    assert.deepEqual(parseHostMacs([{ host: 'h1', mac_address: 'FA-16-3F-00-00-01' }], 'x'), [{ host: 'h1', mac: 'fa:16:3f:00:00:01' }]);
    assert.throws(() => parseHostMacs({ host: 'h1' }, 'get_dvr_mac_address_list'), /get_dvr_mac_address_list: expected a list/);
    assert.throws(() => parseHostMacs([{ host: 'h1', mac_address: 'nope' }], 'dvr_mac_address_update'), /dvr_mac_address_update: invalid MAC address/);
  });
  it('a subnet the server no longer has is undefined; a good one is typed', () => {
    assert.equal(parseSubnetInfo({}, 's1'), undefined);
    assert.deepEqual(parseSubnetInfo({ id: 's1', ip_version: 4, cidr: '192.0.2.0/24', gateway_ip: '192.0.2.1', gateway_mac: 'fa:16:3e:00:00:01' }, 's1'),
      { id: 's1', ipVersion: 4, cidr: '192.0.2.0/24', gatewayIp: '192.0.2.1', gatewayMac: 'fa:16:3e:00:00:01' });
    assert.throws(() => parseSubnetInfo({ id: 's1', ip_version: 5 }, 's1'), /get_subnet_for_dvr\(s1\): ip_version is not 4 or 6/);
    assert.deepEqual(parseServicedPorts([{ id: 'p', device_owner: 'compute:nova' }], 's1'), [{ id: 'p', deviceOwner: 'compute:nova' }]);
  });
  it('DVR-serviced owners are the reference\'s', () => {
    for (const o of ['compute:nova', 'compute:az1', 'network:dhcp', 'trunk:subport', 'neutron:LOADBALANCERV2']) assert.ok(isDvrServiced(o), o);
    for (const o of ['network:router_interface_distributed', 'network:router_gateway', '']) assert.ok(!isDvrServiced(o), o);
  });
});

describe('DVR ports', () => {
  const ext = new DvrAgentExtension();
  it('an admin-down port (no local VLAN) is left alone', async () => {
    await ext.handlePort(port({ localVlan: undefined, segment: { networkType: 'vlan', segmentationId: 1, physicalNetwork: 'p' } }));
  });
});
