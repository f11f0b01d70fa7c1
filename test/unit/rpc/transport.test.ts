import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTransportUrl, maskTransportUrl, describeHost } from '../../../src/rpc/transport-url.js';
import { messageProperties, reconnectDelaySec, topicExchange, fanoutExchange } from '../../../src/rpc/transport.js';

test('transport_url: several hosts with their own credentials, vhost and default port', () => {
  const u = parseTransportUrl('rabbit://neutron:s3cr%40t@10.0.0.1:5672,other:pw@10.0.0.2/openstack');
  assert.equal(u.transport, 'rabbit');
  assert.deepEqual(u.hosts, [
    { hostname: '10.0.0.1', port: 5672, username: 'neutron', password: 's3cr@t' },
    { hostname: '10.0.0.2', port: 5672, username: 'other', password: 'pw' },
  ]);
  assert.equal(u.virtualHost, 'openstack');
});

test('transport_url: default vhost, percent-encoded vhost, IPv6, query', () => {
  assert.equal(parseTransportUrl('rabbit://guest:guest@localhost:5672/').virtualHost, '/');
  assert.equal(parseTransportUrl('rabbit://guest:guest@localhost').virtualHost, '/');
  assert.equal(parseTransportUrl('rabbit://u:p@h/%2Fneutron').virtualHost, '/neutron');
  const v6 = parseTransportUrl('rabbit://u:p@[fd00::1]:5673/?heartbeat=10');
  assert.deepEqual(v6.hosts[0], { hostname: 'fd00::1', port: 5673, username: 'u', password: 'p' });
  assert.deepEqual(v6.query, { heartbeat: '10' });
  assert.deepEqual(parseTransportUrl('rabbit://h1').hosts[0], { hostname: 'h1', port: 5672, username: null, password: null });
});

test('transport_url errors name the problem and never show the password', () => {
  assert.throws(() => parseTransportUrl('rabbit://u:hunter2@h:99999/'), (e: Error) => /invalid port/.test(e.message) && !e.message.includes('hunter2'));
  assert.throws(() => parseTransportUrl('not a url'), /transport_url/);
  assert.throws(() => parseTransportUrl('rabbit:///vhost'), /no host/);
});

test('masking hides every password', () => {
  const m = maskTransportUrl('rabbit://a:one@h1:5672,b:two@h2:5672/v');
  assert.equal(m, 'rabbit://a:****@h1:5672,b:****@h2:5672/v');
  assert.equal(describeHost({ hostname: 'h1', port: 5672, username: 'a', password: 'one' }, '/'), 'amqp://a:****@h1:5672/%2F');
});

test('kombu reconnect schedule: 1, 3, 5, ... capped at 30 s', () => {
  assert.deepEqual([0, 1, 2, 3].map((c) => reconnectDelaySec(c, 1, 2, 30)), [1, 3, 5, 7]);
  assert.equal(reconnectDelaySec(100, 1, 2, 30), 30);
});

test('message properties as captured: json/utf-8, persistent, priority 0, expiration only on calls', () => {
  assert.deepEqual(messageProperties(), { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, priority: 0, headers: {} });
  assert.equal(messageProperties(60000).expiration, '60000');
  assert.deepEqual(topicExchange('neutron'), { name: 'neutron', type: 'topic', durable: false, autoDelete: false });
  assert.deepEqual(fanoutExchange('q-agent-notifier-tunnel-update'),
    { name: 'q-agent-notifier-tunnel-update_fanout', type: 'fanout', durable: false, autoDelete: true });
});
