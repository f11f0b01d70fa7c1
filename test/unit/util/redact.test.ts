import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redactSecrets, registerSecret, shownOptionValue } from '../../../src/util/redact.js';
import { tlsFailureReason, type TlsClientSettings } from '../../../src/util/tls.js';

describe('redaction', () => {
  it('a secret option shows its URL with passwords masked, any other secret as ****', () => {
    assert.equal(shownOptionValue(true, 'rabbit://u:p@h:5672,v:q@h2/vh'), 'rabbit://u:****@h:5672,v:****@h2/vh');
    assert.equal(shownOptionValue(true, 'plain-secret'), '****');
    assert.equal(shownOptionValue(false, 'br-int'), 'br-int');
  });

  it('registered passwords are masked wherever they appear, also percent-encoded; the default guest is not a secret', () => {
    registerSecret('p@ss/w0rd:x');
    registerSecret('guest');
    assert.equal(redactSecrets('error: p@ss/w0rd:x refused; url amqp://u:p%40ss%2Fw0rd%3Ax@h'), 'error: **** refused; url amqp://u:****@h');
    assert.equal(redactSecrets('user guest'), 'user guest');
  });
});

describe('TLS failure reasons', () => {
  const s: TlsClientSettings = {
    ca: { path: '/etc/ca.pem', option: '[ovs] ssl_ca_cert_file' }, cert: { path: '/etc/c.pem', option: '[ovs] ssl_cert_file' }, verifyHostname: false,
  };
  const err = (code: string, message = code) => Object.assign(new Error(message), { code });
  it('names the option to look at and the code', () => {
    assert.equal(tlsFailureReason(err('SELF_SIGNED_CERT_IN_CHAIN'), s),
      "TLS: the server's certificate is not signed by a CA in [ovs] ssl_ca_cert_file /etc/ca.pem (SELF_SIGNED_CERT_IN_CHAIN)");
    assert.equal(tlsFailureReason(err('CERT_HAS_EXPIRED'), s), "TLS: the server's certificate has expired (CERT_HAS_EXPIRED)");
    assert.equal(tlsFailureReason(err('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'), s),
      'TLS: the server refused the handshake (alert: unknown ca; client certificate: [ovs] ssl_cert_file /etc/c.pem)');
    assert.match(tlsFailureReason(err('ERR_SSL_WRONG_VERSION_NUMBER'), s), /did not answer with TLS/);
    assert.equal(tlsFailureReason(err('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), s), 'connect ECONNREFUSED 127.0.0.1:1');
    assert.match(tlsFailureReason(err('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), { verifyHostname: false }), /a CA in the system CA store/);
  });
});
