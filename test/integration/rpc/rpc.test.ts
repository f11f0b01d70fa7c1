// Our RPC client and server against a private RabbitMQ broker.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as amqp from 'amqplib';
import { PrivateRabbitmq, haveRabbitmq, LogCapture } from '../../helpers/rabbitmq.js';
import { waitFor } from '../../../lab/neutron.js';
import { configureLogging } from '../../../src/util/log.js';
import {
  AmqpConnection, RpcClient, RpcServer, MessagingTimeout, RemoteError, encodeEnvelope, buildCastMessage, adminContext,
  type RpcEndpoint, type JsonObject, type RequestContext,
} from '../../../src/rpc/index.js';

const skip = haveRabbitmq() ? false : 'rabbitmq-server not installed';

describe('RPC over a private RabbitMQ', { skip }, () => {
  let mq: PrivateRabbitmq;
  const logs = new LogCapture();
  const conns: AmqpConnection[] = [];
  const servers: RpcServer[] = [];
  let client: RpcClient;
  let raw: amqp.ChannelModel;

  async function connection(purpose: string): Promise<AmqpConnection> {
    const c = new AmqpConnection({ transportUrl: mq.transportUrl, purpose });
    conns.push(c);
    await c.start();
    return c;
  }

  async function server(topic: string, host: string, endpoints: RpcEndpoint[], extra: { maxMessageBytes?: number } = {}): Promise<RpcServer> {
    const s = await RpcServer.start({ connection: await connection(`server ${topic}.${host}`), topic, server: host, endpoints, ...extra });
    servers.push(s);
    return s;
  }

  before(async () => {
    configureLogging({ sink: logs.sink });
    mq = await PrivateRabbitmq.start();
    client = await RpcClient.create({ connection: await connection('client') });
    const u = encodeURIComponent;
    raw = await amqp.connect(`amqp://${u(mq.user)}:${u(mq.password)}@127.0.0.1:${mq.port}/${u(mq.vhost)}`);
  });

  after(async () => {
    try {
      for (const s of servers) await s.stop();
      await client?.close();
      for (const c of conns) await c.close();
      await raw?.close().catch(() => undefined);
    } finally {
      await mq?.destroy();
      configureLogging({ sink: { write: (l) => { process.stderr.write(l); } } });
    }
  });

  test('call/reply round trip carries args, admin context and result; server declares oslo\'s three queues', async () => {
    let seenCtx: RequestContext | null = null;
    const srv = await server('q-rt', 'compute1', [{
      version: '1.7',
      methods: {
        tunnel_sync: (ctx, args) => {
          seenCtx = ctx;
          return { tunnels: [{ ip_address: args.tunnel_ip as string, udp_port: 4789, host: args.host as string }] };
        },
        nothing: () => undefined,
      },
    }]);
    const result = await client.call('q-rt', 'tunnel_sync', { tunnel_ip: '192.0.2.10', tunnel_type: 'vxlan', host: 'compute1' },
      { version: '1.4', timeoutSec: 10 });
    assert.deepEqual(result, { tunnels: [{ ip_address: '192.0.2.10', udp_port: 4789, host: 'compute1' }] });
    assert.ok(seenCtx);
    const ctx = seenCtx as RequestContext;
    assert.equal(ctx.is_admin, true);
    assert.match(ctx.request_id as string, /^req-[0-9a-f-]{36}$/);
    assert.equal(await client.call('q-rt', 'nothing', {}, { version: '1.0', timeoutSec: 10 }), null);

    const queues = await mq.listQueues();
    const mine = queues.filter((q) => q.name.startsWith('q-rt')).map((q) => q.name).sort();
    assert.deepEqual(mine, ['q-rt', 'q-rt.compute1', srv.queues.fanout].sort());
    assert.match(srv.queues.fanout, /^q-rt_fanout_[0-9a-f]{32}$/);
    const fan = queues.find((q) => q.name === srv.queues.fanout)!;
    assert.deepEqual(fan.arguments, { 'x-expires': 1800000 });
    assert.equal(fan.durable, false);
    const topicQ = queues.find((q) => q.name === 'q-rt')!;
    assert.deepEqual(topicQ.arguments, {});
    const reply = queues.find((q) => q.name === client.replyQueue)!;
    assert.match(client.replyQueue, /^reply_[0-9a-f]{32}$/);
    assert.deepEqual(reply.arguments, { 'x-expires': 1800000 });
    const bindings = await mq.listBindings();
    assert.ok(bindings.some((b) => b.source === 'neutron' && b.destination === 'q-rt.compute1' && b.routingKey === 'q-rt.compute1'));
    assert.ok(bindings.some((b) => b.source === 'q-rt_fanout' && b.destination === srv.queues.fanout));
    const exchanges = await mq.listExchanges();
    assert.deepEqual(exchanges.find((e) => e.name === 'neutron'), { name: 'neutron', type: 'topic', durable: false, autoDelete: false });
    assert.deepEqual(exchanges.find((e) => e.name === 'q-rt_fanout'), { name: 'q-rt_fanout', type: 'fanout', durable: false, autoDelete: true });
  });

  test('messages on the wire carry oslo\'s basic properties and an envelope; calls expire', async () => {
    const ch = await raw.createChannel();
    try {
      await ch.assertExchange('neutron', 'topic', { durable: false, autoDelete: false });
      const q = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(q.queue, 'neutron', 'q-probe');
      const got: amqp.ConsumeMessage[] = [];
      await ch.consume(q.queue, (m) => { if (m) got.push(m); }, { noAck: true });
      await assert.rejects(client.call('q-probe', 'probe', { a: 1 }, { version: '1.2', timeoutSec: 0.5 }), MessagingTimeout);
      await client.cast('q-probe', 'probe_cast', {}, { version: '1.0' });
      await waitFor(() => got.length === 2, 10_000, 'two probe messages', 50);
      const [call, cast] = got as [amqp.ConsumeMessage, amqp.ConsumeMessage];
      for (const m of [call, cast]) {
        assert.equal(m.properties.contentType, 'application/json');
        assert.equal(m.properties.contentEncoding, 'utf-8');
        assert.equal(m.properties.deliveryMode, 2);
        assert.equal(m.properties.priority, 0);
        assert.equal(m.properties.replyTo, undefined);
        assert.equal(m.properties.correlationId, undefined);
      }
      assert.equal(call.properties.expiration, '500');
      assert.equal(cast.properties.expiration, undefined);
      const inner = JSON.parse((JSON.parse(call.content.toString()) as JsonObject)['oslo.message'] as string) as JsonObject;
      assert.equal(inner.method, 'probe');
      assert.equal(inner._reply_q, client.replyQueue);
      assert.equal(inner._timeout, null);
    } finally {
      await ch.close();
    }
  });

  test('fanout cast reaches every server of the topic; plain topic cast reaches one', async () => {
    const got: string[] = [];
    const ep = (host: string): RpcEndpoint => ({ version: '1.7', methods: { tunnel_update: (_c, a) => { got.push(`${host}:${a.tunnel_ip as string}`); } } });
    await server('q-fan', 'hostA', [ep('hostA')]);
    await server('q-fan', 'hostB', [ep('hostB')]);
    await client.cast('q-fan', 'tunnel_update', { tunnel_ip: '192.0.2.30', tunnel_type: 'vxlan' }, { version: '1.0', fanout: true });
    await waitFor(() => got.length >= 2, 10_000, 'both servers got the fanout cast', 50);
    assert.deepEqual([...got].sort(), ['hostA:192.0.2.30', 'hostB:192.0.2.30']);
    got.length = 0;
    await client.cast('q-fan', 'tunnel_update', { tunnel_ip: '192.0.2.31' }, { version: '1.0' });
    await waitFor(() => got.length >= 1, 10_000, 'one server got the topic cast', 50);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(got.length, 1, `exactly one server handles a topic cast: ${got.join(', ')}`);
  });

  test('topic.host routing: a call or cast with server= reaches only that host', async () => {
    const ep = (host: string): RpcEndpoint => ({ version: '1.7', methods: { whoami: () => host } });
    await server('q-route', 'compute1', [ep('compute1')]);
    await server('q-route', 'compute2', [ep('compute2')]);
    for (let i = 0; i < 4; i++) {
      assert.equal(await client.call('q-route', 'whoami', {}, { version: '1.0', server: 'compute2', timeoutSec: 10 }), 'compute2');
      assert.equal(await client.call('q-route', 'whoami', {}, { version: '1.0', server: 'compute1', timeoutSec: 10 }), 'compute1');
    }
  });

  test('no reply within the timeout → MessagingTimeout; the late reply is dropped with a log line', async () => {
    await server('q-slow', 'h', [{ version: '1.0', methods: { slow: async () => { await new Promise((r) => setTimeout(r, 800)); return 'late'; } } }]);
    logs.clear();
    const t0 = Date.now();
    await assert.rejects(client.call('q-slow', 'slow', {}, { version: '1.0', timeoutSec: 0.3 }),
      (e: Error) => e instanceof MessagingTimeout && /slow/.test(e.message));
    assert.ok(Date.now() - t0 < 2000, 'explicit timeout: no back-off sleep');
    assert.equal(client.methodTimeoutSec('slow'), 60, 'explicit timeout does not change the back-off table');
    await waitFor(() => logs.matching(/No calling threads waiting for msg_id/).length === 1, 5000, 'late reply logged', 50);
    // The client still works afterwards.
    assert.equal(await client.call('q-slow', 'slow', {}, { version: '1.0', timeoutSec: 5 }), 'late');
  });

  test('back-off: a timed-out call sleeps uniform(0, timeout) then doubles that method\'s timeout up to the max', async () => {
    const sleeps: number[] = [];
    const c = await RpcClient.create({
      connection: conns[0]!, rpcResponseTimeoutSec: 0.2, rpcResponseMaxTimeoutSec: 0.5,
      random: () => 0.5, sleep: async (ms) => { sleeps.push(ms); },
    });
    try {
      // nobody consumes q-void: every call times out
      await assert.rejects(c.call('q-void', 'get_x', {}, { version: '1.0' }), MessagingTimeout);
      assert.equal(c.methodTimeoutSec('get_x'), 0.4);
      assert.deepEqual(sleeps, [100]);
      await assert.rejects(c.call('q-void', 'get_x', {}, { version: '1.0' }), MessagingTimeout);
      assert.equal(c.methodTimeoutSec('get_x'), 0.5, 'capped at rpc_response_max_timeout');
      assert.deepEqual(sleeps, [100, 100], 'wait is bounded by rpc_response_timeout');
      assert.equal(c.methodTimeoutSec('other'), 0.2, 'per method');
      await assert.rejects(c.call('q-void', 'report_state', {}, { version: '1.2', timeoutSec: 0.2 }), MessagingTimeout);
      assert.equal(sleeps.length, 2, 'explicit timeout does not back off');
      c.capTimeouts(0.3);
      assert.equal(c.methodTimeoutSec('get_x'), 0.3);
    } finally {
      await c.close();
    }
  });

  test('unknown method → RemoteError NoSuchMethod; incompatible version → UnsupportedVersion; handler error → RemoteError', async () => {
    await server('q-err', 'h', [{
      version: '1.7',
      methods: { fail: () => { throw new TypeError('bad tunnel type'); } },
    }]);
    await assert.rejects(client.call('q-err', 'no_such_method', {}, { version: '1.0', timeoutSec: 10 }), (e: Error) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.excType, 'NoSuchMethod');
      assert.equal(e.module, 'oslo_messaging.rpc.dispatcher');
      assert.equal(e.value, 'Endpoint does not support RPC method no_such_method');
      return true;
    });
    await assert.rejects(client.call('q-err', 'fail', {}, { version: '1.9', timeoutSec: 10 }),
      (e: Error) => e instanceof RemoteError && e.excType === 'UnsupportedVersion' && /RPC version 1.9/.test(e.value));
    await assert.rejects(client.call('q-err', 'fail', {}, { version: '2.0', timeoutSec: 10 }),
      (e: Error) => e instanceof RemoteError && e.excType === 'UnsupportedVersion');
    await assert.rejects(client.call('q-err', 'fail', {}, { version: '1.1', timeoutSec: 10 }),
      (e: Error) => e instanceof RemoteError && e.excType === 'TypeError' && e.value === 'bad tunnel type' && e.tb.length > 0);
    // Inherited properties are not methods.
    await assert.rejects(client.call('q-err', 'toString', {}, { version: '1.0', timeoutSec: 10 }),
      (e: Error) => e instanceof RemoteError && e.excType === 'NoSuchMethod');
    // A failing cast is only logged.
    logs.clear();
    await client.cast('q-err', 'fail', {}, { version: '1.0' });
    await waitFor(() => logs.matching(/Exception during message handling of cast fail.*bad tunnel type/).length === 1, 10_000, 'cast failure logged', 50);
  });

  test('garbage on the queue is logged once each and acked; good messages are still served', async () => {
    let served = 0;
    const srv = await server('q-junk', 'h', [{ version: '1.7', methods: { ping: () => { served++; return 'pong'; } } }], { maxMessageBytes: 1 << 20 });
    logs.clear();
    const ch = await raw.createChannel();
    const env = (inner: string) => JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': inner });
    const junk: Buffer[] = [
      Buffer.from('not json at all'),
      Buffer.from('[1, 2, 3]'),
      Buffer.from('"just a string"'),
      Buffer.from('{"oslo.version": "3.0", "oslo.message": "{}"}'),
      Buffer.from(env('{broken')),
      Buffer.from(env('{"args": {}}')),
      Buffer.from(env('{"method": "ping", "args": []}')),
      Buffer.from(env('{"method": "ping", "_msg_id": "abc"}')),
      Buffer.from([0xff, 0xfe, 0x00, 0x80]),
      Buffer.alloc(2 << 20, 0x20),
    ];
    try {
      for (const b of junk) ch.sendToQueue('q-junk', b);
      // a good cast after the junk, then a duplicate of it (same _unique_id)
      const cast = encodeEnvelope(buildCastMessage('ping', {}, { version: '1.0', context: adminContext(), uniqueId: 'dup-1' }));
      ch.sendToQueue('q-junk', Buffer.from(cast));
      ch.sendToQueue('q-junk', Buffer.from(cast));
    } finally {
      await ch.close();
    }
    assert.equal(await client.call('q-junk', 'ping', {}, { version: '1.0', timeoutSec: 10 }), 'pong');
    await waitFor(() => logs.matching(/duplicate message dup-1/).length === 1, 10_000, 'duplicate dropped', 50);
    assert.equal(served, 2, 'the cast once (its duplicate dropped) and the call');
    const dropped = logs.matching(/ERROR .*dropping (malformed )?message from queue q-junk/);
    assert.equal(dropped.length, junk.length, dropped.join(''));
    assert.ok(logs.matching(/larger than 1048576 bytes/).length === 1);
    assert.ok(logs.matching(/envelope version, 3.0/).length === 1);
    const q = (await mq.listQueues()).find((x) => x.name === 'q-junk')!;
    assert.equal(q.messages, 0, 'everything acked');
    assert.equal(q.consumers, 1);
    void srv;
  });
});
