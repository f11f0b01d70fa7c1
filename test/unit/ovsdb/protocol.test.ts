import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  JsonStreamDecoder,
  NamedUuid,
  Uuid,
  cond,
  decodeDatum,
  encodeDatum,
  encodeMonitorRequests,
  encodeNotification,
  encodeRequest,
  encodeResponse,
  integerSet,
  mutation,
  op,
  optionalInteger,
  optionalString,
  parseOperationResult,
  parseRpcMessage,
  parseTableUpdates,
  stringMap,
  stringSet,
  uuidSet,
  type JsonObject,
} from '../../../src/ovsdb/protocol.js';

const enc = new TextEncoder();

function feedAll(d: JsonStreamDecoder, chunks: Uint8Array[]): { messages: JsonObject[]; error?: Error } {
  const messages: JsonObject[] = [];
  for (const c of chunks) {
    const r = d.push(c);
    messages.push(...r.messages);
    if (r.error) return { messages, error: r.error };
  }
  return { messages };
}

const STREAM_MESSAGES: JsonObject[] = [
  { method: 'echo', params: [], id: 'echo' },
  { id: 1, result: [{ uuid: ['uuid', '2b1c2fd9-8f1b-4c8e-9a55-0123456789ab'] }], error: null },
  // Braces, brackets, quotes and backslashes inside strings must not confuse the splitter.
  { method: 'update', params: [null, { Interface: { a: { new: { name: 'a}]{["\\"\\\\', options: ['map', [['k', '}}}']]] } } } }], id: null },
  // Multi-byte UTF-8 (2, 3 and 4 bytes).
  { id: 'x', result: 'é€𝄞 ünïcödé', error: null },
  { id: 2, result: { nested: [[[{ deep: [1, 2, { z: '\\u0041' }] }]]] }, error: null },
];

test('splitter: concatenated messages without delimiters, whole buffer', () => {
  const text = STREAM_MESSAGES.map((m) => JSON.stringify(m)).join('');
  const d = new JsonStreamDecoder();
  const r = d.push(enc.encode(text));
  assert.equal(r.error, undefined);
  assert.deepEqual(r.messages, STREAM_MESSAGES);
  assert.equal(d.pending, false);
});

test('splitter: whitespace and newlines between messages are accepted', () => {
  const text = '\n ' + STREAM_MESSAGES.map((m) => JSON.stringify(m, null, 2)).join('\r\n\t');
  const r = new JsonStreamDecoder().push(enc.encode(text));
  assert.equal(r.error, undefined);
  assert.deepEqual(r.messages, STREAM_MESSAGES);
});

test('splitter: stream split at every byte position gives the same messages', () => {
  const bytes = enc.encode(STREAM_MESSAGES.map((m) => JSON.stringify(m)).join(''));
  for (let cut = 0; cut <= bytes.length; cut++) {
    const d = new JsonStreamDecoder();
    const r = feedAll(d, [bytes.subarray(0, cut), bytes.subarray(cut)]);
    assert.equal(r.error, undefined, `cut at ${cut}`);
    assert.deepEqual(r.messages, STREAM_MESSAGES, `cut at ${cut}`);
  }
});

test('splitter: one byte per chunk, including inside multi-byte UTF-8 characters', () => {
  const bytes = enc.encode(STREAM_MESSAGES.map((m) => JSON.stringify(m)).join(''));
  const d = new JsonStreamDecoder();
  const chunks = [...bytes].map((b) => Uint8Array.of(b));
  const r = feedAll(d, chunks);
  assert.equal(r.error, undefined);
  assert.deepEqual(r.messages, STREAM_MESSAGES);
});

test('splitter: a 4-byte UTF-8 character split in every way decodes intact', () => {
  const bytes = enc.encode(JSON.stringify({ id: 1, result: '𝄞', error: null }));
  const start = bytes.indexOf(0xf0);
  assert.ok(start > 0);
  for (let k = 1; k < 4; k++) {
    const r = feedAll(new JsonStreamDecoder(), [bytes.subarray(0, start + k), bytes.subarray(start + k)]);
    assert.deepEqual(r.messages, [{ id: 1, result: '𝄞', error: null }]);
  }
});

