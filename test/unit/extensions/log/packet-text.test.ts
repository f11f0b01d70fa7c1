// Logged packets print as the reference prints them: os-ken's str(Packet(frame)), captured by
// scripts/capture-log-packet-text.py into test/fixtures/reference/log/packet-text.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { packetText, pyBytesRepr } from '../../../../src/extensions/log/packet-text.js';

const FIXTURE = fileURLToPath(new URL('../../../../../test/fixtures/reference/log/packet-text.json', import.meta.url));
const frames = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, { frame: string; text: string }>;

test('every captured frame prints as os-ken prints it', () => {
  assert.ok(Object.keys(frames).length >= 20);
  for (const [name, { frame, text }] of Object.entries(frames)) {
    assert.equal(packetText(Buffer.from(frame, 'hex')), text, name);
  }
});

test('bytes print as Python literals: quotes, escapes, non-printables', () => {
  assert.equal(pyBytesRepr(Buffer.from("a'b")), `b"a'b"`);
  assert.equal(pyBytesRepr(Buffer.from(`a'"b`)), `b'a\\'"b'`);
  assert.equal(pyBytesRepr(Buffer.from([0, 9, 10, 13, 0x5c, 0x7f, 0xff])), "b'\\x00\\t\\n\\r\\\\\\x7f\\xff'");
});

test('garbage never throws: what cannot be parsed prints as bytes', () => {
  for (let n = 0; n < 200; n++) {
    const b = Buffer.alloc(n % 90);
    for (let i = 0; i < b.length; i++) b[i] = (i * 131 + n * 7) & 0xff;
    if (b.length > 13) b.writeUInt16BE([0x0800, 0x86dd, 0x0806, 0x8100][n % 4]!, 12);
    assert.equal(typeof packetText(b), 'string');
  }
});
