import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeHost, fanoutExchange, messageProperties, parseTransportUrl, reconnectDelaySec, topicExchange,
} from '../../../src/rpc/amqp-connection.js';

test('several transport_url hosts are kept in order for round-robin failover', () => {
  const u = parseTransportUrl('rabbit://neutron:s3cr%40t@10.0.0.1:5672,other:pw@10.0.0.2:5673/%2Fopenstack');
  assert.deepEqual(u.hosts.map((h) => `${h.username}@${h.host}:${h.port}`), ['neutron@10.0.0.1:5672', 'other@10.0.0.2:5673']);
  assert.equal(u.hosts[0]!.password, 's3cr@t');
  assert.equal(u.virtualHost, '/openstack');
});

test('hosts are described for logs without their password', () => {
  const [h] = parseTransportUrl('rabbit://a:hunter2@h1:5672/').hosts;
  assert.equal(describeHost(h!, '/'), 'amqp://a:****@h1:5672/%2F');
  const [v6] = parseTransportUrl('rabbit://a:hunter2@[fd00::1]:5673/').hosts;
  assert.equal(describeHost(v6!, 'v'), 'amqp://a:****@[fd00::1]:5673/v');
});

test('kombu reconnect schedule: 1, 3, 5, ... capped at 30 s', () => {
  assert.deepEqual([0, 1, 2, 3].map((c) => reconnectDelaySec(c, 1, 2, 30)), [1, 3, 5, 7]);
  assert.equal(reconnectDelaySec(100, 1, 2, 30), 30);
});

test('message properties as captured: json/utf-8, persistent, priority 0, expiration only on calls', () => {
  assert.deepEqual(messageProperties(), { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, priority: 0, headers: {} });
  assert.equal(messageProperties(60000).expiration, '60000');
  assert.equal(messageProperties(30000).expiration, '30000');
});

test('exchanges as oslo declares them', () => {
  assert.deepEqual(topicExchange('neutron'), { name: 'neutron', type: 'topic', durable: false, autoDelete: false });
  assert.deepEqual(topicExchange('neutron', { durable: true }), { name: 'neutron', type: 'topic', durable: true, autoDelete: false });
  assert.deepEqual(fanoutExchange('q-agent-notifier-tunnel-update'),
    { name: 'q-agent-notifier-tunnel-update_fanout', type: 'fanout', durable: false, autoDelete: true });
});