test('splitter: buffers passed in are copied (caller may reuse them)', () => {
  const d = new JsonStreamDecoder();
  const buf = new Uint8Array(64);
  const first = enc.encode('{"id":1,"res');
  buf.set(first);
  assert.deepEqual(d.push(buf.subarray(0, first.length)).messages, []);
  buf.fill(0x20);
  const second = enc.encode('ult":"ok","error":null}');
  buf.set(second);
  assert.deepEqual(d.push(buf.subarray(0, second.length)).messages, [{ id: 1, result: 'ok', error: null }]);
});

test('splitter: garbage between messages is an error, messages before it are kept', () => {
  const d = new JsonStreamDecoder();
  const r = d.push(enc.encode('{"id":1,"result":null,"error":null}HTTP/1.1 200 OK\r\n'));
  assert.deepEqual(r.messages, [{ id: 1, result: null, error: null }]);
  assert.ok(r.error);
  assert.match(r.error.message, /unexpected byte 0x48/);
  assert.match(r.error.message, /at byte 35/);
  // The decoder stays failed: the stream cannot be resynchronised.
  assert.ok(d.push(enc.encode('{"id":2,"result":null,"error":null}')).error);
  d.reset();
  assert.deepEqual(d.push(enc.encode('{"id":2,"result":null,"error":null}')).messages, [{ id: 2, result: null, error: null }]);
});

test('splitter: top-level non-objects are rejected', () => {
  for (const bad of ['[1,2]', '"text"', '42', 'null', 'true']) {
    const r = new JsonStreamDecoder().push(enc.encode(bad));
    assert.ok(r.error, bad);
    assert.deepEqual(r.messages, []);
  }
});

test('splitter: balanced but invalid JSON is an error, not an exception', () => {
  for (const bad of ['{abc}', '{"a":1,}', '{"a" 1}', '{"a":tru}']) {
    const r = new JsonStreamDecoder().push(enc.encode(bad));
    assert.ok(r.error, bad);
    assert.match(r.error.message, /not valid JSON/);
  }
});

test('splitter: mismatched brackets fail at once instead of waiting for more data', () => {
  for (const bad of ['{"a":[1}', '{"a":{]', '{]']) {
    const r = new JsonStreamDecoder().push(enc.encode(bad));
    assert.match(r.error?.message ?? '', /mismatched/, bad);
  }
});

test('splitter: nesting is bounded', () => {
  const d = new JsonStreamDecoder({ maxDepth: 50 });
  assert.deepEqual(d.push(enc.encode('{"a":' + '['.repeat(48) + ']'.repeat(48) + '}')).messages.length, 1);
  assert.match(d.push(enc.encode('{"a":' + '['.repeat(50))).error?.message ?? '', /nesting deeper than 50/);
  // The default limit copes with real OVSDB nesting and grows its stack as needed.
  const deep = '{"a":' + '['.repeat(900) + ']'.repeat(900) + '}';
  assert.equal(new JsonStreamDecoder().push(enc.encode(deep)).messages.length, 1);
});

test('splitter: invalid UTF-8 and raw control characters in strings are errors', () => {
  const invalid = Uint8Array.from([...enc.encode('{"a":"'), 0xff, 0xfe, ...enc.encode('"}')]);
  assert.match(new JsonStreamDecoder().push(invalid).error?.message ?? '', /UTF-8/);
  assert.match(new JsonStreamDecoder().push(enc.encode('{"a":"x\ny"}')).error?.message ?? '', /control character/);
});

test('splitter: a message over the size limit is rejected without waiting for its end', () => {
  const d = new JsonStreamDecoder({ maxMessageBytes: 100 });
  let r = d.push(enc.encode('{"a":"' + 'x'.repeat(60)));
  assert.equal(r.error, undefined);
  r = d.push(enc.encode('y'.repeat(60)));
  assert.ok(r.error);
  assert.match(r.error.message, /larger than 100 bytes/);
  // Exactly at the limit is fine.
  const ok = '{"a":"' + 'x'.repeat(100 - 8) + '"}';
  assert.equal(ok.length, 100);
  assert.deepEqual(new JsonStreamDecoder({ maxMessageBytes: 100 }).push(enc.encode(ok)).messages.length, 1);
});

