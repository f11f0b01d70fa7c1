import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentEgressDirect, ingressDirectGotoFlows, installAcceptedEgressDirect } from '../../../src/agent/ports/egress-direct.js';
import type { PhysicalNetwork } from '../../../src/agent/bridges/bridge-setup.js';
import { OVSBridge } from '../../../src/bridges/ovs-bridge.js';
import type { OpenFlowSwitch } from '../../../src/openflow/backend.js';
import { formatFlowModLine } from '../../../src/openflow/text.js';

test('the agent writes direct flows with explicitly_egress_direct unless the OVS firewall filters (the reference\'s direct_for_non_openflow_firewall)', () => {
  const on = (firewallDriver: 'noop' | 'openvswitch' | 'iptables_hybrid', enableSecurityGroup: boolean, explicitlyEgressDirect = true): boolean =>
    agentEgressDirect({ firewallDriver, enableSecurityGroup, explicitlyEgressDirect });
  assert.equal(on('noop', true), true);
  assert.equal(on('iptables_hybrid', true), true);
  assert.equal(on('openvswitch', true), false);
  assert.equal(on('openvswitch', false), true);
  assert.equal(on('noop', false, false), false);
  assert.equal(on('openvswitch', false, false), false);
});

const phys = new Map<string, PhysicalNetwork>([['physnet1', { physnet: 'physnet1', intOfport: 1 } as PhysicalNetwork]]);

test('traffic from every patch port looks in LOCAL_MAC_DIRECT first', () => {
  const flows = ingressDirectGotoFlows({ phys, patchTunOfport: 2 });
  assert.deepEqual(
    flows.map((f) => [f.table, f.priority, f.match.inPort, f.gotoTable]),
    [
      [60, 4, 1, 61],
      [60, 4, 2, 61],
      [61, 0, undefined, 62],
    ],
  );
});

test("a port's direct flows: four for a tunnel or vlan network, three for flat", () => {
  const br = new OVSBridge('br-int', {} as OpenFlowSwitch, 0x1n);
  const b = br.batch();
  installAcceptedEgressDirect(b, { phys, patchTunOfport: 2 }, 3, { macAddress: 'fa:16:3e:00:00:01', networkType: 'vxlan', physicalNetwork: undefined }, 1);
  installAcceptedEgressDirect(b, { phys, patchTunOfport: 2 }, 4, { macAddress: 'fa:16:3e:00:00:02', networkType: 'flat', physicalNetwork: 'physnet1' }, 2);
  const lines = b.mods.map((m) => formatFlowModLine(m));
  // vxlan: four flows, the last out patch-tun; flat: no egress flow (only tunnels and vlan have one)
  assert.equal(lines.filter((l) => l.includes('table=62')).length, 1, lines.join('\n'));
  assert.match(lines.find((l) => l.includes('table=62'))!, /in_port=3.*output:2/);
  assert.equal(lines.length, 7, lines.join('\n'));
});
