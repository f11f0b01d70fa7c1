import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QosPolicyError, parseQosPolicy, policyAppliesToPort } from '../../../src/extensions/qos/policy.js';
import { desiredQos } from '../../../src/extensions/qos/driver.js';
import { MeterIds } from '../../../src/extensions/qos/meters.js';
import type { JsonObject } from '../../../src/util/json.js';
import { IMPLEMENTED_EXTENSIONS } from '../../../src/config/extensions.js';
import { LOADABLE_EXTENSIONS } from '../../../src/extensions/registry.js';

// A QosPolicy as the resource cache holds it: the server's primitive with its rules' object names gone.
const policy: JsonObject = {
  id: 'p1',
  name: 'gold',
  rules: [
    { id: 'r1', qos_policy_id: 'p1', max_kbps: 10000, max_burst_kbps: 0, direction: 'egress' },
    { id: 'r2', qos_policy_id: 'p1', max_kbps: 5000, max_burst_kbps: 400, direction: 'ingress' },
    { id: 'r3', qos_policy_id: 'p1', dscp_mark: 26 },
    { id: 'r4', qos_policy_id: 'p1', min_kbps: 1000, direction: 'egress' },
    { id: 'r5', qos_policy_id: 'p1', max_kpps: 2, max_burst_kpps: 1, direction: 'ingress' },
    { id: 'r6', qos_policy_id: 'p1', min_kpps: 3, direction: 'any' },
  ],
};

test('a pushed QosPolicy parses into typed rules, each type told by its own field', () => {
  const p = parseQosPolicy(policy);
  assert.deepEqual(p.rules.map((r) => r.type), ['bandwidth_limit', 'bandwidth_limit', 'dscp_marking', 'minimum_bandwidth', 'packet_rate_limit', 'minimum_packet_rate']);
  assert.deepEqual(p.rules[1], { type: 'bandwidth_limit', id: 'r2', direction: 'ingress', maxKbps: 5000, maxBurstKbps: 400 });
});

test('what a port should have: egress burst defaults to 80% of the rate, packet rates in packets/s, minimum packet rate and ingress minimum bandwidth are placement-only', () => {
  const want = desiredQos(parseQosPolicy(policy).rules);
  assert.deepEqual(want, {
    egressLimit: { maxKbps: 10000, burstKbit: 8000 },
    ingressLimit: { maxKbps: 5000, burstKbit: 400 },
    dscpMark: 26,
    minimumBandwidth: 1000,
    packetRate: { ingress: { pps: 2000, burst: 1000 } },
  });
  assert.deepEqual(desiredQos([]), { packetRate: {} });
});

test('malformed policies are refused with what is wrong, never applied half', () => {
  assert.throws(() => parseQosPolicy({ rules: [] }), QosPolicyError);
  assert.throws(() => parseQosPolicy({ id: 'p', rules: [{ id: 'r', dscp_mark: 64 }] }), /dscp_mark 64 is not a DSCP value/);
  assert.throws(() => parseQosPolicy({ id: 'p', rules: [{ id: 'r', max_kbps: -1 }] }), /max_kbps is not a non-negative number/);
  assert.throws(() => parseQosPolicy({ id: 'p', rules: [{ id: 'r', max_kbps: 10, direction: 'sideways' }] }), /direction "sideways"/);
  assert.throws(() => parseQosPolicy({ id: 'p', rules: [{ id: 'r', foo: 1 }] }), /not a rule type this agent knows/);
});

test('a network policy applies to compute ports and router gateways, not to the network\'s own devices; a port policy always', () => {
  assert.equal(policyAppliesToPort('net', { qosPolicyId: undefined, deviceOwner: 'compute:nova' }), true);
  assert.equal(policyAppliesToPort('net', { qosPolicyId: undefined, deviceOwner: 'network:dhcp' }), false);
  assert.equal(policyAppliesToPort('net', { qosPolicyId: undefined, deviceOwner: 'network:router_interface' }), false);
  assert.equal(policyAppliesToPort('net', { qosPolicyId: undefined, deviceOwner: 'network:router_gateway' }), true);
  assert.equal(policyAppliesToPort('own', { qosPolicyId: 'own', deviceOwner: 'network:dhcp' }), true);
  assert.equal(policyAppliesToPort('net', { qosPolicyId: 'own', deviceOwner: 'compute:nova' }), false);
});

test('meter ids: an id an earlier run stored is taken again when free, else the lowest free; none past the switch\'s maximum', () => {
  const ids = new MeterIds(3);
  assert.equal(ids.allocate(2), 2);
  assert.equal(ids.allocate(2), 1, 'taken: lowest free instead');
  assert.equal(ids.allocate(9), 3, 'out of range: lowest free');
  assert.equal(ids.allocate(), undefined, 'all in use');
  ids.release(1);
  assert.equal(ids.allocate(), 1);
  assert.equal(new MeterIds(0).available, false);
});

test('every extension the configuration accepts has a loader, and no other', () => {
  assert.deepEqual([...LOADABLE_EXTENSIONS].sort(), [...IMPLEMENTED_EXTENSIONS].sort());
});

test('meters an earlier run left are held: the port that stored one takes it again, fresh ids skip them, the rest are handed back for deletion', () => {
  const ids = new MeterIds(5);
  ids.holdEarlier([1, 2]);
  assert.equal(ids.allocate(), 3, 'fresh ids skip held ones');
  assert.equal(ids.allocate(2), 2, 'the stored id is taken again');
  assert.deepEqual(ids.takeUnclaimed(), [1]);
  assert.equal(ids.allocate(), 1, 'no longer held');
});
