// OVSDB over ssl: against a real ovsdb-server listening on pssl: with certificates this test makes:
// the session works, a wrong CA or a refused client certificate is a named error at connect, and a
// server that comes back with a bad certificate is retried with back-off until a good one is back.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PrivateOvs, haveOvs } from '../../../lab/ovs.js';
import { waitFor } from '../../../lab/neutron.js';
import { LogCapture } from '../../helpers/rabbitmq.js';
import { TestPki, type TestCa, type TestCert } from '../../helpers/pki.js';
import { configureLogging } from '../../../src/util/log.js';
import { ovsdbTlsSettings } from '../../../src/config/index.js';
import { OvsdbOps } from '../../../src/ovsdb/ops.js';

const skip = haveOvs() ? false : 'Open vSwitch not installed';

describe('OVSDB over ssl:', { skip }, () => {
  let ovs: PrivateOvs;
  let pki: TestPki;
  let ca1: TestCa;
  let ca2: TestCa;
  let server: TestCert;
  let client: TestCert;
  let foreignClient: TestCert;
  let expiredServer: TestCert;
  const logs = new LogCapture();
  const opened: OvsdbOps[] = [];

  const tlsWith = (caFile: string, cert: TestCert) => ovsdbTlsSettings({
    ovsdb_connection: ovs.sslConnection, ssl_ca_cert_file: caFile, ssl_cert_file: cert.certFile, ssl_key_file: cert.keyFile,
  })!;

  async function connect(caFile: string, cert: TestCert): Promise<OvsdbOps> {
    const ops = await OvsdbOps.connect({ endpoint: ovs.sslConnection, timeoutSec: 10, tls: tlsWith(caFile, cert) });
    opened.push(ops);
    return ops;
  }

  async function restartDbWith(cert: TestCert): Promise<void> {
    await ovs.kill('ovsdb-server');
    ovs.opts.ssl = { ...cert, caFile: ca1.certFile };
    await ovs.startDb(false);
  }

  before(async () => {
    configureLogging({ sink: logs.sink });
    pki = TestPki.create();
    ca1 = await pki.ca('ca1');
    ca2 = await pki.ca('ca2');
    server = await pki.leaf(ca1, 'ovsdb', { san: 'IP:127.0.0.1' });
    client = await pki.leaf(ca1, 'agent');
    foreignClient = await pki.leaf(ca2, 'intruder');
    expiredServer = await pki.leaf(ca1, 'ovsdb-old', { san: 'IP:127.0.0.1', expired: true });
    ovs = await PrivateOvs.start({ ssl: { ...server, caFile: ca1.certFile } });
  });

  after(async () => {
    try {
      for (const o of opened) await o.close();
    } finally {
      const text = logs.lines.join('');
      const keyLines = [server, client, expiredServer].filter((c) => c).flatMap((c) => TestPki.pemBodyLines(c.keyFile));
      await ovs?.stop();
      pki?.destroy();
      configureLogging({ sink: { write: (l) => { process.stderr.write(l); } } });
      for (const line of keyLines) assert.ok(!text.includes(line), 'key material logged');
    }
  });

  test('the replica loads and a transaction commits over ssl:', async () => {
    await ovs.addBridge('br-ssl');
    const ops = await connect(ca1.certFile, client);
    assert.ok(ops.replica.bridge('br-ssl'), 'bridge made with ovs-vsctl is in the replica');
    assert.ok(logs.matching(new RegExp(`Connected to OVSDB at ssl:127\\.0\\.0\\.1:${ovs.sslPort}`)).length >= 1, logs.lines.join(''));
    await ops.close();
  });

  test('a CA that did not sign the server: connect fails naming the endpoint and the reason', async () => {
    await assert.rejects(connect(ca2.certFile, client), (e: Error) => {
      assert.match(e.message, new RegExp(`^cannot connect to OVSDB at ssl:127\\.0\\.0\\.1:${ovs.sslPort}: ` +
        `TLS: the server's certificate is not signed by a CA in \\[ovs\\] ssl_ca_cert_file ${ca2.certFile.replace(/\./g, '\\.')} \\([A-Z_]+\\)$`));
      return true;
    });
  });

  test('a client certificate the server does not trust: the refusal is named', async () => {
    await assert.rejects(connect(ca1.certFile, foreignClient), (e: Error) => {
      assert.match(e.message, new RegExp(`^cannot connect to OVSDB at ssl:127\\.0\\.0\\.1:${ovs.sslPort}: .*TLS: the server (refused the handshake \\(alert: [a-z ]+; client certificate: \\[ovs\\] ssl_cert_file .*\\)|closed the connection during the handshake)`));
      return true;
    });
  });

  test('the server comes back with an expired certificate: retried with back-off, reconnects once a good one is back', async () => {
    const ops = await connect(ca1.certFile, client);
    logs.clear();
    await restartDbWith(expiredServer);
    const failure = new RegExp(`reconnecting to OVSDB at ssl:127\\.0\\.0\\.1:${ovs.sslPort} failed, retrying: TLS: the server's certificate has expired \\(CERT_HAS_EXPIRED\\)`);
    await waitFor(() => logs.matching(failure).length >= 3, 30_000, 'three failed reconnection attempts', 50)
      .catch((e: Error) => { throw new Error(`${e.message}; logged:\n${logs.lines.join('')}`); });
    // Back-off: the gaps between attempts grow.
    const times = logs.matching(failure).map((l) => Date.parse(l.slice(0, 23).replace(' ', 'T') + 'Z'));
    assert.ok(times[2]! - times[1]! > times[1]! - times[0]!, `attempts at ${times.join(', ')}`);
    assert.equal(ops.client.isConnected, false);
    const back = once(ops.client, 'connected');
    await restartDbWith(server);
    await back;
    await ovs.addBridge('br-after');
    await waitFor(() => ops.replica.bridge('br-after'), 10_000, 'br-after in the replica');
  });
});
