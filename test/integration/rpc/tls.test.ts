// AMQP over TLS against a private RabbitMQ with a TLS listener that asks for client certificates,
// with certificates this test makes: the options as oslo.messaging reads them ([oslo_messaging_rabbit]
// ssl* or the transport_url query), every failure an operator can meet named with the endpoint and
// the reason, retried, and never a plaintext fallback. Nothing logged carries the password or
// key material.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrivateRabbitmq, haveRabbitmq, LogCapture } from '../../helpers/rabbitmq.js';
import { TestPki, type TestCa, type TestCert } from '../../helpers/pki.js';
import { waitFor } from '../../../lab/neutron.js';
import { freePort } from '../../../lab/ovs.js';
import { configureLogging } from '../../../src/util/log.js';
import { loadConfig, amqpTlsSettings } from '../../../src/config/index.js';
import { AmqpConnection, RpcClient, RpcServer } from '../../../src/rpc/index.js';
import type { TlsClientSettings } from '../../../src/util/tls.js';

const skip = haveRabbitmq() ? false : 'rabbitmq-server not installed';

describe('AMQP over TLS', { skip }, () => {
  let mq: PrivateRabbitmq;
  let pki: TestPki;
  let ca1: TestCa;
  let ca2: TestCa;
  let client: TestCert;
  let expired: TestCert;
  let otherName: TestCert;
  let dir: string;
  const logs = new LogCapture();
  const conns: AmqpConnection[] = [];
  const closers: Array<() => Promise<void>> = [];

  /** TLS settings as the agent derives them from a config file's [oslo_messaging_rabbit] lines and transport_url. */
  function tlsFromConfig(transportUrl: string, rabbitLines: string[]): { url: string; tls: TlsClientSettings | undefined } {
    const f = join(dir, `agent-${Math.random().toString(36).slice(2)}.conf`);
    writeFileSync(f, ['[DEFAULT]', `transport_url = ${transportUrl}`, '[oslo_messaging_rabbit]', ...rabbitLines, ''].join('\n'));
    const cfg = loadConfig(['--config-file', f], { hostname: 'tls-host' });
    return { url: cfg.DEFAULT.transport_url, tls: amqpTlsSettings(cfg.messaging) };
  }

  function connection(url: string, tls: TlsClientSettings | undefined, purpose: string): AmqpConnection {
    const c = new AmqpConnection({ transportUrl: url, purpose, retryIntervalSec: 1, retryBackoffSec: 0, ...(tls ? { tls } : {}) });
    conns.push(c);
    return c;
  }

  async function brokerConnections(): Promise<Array<{ ssl: boolean; user: string }>> {
    const out = await mq.ctl(['list_connections', '--formatter', 'json', 'ssl', 'user']);
    return JSON.parse(out) as Array<{ ssl: boolean; user: string }>;
  }

  /** A bare TLS server presenting `cert`; records whether a handshake completed. */
  async function tlsServer(cert: TestCert): Promise<{ port: number; handshakes: () => number; server: TlsServer }> {
    let n = 0;
    const server = createTlsServer({ cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) }, (s) => {
      n++;
      s.destroy();
    });
    server.on('tlsClientError', () => undefined);
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    return { port, handshakes: () => n, server };
  }

  before(async () => {
    configureLogging({ sink: logs.sink });
    dir = mkdtempSync(join(tmpdir(), 'ovs-agent-tls-'));
    pki = TestPki.create();
    ca1 = await pki.ca('ca1');
    ca2 = await pki.ca('ca2');
    const server = await pki.leaf(ca1, 'broker', { san: 'IP:127.0.0.1,DNS:localhost' });
    // Its CN is the broker's user, for the EXTERNAL login.
    client = await pki.leaf(ca1, 'tls-agent');
    expired = await pki.leaf(ca1, 'expired', { san: 'IP:127.0.0.1', expired: true });
    otherName = await pki.leaf(ca1, 'elsewhere', { san: 'DNS:rabbit.example.org' });
    mq = await PrivateRabbitmq.start({ user: 'tls-agent', tls: { ...server, caFile: ca1.certFile, requireClientCert: true, externalLogin: true } });
  });

  after(async () => {
    try {
      for (const c of closers.reverse()) await c();
      for (const c of conns) await c.close();
    } finally {
      // Whatever was logged, by every test here: no password, no line of any private key.
      const text = logs.lines.join('');
      const keyLines = [client, expired, otherName].filter((c) => c).flatMap((c) => TestPki.pemBodyLines(c.keyFile));
      await mq?.destroy();
      pki?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
      configureLogging({ sink: { write: (l) => { process.stderr.write(l); } } });
      assert.ok(keyLines.length > 0);
      assert.ok(!text.includes(mq.password) && !text.includes(encodeURIComponent(mq.password)), 'password logged');
      for (const line of keyLines) assert.ok(!text.includes(line), 'key material logged');
    }
  });

  test('ssl = True with the CA, a client certificate and name checking: an RPC round trip over TLS', async () => {
    const files = tlsFromConfig(mq.tlsTransportUrl(), [
      'ssl = True', `ssl_ca_file = ${ca1.certFile}`, `ssl_cert_file = ${client.certFile}`, `ssl_key_file = ${client.keyFile}`,
      'ssl_enforce_hostname_verification = True',
    ]);
    // The same through the URL's query, as oslo.messaging accepts it (deprecated kombu_* names are file-only).
    const query = tlsFromConfig(mq.tlsTransportUrl(
      `ssl=1&ssl_ca_file=${encodeURIComponent(ca1.certFile)}&ssl_cert_file=${encodeURIComponent(client.certFile)}` +
      `&ssl_key_file=${encodeURIComponent(client.keyFile)}`), []);
    assert.ok(files.tls && query.tls);
    const sc = connection(files.url, files.tls, 'tls-server');
    const cc = connection(query.url, query.tls, 'tls-client');
    await sc.start();
    await cc.start();
    assert.match(cc.currentHost, new RegExp(`^amqps://.*:\\*\\*\\*\\*@127\\.0\\.0\\.1:${mq.tlsPort}/`));
    const srv = await RpcServer.start({ connection: sc, topic: 'q-tls', server: 'h1', endpoints: [{ version: '1.0', methods: { ping: (_c, a) => `pong ${String(a.n)}` } }] });
    const rpc = await RpcClient.create({ connection: cc });
    closers.push(() => srv.stop(), () => rpc.close());
    assert.equal(await rpc.call('q-tls', 'ping', { n: 7 }, { version: '1.0', timeoutSec: 20 }), 'pong 7');
    const seen = await brokerConnections();
    assert.ok(seen.length >= 2 && seen.every((c) => c.ssl === true), `broker connections: ${JSON.stringify(seen)}`);
    assert.equal(logs.matching(new RegExp(`Connected to AMQP server on amqps://[^ ]*:${mq.tlsPort}/`)).length, 2, logs.lines.join(''));
    await srv.stop();
    await rpc.close();
    await sc.close();
    await cc.close();
  });

  test('rabbit_login_method = EXTERNAL: the broker takes the user from the client certificate, no password sent', async () => {
    const { url, tls } = tlsFromConfig(mq.tlsTransportUrl().replace(/:[^:@/]*@/, ':not-the-password@'), [
      'ssl = True', `ssl_ca_file = ${ca1.certFile}`, `ssl_cert_file = ${client.certFile}`, `ssl_key_file = ${client.keyFile}`,
      'rabbit_login_method = EXTERNAL',
    ]);
    logs.clear();
    const c = new AmqpConnection({ transportUrl: url, purpose: 'external', loginMethod: 'EXTERNAL', retryIntervalSec: 1, ...(tls ? { tls } : {}) });
    conns.push(c);
    let connected = false;
    void c.start().then(() => { connected = true; }, () => undefined);
    await waitFor(() => connected, 60_000, 'an EXTERNAL login', 50)
      .catch((e: Error) => { throw new Error(`${e.message}; logged:\n${logs.lines.join('')}`); });
    const seen = JSON.parse(await mq.ctl(['list_connections', '--formatter', 'json', 'user', 'auth_mechanism', 'ssl'])) as Array<{ user: string; auth_mechanism: string; ssl: boolean }>;
    assert.ok(seen.some((x) => x.user === 'tls-agent' && x.auth_mechanism === 'EXTERNAL' && x.ssl), JSON.stringify(seen));
    await c.close();
  });

  test('a CA that did not sign the broker: named error, retried, no plaintext; the corrected CA file is used at the next attempt', async () => {
    const caFile = join(dir, 'wrong-ca.pem');
    copyFileSync(ca2.certFile, caFile);
    const { url, tls } = tlsFromConfig(mq.tlsTransportUrl(), [
      'ssl = True', `ssl_ca_file = ${caFile}`, `ssl_cert_file = ${client.certFile}`, `ssl_key_file = ${client.keyFile}`,
    ]);
    await waitFor(async () => (await brokerConnections()).length === 0, 30_000, 'the previous test\'s connections gone');
    logs.clear();
    const c = connection(url, tls, 'wrong-ca');
    let connected = false;
    void c.start().then(() => { connected = true; }, () => undefined);
    const failure = new RegExp(`AMQP server on amqps://[^ ]*:\\*\\*\\*\\*@127\\.0\\.0\\.1:${mq.tlsPort}/[^ ]* \\(wrong-ca\\) is unreachable: ` +
      `TLS: the server's certificate is not signed by a CA in \\[oslo_messaging_rabbit\\] ssl_ca_file ${caFile.replace(/[.]/g, '\\.')} ` +
      `\\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\\)\\. Trying again in 1 seconds\\.`);
    await waitFor(() => logs.matching(failure).length >= 2, 30_000, 'two failed TLS attempts', 50)
      .catch((e: Error) => { throw new Error(`${e.message}; logged:\n${logs.lines.join('')}`); });
    assert.equal(connected, false);
    assert.deepEqual(await brokerConnections(), [], 'no connection of any kind reached the broker (no plaintext fallback)');
    copyFileSync(ca1.certFile, caFile);
    await waitFor(() => connected, 30_000, 'connected with the corrected CA file', 50);
    const seen = await brokerConnections();
    assert.ok(seen.length === 1 && seen[0]!.ssl === true, JSON.stringify(seen));
    await c.close();
  });

  test('no client certificate for a broker that requires one: the refusal is said as such', async () => {
    const { url, tls } = tlsFromConfig(mq.tlsTransportUrl(), ['ssl = True', `ssl_ca_file = ${ca1.certFile}`]);
    logs.clear();
    const c = connection(url, tls, 'no-cert');
    void c.start().catch(() => undefined);
    const line = await waitFor(() => logs.matching(/\(no-cert\) is unreachable/)[0], 30_000, 'a failed attempt', 50);
    assert.match(line, new RegExp(`127\\.0\\.0\\.1:${mq.tlsPort}/.*(TLS: the server refused the handshake \\(alert: [a-z ]+; client certificate: no client certificate configured\\)|TLS: the server closed the connection during the handshake)`));
    await c.close();
  });

  test('ssl = True against the plaintext port: a TLS error, never a plaintext session', async () => {
    const { url, tls } = tlsFromConfig(`${mq.transportUrl}?ssl=true&ssl_ca_file=${encodeURIComponent(ca1.certFile)}`, []);
    logs.clear();
    const c = connection(url, tls, 'plain-port');
    void c.start().catch(() => undefined);
    const line = await waitFor(() => logs.matching(/\(plain-port\) is unreachable/)[0], 30_000, 'a failed attempt', 50);
    assert.match(line, new RegExp(`amqps://[^ ]*:${mq.port}/.* is unreachable: TLS: the server did not answer with TLS \\(a plaintext port\\?\\)`), line);
    assert.deepEqual(await brokerConnections(), []);
    await c.close();
  });

  test('an expired broker certificate: named error', async () => {
    const srv = await tlsServer(expired);
    const { url, tls } = tlsFromConfig(mq.transportUrlFor([`127.0.0.1:${srv.port}`]), ['ssl = True', `ssl_ca_file = ${ca1.certFile}`]);
    logs.clear();
    const c = connection(url, tls, 'expired');
    void c.start().catch(() => undefined);
    const line = await waitFor(() => logs.matching(/\(expired\) is unreachable/)[0], 30_000, 'a failed attempt', 50);
    assert.match(line, new RegExp(`127\\.0\\.0\\.1:${srv.port}/.* is unreachable: TLS: the server's certificate has expired \\(CERT_HAS_EXPIRED\\)`));
    assert.equal(srv.handshakes(), 0);
    await c.close();
  });

  test('a certificate for another name: refused with ssl_enforce_hostname_verification, accepted without it (as oslo.messaging)', async () => {
    const srv = await tlsServer(otherName);
    const strict = tlsFromConfig(mq.transportUrlFor([`127.0.0.1:${srv.port}`]),
      ['ssl = True', `ssl_ca_file = ${ca1.certFile}`, 'ssl_enforce_hostname_verification = True']);
    logs.clear();
    const c = connection(strict.url, strict.tls, 'strict-name');
    void c.start().catch(() => undefined);
    const line = await waitFor(() => logs.matching(/\(strict-name\) is unreachable/)[0], 30_000, 'a failed attempt', 50);
    assert.match(line, /is unreachable: TLS: the server's certificate does not name 127\.0\.0\.1 \(it names DNS:rabbit\.example\.org; ERR_TLS_CERT_ALTNAME_INVALID\)/);
    assert.equal(srv.handshakes(), 0);
    await c.close();

    const lax = tlsFromConfig(mq.transportUrlFor([`127.0.0.1:${srv.port}`]), ['ssl = True', `ssl_ca_file = ${ca1.certFile}`]);
    const d = connection(lax.url, lax.tls, 'lax-name');
    void d.start().catch(() => undefined);
    // The chain is good and the name is not checked: the TLS session is made (the bare server then hangs up).
    await waitFor(() => srv.handshakes() > 0, 30_000, 'a completed TLS handshake', 50);
    await d.close();
  });
});
