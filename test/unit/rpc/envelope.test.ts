import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adminContext, buildCallMessage, buildCastMessage, buildReplyMessage, decodeEnvelope, encodeEnvelope,
  failureFromError, flattenContext, formatContextTimestamp, parseReply, parseRequest, versionIsCompatible,
  MalformedMessage, NoSuchMethod, RemoteError, UniqueIdCache, UnsupportedRpcEnvelopeVersion, UnsupportedVersion,
  type JsonObject,
} from '../../../src/rpc/envelope.js';

// rpc.md §2.5, captured admin context (verbatim, wrapped in braces to make it a JSON object).
const CAPTURED_CONTEXT = `{
"_context_user": null, "_context_user_id": null, "_context_user_name": null,
"_context_project": null, "_context_project_id": null, "_context_project_name": null,
"_context_tenant_id": null, "_context_tenant_name": null,
"_context_domain": null, "_context_user_domain": null, "_context_project_domain": null,
"_context_system_scope": null, "_context_is_admin": true, "_context_is_admin_project": true,
"_context_read_only": false, "_context_show_deleted": false, "_context_auth_token": null,
"_context_request_id": "req-6c10ebae-f58f-48cf-9bb3-5b2abf0ad56f", "_context_global_request_id": null,
"_context_resource_uuid": null, "_context_roles": [], "_context_user_identity": "- - - - -",
"_context_timestamp": "2026-11-24 02:26:59.448882"
}`;

// A NoSuchMethod reply body produced by oslo.messaging 14.0.3's own serialize_msg() and
// serialize_remote_exception() (python3, this machine).
const OSLO_NOSUCHMETHOD_REPLY = String.raw`{"oslo.version": "2.0", "oslo.message": "{\"result\": null, \"failure\": \"{\\\"class\\\": \\\"NoSuchMethod\\\", \\\"module\\\": \\\"oslo_messaging.rpc.dispatcher\\\", \\\"message\\\": \\\"Endpoint does not support RPC method no_such_method\\\", \\\"tb\\\": [\\\"Traceback (most recent call last):\\\\n\\\", \\\"  File \\\\\\\"/tmp/rpcpy/gen.py\\\\\\\", line 5, in <module>\\\\n    raise dispatcher.NoSuchMethod('no_such_method')\\\\n\\\", \\\"oslo_messaging.rpc.dispatcher.NoSuchMethod: Endpoint does not support RPC method no_such_method\\\\n\\\"], \\\"args\\\": [\\\"Endpoint does not support RPC method no_such_method\\\"], \\\"kwargs\\\": {}}\", \"ending\": true, \"_msg_id\": \"deadbeef\", \"_unique_id\": \"9c49\"}"}`;

test('admin context has exactly the captured keys and value types', () => {
  const captured = JSON.parse(CAPTURED_CONTEXT) as JsonObject;
  const ours = flattenContext(adminContext({ now: new Date(Date.UTC(2026, 10, 24, 2, 26, 59, 448)) }));
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(captured).sort());
  for (const k of Object.keys(captured)) {
    if (k === '_context_request_id' || k === '_context_timestamp') continue;
    assert.deepEqual(ours[k], captured[k], k);
  }
  assert.match(ours._context_request_id as string, /^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(ours._context_timestamp, '2026-11-24 02:26:59.448000');
  assert.match(captured._context_timestamp as string, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
});

test('context timestamp always has six fractional digits, like the server parses', () => {
  assert.equal(formatContextTimestamp(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 0))), '2024-01-02 03:04:05.000000');
  assert.equal(formatContextTimestamp(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 7)), 7123), '2024-01-02 03:04:05.007123');
});

