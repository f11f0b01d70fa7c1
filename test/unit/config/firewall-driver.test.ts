import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firewallDriverProblem, resolveFirewallDriver } from '../../../src/config/firewall-driver.js';

test('short names and the class paths deployment tools write name the same driver', () => {
  assert.equal(resolveFirewallDriver(undefined), 'noop');
  assert.equal(resolveFirewallDriver(''), 'noop');
  assert.equal(resolveFirewallDriver('noop'), 'noop');
  assert.equal(resolveFirewallDriver('neutron.agent.firewall.NoopFirewallDriver'), 'noop');
  for (const v of [
    'openvswitch',
    'neutron.agent.linux.openvswitch_firewall:OVSFirewallDriver',
    'neutron.agent.linux.openvswitch_firewall.OVSFirewallDriver',
    'neutron.agent.linux.openvswitch_firewall.firewall.OVSFirewallDriver',
  ]) {
    assert.equal(resolveFirewallDriver(v), 'openvswitch', v);
  }
  for (const v of ['iptables_hybrid', 'neutron.agent.linux.iptables_firewall.OVSHybridIptablesFirewallDriver', ' iptables_hybrid ']) {
    assert.equal(resolveFirewallDriver(v), 'iptables_hybrid', v);
  }
  assert.equal(resolveFirewallDriver('neutron.agent.linux.iptables_firewall:IptablesFirewallDriver'), 'iptables');
  assert.equal(resolveFirewallDriver('OVSFirewallDriver'), undefined);
  assert.equal(resolveFirewallDriver('neutron.agent.linux.openvswitch_firewall'), undefined);
});

test('an unknown or unimplemented driver is a problem that names the supported drivers', () => {
  assert.equal(firewallDriverProblem('noop'), undefined);
  assert.match(firewallDriverProblem('bogus') ?? '', /^unknown firewall driver \(supported: noop/);
});
