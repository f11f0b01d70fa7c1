import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidTransportUrl, parseTransportUrl, redactTransportUrl } from '../../../src/config/transport-url.js';

const guest = { host: 'localhost', port: 5672, username: 'guest', password: 'guest' };

describe('transport_url parsing (oslo.messaging TransportURL + rabbit driver defaults)', () => {
  it('the default rabbit:// means guest:guest@localhost:5672, virtual host /', () => {
    assert.deepEqual(parseTransportUrl('rabbit://'), { transport: 'rabbit', hosts: [guest], virtualHost: '/', query: {} });
  });

  it('single host with credentials and an empty path', () => {
    const u = parseTransportUrl('rabbit://openstack:secret@192.0.2.1:5672/');
    assert.deepEqual(u.hosts, [{ host: '192.0.2.1', port: 5672, username: 'openstack', password: 'secret' }]);
    assert.equal(u.virtualHost, '/');
  });

  it('several comma-separated hosts, vhost and query (repeated keys joined)', () => {
    const u = parseTransportUrl('rabbit://u1:p1@h1:5673,u2:p2@h2/nova?ssl=1&x=a&x=b&empty=');
    assert.deepEqual(u.hosts, [
      { host: 'h1', port: 5673, username: 'u1', password: 'p1' },
      { host: 'h2', port: 5672, username: 'u2', password: 'p2' },
    ]);
    assert.equal(u.virtualHost, 'nova');
    assert.deepEqual(u.query, { ssl: '1', x: 'a,b' });
  });

  it('hosts without credentials get guest/guest; empty user/password too', () => {
    assert.deepEqual(parseTransportUrl('rabbit://h1,h2:1234').hosts, [
      { ...guest, host: 'h1' }, { ...guest, host: 'h2', port: 1234 },
    ]);
    assert.deepEqual(parseTransportUrl('rabbit://bob@h').hosts, [{ ...guest, host: 'h', username: 'bob' }]);
    assert.deepEqual(parseTransportUrl('rabbit://:@h:').hosts, [{ ...guest, host: 'h' }]);
  });

  it('percent-decodes credentials and virtual host; "//" and "/%2F" are the "/" vhost', () => {
    const u = parseTransportUrl('rabbit://us%65r:p%40ss%3Aw@h/%2F');
    assert.equal(u.hosts[0]!.username, 'user');
    assert.equal(u.hosts[0]!.password, 'p@ss:w');
    assert.equal(u.virtualHost, '/');
    assert.equal(parseTransportUrl('rabbit://h//').virtualHost, '/');
    assert.equal(parseTransportUrl('rabbit://h/a%20b').virtualHost, 'a b');
  });

  it('an unencoded "@" in the password: the last "@" separates the host', () => {
    assert.deepEqual(parseTransportUrl('rabbit://u:p@ss@h').hosts, [{ host: 'h', port: 5672, username: 'u', password: 'p@ss' }]);
  });

  it('IPv6 hosts in brackets', () => {
    assert.deepEqual(parseTransportUrl('rabbit://u:p@[2001:db8::1]:5673,[::1]/').hosts, [
      { host: '2001:db8::1', port: 5673, username: 'u', password: 'p' },
      { ...guest, host: '::1' },
    ]);
  });

  it('rejects a missing scheme, a bad port and an unclosed IPv6 bracket', () => {
    assert.throws(() => parseTransportUrl('192.0.2.1:5672'), (e: unknown) => e instanceof InvalidTransportUrl && e.reason === 'No scheme specified');
    assert.throws(() => parseTransportUrl('//h:5672/'), (e: unknown) => e instanceof InvalidTransportUrl && e.reason === 'No scheme specified');
    assert.equal(parseTransportUrl('RABBIT://h').transport, 'rabbit', 'scheme is lower-cased');
    assert.throws(() => parseTransportUrl('rabbit://u:secret@h:abc/'), (e: unknown) =>
      e instanceof InvalidTransportUrl && /invalid port 'abc'/.test(e.message) && !e.message.includes('secret'));
    assert.throws(() => parseTransportUrl('rabbit://h:70000/'), InvalidTransportUrl);
    assert.throws(() => parseTransportUrl('rabbit://[::1/'), InvalidTransportUrl);
  });
});

describe('redactTransportUrl', () => {
  it('hides every password and keeps the rest', () => {
    assert.equal(redactTransportUrl('rabbit://openstack:s3cret@192.0.2.1:5672,u2:pw2@h2/vh?ssl=1'),
      'rabbit://openstack:****@192.0.2.1:5672,u2:****@h2/vh?ssl=1');
  });
  it('leaves URLs without passwords alone', () => {
    assert.equal(redactTransportUrl('rabbit://'), 'rabbit://');
    assert.equal(redactTransportUrl('rabbit://bob@h/'), 'rabbit://bob@h/');
  });
  it('hides a password containing "@" entirely', () => {
    assert.equal(redactTransportUrl('rabbit://u:p@ss@h/'), 'rabbit://u:****@h/');
  });
});
