// DVR's payloads as they arrive, a port the DVR extension leaves alone, and the verb pair of a DVR
// gateway's direct-output flows (openvswitch firewall, explicitly_egress_direct).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DvrAgentExtension } from '../../../src/extensions/dvr/extension.js';
import { parseHostMacs, parseServicedPorts, parseSubnetInfo } from '../../../src/extensions/dvr/dvr-rpc.js';
import { isDvrServiced } from '../../../src/extensions/dvr/dvr-state.js';
import type { ExtensionPort } from '../../../src/extensions/seam.js';
import { IntDvr } from '../../../src/bridges/dvr.js';
import { OVSBridge } from '../../../src/bridges/ovs-bridge.js';
import { INT } from '../../../src/bridges/tables.js';
import type { OpenFlowSwitch } from '../../../src/openflow/backend.js';
import { formatFlow } from '../../../src/openflow/text.js';
import { unfilteredPortFlows } from '../../../src/firewall/openvswitch/port-flows.js';
import { NO_METERS } from '../../helpers/meterless-switch.js';

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

describe('DVR gateway direct output (table 94)', () => {
  const sw: OpenFlowSwitch = { bridge: 'br-int', apply: async () => undefined, dumpFlows: async () => [], portDesc: async () => [], retire: () => undefined, ...NO_METERS };
  const table94 = (br: OVSBridge): string[] => [...br.desired.entries()].map(([, f]) => f).filter((f) => f.table === INT.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE).map(formatFlow).sort();
  const gw = 'fa:16:3e:00:00:01';

  it('writes what the firewall writes for the router port itself: to the gateway MAC out of the port, its unicast out of the patch port', async () => {
    const br = new OVSBridge('br-int', sw, 0xabn);
    const b = br.batch();
    IntDvr.installGatewayEgressDirect(b, gw, 3, 7, 1);
    await b.commit();
    const fw = unfilteredPortFlows({ ofport: 7, localVlan: 3, mac: gw }, { permittedEthertypes: [], explicitlyEgressDirect: true, egressDirectPatchOfport: 1 })
      .filter((f) => f.table === INT.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE).map((f) => formatFlow({ ...f, cookie: 0xabn })).sort();
    assert.deepEqual(table94(br), fw);
    assert.equal(fw.length, 2);
  });

  it('on a flat network (no patch port) only the flow to the gateway MAC', async () => {
    const br = new OVSBridge('br-int', sw, 0xabn);
    const b = br.batch();
    IntDvr.installGatewayEgressDirect(b, gw, 3, 7, undefined);
    await b.commit();
    assert.equal(table94(br).length, 1);
    assert.match(table94(br)[0]!, /priority=12,reg6=0x3,dl_dst=fa:16:3e:00:00:01 actions=output:7/);
  });

  it('the delete takes both flows of that MAC on that network, and leaves another network\'s and another MAC\'s', async () => {
    const br = new OVSBridge('br-int', sw, 0xabn);
    const b = br.batch();
    IntDvr.installGatewayEgressDirect(b, gw, 3, 7, 1);
    IntDvr.installGatewayEgressDirect(b, gw, 4, 8, 1);
    IntDvr.installGatewayEgressDirect(b, 'fa:16:3e:00:00:02', 3, 9, 1);
    await b.commit();
    assert.equal(table94(br).length, 6);
    const d = br.batch();
    IntDvr.deleteGatewayEgressDirect(d, gw, 3);
    await d.commit();
    const left = table94(br);
    assert.equal(left.length, 4);
    assert.ok(left.every((l) => !(l.includes('reg6=0x3') && l.includes(gw))), left.join('\n'));
  });
});
