// The native controller against a scripted fake switch (no OVS): handshake, version refusal,
// echo in both directions, multipart continuation, error routing, timeouts, replacement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { NativeBackend } from '../../../src/openflow/native/backend.js';
import { OpenFlowError } from '../../../src/openflow/backend.js';
import { decodeMessage, encodeMessage, MessageSplitter, OFPMPF_REPLY_MORE, type FlowStatsEntry, type OfMessage } from '../../../src/openflow/native/codec/index.js';

class FakeSwitch {
  private readonly splitter = new MessageSplitter({ acceptVersion: () => true });
  private readonly inbox: OfMessage[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      const r = this.splitter.push(c);
      for (const m of r.messages) this.inbox.push(decodeMessage(m));
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }
  static async connect(port: number): Promise<FakeSwitch> {
    const s = connect(port, '127.0.0.1');
    await once(s, 'connect');
    return new FakeSwitch(s);
  }
  send(m: OfMessage): void {
    this.socket.write(encodeMessage(m));
  }
  async next<T extends OfMessage['type']>(type: T, timeoutMs = 3000): Promise<OfMessage & { type: T }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as OfMessage & { type: T };
      if (this.closed) throw new Error(`connection closed while waiting for ${type}`);
      if (Date.now() > deadline) throw new Error(`no ${type} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  async waitClosed(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection not closed');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  /** HELLO (offering 1.0 and 1.3) and FEATURES_REPLY with the given datapath id. */
  async handshake(dpid: bigint): Promise<void> {
    this.send({ type: 'hello', xid: 1, version: 4, versions: [1, 4] });
    await this.next('hello');
    const fr = await this.next('features_request');
    this.send({ type: 'features_reply', xid: fr.xid, datapathId: dpid, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0 });
  }
  close(): void {
    this.socket.destroy();
  }
}

async function withBackend(opts: { requestTimeoutSec?: number; echoIntervalSec?: number }, fn: (b: NativeBackend) => Promise<void>): Promise<void> {
  const b = new NativeBackend({ listenAddress: '127.0.0.1', listenPort: 0, connectTimeoutSec: 2, requestTimeoutSec: opts.requestTimeoutSec ?? 2, ...(opts.echoIntervalSec ? { echoIntervalSec: opts.echoIntervalSec } : {}) });
  await b.start();
  try {
    await fn(b);
  } finally {
    await b.stop();
  }
}

const entry = (table: number): FlowStatsEntry => ({
  table, priority: 1, cookie: 5n, packetCount: 0n, byteCount: 0n, durationSec: 0, durationNsec: 0, idleTimeout: 0, hardTimeout: 0, flags: 0,
  flow: { table, priority: 1, cookie: 5n, match: {}, actions: [] },
});

test('a switch offering only OpenFlow 1.0 is refused with HELLO_FAILED and disconnected', async () => {
  await withBackend({}, async (b) => {
    const sw = await FakeSwitch.connect(b.port);
    try {
      sw.send({ type: 'hello', xid: 1, version: 1 });
      const err = await sw.next('error');
      assert.equal(err.errType, 0);
      assert.equal(err.code, 0);
      await sw.waitClosed();
      assert.deepEqual(b.connectedDatapaths(), []);
    } finally {
      sw.close();
    }
  });
});

test('handshake learns the datapath id; echo requests are answered; multipart replies are reassembled', async () => {
  await withBackend({}, async (b) => {
    const connected = once(b, 'switch-connected');
    const sw = await FakeSwitch.connect(b.port);
    try {
      await sw.handshake(0x42n);
      assert.deepEqual(await connected, [0x42n]);
      assert.ok(b.isConnected(0x42n));

      sw.send({ type: 'echo_request', xid: 99, data: Buffer.from('hi') });
      const er = await sw.next('echo_reply');
      assert.equal(er.xid, 99);
      assert.equal(er.data.toString(), 'hi');

      const dump = b.bridge('br-x', 0x42n).dumpFlows({ table: 7, cookie: 5n, cookieMask: 0xffn });
      const rq = await sw.next('multipart_request');
      assert.equal(rq.request.kind, 'flow');
      if (rq.request.kind === 'flow') {
        assert.equal(rq.request.body.tableId, 7);
        assert.equal(rq.request.body.cookie, 5n);
        assert.equal(rq.request.body.cookieMask, 0xffn);
      }
      sw.send({ type: 'multipart_reply', xid: rq.xid, flags: OFPMPF_REPLY_MORE, reply: { kind: 'flow', entries: [entry(7), entry(7)] } });
      sw.send({ type: 'multipart_reply', xid: rq.xid, flags: 0, reply: { kind: 'flow', entries: [entry(7)] } });
      assert.equal((await dump).length, 3);
    } finally {
      sw.close();
    }
  });
});

test('OFPT_ERROR is routed to the request with its xid; an unanswered request times out', async () => {
  await withBackend({ requestTimeoutSec: 0.5 }, async (b) => {
    const sw = await FakeSwitch.connect(b.port);
    try {
      await sw.handshake(7n);
      await b.waitForSwitch(7n);
      const br = b.bridge('br-err', 7n);
      const pd = br.portDesc();
      const rq = await sw.next('multipart_request');
      sw.send({ type: 'error', xid: rq.xid, version: 4, errType: 1, code: 2, data: Buffer.alloc(0) });
      await assert.rejects(pd, (e: unknown) => e instanceof OpenFlowError && e.bridge === 'br-err' && e.detail.type === 1 && e.detail.code === 2);

      const t0 = Date.now();
      await assert.rejects(br.dumpFlows(), (e: unknown) => e instanceof OpenFlowError && /no reply .* within 500 ms/.test(e.message));
      assert.ok(Date.now() - t0 < 2000);

      // A flow-mod batch: the refused one is named, the barrier still completes the call.
      const applied = br.apply([
        { command: 'add', flow: { table: 0, priority: 1, match: {}, actions: [] } },
        { command: 'add', flow: { table: 9, priority: 1, match: {}, actions: [], gotoTable: 3 } },
      ]);
      const fm1 = await sw.next('flow_mod');
      const fm2 = await sw.next('flow_mod');
      sw.send({ type: 'error', xid: fm2.xid, version: 4, errType: 3, code: 2, data: Buffer.alloc(0) });
      const barrier = await sw.next('barrier_request');
      assert.ok(fm1.xid < fm2.xid && fm2.xid < barrier.xid);
      sw.send({ type: 'barrier_reply', xid: barrier.xid });
      await assert.rejects(applied, (e: unknown) => e instanceof OpenFlowError && e.detail.type === 3 && /table=9/.test(e.detail.flow ?? ''));
    } finally {
      sw.close();
    }
  });
});

test('a switch that stops answering echo requests is dropped and reported disconnected', async () => {
  await withBackend({ echoIntervalSec: 0.2 }, async (b) => {
    const sw = await FakeSwitch.connect(b.port);
    try {
      await sw.handshake(9n);
      await b.waitForSwitch(9n);
      const gone = once(b, 'switch-disconnected');
      await sw.next('echo_request', 2000); // the controller probes an idle switch ...
      assert.deepEqual(await gone, [9n]); // ... and gives up when nothing comes back
      assert.equal(b.isConnected(9n), false);
      await sw.waitClosed();
    } finally {
      sw.close();
    }
  });
});

test('a newer connection of the same datapath replaces the old one', async () => {
  await withBackend({}, async (b) => {
    const a = await FakeSwitch.connect(b.port);
    const c = await FakeSwitch.connect(b.port);
    let disconnects = 0;
    b.on('switch-disconnected', () => disconnects++);
    try {
      await a.handshake(0x10n);
      await b.waitForSwitch(0x10n);
      const again = once(b, 'switch-connected');
      await c.handshake(0x10n);
      await again;
      await a.waitClosed();
      assert.ok(b.isConnected(0x10n));
      assert.equal(disconnects, 0);
      // Requests now go to the new connection.
      const pd = b.bridge('br-r', 0x10n).portDesc();
      const rq = await c.next('multipart_request');
      c.send({ type: 'multipart_reply', xid: rq.xid, flags: 0, reply: { kind: 'port_desc', ports: [{ portNo: 1, name: 'p1', hwAddr: '00:00:00:00:00:01', config: 0, state: 0 }] } });
      assert.deepEqual((await pd).map((p) => p.name), ['p1']);
    } finally {
      a.close();
      c.close();
    }
  });
});

test('garbage on a connection closes it without affecting the controller', async () => {
  await withBackend({}, async (b) => {
    const sw = await FakeSwitch.connect(b.port);
    sw.socket.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await sw.waitClosed();
    const ok = await FakeSwitch.connect(b.port);
    try {
      await ok.handshake(3n);
      await b.waitForSwitch(3n, 2);
    } finally {
      ok.close();
    }
  });
});

test('a retired bridge handle fails a request waiting for its switch at once, naming the bridge and datapath; later requests too', async () => {
  // connect timeout 2 s: the request must fail long before it.
  await withBackend({}, async (b) => {
    const sw = b.bridge('br-gone', 0x2an);
    const t0 = Date.now();
    const waiting = sw.dumpFlows().then(() => 'resolved', (e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    sw.retire('bridge br-gone was deleted');
    const err = await waiting;
    assert.ok(err instanceof OpenFlowError, String(err));
    assert.ok(Date.now() - t0 < 1000, `failed after ${Date.now() - t0} ms`);
    assert.match(err.message, /^br-gone: .*0x000000000000002a.*bridge br-gone was deleted/);
    await assert.rejects(sw.apply([{ command: 'delete', filter: {} }]), /br-gone: .*bridge br-gone was deleted/);
    // Another handle on a connected switch is unaffected.
    const live = await FakeSwitch.connect(b.port);
    try {
      await live.handshake(0x2bn);
      await b.waitForSwitch(0x2bn);
      const pd = b.bridge('br-live', 0x2bn).portDesc();
      const rq = await live.next('multipart_request');
      live.send({ type: 'multipart_reply', xid: rq.xid, flags: 0, reply: { kind: 'port_desc', ports: [] } });
      assert.deepEqual(await pd, []);
    } finally {
      live.close();
    }
  });
});
