// The OVS firewall's counts for the metrics endpoint: ports filtered, rules of their groups, and
// remote-group member addresses, following ports as they come and go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OVSBridge } from '../../../../src/bridges/ovs-bridge.js';
import { OVSFirewallDriver } from '../../../../src/firewall/openvswitch/firewall.js';
import { RecordingSwitch, scenarioPorts, scenarioSource } from './fixtures.js';

test('stats(): ports, rules and members of what the driver filters', async () => {
  const driver = new OVSFirewallDriver(new OVSBridge('br-int', new RecordingSwitch(), 0xabcn), scenarioSource());
  await driver.start();
  assert.deepEqual(driver.stats(), { ports: 0, rules: 0, members: 0 });
  const ports = scenarioPorts();
  await driver.filterPorts({ added: ports, updated: [], removed: [] });
  // sg1: 6 rules; its members 10.0.0.5 and 10.0.0.7 (IPv4), referred to by its own remote-group rules.
  assert.deepEqual(driver.stats(), { ports: 4, rules: 6, members: 2 });
  await driver.filterPorts({ added: [], updated: [], removed: [ports[0]!.id] });
  assert.equal(driver.stats().ports, 3);
});
