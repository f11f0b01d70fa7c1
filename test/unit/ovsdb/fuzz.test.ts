// Random and mutated input must never throw out of the decoder, never hang, and never produce
// anything but JSON objects. Seeded, so a failure is reproducible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonStreamDecoder, parseRpcMessage, parseTableUpdates, type JsonObject } from '../../../src/ovsdb/protocol.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SAMPLE: JsonObject[] = [
  { id: 1, result: [{ count: 1 }, { uuid: ['uuid', '5b9d7c12-1d3f-4a43-9c5e-2f3f6f0ab001'] }], error: null },
  { method: 'update', params: ['ovs-agent-replica', { Interface: { '5b9d7c12-1d3f-4a43-9c5e-2f3f6f0ab002': { new: { name: 'tap{"}\\', ofport: ['set', []], external_ids: ['map', [['attached-mac', 'fa:16:3e:00:00:01'], ['iface-id', 'é€𝄞']]] } } } }], id: null },
  { method: 'echo', params: [], id: 'echo' },
];
const enc = new TextEncoder();
const VALID = enc.encode(SAMPLE.map((m) => JSON.stringify(m)).join(''));

function randomSplit(bytes: Uint8Array, rnd: () => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < bytes.length) {
    const n = 1 + Math.floor(rnd() * 40);
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

function drive(chunks: Uint8Array[], maxMessageBytes?: number): { messages: JsonObject[]; error?: Error } {
  const d = new JsonStreamDecoder(maxMessageBytes ? { maxMessageBytes } : {});
  const messages: JsonObject[] = [];
  for (const c of chunks) {
    const r = d.push(c); // must not throw
    messages.push(...r.messages);
    if (r.error) return { messages, error: r.error };
  }
  return { messages };
}

test('fuzz: valid stream under random chunking always decodes identically', () => {
  const rnd = prng(1);
  for (let i = 0; i < 500; i++) {
    const r = drive(randomSplit(VALID, rnd));
    assert.equal(r.error, undefined);
    assert.deepEqual(r.messages, SAMPLE);
  }
});

test('fuzz: mutated streams never throw, never emit non-objects, finish quickly', () => {
  const rnd = prng(2);
  const started = Date.now();
  let errors = 0;
  for (let i = 0; i < 3000; i++) {
    const bytes = Uint8Array.from(VALID);
    const mutations = 1 + Math.floor(rnd() * 5);
    for (let m = 0; m < mutations; m++) {
      const pos = Math.floor(rnd() * bytes.length);
      const kind = rnd();
      if (kind < 0.4) bytes[pos] = Math.floor(rnd() * 256);
      else if (kind < 0.7) bytes[pos] = '{}[]"\\,:'.charCodeAt(Math.floor(rnd() * 9));
      else bytes[pos] = bytes[Math.floor(rnd() * bytes.length)];
    }
    const cut = Math.floor(rnd() * bytes.length);
    const r = drive(randomSplit(bytes.subarray(0, cut), rnd).concat(randomSplit(bytes.subarray(cut), rnd)), 4096);
    if (r.error) errors++;
    for (const msg of r.messages) {
      assert.equal(typeof msg, 'object');
      assert.ok(msg !== null && !Array.isArray(msg));
      // Downstream classification must not throw either.
      const c = parseRpcMessage(msg);
      if (!(c instanceof Error) && c.kind === 'notification' && c.method === 'update') {
        try {
          parseTableUpdates(c.params[1] ?? null);
        } catch (err) {
          assert.ok(err instanceof Error);
        }
      }
    }
  }
  assert.ok(errors > 100, `most mutations should be detected, got ${errors}`);
  assert.ok(Date.now() - started < 10000, 'fuzzing took too long');
});

test('fuzz: random bytes are rejected or buffered, memory bounded by the size limit', () => {
  const rnd = prng(3);
  for (let i = 0; i < 2000; i++) {
    const len = Math.floor(rnd() * 300);
    const bytes = new Uint8Array(len);
    for (let k = 0; k < len; k++) bytes[k] = Math.floor(rnd() * 256);
    if (rnd() < 0.5 && len > 0) bytes[0] = 0x7b; // start like a message sometimes
    const r = drive(randomSplit(bytes, rnd), 128);
    for (const msg of r.messages) assert.ok(typeof msg === 'object' && msg !== null && !Array.isArray(msg));
  }
  // An endless unterminated message hits the limit instead of growing forever.
  const d = new JsonStreamDecoder({ maxMessageBytes: 10000 });
  d.push(enc.encode('{"a":['));
  let err: Error | undefined;
  for (let i = 0; i < 1000 && !err; i++) err = d.push(enc.encode('[1,2,3],'.repeat(10))).error;
  assert.match(err?.message ?? '', /larger than 10000 bytes/);
});
