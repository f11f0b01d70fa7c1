// Which ports a pass reports up: those the server has ACTIVE on this host already are not, the first
// time this process wires them, but for one per tunnel network when the fdb is to be resent.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FirstUpReports, splitUpReports, tunnelEndpointMoved, type TunnelInterface, type UpCandidate } from '../../../src/agent/ports/known-active.js';
import type { BoundDeviceDetails } from '../../../src/agent/ports/device-details.js';
import type { NetworkType } from '../../../src/config/index.js';
import { getLogger } from '../../../src/util/log.js';

const HOST = 'compute-1';

function candidate(id: string, o: { net?: string; type?: NetworkType; status?: string; host?: string; owner?: string; migratingTo?: string } = {}): UpCandidate {
  const details: BoundDeviceDetails = {
    kind: 'bound', device: id, networkId: o.net ?? 'net-a', macAddress: 'fa:16:3e:00:00:01', adminStateUp: true,
    networkType: o.type ?? 'vxlan', segmentationId: 100, physicalNetwork: undefined, fixedIps: [], allowedAddressPairs: [],
    deviceOwner: o.owner ?? 'compute:nova', portSecurityEnabled: true, migratingTo: o.migratingTo, qosPolicyId: undefined, qosNetworkPolicyId: undefined,
  };
  const port = { id, status: o.status ?? 'ACTIVE', bindings: [{ host: o.host ?? HOST, status: 'ACTIVE' }] };
  return { id, port, details };
}

const opts = { host: HOST, l2Population: true, refreshTunnels: true };

describe('splitUpReports', () => {
  it('reports one port per tunnel network when the fdb is to be resent, and none of the others', () => {
    const r = splitUpReports([candidate('a1'), candidate('a2'), candidate('b1', { net: 'net-b' }), candidate('a3')], opts);
    assert.deepEqual(r.report, ['a1', 'b1']);
    assert.deepEqual(r.alreadyActive, ['a2', 'a3']);
  });

  it('reports none of them when no fdb is wanted, or without l2population', () => {
    assert.deepEqual(splitUpReports([candidate('a1'), candidate('a2')], { ...opts, refreshTunnels: false }).report, []);
    assert.deepEqual(splitUpReports([candidate('a1'), candidate('a2')], { ...opts, l2Population: false }).report, []);
  });

  it('needs no port of a VLAN or flat network for the fdb', () => {
    const r = splitUpReports([candidate('v1', { type: 'vlan' }), candidate('f1', { type: 'flat', net: 'net-f' })], opts);
    assert.deepEqual(r.report, []);
  });

  it('reports ports the server does not have ACTIVE here: DOWN, bound elsewhere, migrating, unknown', () => {
    const r = splitUpReports(
      [
        candidate('down', { status: 'DOWN' }),
        candidate('elsewhere', { host: 'compute-2', net: 'net-b' }),
        candidate('migrating', { migratingTo: HOST, net: 'net-c' }),
        { id: 'unknown', port: undefined, details: undefined },
      ],
      opts,
    );
    assert.deepEqual(r.report, ['down', 'elsewhere', 'migrating', 'unknown']);
  });

  it('always reports DVR interfaces and HA router ports, whose l2population handling differs', () => {
    const r = splitUpReports([candidate('dvr', { owner: 'network:router_interface_distributed' }), candidate('ha', { owner: 'network:router_ha_interface', net: 'net-b' })], { ...opts, refreshTunnels: false });
    assert.deepEqual(r.report, ['dvr', 'ha']);
  });

  it('needs no extra port for a network another reported port covers', () => {
    const r = splitUpReports([candidate('a1'), candidate('new', { status: 'DOWN' })], opts);
    assert.deepEqual(r.report, ['new']);
    assert.deepEqual(r.alreadyActive, ['a1']);
  });
});

describe('FirstUpReports', () => {
  it('leaves out an ACTIVE port the first time only: once this process reported it down, it is reported up again', () => {
    const f = new FirstUpReports({ host: HOST, l2Population: true, localIp: '192.0.2.1', previousTunnels: () => [vxlan('192.0.2.1')] }, getLogger('test'));
    const ports = new Map([['a1', candidate('a1')], ['a2', candidate('a2')]]);
    const lookup = (id: string) => ports.get(id)!;
    assert.deepEqual(f.upToReport(['a1', 'a2'], [], true, lookup), ['a1']);
    assert.deepEqual(f.upToReport([], ['a2'], false, lookup), []);
    assert.deepEqual(f.upToReport(['a2'], [], false, lookup), ['a2']);
    assert.deepEqual(f.upToReport(['a1'], [], false, lookup), ['a1']);
  });
});

const vxlan = (localIp: string): TunnelInterface => ({ type: 'vxlan', options: new Map([['local_ip', localIp], ['remote_ip', '192.0.2.9']]) });

describe('tunnelEndpointMoved', () => {
  it('is true when a tunnel port of the previous run has another local_ip, and only then', () => {
    assert.equal(tunnelEndpointMoved([vxlan('192.0.2.1')], '192.0.2.1'), false);
    assert.equal(tunnelEndpointMoved([], '192.0.2.1'), false);
    assert.equal(tunnelEndpointMoved([{ type: 'patch', options: new Map([['peer', 'patch-int']]) }], '192.0.2.1'), false);
    assert.equal(tunnelEndpointMoved([vxlan('192.0.2.1'), vxlan('192.0.2.7')], '192.0.2.1'), true);
  });

  it('makes every port be reported up, as the reference does', () => {
    const f = new FirstUpReports({ host: HOST, l2Population: true, localIp: '192.0.2.1', previousTunnels: () => [vxlan('192.0.2.7')] }, getLogger('test'));
    const ports = new Map([['a1', candidate('a1')], ['a2', candidate('a2')]]);
    assert.deepEqual(f.upToReport(['a1', 'a2'], [], true, (id) => ports.get(id)!), ['a1', 'a2']);
  });
});
