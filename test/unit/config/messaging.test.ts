// [oslo_messaging_rabbit] as the rabbit driver sees it: the transport_url query overriding options
// (oslo.messaging's ConfigOptsProxy), the TLS settings derived from them, and the debug dump.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, amqpTlsSettings, loadConfig, ovsdbTlsSettings, type AgentConfig } from '../../../src/config/index.js';
import { configDumpLines } from '../../../src/config/dump.js';
import { settingsFromConfig } from '../../../src/agent/settings.js';
import { brokerLayout } from '../../../src/agent/server/plugin-rpc.js';
import { queueArguments } from '../../../src/rpc/index.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'msgtest-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let seq = 0;
function withFile(text: string): AgentConfig {
  const p = path.join(root, `f${seq++}.conf`);
  fs.writeFileSync(p, text);
  return loadConfig(['--config-file', p], { hostname: 'node-1', searchDirs: [] });
}
function configError(text: string): ConfigError {
  try {
    withFile(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail('no ConfigError');
}

describe('queues as [oslo_messaging_rabbit] shapes them', () => {
  it('quorum queues: durable control exchange and topic queues, quorum arguments only where set; HA queues: x-ha-policy; from the file or the URL', () => {
    const layout = (text: string) => brokerLayout(settingsFromConfig(withFile(text)).rabbit);
    assert.deepEqual(layout(''), { exchangeOptions: { durable: false, autoDelete: false }, queueArguments: { haQueues: false, quorum: undefined } });
    const q = layout('[oslo_messaging_rabbit]\nrabbit_quorum_queue = True\nrabbit_quorum_delivery_limit = 3\n');
    assert.deepEqual(q.exchangeOptions, { durable: true, autoDelete: false });
    assert.deepEqual(queueArguments(q.queueArguments, { kind: 'topic' }), { 'x-queue-type': 'quorum', 'x-delivery-limit': 3 });
    assert.deepEqual(queueArguments(q.queueArguments, { kind: 'transient', ttlSec: 1800 }), { 'x-expires': 1800000 });
    const ha = layout('[DEFAULT]\ntransport_url = rabbit://u:pw@h/?rabbit_ha_queues=true&amqp_auto_delete=true\n');
    assert.deepEqual(ha.exchangeOptions, { durable: false, autoDelete: true });
    assert.deepEqual(queueArguments(ha.queueArguments, { kind: 'topic' }), { 'x-ha-policy': 'all' });
    assert.deepEqual(queueArguments(ha.queueArguments, { kind: 'transient', ttlSec: 60 }), { 'x-ha-policy': 'all', 'x-expires': 60000 });
  });

  it('quorum and HA queues together stop start-up, as they stop oslo.messaging', () => {
    assert.match(configError('[oslo_messaging_rabbit]\nrabbit_quorum_queue = True\nrabbit_ha_queues = True\n').message,
      /\[oslo_messaging_rabbit\] rabbit_quorum_queue = 'True': rabbit_quorum_queue and rabbit_ha_queues are both enabled/);
  });
});

describe('transport_url query overrides [oslo_messaging_rabbit]', () => {
  it('?ssl=1&ssl_ca_file=… switches TLS on with that CA; the file options stay as written', () => {
    const c = withFile('[DEFAULT]\ntransport_url = rabbit://u:pw@192.0.2.1:5671/?ssl=1&ssl_ca_file=%2Fetc%2Fca.pem\n');
    assert.equal(c.messaging.ssl, true);
    assert.equal(c.messaging.ssl_ca_file, '/etc/ca.pem');
    assert.equal(c.oslo_messaging_rabbit.ssl, false);
    assert.deepEqual(amqpTlsSettings(c.messaging), { ca: { path: '/etc/ca.pem', option: '[oslo_messaging_rabbit] ssl_ca_file' }, verifyHostname: false });
  });

  it('the query wins over the file, with the option\'s type (ssl=false turns a configured ssl off)', () => {
    const c = withFile('[DEFAULT]\ntransport_url = rabbit://u:pw@h/?ssl=false&rabbit_retry_interval=5\n[oslo_messaging_rabbit]\nssl = True\n');
    assert.equal(c.messaging.ssl, false);
    assert.equal(c.messaging.rabbit_retry_interval, 5);
    assert.equal(amqpTlsSettings(c.messaging), undefined);
  });

  it('a query key that is not an option, or a value of the wrong type, is refused naming transport_url, password hidden', () => {
    const e = configError('[DEFAULT]\ntransport_url = rabbit://u:hunter2@h/?ssl=1&verify=none\n');
    assert.match(e.message, /\[DEFAULT\] transport_url = 'rabbit:\/\/u:\*\*\*\*@h\/\?ssl=1&verify=none': query option 'verify' is not an \[oslo_messaging_rabbit\] option/);
    assert.ok(!e.message.includes('hunter2'));
    // Deprecated names are file-only, as in oslo.
    assert.match(configError('[DEFAULT]\ntransport_url = rabbit://h/?rabbit_use_ssl=1\n').message, /query option 'rabbit_use_ssl' is not/);
    assert.match(configError('[DEFAULT]\ntransport_url = rabbit://h/?ssl=maybe\n').message, /query option ssl=maybe: expected a boolean/);
  });

  it('deprecated file spellings (rabbit_use_ssl, kombu_ssl_*) still configure TLS', () => {
    const c = withFile('[oslo_messaging_rabbit]\nrabbit_use_ssl = true\nkombu_ssl_ca_certs = /ca.pem\nkombu_ssl_certfile = /c.pem\nkombu_ssl_keyfile = /k.pem\nkombu_ssl_version = TLSv1_2\n');
    assert.deepEqual(amqpTlsSettings(c.messaging), {
      ca: { path: '/ca.pem', option: '[oslo_messaging_rabbit] ssl_ca_file' },
      cert: { path: '/c.pem', option: '[oslo_messaging_rabbit] ssl_cert_file' },
      key: { path: '/k.pem', option: '[oslo_messaging_rabbit] ssl_key_file' },
      verifyHostname: false, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2',
    });
  });
});

describe('transport schemes', () => {
  it('kombu:// is the rabbit driver too; rabbits:// is no oslo.messaging driver and the error says how TLS is switched on', () => {
    assert.equal(withFile('[DEFAULT]\ntransport_url = kombu://u:pw@h:5672/\n').transport.transport, 'kombu');
    assert.match(configError('[DEFAULT]\ntransport_url = rabbits://u:pw@h:5671/\n').message,
      /unsupported driver 'rabbits'; TLS is switched on by \[oslo_messaging_rabbit\] ssl = True or \?ssl=1 in the URL/);
  });
});

describe('TLS settings', () => {
  it('the broker name is checked only with a CA file and ssl_enforce_hostname_verification (as oslo.messaging)', () => {
    const on = withFile('[oslo_messaging_rabbit]\nssl = true\nssl_ca_file = /ca.pem\nssl_enforce_hostname_verification = true\n');
    assert.equal(amqpTlsSettings(on.messaging)!.verifyHostname, true);
    const noCa = withFile('[oslo_messaging_rabbit]\nssl = true\nssl_enforce_hostname_verification = true\n');
    assert.equal(amqpTlsSettings(noCa.messaging)!.verifyHostname, false);
  });

  it('a certificate without a key file: the key is read from the certificate file; a key alone is unused', () => {
    const c = withFile('[oslo_messaging_rabbit]\nssl = true\nssl_cert_file = /both.pem\n');
    assert.deepEqual(amqpTlsSettings(c.messaging)!.key, { path: '/both.pem', option: '[oslo_messaging_rabbit] ssl_cert_file' });
    const k = withFile('[oslo_messaging_rabbit]\nssl = true\nssl_key_file = /k.pem\n');
    assert.equal(amqpTlsSettings(k.messaging)!.key, undefined);
  });

  it('rabbit_login_method = EXTERNAL reaches the connection (the broker takes the user from the client certificate)', () => {
    const c = withFile('[oslo_messaging_rabbit]\nssl = true\nrabbit_login_method = EXTERNAL\n');
    assert.equal(settingsFromConfig(c).rabbit.loginMethod, 'EXTERNAL');
  });

  it('ssl_version: the reference\'s names pin the protocol; another name is refused only when ssl is on', () => {
    assert.deepEqual(
      (({ minVersion, maxVersion }) => ({ minVersion, maxVersion }))(amqpTlsSettings(withFile('[oslo_messaging_rabbit]\nssl = true\nssl_version = tlsv1_1\n').messaging)!),
      { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' });
    assert.equal(amqpTlsSettings(withFile('[oslo_messaging_rabbit]\nssl = true\nssl_version = SSLv23\n').messaging)!.minVersion, undefined);
    assert.match(configError('[oslo_messaging_rabbit]\nssl = true\nssl_version = SSLv3\n').message,
      /\[oslo_messaging_rabbit\] ssl_version = 'SSLv3': Invalid SSL version/);
    assert.equal(withFile('[oslo_messaging_rabbit]\nssl_version = SSLv3\n').messaging.ssl_version, 'SSLv3');
  });

  it('OVSDB: ssl: takes the three [ovs] files and never checks the name (as Open vSwitch)', () => {
    assert.equal(ovsdbTlsSettings({ ovsdb_connection: 'tcp:127.0.0.1:6640', ssl_key_file: null, ssl_cert_file: null, ssl_ca_cert_file: null }), undefined);
    assert.deepEqual(ovsdbTlsSettings({ ovsdb_connection: 'ssl:192.0.2.9:6640', ssl_key_file: '/k', ssl_cert_file: '/c', ssl_ca_cert_file: '/ca' }), {
      ca: { path: '/ca', option: '[ovs] ssl_ca_cert_file' }, cert: { path: '/c', option: '[ovs] ssl_cert_file' },
      key: { path: '/k', option: '[ovs] ssl_key_file' }, verifyHostname: false,
    });
  });
});

describe('configuration dump at DEBUG', () => {
  it('lists every option, the transport URL with its password masked', () => {
    const c = withFile('[DEFAULT]\ntransport_url = rabbit://openstack:s3cr3t-pw@192.0.2.1:5671/nova?ssl=1\n[ovs]\nbridge_mappings = physnet1:br-ex\n');
    const lines = configDumpLines(c, ['--config-file', 'x.conf']);
    assert.ok(lines.includes('transport_url = rabbit://openstack:****@192.0.2.1:5671/nova?ssl=1'), lines.join('\n'));
    assert.ok(lines.includes("ovs.bridge_mappings = ['physnet1:br-ex']"));
    assert.ok(lines.includes('oslo_messaging_rabbit.ssl = False'));
    assert.ok(!lines.join('\n').includes('s3cr3t-pw'));
  });
});
