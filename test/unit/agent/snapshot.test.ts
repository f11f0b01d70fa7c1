// What the agent reports about itself: OpenFlow channels judged by the connection where the
// backend has one (native) and by the canary where it has none (ovs-ofctl); local VLANs with
// their ports; tunnels; bridges not ready while they are set up again, their channels still shown.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildSnapshot, type SnapshotParts } from '../../../src/agent/status/snapshot.js';
import { LocalVlanManager } from '../../../src/agent/networks/local-vlan.js';
import { ResourceCache } from '../../../src/agent/server/resource-cache.js';
import { SyncState } from '../../../src/agent/ports/sync-state.js';
import { TunnelPorts } from '../../../src/agent/networks/tunnels.js';
import { IntegrationBridge } from '../../../src/bridges/br-int.js';
import { TunnelBridge } from '../../../src/bridges/br-tun.js';
import type { Bridges } from '../../../src/agent/bridges/bridge-setup.js';
import type { AgentContext } from '../../../src/agent/context.js';
import type { OpenFlowBackend, OpenFlowSwitch } from '../../../src/openflow/backend.js';
import { NO_METERS } from '../../helpers/meterless-switch.js';

const sw = (bridge: string, datapathId: bigint): OpenFlowSwitch & { datapathId: bigint } => ({
  bridge, datapathId,
  apply: async () => undefined,
  dumpFlows: async () => [],
  portDesc: async () => [],
  retire: () => undefined,
  ...NO_METERS,
});

function parts(over: Partial<SnapshotParts>): SnapshotParts {
  const bridges: Bridges = { int: new IntegrationBridge('br-int', sw('br-int', 1n)), phys: new Map(), tun: new TunnelBridge('br-tun', sw('br-tun', 2n)) };
  const tunnels = new TunnelPorts({} as AgentContext);
  tunnels.ofportsOf('vxlan').set('192.0.2.2', 7);
  const vlans = new LocalVlanManager();
  const lvm = vlans.allocate('net-1', 'vxlan', undefined, 1001);
  lvm.vifPorts.add('p1').add('p2');
  const sync = new SyncState();
  sync.bridges = 'ready';
  return {
    ovsdbEndpoint: 'unix:/run/openvswitch/db.sock', ops: undefined, backend: undefined, bridges, canary: 'normal', rpc: undefined,
    sync, ports: { bound: 2, isolated: 0, retrying: 0 }, lastFullSync: undefined, lastStateReportAt: undefined,
    vlans, tunnels, firewall: undefined, extensions: {}, cache: new ResourceCache(async () => []),
    repairs: { ovsdbRepairs: 0, ovsdbFlaps: 0, flowAudits: 0, flowsReadded: 0, foreignFlowsRemoved: 0, flowsRefused: 0 }, ...over,
  };
}

const backend = (connected: Set<bigint>): OpenFlowBackend => ({
  kind: 'native', controllerTarget: 'tcp:127.0.0.1:6633', canaryIntervalMs: 10000,
  onSwitchConnected: () => undefined, start: async () => undefined, stop: async () => undefined,
  bridge: (name, dpid) => sw(name, dpid),
  isConnected: (dpid) => connected.has(dpid),
});

describe('buildSnapshot', () => {
  it('native: each bridge connected as its switch connection says', () => {
    const s = buildSnapshot(parts({ backend: backend(new Set([1n])) }));
    assert.deepEqual(s.openflow, [{ bridge: 'br-int', connected: true }, { bridge: 'br-tun', connected: false }]);
  });

  it('ovs-ofctl (no connections): the canary check decides', () => {
    assert.ok(buildSnapshot(parts({ canary: 'normal' })).openflow.every((o) => o.connected));
    assert.ok(buildSnapshot(parts({ canary: 'dead' })).openflow.every((o) => !o.connected));
  });

  it('flows count as checked only once the canary was read after the last switch reconnect', () => {
    assert.equal(buildSnapshot(parts({ canary: 'normal' })).flowsChecked, true);
    const reconnected = buildSnapshot(parts({ backend: backend(new Set([1n, 2n])), canary: undefined }));
    assert.ok(reconnected.openflow.every((o) => o.connected));
    assert.equal(reconnected.flowsChecked, false);
  });

  it('local VLANs with their ports, tunnels by type, no bridges while being set up', () => {
    const s = buildSnapshot(parts({}));
    assert.deepEqual(s.localVlans, [{ vlan: 1, networkId: 'net-1', networkType: 'vxlan', segmentationId: 1001, ports: 2 }]);
    assert.deepEqual(s.tunnels, [{ type: 'vxlan', remoteIp: '192.0.2.2', ofport: 7 }]);
    assert.equal(s.bridgesReady, true);
    assert.equal(s.messageBus, undefined);
    const before = buildSnapshot(parts({ bridges: undefined }));
    assert.equal(before.bridgesReady, false);
    assert.deepEqual(before.openflow, []);
    // Set up again after an OVS restart: not ready, but the channels are what they are.
    const sync = new SyncState();
    sync.bridges = 'resetting';
    const during = buildSnapshot(parts({ sync, backend: backend(new Set([1n, 2n])) }));
    assert.equal(during.bridgesReady, false);
    assert.deepEqual(during.openflow, [{ bridge: 'br-int', connected: true }, { bridge: 'br-tun', connected: true }]);
  });
});