test('rpc: messages are classified; malformed ones give an Error value', () => {
  assert.deepEqual(parseRpcMessage({ method: 'echo', params: [], id: 'echo' }), { kind: 'request', method: 'echo', params: [], id: 'echo' });
  assert.deepEqual(parseRpcMessage({ method: 'update', params: [1, {}], id: null }), { kind: 'notification', method: 'update', params: [1, {}] });
  assert.deepEqual(parseRpcMessage({ result: [], error: null, id: 3 }), { kind: 'response', id: 3, result: [], error: null });
  assert.deepEqual(parseRpcMessage({ result: null, error: 'unknown method', id: 4 }), { kind: 'response', id: 4, result: null, error: 'unknown method' });
  assert.ok(parseRpcMessage({ method: 'x', params: {} }) instanceof Error);
  assert.ok(parseRpcMessage({ result: 1 }) instanceof Error);
  assert.ok(parseRpcMessage({ hello: 1 }) instanceof Error);
});

test('rpc: encoders produce JSON-RPC 1.0 as OVSDB expects', () => {
  assert.deepEqual(JSON.parse(encodeRequest('transact', ['Open_vSwitch'], 7)), { method: 'transact', params: ['Open_vSwitch'], id: 7 });
  assert.deepEqual(JSON.parse(encodeNotification('cancel', [7])), { method: 'cancel', params: [7], id: null });
  assert.deepEqual(JSON.parse(encodeResponse('echo', ['x'])), { result: ['x'], error: null, id: 'echo' });
});

test('datum: wire forms decode to JS values and back', () => {
  assert.equal(decodeDatum('br-int'), 'br-int');
  assert.equal(decodeDatum(5), 5);
  assert.equal(decodeDatum(true), true);
  const u = decodeDatum(['uuid', '00000000-0000-0000-0000-000000000001']);
  assert.ok(u instanceof Uuid);
  assert.equal(u.value, '00000000-0000-0000-0000-000000000001');
  const n = decodeDatum(['named-uuid', 'row1']);
  assert.ok(n instanceof NamedUuid && n.name === 'row1');
  assert.deepEqual(decodeDatum(['set', []]), []);
  assert.deepEqual(decodeDatum(['set', ['OpenFlow10', 'OpenFlow13']]), ['OpenFlow10', 'OpenFlow13']);
  assert.deepEqual(decodeDatum(['map', [['a', '1'], ['b', '2']]]), new Map([['a', '1'], ['b', '2']]));

  assert.deepEqual(encodeDatum([]), ['set', []]);
  assert.deepEqual(encodeDatum(['a', 'b']), ['set', ['a', 'b']]);
  assert.deepEqual(encodeDatum([new Uuid('u1'), new NamedUuid('n1')]), ['set', [['uuid', 'u1'], ['named-uuid', 'n1']]]);
  assert.deepEqual(encodeDatum({ 'mac-table-size': '50000' }), ['map', [['mac-table-size', '50000']]]);
  assert.deepEqual(encodeDatum(new Map([['peer', 'patch-int']])), ['map', [['peer', 'patch-int']]]);
  assert.deepEqual(encodeDatum(new Uuid('u')), ['uuid', 'u']);
  assert.equal(encodeDatum(4095), 4095);
});

test('datum: typed readers accept the single-element shortcut and reject wrong shapes', () => {
  assert.deepEqual(stringSet('OpenFlow13'), ['OpenFlow13']);
  assert.deepEqual(stringSet(['set', ['OpenFlow10', 'OpenFlow13']]), ['OpenFlow10', 'OpenFlow13']);
  assert.deepEqual(uuidSet(['uuid', 'x']), ['x']);
  assert.deepEqual(uuidSet(['set', [['uuid', 'x'], ['uuid', 'y']]]), ['x', 'y']);
  assert.deepEqual(integerSet(['set', [1, 2, 3]]), [1, 2, 3]);
  assert.equal(optionalInteger(['set', []]), undefined);
  assert.equal(optionalInteger(7), 7);
  assert.equal(optionalInteger(-1), -1);
  assert.equal(optionalString(['set', []]), undefined);
  assert.equal(optionalString('0000aabbccddeeff'), '0000aabbccddeeff');
  assert.deepEqual(stringMap(['map', []]), new Map());
  assert.throws(() => stringMap(['set', []]), /expected a map/);
  assert.throws(() => stringSet(['map', [['a', 'b']]]), /expected a set/);
  assert.throws(() => uuidSet(['set', ['not-a-uuid-atom']]), /set of uuids/);
  assert.throws(() => decodeDatum({ a: 1 }), /not an OVSDB atom/);
  assert.throws(() => decodeDatum(['map', [['a']]]), /bad map pair/);
});

