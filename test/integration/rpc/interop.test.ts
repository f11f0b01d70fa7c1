// Interoperability with the real oslo.messaging (python3, rabbit driver) through a private broker:
// our client ↔ python RPC server, python RPC client ↔ our server, and identical queue layouts.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PrivateRabbitmq, haveRabbitmq, LogCapture } from '../../helpers/rabbitmq.js';
import { configureLogging } from '../../../src/util/log.js';
import { loadConfig } from '../../../src/config/index.js';
import { settingsFromConfig } from '../../../src/agent/settings.js';
import { brokerLayout } from '../../../src/agent/server/plugin-rpc.js';
import { AmqpConnection, PING_ENDPOINT, RpcClient, RpcServer, RemoteError, type RequestContext } from '../../../src/rpc/index.js';

const PYTHON = '/usr/bin/python3';
function haveOslo(): boolean {
  return spawnSync(PYTHON, ['-c', 'import oslo_messaging'], { stdio: 'ignore' }).status === 0;
}
const skip = !haveRabbitmq() ? 'rabbitmq-server not installed' : !haveOslo() ? 'python3 oslo.messaging not installed' : false;

const PY_SERVER = `
import json, sys, oslo_messaging as om
from oslo_config import cfg
om.set_transport_defaults(control_exchange='neutron')
conf = cfg.CONF; conf([])
transport = om.get_rpc_transport(conf, url=sys.argv[1])
class Agent(object):
    target = om.Target(version='1.7')
    def tunnel_sync(self, ctxt, tunnel_ip, tunnel_type, host):
        return {'tunnels': [{'ip_address': tunnel_ip, 'udp_port': 4789, 'host': host}],
                'request_id': ctxt.get('request_id'), 'is_admin': ctxt.get('is_admin')}
    def boom(self, ctxt):
        raise ValueError('kaboom')
server = om.get_rpc_server(transport, om.Target(topic=sys.argv[2], server=sys.argv[3]), [Agent()],
                           executor='threading', access_policy=om.DefaultRPCAccessPolicy)
server.start()
print('READY', flush=True)
sys.stdin.read()
server.stop(); server.wait()
`;

const PY_CLIENT = `
import json, sys, oslo_messaging as om
from oslo_config import cfg
om.set_transport_defaults(control_exchange='neutron')
conf = cfg.CONF; conf([])
transport = om.get_rpc_transport(conf, url=sys.argv[1])
client = om.get_rpc_client(transport, om.Target(topic=sys.argv[2], version='1.1'))
out = {}
out['add'] = client.prepare(server=sys.argv[3], timeout=20).call({'request_id': 'req-py'}, 'add', a=1, b=2)
try:
    client.prepare(timeout=20).call({}, 'no_such_method')
except Exception as e:
    out['nosuch'] = [type(e).__name__, getattr(e, 'exc_type', None), str(getattr(e, 'value', e))]
try:
    client.prepare(timeout=20).call({}, 'add', a=1)
except Exception as e:
    out['fail'] = [type(e).__name__, getattr(e, 'exc_type', None)]
# oslo.messaging's own ping: an unversioned target, as a monitoring probe sends it (rpc_ping_enabled).
out['ping'] = om.get_rpc_client(transport, om.Target(topic=sys.argv[2])).prepare(server=sys.argv[3], timeout=20).call({}, 'oslo_rpc_server_ping')
client.prepare(fanout=True).cast({}, 'note', text='hello')
client.prepare().cast({}, 'note', text='topic')
print(json.dumps(out), flush=True)
transport.cleanup()
`;

/** An oslo.messaging RPC server on its own control exchange (argv 4); its options come in the URL's query. */
const PY_LAYOUT_SERVER = `
import sys, oslo_messaging as om
from oslo_config import cfg
om.set_transport_defaults(control_exchange=sys.argv[4])
conf = cfg.CONF; conf([])
transport = om.get_rpc_transport(conf, url=sys.argv[1])
class Agent(object):
    target = om.Target(version='1.0')
server = om.get_rpc_server(transport, om.Target(topic=sys.argv[2], server=sys.argv[3]), [Agent()], executor='threading')
server.start()
print('READY', flush=True)
sys.stdin.read()
server.stop(); server.wait()
`;