test('call message: captured tunnel_sync args, flattened context, call keys, in a 2.0 envelope', () => {
  const ctx = adminContext({ requestId: 'req-6c10ebae-f58f-48cf-9bb3-5b2abf0ad56f' });
  const args = JSON.parse('{"tunnel_ip": "192.0.2.10", "tunnel_type": "vxlan", "host": "compute1"}') as JsonObject;
  const msg = buildCallMessage('tunnel_sync', args, { version: '1.4', context: ctx, replyQueue: 'reply_abc', msgId: 'm1', uniqueId: 'u1' });
  const body = encodeEnvelope(msg);
  const outer = JSON.parse(body) as JsonObject;
  assert.deepEqual(Object.keys(outer), ['oslo.version', 'oslo.message']);
  assert.equal(outer['oslo.version'], '2.0');
  assert.equal(typeof outer['oslo.message'], 'string', 'oslo.message is JSON text, not an object');
  const inner = JSON.parse(outer['oslo.message'] as string) as JsonObject;
  assert.equal(inner.method, 'tunnel_sync');
  assert.equal(inner.version, '1.4');
  assert.deepEqual(inner.args, args);
  assert.equal(inner._msg_id, 'm1');
  assert.equal(inner._reply_q, 'reply_abc');
  assert.equal(inner._timeout, null);
  assert.ok('_timeout' in inner);
  assert.equal(inner._unique_id, 'u1');
  assert.equal(inner._context_request_id, 'req-6c10ebae-f58f-48cf-9bb3-5b2abf0ad56f');
  assert.equal(inner._context_is_admin, true);
  assert.ok(!('namespace' in inner), 'namespace absent when null');
  assert.ok(!('context' in inner));
});

test('generated ids are uuid4 hex', () => {
  const msg = buildCallMessage('m', {}, { version: '1.0', context: {}, replyQueue: 'reply_x' });
  assert.match(msg._msg_id as string, /^[0-9a-f]{32}$/);
  assert.match(msg._unique_id as string, /^[0-9a-f]{32}$/);
  assert.notEqual(msg._msg_id, msg._unique_id);
});

test('cast message: captured fanout tunnel_update shape, no call keys; namespace only when set', () => {
  const msg = buildCastMessage('tunnel_update', { tunnel_ip: '192.0.2.30', tunnel_type: 'vxlan' }, { version: '1.0', context: adminContext() });
  assert.deepEqual(msg.args, { tunnel_ip: '192.0.2.30', tunnel_type: 'vxlan' });
  for (const k of ['_msg_id', '_reply_q', '_timeout', 'namespace']) assert.ok(!(k in msg), k);
  assert.match(msg._unique_id as string, /^[0-9a-f]{32}$/);
  const trunk = buildCastMessage('update_trunk_status', {}, { version: '1.0', namespace: 'trunk', context: {} });
  assert.equal(trunk.namespace, 'trunk');
});

test('decode: 2.0 envelope round trip, 1.0 un-enveloped dict accepted, other versions rejected', () => {
  const msg = { method: 'push', args: { resource_list: [], event_type: 'updated' }, version: '1.1' };
  assert.deepEqual(decodeEnvelope(Buffer.from(encodeEnvelope(msg))), msg);
  assert.deepEqual(decodeEnvelope(JSON.stringify(msg)), msg);
  assert.throws(() => decodeEnvelope('{"oslo.version": "3.0", "oslo.message": "{}"}'), UnsupportedRpcEnvelopeVersion);
  assert.throws(() => decodeEnvelope('{"oslo.version": "2.1", "oslo.message": "{}"}'), UnsupportedRpcEnvelopeVersion);
  assert.throws(() => decodeEnvelope('{"oslo.version": 2, "oslo.message": "{}"}'), UnsupportedRpcEnvelopeVersion);
});

test('decode: garbage is a MalformedMessage with a reason', () => {
  assert.throws(() => decodeEnvelope('not json'), (e: Error) => e instanceof MalformedMessage && /not JSON/.test(e.message));
  assert.throws(() => decodeEnvelope('[1,2]'), (e: Error) => e instanceof MalformedMessage && /array/.test(e.message));
  assert.throws(() => decodeEnvelope('{"oslo.version": "2.0", "oslo.message": {"method": "x"}}'), MalformedMessage);
  assert.throws(() => decodeEnvelope('{"oslo.version": "2.0", "oslo.message": "{bad"}'), MalformedMessage);
  assert.throws(() => decodeEnvelope('{"oslo.version": "2.0", "oslo.message": "42"}'), MalformedMessage);
});

test('parseRequest strips transport keys and rebuilds the context; defaults version 1.0', () => {
  const inner = JSON.parse(`{"method": "report_state", "version": "1.2", "args": {"time": "2026-11-24T02:26:59.478745"},
    "_msg_id": "abc", "_reply_q": "reply_1", "_timeout": null, "_unique_id": "u", ${CAPTURED_CONTEXT.slice(1, -1)}}`) as JsonObject;
  const req = parseRequest(inner);
  assert.equal(req.method, 'report_state');
  assert.equal(req.version, '1.2');
  assert.equal(req.msgId, 'abc');
  assert.equal(req.replyQueue, 'reply_1');
  assert.equal(req.context.request_id, 'req-6c10ebae-f58f-48cf-9bb3-5b2abf0ad56f');
  assert.equal(req.context.timestamp, '2026-11-24 02:26:59.448882');
  assert.equal(Object.keys(req.context).length, 23);
  assert.equal(req.namespace, null);
  assert.equal(parseRequest({ method: 'm' }).version, '1.0');
  assert.deepEqual(parseRequest({ method: 'm' }).args, {});
  assert.throws(() => parseRequest({ args: {} }), MalformedMessage);
  assert.throws(() => parseRequest({ method: 'm', args: [] }), MalformedMessage);
  assert.throws(() => parseRequest({ method: 'm', _msg_id: 'x' }), /without _reply_q/);
});

