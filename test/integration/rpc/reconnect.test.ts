// Connection resilience against a private RabbitMQ: broker restart and host failover.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PrivateRabbitmq, haveRabbitmq, LogCapture } from '../../helpers/rabbitmq.js';
import { waitFor } from '../../../lab/neutron.js';
import { freePort } from '../../../lab/ovs.js';
import { configureLogging } from '../../../src/util/log.js';
import { AmqpConnection, RpcClient, RpcServer } from '../../../src/rpc/index.js';

const skip = haveRabbitmq() ? false : 'rabbitmq-server not installed';

describe('AMQP reconnect and failover', { skip }, () => {
  let mq: PrivateRabbitmq;
  const logs = new LogCapture();
  const conns: AmqpConnection[] = [];
  const closers: Array<() => Promise<void>> = [];

  before(async () => {
    configureLogging({ sink: logs.sink });
    mq = await PrivateRabbitmq.start();
  });

  after(async () => {
    try {
      for (const c of closers.reverse()) await c();
      for (const c of conns) await c.close();
    } finally {
      await mq?.destroy();
      configureLogging({ sink: { write: (l) => { process.stderr.write(l); } } });
    }
  });

  test('broker stopped and restarted: server and client reconnect, re-declare, and a call succeeds', async () => {
    const sc = new AmqpConnection({ transportUrl: mq.transportUrl, purpose: 'server' });
    const cc = new AmqpConnection({ transportUrl: mq.transportUrl, purpose: 'client' });
    conns.push(sc, cc);
    await sc.start();
    await cc.start();
    const srv = await RpcServer.start({ connection: sc, topic: 'q-restart', server: 'compute1', endpoints: [{ version: '1.7', methods: { ping: (_c, a) => `pong ${a.n as number}` } }] });
    const client = await RpcClient.create({ connection: cc });
    closers.push(() => srv.stop(), () => client.close());
    assert.equal(await client.call('q-restart', 'ping', { n: 1 }, { version: '1.0', timeoutSec: 10 }), 'pong 1');

    const reconnected = Promise.all([once(sc, 'reconnected'), once(cc, 'reconnected')]);
    const disconnected = once(cc, 'disconnected');
    logs.clear();
    await mq.stop();
    await disconnected;
    assert.equal(cc.connected, false);
    await mq.start();
    await reconnected;
    assert.ok(sc.connected && cc.connected);

    // Non-durable queues died with the broker: everything was declared again.
    const names = (await mq.listQueues()).map((q) => q.name);
    for (const q of ['q-restart', 'q-restart.compute1', srv.queues.fanout, client.replyQueue]) assert.ok(names.includes(q), `${q} re-declared`);
    assert.equal(await client.call('q-restart', 'ping', { n: 2 }, { version: '1.0', timeoutSec: 10 }), 'pong 2');
    assert.equal(await client.call('q-restart', 'ping', { n: 3 }, { version: '1.0', server: 'compute1', timeoutSec: 10 }), 'pong 3');

    // Each failed attempt is logged once, with the password hidden.
    const failures = logs.matching(/is unreachable/);
    assert.ok(failures.length >= 2, logs.lines.join(''));
    assert.ok(failures.every((l) => l.includes(':****@')));
    assert.ok(!logs.lines.some((l) => l.includes(mq.password)), 'password never logged');
    assert.equal(logs.matching(/Reconnected to AMQP server/).length, 2);
  });

  test('a publish made while the broker is down is sent once it is back', async () => {
    // amqp_durable_queues: the server's topic queue survives the broker restart, so the call is
    // routed whichever side reconnects first. (With transient queues a client that is back before
    // the server publishes into nothing, as oslo.messaging would, and the call times out: this
    // test used to depend on that race and failed about one run in four.)
    const durable = { durable: true, autoDelete: false };
    const sc = new AmqpConnection({ transportUrl: mq.transportUrl, purpose: 'server', retryIntervalSec: 1, retryBackoffSec: 0 });
    const cc = new AmqpConnection({ transportUrl: mq.transportUrl, purpose: 'client', retryIntervalSec: 1, retryBackoffSec: 0 });
    conns.push(sc, cc);
    await sc.start();
    await cc.start();
    const srv = await RpcServer.start({
      connection: sc, topic: 'q-down', server: 'h', exchange: 'durable-ctl', exchangeOptions: durable,
      endpoints: [{ version: '1.0', methods: { ping: () => 'pong' } }],
    });
    const client = await RpcClient.create({ connection: cc, exchange: 'durable-ctl', exchangeOptions: durable });
    closers.push(() => srv.stop(), () => client.close());
    await mq.stop();
    const clientBack = once(cc, 'reconnected');
    // Started while the broker is down; its timeout covers the outage.
    let answered = false;
    const pending = client.call('q-down', 'ping', {}, { version: '1.0', timeoutSec: 60 }).finally(() => (answered = true));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(answered, false, 'no answer without a broker');
    await mq.start();
    await clientBack;
    assert.equal(await pending, 'pong');
  });

  test('transport_url whose first host refuses connections fails over to the second', async () => {
    const deadPort = await freePort();
    logs.clear();
    const url = mq.transportUrlFor([`127.0.0.1:${deadPort}`, `127.0.0.1:${mq.port}`]);
    const sc = new AmqpConnection({ transportUrl: url, purpose: 'server' });
    const cc = new AmqpConnection({ transportUrl: url, purpose: 'client' });
    conns.push(sc, cc);
    const t0 = Date.now();
    await sc.start();
    await cc.start();
    assert.ok(Date.now() - t0 < 5000, 'next host is tried at once, without the back-off sleep');
    assert.ok(cc.currentHost.endsWith(`:${mq.port}/${encodeURIComponent(mq.vhost)}`), cc.currentHost);
    const srv = await RpcServer.start({ connection: sc, topic: 'q-failover', server: 'h', endpoints: [{ version: '1.0', methods: { ping: () => 'pong' } }] });
    const client = await RpcClient.create({ connection: cc });
    closers.push(() => srv.stop(), () => client.close());
    assert.equal(await client.call('q-failover', 'ping', {}, { version: '1.0', timeoutSec: 10 }), 'pong');
    const refused = logs.matching(new RegExp(`127\\.0\\.0\\.1:${deadPort}.*is unreachable.*Trying next host`));
    assert.equal(refused.length, 2, logs.lines.join(''));
    assert.ok(refused.every((l) => l.includes(':****@') && !l.includes(mq.password)));
  });

  test('wrong password: keeps retrying with the kombu schedule and never resolves start()', async () => {
    const url = mq.transportUrl.replace(/:[^:@/]*@/, ':wrong@');
    const c = new AmqpConnection({ transportUrl: url, purpose: 'badauth' });
    logs.clear();
    let started = false;
    void c.start().then(() => { started = true; }, () => undefined);
    await waitFor(() => logs.matching(/\(badauth\) is unreachable/).length >= 2, 15_000, 'two failed attempts', 50);
    assert.equal(started, false);
    const lines = logs.matching(/\(badauth\) is unreachable/);
    assert.match(lines[0]!, /Trying again in 1 seconds/);
    assert.match(lines[1]!, /Trying again in 3 seconds/);
    assert.ok(!lines.some((l) => l.includes('wrong')), 'password never logged');
    await c.close();
  });
});