test('conditions, mutations and operations have the RFC 7047 shapes', () => {
  assert.deepEqual(cond.eq('name', 'br-int'), ['name', '==', 'br-int']);
  assert.deepEqual(cond.uuid('u1'), ['_uuid', '==', ['uuid', 'u1']]);
  assert.deepEqual(cond.includes('protocols', ['OpenFlow13']), ['protocols', 'includes', ['set', ['OpenFlow13']]]);
  assert.deepEqual(mutation.insert('protocols', ['OpenFlow10']), ['protocols', 'insert', ['set', ['OpenFlow10']]]);
  assert.deepEqual(mutation.delete('ports', [new Uuid('p')]), ['ports', 'delete', ['set', [['uuid', 'p']]]]);
  // A merge overwrites the given keys and leaves the others: delete those keys, then insert.
  assert.deepEqual(mutation.mergeMap('other_config', { a: '1', b: '2' }), [
    ['other_config', 'delete', ['set', ['a', 'b']]],
    ['other_config', 'insert', ['map', [['a', '1'], ['b', '2']]]],
  ]);
  assert.deepEqual(mutation.mergeMap('other_config', {}), []);
  assert.deepEqual(op.insert('Port', { name: 'p', interfaces: [new NamedUuid('i')] }, 'port'), {
    op: 'insert', table: 'Port', row: { name: 'p', interfaces: ['set', [['named-uuid', 'i']]] }, 'uuid-name': 'port',
  });
  assert.deepEqual(op.update('Port', [cond.eq('name', 'p')], { tag: [] }), { op: 'update', table: 'Port', where: [['name', '==', 'p']], row: { tag: ['set', []] } });
  assert.deepEqual(op.wait('Bridge', [cond.eq('name', 'b')], ['name'], '==', []), {
    op: 'wait', table: 'Bridge', where: [['name', '==', 'b']], columns: ['name'], until: '==', rows: [], timeout: 0,
  });
  assert.deepEqual(op.comment('hi'), { op: 'comment', comment: 'hi' });
});

test('results and monitor updates parse with order preserved', () => {
  assert.deepEqual(parseOperationResult({ uuid: ['uuid', 'abc'] }), { uuid: 'abc' });
  assert.deepEqual(parseOperationResult({ count: 2 }), { count: 2 });
  assert.deepEqual(parseOperationResult({ error: 'constraint violation', details: 'dup name' }), { error: 'constraint violation', details: 'dup name' });
  assert.equal(parseOperationResult(null), null);
  const req = encodeMonitorRequests({ Interface: ['name', 'ofport'] });
  assert.deepEqual(req, { Interface: { columns: ['name', 'ofport'], select: { initial: true, insert: true, delete: true, modify: true } } });
  const tu = parseTableUpdates({ Port: { p2: { new: { name: 'b' } }, p1: { old: { name: 'a' } } }, Bridge: { b1: { old: { ports: ['set', []] }, new: { name: 'x' } } } });
  assert.deepEqual(tu.map((t) => t.table), ['Port', 'Bridge']);
  assert.deepEqual(tu[0].rows.map((r) => r.uuid), ['p2', 'p1']);
  assert.deepEqual(tu[0].rows[1].update, { old: { name: 'a' } });
  assert.throws(() => parseTableUpdates([]), /bad table-updates/);
  assert.throws(() => parseTableUpdates({ Port: { p: { new: 5 } } }), /bad new row/);
});
