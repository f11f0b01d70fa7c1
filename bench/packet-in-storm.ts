// Does a packet-in storm starve the agent's own OpenFlow work? Our native controller, with one
// listener on a switch's packet-ins (it parses each packet's Ethernet header, about what the log
// extension's line needs before formatting), applies batches of `--mods` (100) flow mods and waits
// for their barrier, `--runs` (20) times: quiet, then while the switch sends packet-ins as fast as
// its socket takes them. The switch is a scripted OpenFlow 1.3 switch in a worker thread (a real
// ovs-vswitchd sends packet-ins only as fast as its controller rate limit, at least 100/s, lets it:
// this is far more). Reported: flow-mod batch latency quiet and under the storm, packet-ins
// received, delivered and dropped per second by the bounded queue. No reference column: the
// reference's os-ken app has no such bound (its eventlet queue grows).
//   node dist/bench/packet-in-storm.js [--runs N] [--mods N] [--queue N]
import { connect } from 'node:net';
import { once } from 'node:events';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { NativeBackend } from '../src/openflow/native/backend.js';
import { decodeMessage, encodeMessage, MessageSplitter, type OfMessage } from '../src/openflow/native/codec/index.js';
import { output, type FlowMod } from '../src/openflow/flow.js';
import { argInt, report, type Series } from './lib.js';

const DPID = 0xb0b0n;
const FRAME = Buffer.from('fa163e000002fa163e00000108004500003c1c4640004006a0a6c0000201c000020299b20016d1f3e2a900000000a002faf0fe300000020405b40402080a000000000000000001030307', 'hex');

/** The worker: handshake, answer barriers, and (once told) flood packet-ins, minding backpressure. */
async function fakeSwitch(port: number): Promise<void> {
  const s = connect(port, '127.0.0.1');
  await once(s, 'connect');
  const split = new MessageSplitter();
  const send = (m: OfMessage): boolean => s.write(encodeMessage(m));
  let storm = false;
  s.on('data', (c: Buffer) => {
    for (const raw of split.push(c).messages) {
      const m = decodeMessage(raw);
      if (m.type === 'features_request') send({ type: 'features_reply', xid: m.xid, datapathId: DPID, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0 });
      else if (m.type === 'barrier_request') send({ type: 'barrier_reply', xid: m.xid });
      else if (m.type === 'echo_request') send({ type: 'echo_reply', xid: m.xid, data: m.data });
    }
  });
  send({ type: 'hello', xid: 1, version: 4, versions: [4] });
  const pi = encodeMessage({
    type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: FRAME.length, reason: 1, tableId: 93, cookie: 0x1234n,
    match: { inPort: 5, regs: { 5: { value: 5 } } }, unknownFields: [], data: FRAME,
  });
  const batch = Buffer.concat(Array.from({ length: 256 }, () => pi));
  let sent = 0;
  const pump = (): void => {
    while (storm) {
      sent += 256;
      if (!s.write(batch)) return void s.once('drain', pump);
    }
  };
  parentPort!.on('message', (cmd: string) => {
    if (cmd === 'storm') {
      storm = true;
      pump();
    } else if (cmd === 'quiet') {
      storm = false;
      parentPort!.postMessage(sent);
    } else {
      s.destroy();
      parentPort!.close();
    }
  });
  parentPort!.postMessage('ready');
}

const mods = (n: number, round: number): FlowMod[] =>
  Array.from({ length: n }, (_, i) => ({ command: 'add', flow: { table: 20, priority: 2, cookie: BigInt(round), match: { inPort: i + 1 }, actions: [output(1)] } }));

async function batches(sw: ReturnType<NativeBackend['bridge']>, runs: number, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await sw.apply(mods(n, i));
    out.push(performance.now() - t0);
  }
  return out;
}

async function main(): Promise<void> {
  const runs = argInt('runs', 20);
  const n = argInt('mods', 100);
  const capacity = argInt('queue', 1024);
  const native = new NativeBackend({ listenAddress: '127.0.0.1', listenPort: 0, connectTimeoutSec: 10, requestTimeoutSec: 30, packetInQueue: { capacity } });
  await native.start();
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { port: native.port } });
  try {
    const [ready] = (await once(worker, 'message')) as [string];
    if (ready !== 'ready') throw new Error(`fake switch: ${ready}`);
    await native.waitForSwitch(DPID);
    const sw = native.bridge('br-storm', DPID);
    let seen = 0;
    sw.onPacketIn((p) => {
      if (p.data.readUInt16BE(12) === 0x0800) seen++;
    });
    const quiet = await batches(sw, runs, n);
    worker.postMessage('storm');
    await new Promise((r) => setTimeout(r, 500)); // let the storm fill the queue first
    const before = sw.packetInCounters();
    const t0 = performance.now();
    const stormy = await batches(sw, runs, n);
    const secs = (performance.now() - t0) / 1000;
    const after = sw.packetInCounters();
    worker.postMessage('quiet');
    await once(worker, 'message');
    const rate = (k: 'received' | 'delivered' | 'dropped'): number => (after[k] - before[k]) / secs;
    const series: Series[] = [
      { label: `apply ${n} flow mods + barrier, quiet`, unit: 'ms', ours: quiet, reference: [], referenceNote: 'not measured' },
      { label: `apply ${n} flow mods + barrier, packet-in storm`, unit: 'ms', ours: stormy, reference: [], referenceNote: 'not measured' },
      { label: 'packet-ins received during the storm', unit: '1/s', ours: [rate('received')], reference: [] },
      { label: 'packet-ins delivered to the listener', unit: '1/s', ours: [rate('delivered')], reference: [] },
      { label: `packet-ins dropped (queue of ${capacity})`, unit: '1/s', ours: [rate('dropped')], reference: [] },
    ];
    report('packet-in-storm', 'Flow mods under a packet-in storm (native controller, scripted switch)', series, { delivered: seen });
  } finally {
    worker.postMessage('stop');
    await worker.terminate();
    await native.stop();
  }
}

if (isMainThread) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
} else {
  void fakeSwitch((workerData as { port: number }).port);
}
