// OvsdbClient against a scripted fake server on a unix socket: echo handling, inactivity probe,
// garbage on the wire, request timeouts, error replies. Behaviour a real ovsdb-server rarely shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OvsdbClient, OvsdbTransactionError } from '../../../src/ovsdb/client.js';
import { OvsdbReplica } from '../../../src/ovsdb/replica.js';
import { JsonStreamDecoder, op, type JsonObject } from '../../../src/ovsdb/protocol.js';

type Handler = (msg: JsonObject, reply: (o: JsonObject) => void, sock: Socket, connIndex: number) => void;

async function fakeServer(handler: Handler): Promise<{ path: string; server: Server; connections: () => number; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'ovsdb-fake-'));
  const path = join(dir, 'db.sock');
  let n = 0;
  const socks = new Set<Socket>();
  const server = createServer((sock) => {
    const idx = n++;
    socks.add(sock);
    sock.on('close', () => socks.delete(sock));
    sock.on('error', () => socks.delete(sock));
    const dec = new JsonStreamDecoder();
    sock.on('data', (chunk) => {
      const r = dec.push(chunk);
      for (const m of r.messages) handler(m, (o) => sock.write(JSON.stringify(o)), sock, idx);
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    server,
    connections: () => n,
    close: async () => {
      for (const s of socks) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const EMPTY_SNAPSHOT = { Open_vSwitch: { root: { new: { bridges: ['set', []], datapath_types: ['set', ['netdev']] } } } };

test('client answers the server echo and detects a silent peer with its own probe', async () => {
  const echoReplies: JsonObject[] = [];
  let silent = true;
  const fake = await fakeServer((m, reply, sock, conn) => {
    if (m.method === 'monitor') {
      reply({ id: m.id ?? null, result: EMPTY_SNAPSHOT, error: null });
      sock.write(JSON.stringify({ method: 'echo', params: ['ping', 1], id: 'echo' }));
      return;
    }
    if (m.id === 'echo' && 'result' in m) {
      echoReplies.push(m);
      return;
    }
    // Connection 0 goes silent: our probe gets no answer. Later ones answer.
    if (m.method === 'echo' && (!silent || conn > 0)) reply({ id: m.id ?? null, result: m.params ?? [], error: null });
  });
  const replica = new OvsdbReplica();
  const client = new OvsdbClient({ endpoint: `unix:${fake.path}`, monitor: replica, probeIntervalMs: 150, backoffInitialMs: 50 });
  try {
    await client.connect();
    assert.deepEqual(replica.openVSwitch()?.datapathTypes, ['netdev']);
    const reason = await new Promise<string>((resolve) => client.once('disconnected', resolve));
    assert.match(reason, /inactivity probe timed out/);
    assert.deepEqual(echoReplies[0], { result: ['ping', 1], error: null, id: 'echo' });
    await new Promise<void>((resolve) => client.once('resynced', resolve));
    silent = false;
    assert.ok(fake.connections() >= 2);
    assert.equal(client.isConnected, true);
    // Idle but answering: stays connected across several probe intervals.
    let dropped = false;
    client.once('disconnected', () => { dropped = true; });
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(dropped, false);
  } finally {
    await client.close();
    await fake.close();
  }
});

test('garbage from the server drops the connection and the client reconnects', async () => {
  const fake = await fakeServer((m, reply, sock, conn) => {
    if (m.method === 'monitor') {
      reply({ id: m.id ?? null, result: EMPTY_SNAPSHOT, error: null });
      if (conn === 0) setTimeout(() => sock.write('}{not json at all'), 20);
    }
  });
  const client = new OvsdbClient({ endpoint: `unix:${fake.path}`, monitor: new OvsdbReplica(), probeIntervalMs: 0, backoffInitialMs: 50 });
  try {
    await client.connect();
    const reason = await new Promise<string>((resolve) => client.once('disconnected', resolve));
    assert.match(reason, /unexpected byte 0x7d/);
    await new Promise<void>((resolve) => client.once('connected', resolve));
    assert.equal(fake.connections(), 2);
  } finally {
    await client.close();
    await fake.close();
  }
});

test('requests time out, error replies and failed operations are reported with context', async () => {
  const fake = await fakeServer((m, reply) => {
    if (m.method === 'monitor') return reply({ id: m.id ?? null, result: {}, error: null });
    if (m.method === 'list_dbs') return reply({ id: m.id ?? null, result: null, error: 'not allowed' });
    if (m.method === 'transact') {
      const params = m.params as JsonObject[];
      const first = params[1];
      if (first && first.table === 'Slow') return; // never answered
      if (first && first.table === 'Commit') {
        // One result per operation, then the commit error.
        return reply({ id: m.id ?? null, result: [{ count: 1 }, {}, { error: 'referential integrity violation', details: 'dangling ref' }], error: null });
      }
      return reply({ id: m.id ?? null, result: [{ count: 1 }, { error: 'constraint violation', details: 'duplicate name' }, null], error: null });
    }
  });
  const client = new OvsdbClient({ endpoint: `unix:${fake.path}`, monitor: new OvsdbReplica(), timeoutSec: 0.3, probeIntervalMs: 0 });
  try {
    await client.connect();
    await assert.rejects(client.transact([op.delete('Slow', [])]), /OVSDB transact request #\d+ to unix:.* timed out after 0\.3s/);
    await assert.rejects(client.request('list_dbs', []), /OVSDB list_dbs request to unix:.* failed: not allowed/);
    await assert.rejects(client.transact([op.delete('A', []), op.insert('Port', { name: 'x' })], { comment: 'add x' }), (err: unknown) => {
      assert.ok(err instanceof OvsdbTransactionError);
      assert.equal(err.operationIndex, 1);
      assert.equal(err.error, 'constraint violation');
      assert.equal(err.details, 'duplicate name');
      assert.equal(err.comment, 'add x');
      assert.equal(err.message, 'OVSDB transaction "add x" failed at operation 1 (insert Port): constraint violation: duplicate name');
      return true;
    });
    await assert.rejects(client.transact([op.delete('Commit', [])], { comment: 'c' }), /OVSDB transaction "c" failed at commit: referential integrity violation: dangling ref/);
    // The connection survived all of that.
    assert.equal(client.isConnected, true);
  } finally {
    await client.close();
  }
  // After close, requests fail at once instead of waiting.
  await assert.rejects(client.request('echo', []), /not connected/);
  await fake.close();
});