/** [oslo_messaging_rabbit] settings that change what is declared, as a transport URL's query takes them. */
const LAYOUTS: ReadonlyArray<readonly [string, string]> = [
  ['durable', 'amqp_durable_queues=true'],
  ['autodelete', 'amqp_auto_delete=true'],
  ['ha', 'rabbit_ha_queues=true'],
  ['quorum', 'rabbit_quorum_queue=true&rabbit_quorum_delivery_limit=5&rabbit_quroum_max_memory_length=100&rabbit_quroum_max_memory_bytes=1048576'],
  ['consumers', 'enable_cancel_on_failover=true&rabbit_qos_prefetch_count=10'],
];

describe('interop with python oslo.messaging', { skip }, () => {
  let mq: PrivateRabbitmq;
  let dir: string;
  const logs = new LogCapture();
  const conns: AmqpConnection[] = [];
  const children: ChildProcess[] = [];

  before(async () => {
    configureLogging({ sink: logs.sink });
    dir = mkdtempSync(join(tmpdir(), 'ovs-agent-oslo-'));
    writeFileSync(join(dir, 'server.py'), PY_SERVER);
    writeFileSync(join(dir, 'client.py'), PY_CLIENT);
    writeFileSync(join(dir, 'layout.py'), PY_LAYOUT_SERVER);
    // oslo's URL parser mis-splits percent-encoded ':' in passwords: keep this one plain.
    mq = await PrivateRabbitmq.start({ password: 'interop-secret' });
  });

  after(async () => {
    try {
      for (const c of children) {
        if (c.exitCode === null && c.signalCode === null) {
          c.stdin?.end();
          const exited = new Promise((r) => c.once('exit', r));
          const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(t);
        }
      }
      for (const c of conns) await c.close();
    } finally {
      await mq?.destroy();
      rmSync(dir, { recursive: true, force: true });
      configureLogging({ sink: { write: (l) => { process.stderr.write(l); } } });
    }
  });

  async function connection(purpose: string): Promise<AmqpConnection> {
    const c = new AmqpConnection({ transportUrl: mq.transportUrl, purpose });
    conns.push(c);
    await c.start();
    return c;
  }

  /** Runs a python script; resolves with its first stdout line. */
  function python(script: string, args: string[], keepRunning: boolean): Promise<string> {
    const child = spawn(PYTHON, [join(dir, script), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
    return new Promise((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.once('line', (line) => { if (!keepRunning) child.stdin!.end(); resolve(line); });
      child.once('exit', (code) => reject(new Error(`${script} exited ${code} before answering: ${stderr.slice(-3000)}`)));
      setTimeout(() => reject(new Error(`${script} did not answer in 60 s: ${stderr.slice(-3000)}`)), 60_000).unref();
    });
  }

  test('our client calls a python oslo.messaging server; failures come back typed', async () => {
    assert.equal(await python('server.py', [mq.transportUrl, 'q-py', 'pyhost'], true), 'READY');
    const client = await RpcClient.create({ connection: await connection('client') });
    const r = await client.call('q-py', 'tunnel_sync', { tunnel_ip: '192.0.2.10', tunnel_type: 'vxlan', host: 'compute1' },
      { version: '1.4', timeoutSec: 20, context: { request_id: 'req-from-ts', is_admin: true } });
    assert.deepEqual(r, {
      tunnels: [{ ip_address: '192.0.2.10', udp_port: 4789, host: 'compute1' }], request_id: 'req-from-ts', is_admin: true,
    });
    assert.deepEqual(await client.call('q-py', 'tunnel_sync', { tunnel_ip: '192.0.2.11', tunnel_type: 'vxlan', host: 'c2' },
      { version: '1.7', server: 'pyhost', timeoutSec: 20 }).then((x) => (x as { tunnels: unknown }).tunnels),
    [{ ip_address: '192.0.2.11', udp_port: 4789, host: 'c2' }]);
    await assert.rejects(client.call('q-py', 'no_such_method', {}, { version: '1.0', timeoutSec: 20 }),
      (e: Error) => e instanceof RemoteError && e.excType === 'NoSuchMethod' && e.module === 'oslo_messaging.rpc.dispatcher');
    await assert.rejects(client.call('q-py', 'boom', {}, { version: '1.8', timeoutSec: 20 }),
      (e: Error) => e instanceof RemoteError && e.excType === 'UnsupportedVersion');
    await assert.rejects(client.call('q-py', 'boom', {}, { version: '1.0', timeoutSec: 20 }),
      (e: Error) => e instanceof RemoteError && e.excType === 'ValueError' && e.module === 'builtins' && e.value === 'kaboom' &&
        e.tb.some((l) => l.includes('Traceback')));
    await client.close();
  });

  test('a python oslo.messaging client calls and casts to our server, and pings it (rpc_ping_enabled)', async () => {
    const got: Array<{ ctx: RequestContext; text: string }> = [];
    let addCtx: RequestContext | null = null;
    const srv = await RpcServer.start({
      connection: await connection('server'), topic: 'q-ts', server: 'tshost',
      endpoints: [{
        version: '1.1',
        methods: {
          add: (ctx, a) => {
            if (typeof a.b !== 'number') throw new TypeError('add() missing required argument b');
            addCtx = ctx;
            return (a.a as number) + a.b;
          },
          note: (ctx, a) => { got.push({ ctx, text: a.text as string }); },
        },
      }, PING_ENDPOINT],
    });
    const line = await python('client.py', [mq.transportUrl, 'q-ts', 'tshost'], false);
    const out = JSON.parse(line) as { add: number; nosuch: [string, string, string]; fail: [string, string]; ping: string };
    assert.equal(out.add, 3);
    assert.equal(out.ping, 'pong');
    assert.equal((addCtx as RequestContext | null)?.request_id, 'req-py');
    assert.deepEqual(out.nosuch.slice(0, 2), ['RemoteError', 'NoSuchMethod']);
    assert.match(out.nosuch[2], /Endpoint does not support RPC method no_such_method/);
    assert.deepEqual(out.fail, ['RemoteError', 'TypeError']);
    const deadline = Date.now() + 10_000;
    while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(got.map((g) => g.text).sort(), ['hello', 'topic']);
    await srv.stop();
  });

  test('our server declares the same queues, arguments and exchanges as oslo.messaging', async () => {
    const srv = await RpcServer.start({ connection: await connection('layout'), topic: 'q-ts2', server: 'pyhost', endpoints: [{ version: '1.0', methods: {} }] });
    const queues = await mq.listQueues();
    const shape = (topic: string) => queues.filter((q) => q.name.startsWith(topic + '.') || q.name === topic || q.name.startsWith(topic + '_fanout_'))
      .map((q) => ({ name: q.name.replace(topic, 'T').replace(/_fanout_[0-9a-f]{32}$/, '_fanout_X'), durable: q.durable, autoDelete: q.autoDelete, arguments: q.arguments }))
      .sort((a, b) => a.name.localeCompare(b.name));
    const theirs = shape('q-py');
    assert.equal(theirs.length, 3, JSON.stringify(queues));
    assert.deepEqual(shape('q-ts2'), theirs);
    const ex = await mq.listExchanges();
    const pyFan = ex.find((e) => e.name === 'q-py_fanout');
    const ourFan = ex.find((e) => e.name === 'q-ts2_fanout');
    assert.deepEqual({ ...ourFan, name: '' }, { ...pyFan, name: '' });
    const replyQs = queues.filter((q) => q.name.startsWith('reply_'));
    assert.ok(replyQs.length >= 1);
    for (const q of replyQs) assert.deepEqual({ d: q.durable, a: q.autoDelete, args: q.arguments }, { d: false, a: false, args: { 'x-expires': 1800000 } });
    await srv.stop();
  });

  for (const [name, query] of LAYOUTS) {
    test(`with ${query.replace(/&/g, ', ')}: the agent's configuration declares what oslo.messaging declares`, async () => {
      const url = `${mq.transportUrl}?${query}`;
      const exchange = `ex-${name}`;
      await python('layout.py', [url, `q-py-${name}`, 'pyhost', exchange], true);
      // Ours from a configuration file, as the agent reads it.
      const cfgFile = join(dir, `${name}.ini`);
      writeFileSync(cfgFile, `[DEFAULT]\ntransport_url = ${url}\n`);
      const rabbit = settingsFromConfig(loadConfig(['--config-file', cfgFile], { hostname: 'tshost', searchDirs: [] })).rabbit;
      const { exchangeOptions, queueArguments } = brokerLayout(rabbit);
      const conn = new AmqpConnection({ transportUrl: mq.transportUrl, purpose: `layout-${name}`, prefetchCount: rabbit.prefetchCount, cancelOnHaFailover: rabbit.cancelOnHaFailover });
      conns.push(conn);
      await conn.start();
      const srv = await RpcServer.start({ connection: conn, topic: `q-ts-${name}`, server: 'pyhost', exchange, exchangeOptions, queueArguments, endpoints: [{ version: '1.0', methods: {} }] });
      const client = await RpcClient.create({ connection: conn, exchange, exchangeOptions, queueArguments });
      const queues = await mq.listQueues();
      const shape = (topic: string) => queues.filter((q) => q.name === topic || q.name === `${topic}.pyhost` || q.name.startsWith(`${topic}_fanout_`))
        .map((q) => ({ name: q.name.replace(topic, 'T').replace(/_fanout_[0-9a-f]{32}$/, '_fanout_X'), durable: q.durable, autoDelete: q.autoDelete, arguments: q.arguments }))
        .sort((a, b) => a.name.localeCompare(b.name));
      const theirs = shape(`q-py-${name}`);
      assert.equal(theirs.length, 3, JSON.stringify(queues));
      assert.deepEqual(shape(`q-ts-${name}`), theirs);
      const ex = await mq.listExchanges();
      const strip = (e: object | undefined) => ({ ...e, name: '' });
      assert.deepEqual(strip(ex.find((e) => e.name === `q-ts-${name}_fanout`)), strip(ex.find((e) => e.name === `q-py-${name}_fanout`)));
      assert.ok(ex.some((e) => e.name === exchange), `control exchange ${exchange} declared`);
      // Consumers: prefetch (rabbit_qos_prefetch_count) and x-cancel-on-ha-failover (enable_cancel_on_failover).
      const consumers = await mq.listConsumers();
      const consumerShape = (topic: string) => consumers.filter((c) => c.queue === topic || c.queue === `${topic}.pyhost` || c.queue.startsWith(`${topic}_fanout_`))
        .map((c) => ({ queue: c.queue.replace(topic, 'T').replace(/_fanout_[0-9a-f]{32}$/, '_fanout_X'), prefetchCount: c.prefetchCount, arguments: c.arguments }))
        .sort((a, b) => a.queue.localeCompare(b.queue));
      assert.equal(consumerShape(`q-py-${name}`).length, 3, JSON.stringify(consumers));
      assert.deepEqual(consumerShape(`q-ts-${name}`), consumerShape(`q-py-${name}`));
      // The reply queue: transient, with the HA policy where queues have one (oslo's declare_direct_consumer).
      const reply = queues.find((q) => q.name === client.replyQueue);
      assert.deepEqual(reply?.arguments, { 'x-expires': 1800000, ...(name === 'ha' ? { 'x-ha-policy': 'all' } : {}) });
      await srv.stop();
    });
  }
});