test('reply built by us has failure as a JSON string and ending true', () => {
  const ok = buildReplyMessage({ msgId: 'deadbeef', result: { tunnels: [] } });
  assert.deepEqual(Object.keys(ok).sort(), ['_msg_id', '_unique_id', 'ending', 'failure', 'result']);
  assert.equal(ok.failure, null);
  assert.equal(ok.ending, true);
  const bad = buildReplyMessage({ msgId: 'deadbeef', failure: failureFromError(new NoSuchMethod('no_such_method')) });
  assert.equal(typeof bad.failure, 'string');
  const f = JSON.parse(bad.failure as string) as JsonObject;
  assert.equal(f.class, 'NoSuchMethod');
  assert.equal(f.module, 'oslo_messaging.rpc.dispatcher');
  assert.equal(f.message, 'Endpoint does not support RPC method no_such_method');
  assert.ok(Array.isArray(f.tb));
  assert.deepEqual(f.kwargs, {});
});

test('reply produced by oslo.messaging decodes to a RemoteError with class, module, message, tb', () => {
  const r = parseReply(decodeEnvelope(OSLO_NOSUCHMETHOD_REPLY));
  assert.equal(r.msgId, 'deadbeef');
  assert.equal(r.ending, true);
  assert.ok(r.failure instanceof RemoteError);
  assert.equal(r.failure.excType, 'NoSuchMethod');
  assert.equal(r.failure.module, 'oslo_messaging.rpc.dispatcher');
  assert.equal(r.failure.value, 'Endpoint does not support RPC method no_such_method');
  assert.equal(r.failure.tb[0], 'Traceback (most recent call last):\n');
  assert.match(r.failure.message, /^Remote error: NoSuchMethod Endpoint does not support RPC method no_such_method\n/);
});

test('a result reply decodes its result', () => {
  const body = '{"oslo.version": "2.0", "oslo.message": "{\\"result\\": {\\"tunnels\\": [{\\"ip_address\\": \\"192.0.2.10\\", \\"udp_port\\": 4789, \\"host\\": \\"compute1\\"}]}, \\"failure\\": null, \\"ending\\": true, \\"_msg_id\\": \\"deadbeef\\", \\"_unique_id\\": \\"9c49\\"}"}';
  const r = parseReply(decodeEnvelope(body));
  assert.deepEqual(r.result, { tunnels: [{ ip_address: '192.0.2.10', udp_port: 4789, host: 'compute1' }] });
  assert.equal(r.failure, null);
  assert.throws(() => parseReply({ result: 1 }), MalformedMessage);
});

test('version compatibility: same major, endpoint minor >= requested', () => {
  assert.equal(versionIsCompatible('1.7', '1.0'), true);
  assert.equal(versionIsCompatible('1.7', '1.7'), true);
  assert.equal(versionIsCompatible('1.7', '1.9'), false);
  assert.equal(versionIsCompatible('1.7', '2.0'), false);
  assert.equal(versionIsCompatible('2.0', '1.0'), false);
  assert.equal(versionIsCompatible('1.1', '1.1.1'), false);
  assert.equal(versionIsCompatible('1.1.2', '1.1.1'), true);
  assert.equal(versionIsCompatible('1.1', 'banana'), false);
  assert.equal(new UnsupportedVersion('1.9', 'tunnel_sync').message, 'Endpoint does not support RPC version 1.9. Attempted method: tunnel_sync');
});

test('duplicate cache remembers the last 16 unique ids', () => {
  const c = new UniqueIdCache();
  assert.equal(c.seen('a'), false);
  assert.equal(c.seen('a'), true);
  for (let i = 0; i < 16; i++) c.seen(`x${i}`);
  assert.equal(c.seen('a'), false, 'evicted after 16 newer ids');
  assert.equal(c.seen(null), false);
  assert.equal(c.seen(null), false);
});
