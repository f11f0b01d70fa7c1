import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FirewallDriver, PortFilterChange } from '../../../src/firewall/driver.js';
import type { FirewallPort } from '../../../src/firewall/types.js';
import { SecurityGroupsDisabled } from '../../../src/firewall/disabled.js';
import { agentProvidesAntiSpoofing, type AgentSettings } from '../../../src/agent/settings.js';

/** Records what reaches the driver behind the wrapper. */
class RecordingDriver implements FirewallDriver {
  readonly calls: string[] = [];
  readonly changes: PortFilterChange[] = [];
  readonly filtersPorts = true;
  constructor(
    readonly name: FirewallDriver['name'],
    readonly providesArpSpoofingProtection: boolean,
    readonly requiresHybridPlug: boolean,
  ) {}
  async start(): Promise<void> {
    this.calls.push('start');
  }
  async filterPorts(change: PortFilterChange): Promise<void> {
    this.calls.push('filterPorts');
    this.changes.push(change);
  }
  takeRefilterIds(): Set<string> {
    return new Set(['would-refilter']);
  }
  async stop(): Promise<void> {
    this.calls.push('stop');
  }
}

const port = (id: string): FirewallPort => ({
  id,
  mac: 'fa:16:3e:00:00:01',
  fixedIps: ['192.0.2.10'],
  allowedAddressPairs: [],
  securityGroupIds: ['sg-closed'],
  portSecurityEnabled: true,
  deviceOwner: 'compute:nova',
  networkId: 'net-1',
  ofport: 5,
  vifName: 'tap-p1',
  localVlan: 1,
  networkType: 'vxlan',
  physicalNetwork: undefined,
  segmentationId: 100,
});

test('openvswitch with security groups disabled: base flows at start, no port ever filtered, the driver still provides anti-spoofing', async () => {
  const ovs = new RecordingDriver('openvswitch', true, false);
  const fw = new SecurityGroupsDisabled(ovs, { start: true, removals: false });
  assert.equal(fw.name, 'openvswitch');
  assert.equal(fw.providesArpSpoofingProtection, true);
  assert.equal(fw.requiresHybridPlug, false);
  assert.equal(fw.filtersPorts, false, 'the port pass hands it no added or updated port');
  await fw.start();
  await fw.filterPorts({ added: [port('p1')], updated: [port('p2')], removed: ['p3'] });
  assert.deepEqual(ovs.calls, ['start']);
  assert.deepEqual([...fw.takeRefilterIds()], []);
  assert.deepEqual(fw.stats(), { ports: 0, rules: 0, members: 0 });
});

test('iptables_hybrid with security groups disabled: nothing at start, removals reach the driver without any port to filter', async () => {
  const ipt = new RecordingDriver('iptables_hybrid', false, true);
  const fw = new SecurityGroupsDisabled(ipt, { start: false, removals: true });
  assert.equal(fw.requiresHybridPlug, true);
  assert.equal(fw.providesArpSpoofingProtection, false);
  await fw.start();
  await fw.filterPorts({ added: [port('p1')], updated: [], removed: [] });
  assert.deepEqual(ipt.calls, []);
  await fw.filterPorts({ added: [port('p1')], updated: [port('p2')], removed: ['p3'] });
  assert.deepEqual(ipt.changes, [{ added: [], updated: [], removed: ['p3'] }]);
  await fw.stop();
  assert.deepEqual(ipt.calls, ['filterPorts', 'stop']);
});

test('the agent installs anti-spoofing flows unless the driver is openvswitch, whether security groups are enabled or not', () => {
  const s = (firewallDriver: AgentSettings['firewallDriver'], enableSecurityGroup: boolean): AgentSettings => ({ firewallDriver, enableSecurityGroup }) as AgentSettings;
  assert.equal(agentProvidesAntiSpoofing(s('openvswitch', false)), false);
  assert.equal(agentProvidesAntiSpoofing(s('openvswitch', true)), false);
  assert.equal(agentProvidesAntiSpoofing(s('iptables_hybrid', false)), true);
  assert.equal(agentProvidesAntiSpoofing(s('noop', false)), true);
  assert.equal(agentProvidesAntiSpoofing(s('noop', true)), true);
});
