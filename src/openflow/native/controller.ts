// The agent as an OpenFlow 1.3 controller: a TCP server the bridges connect to (their Controller
// target is tcp:<listenAddress>:<listenPort>). Per connection: HELLO/version negotiation, FEATURES
// to learn the datapath id, echo keep-alive in both directions, xid allocation and request/reply
// correlation (timeouts, multipart reassembly, OFPT_ERROR routed by xid).
// Sockets and timers live here; all byte work is in ./codec.
import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { getLogger } from '../../util/log.js';
import { PacketInQueue, type PacketInQueueOptions } from './packet-in-queue.js';
import {
  decodeMessage,
  encodeInto,
  encodeMessage,
  errorName,
  MessageSplitter,
  OFP_VERSION,
  OFPET,
  OFPHFC_INCOMPATIBLE,
  OFPMPF_REPLY_MORE,
  OFPT,
  Writer,
  type FlowModBody,
  type MultipartReply,
  type MultipartRequest,
  type OfMessage,
} from './codec/index.js';

const log = getLogger('openflow.native.controller');

export const dpidHex = (dpid: bigint): string => `0x${dpid.toString(16).padStart(16, '0')}`;

/** The switch answered a request with OFPT_ERROR, or the request could not complete. */
export class OfRequestError extends Error {
  constructor(
    message: string,
    readonly detail: { errType?: number; code?: number; xid?: number; data?: Buffer; index?: number } = {},
  ) {
    super(message);
    this.name = 'OfRequestError';
  }
}

export interface ControllerOptions {
  listenAddress: string;
  listenPort: number;
  /** Per-request timeout ([ovs] of_request_timeout), milliseconds. */
  requestTimeoutMs: number;
  /** Idle time after which an ECHO_REQUEST probes the switch; no answer for as long again closes it. */
  echoIntervalMs?: number;
  /** Time allowed for HELLO + FEATURES after accept. */
  handshakeTimeoutMs?: number;
  /** Bounds of the packet-in queue (src/openflow/native/packet-in-queue.ts). */
  packetInQueue?: PacketInQueueOptions;
}

type ConnectionOptions = Required<Omit<ControllerOptions, 'listenAddress' | 'listenPort' | 'packetInQueue'>>;

type ReplyType = 'echo_reply' | 'barrier_reply' | 'features_reply' | 'get_config_reply' | 'multipart_reply';

interface Pending {
  expect: ReplyType;
  resolve: (m: OfMessage) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  what: string;
  parts?: MultipartReply[];
}

interface XidRange {
  first: number;
  count: number;
  onError: (index: number, err: OfMessage & { type: 'error' }) => void;
}

const MAX_XID = 0xffffffff;
/** Socket writes are issued in chunks of at most this size. */
const WRITE_CHUNK = 1 << 20;

/** One switch connection. */
export class OfConnection {
  datapathId: bigint | undefined;
  readonly remote: string;
  private readonly splitter = new MessageSplitter();
  private nextXid = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly ranges = new Set<XidRange>();
  private lastRx = Date.now();
  private echoSentAt: number | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private handshake: NodeJS.Timeout | undefined;
  private closed = false;
  private closeReason = 'connection closed';

  constructor(
    private readonly socket: Socket,
    private readonly opts: ConnectionOptions,
    private readonly onReady: (c: OfConnection) => void,
    private readonly onClosed: (c: OfConnection) => void,
    /** A raw PACKET_IN frame of this (handshaken) switch, handed on undecoded. */
    private readonly onPacketIn: (c: OfConnection, raw: Buffer) => void = () => {},
  ) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.closeReason = `socket error: ${err.message}`;
      log.warning(`OpenFlow connection ${this.label()}: socket error`, err);
    });
    socket.on('close', () => this.cleanup());
    this.handshake = setTimeout(() => this.close('no HELLO/FEATURES_REPLY within the handshake timeout'), this.opts.handshakeTimeoutMs);
    this.keepalive = setInterval(() => this.probe(), Math.max(50, Math.floor(this.opts.echoIntervalMs / 2)));
    this.send({ type: 'hello', xid: this.allocXid(1), version: OFP_VERSION, versions: [OFP_VERSION] });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  label(): string {
    return this.datapathId === undefined ? this.remote : `${dpidHex(this.datapathId)} (${this.remote})`;
  }

  /** Reserve `count` consecutive xids; returns the first. */
  allocXid(count: number): number {
    if (this.nextXid + count > MAX_XID) this.nextXid = 1;
    const first = this.nextXid;
    this.nextXid += count;
    return first;
  }

  send(msg: OfMessage): void {
    if (this.closed) return;
    this.socket.write(encodeMessage(msg));
  }

  private writeLarge(buf: Buffer): void {
    for (let off = 0; off < buf.length; off += WRITE_CHUNK) this.socket.write(buf.subarray(off, Math.min(buf.length, off + WRITE_CHUNK)));
  }

  /** Send a request and wait for its reply (all parts of a multipart reply). */
  request(build: (xid: number) => OfMessage, expect: ReplyType, what: string): Promise<OfMessage> {
    if (this.closed) return Promise.reject(new OfRequestError(`${what}: connection to ${this.label()} is closed (${this.closeReason})`));
    const xid = this.allocXid(1);
    return new Promise<OfMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(xid);
        reject(new OfRequestError(`${what}: no reply from ${this.label()} within ${this.opts.requestTimeoutMs} ms (xid ${xid})`, { xid }));
      }, this.opts.requestTimeoutMs);
      this.pending.set(xid, { expect, resolve, reject, timer, what });
      try {
        this.send(build(xid));
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(xid);
        reject(e);
      }
    });
  }

  async multipart(request: MultipartRequest, what: string): Promise<MultipartReply[]> {
    const reply = await this.request((xid) => ({ type: 'multipart_request', xid, flags: 0, request }), 'multipart_reply', what);
    // request() resolves multipart with the reassembled parts attached by onMessage.
    return (reply as OfMessage & { parts?: MultipartReply[] }).parts ?? [];
  }

  /**
   * Send flow mods back to back in as few socket writes as possible, then one BARRIER_REQUEST;
   * resolves when the barrier reply arrives. OFPT_ERRORs for the flow mods are reported
   * through onError with the index of the refused flow mod. Encoding errors throw before anything is sent.
   */
  async sendFlowMods(bodies: FlowModBody[], onError: (index: number, errType: number, code: number, data: Buffer) => void): Promise<void> {
    if (this.closed) throw new OfRequestError(`connection to ${this.label()} is closed (${this.closeReason})`);
    const first = this.allocXid(bodies.length);
    const w = new Writer(Math.max(1024, bodies.length * 160));
    for (let i = 0; i < bodies.length; i++) {
      try {
        encodeInto(w, { type: 'flow_mod', xid: first + i, ...bodies[i]! });
      } catch (e) {
        throw new OfRequestError(`cannot encode flow mod #${i}: ${(e as Error).message}`, { index: i });
      }
    }
    const range: XidRange = { first, count: bodies.length, onError: (i, e) => onError(i, e.errType, e.code, e.data) };
    this.ranges.add(range);
    try {
      this.writeLarge(w.view());
      await this.request((xid) => ({ type: 'barrier_request', xid }), 'barrier_reply', `barrier after ${bodies.length} flow mods`);
    } finally {
      this.ranges.delete(range);
    }
  }

  /**
   * Send one message the switch answers only by refusing it (a METER_MOD), then a barrier: resolves
   * once the switch has processed it, rejects with its OFPT_ERROR (errType, code) if it refused it.
   */
  async sendWithBarrier(build: (xid: number) => OfMessage, what: string): Promise<void> {
    if (this.closed) throw new OfRequestError(`${what}: connection to ${this.label()} is closed (${this.closeReason})`);
    const xid = this.allocXid(1);
    let refused: (OfMessage & { type: 'error' }) | undefined;
    const range: XidRange = { first: xid, count: 1, onError: (_i, e) => (refused = e) };
    this.ranges.add(range);
    try {
      this.send(build(xid));
      await this.request((x) => ({ type: 'barrier_request', xid: x }), 'barrier_reply', `barrier after ${what}`);
    } finally {
      this.ranges.delete(range);
    }
    if (refused) {
      throw new OfRequestError(`${what}: switch ${this.label()} returned ${errorName(refused.errType, refused.code)}`, {
        errType: refused.errType, code: refused.code, xid, data: refused.data,
      });
    }
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closeReason = reason;
    log.info(`Closing OpenFlow connection ${this.label()}: ${reason}`);
    this.socket.destroy();
    this.cleanup();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepalive);
    clearTimeout(this.handshake);
    for (const [xid, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new OfRequestError(`${p.what}: connection to ${this.label()} lost (${this.closeReason})`, { xid }));
    }
    this.pending.clear();
    this.socket.destroy();
    this.onClosed(this);
  }

  private probe(): void {
    const now = Date.now();
    if (this.echoSentAt !== undefined) {
      if (now - this.echoSentAt >= this.opts.echoIntervalMs) this.close(`no answer to ECHO_REQUEST for ${now - this.echoSentAt} ms`);
      return;
    }
    if (now - this.lastRx >= this.opts.echoIntervalMs) {
      this.echoSentAt = now;
      this.send({ type: 'echo_request', xid: this.allocXid(1), data: Buffer.alloc(0) });
    }
  }

  private onData(chunk: Buffer): void {
    this.lastRx = Date.now();
    this.echoSentAt = undefined;
    const { messages, error } = this.splitter.push(chunk);
    for (const raw of messages) {
      if (this.closed) return;
      if (raw[1] === OFPT.PACKET_IN && this.datapathId !== undefined) {
        this.onPacketIn(this, raw);
        continue;
      }
      let msg: OfMessage;
      try {
        msg = decodeMessage(raw);
      } catch (e) {
        // One undecodable message: fail the request it answers (if any), keep the session.
        const xid = raw.readUInt32BE(4);
        log.warning(`OpenFlow connection ${this.label()}: cannot decode message type ${raw[1]} xid ${xid}`, e);
        const p = this.pending.get(xid);
        if (p) this.settle(xid, p, new OfRequestError(`${p.what}: undecodable reply: ${(e as Error).message}`, { xid }));
        continue;
      }
      this.onMessage(msg);
    }
    if (error) this.close(error.message);
  }

  private settle(xid: number, p: Pending, result: OfMessage | Error): void {
    clearTimeout(p.timer);
    this.pending.delete(xid);
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
  }

  private onMessage(msg: OfMessage): void {
    switch (msg.type) {
      case 'hello':
        return this.onHello(msg);
      case 'echo_request':
        return this.send({ type: 'echo_reply', xid: msg.xid, data: msg.data });
      case 'error': {
        const p = this.pending.get(msg.xid);
        if (p) {
          this.settle(msg.xid, p, new OfRequestError(`${p.what}: switch ${this.label()} returned ${errorName(msg.errType, msg.code)}`, {
            errType: msg.errType, code: msg.code, xid: msg.xid, data: msg.data,
          }));
          return;
        }
        for (const r of this.ranges) {
          const i = (msg.xid - r.first) >>> 0;
          if (i < r.count) return r.onError(i, msg);
        }
        log.warning(`OpenFlow connection ${this.label()}: unsolicited ${errorName(msg.errType, msg.code)} for xid ${msg.xid}`);
        if (this.datapathId === undefined) this.close(`switch refused the handshake: ${errorName(msg.errType, msg.code)}`);
        return;
      }
      case 'echo_reply':
      case 'barrier_reply':
      case 'features_reply':
      case 'get_config_reply':
      case 'multipart_reply': {
        const p = this.pending.get(msg.xid);
        if (!p) {
          if (msg.type !== 'echo_reply') log.debug(`OpenFlow connection ${this.label()}: unexpected ${msg.type} xid ${msg.xid}`);
          return;
        }
        if (p.expect !== msg.type) {
          this.settle(msg.xid, p, new OfRequestError(`${p.what}: expected ${p.expect}, got ${msg.type} (xid ${msg.xid})`, { xid: msg.xid }));
          return;
        }
        if (msg.type === 'multipart_reply') {
          (p.parts ??= []).push(msg.reply);
          if (msg.flags & OFPMPF_REPLY_MORE) return;
          this.settle(msg.xid, p, Object.assign(msg, { parts: p.parts }));
          return;
        }
        this.settle(msg.xid, p, msg);
        return;
      }
      default:
        // PORT_STATUS, PACKET_IN, FLOW_REMOVED ...: the agent learns state through OVSDB.
        return;
    }
  }

  private onHello(msg: OfMessage & { type: 'hello' }): void {
    const ok = msg.versions ? msg.versions.includes(OFP_VERSION) : msg.version >= OFP_VERSION;
    if (!ok) {
      const offered = msg.versions ? msg.versions.join(',') : String(msg.version);
      this.send({
        type: 'error', xid: msg.xid, version: OFP_VERSION, errType: OFPET.HELLO_FAILED, code: OFPHFC_INCOMPATIBLE,
        data: Buffer.from(`OpenFlow 1.3 (0x04) required, peer offers version(s) ${offered}`),
      });
      this.socket.end();
      this.close(`version negotiation failed: peer offers ${offered}, need 0x04`);
      return;
    }
    this.request((xid) => ({ type: 'features_request', xid }), 'features_reply', 'FEATURES_REQUEST').then(
      (reply) => {
        if (reply.type !== 'features_reply') return;
        clearTimeout(this.handshake);
        this.handshake = undefined;
        if (reply.auxiliaryId !== 0) {
          this.close(`auxiliary connection ${reply.auxiliaryId} is not supported`);
          return;
        }
        this.datapathId = reply.datapathId;
        this.onReady(this);
      },
      (err: Error) => this.close(`handshake failed: ${err.message}`),
    );
  }
}

function abortError(signal: AbortSignal, dpid: bigint): OfRequestError {
  const why: unknown = signal.reason;
  return new OfRequestError(`no longer waiting for the switch with datapath id ${dpidHex(dpid)}: ${why instanceof Error ? why.message : String(why)}`);
}

export interface ControllerEvents {
  'switch-connected': [dpid: bigint];
  'switch-disconnected': [dpid: bigint];
}

/** Accepts switch connections and keeps the current one per datapath id. */
export class OpenFlowController extends EventEmitter<ControllerEvents> {
  private server: Server | undefined;
  private readonly sockets = new Set<OfConnection>();
  private readonly byDpid = new Map<bigint, OfConnection>();
  private readonly opts: Required<Omit<ControllerOptions, 'packetInQueue'>>;
  /** Packet-ins of every switch, for whoever subscribed to a datapath's. */
  readonly packetIns: PacketInQueue;

  constructor(opts: ControllerOptions) {
    super();
    const { packetInQueue, ...rest } = opts;
    this.opts = { echoIntervalMs: 15_000, handshakeTimeoutMs: Math.min(opts.requestTimeoutMs, 30_000), ...rest };
    this.packetIns = new PacketInQueue(packetInQueue);
  }

  /** The TCP port actually listened on (useful with listenPort 0). */
  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? (a as AddressInfo).port : 0;
  }

  start(): Promise<void> {
    if (this.server) return Promise.resolve();
    const where = `${this.opts.listenAddress}:${this.opts.listenPort}`;
    const server = createServer((socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new Error(`cannot listen for OpenFlow switches on ${where}: ${err.code ?? ''} ${err.message}`.replace('  ', ' ')));
      });
      server.listen(this.opts.listenPort, this.opts.listenAddress, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => log.error(`OpenFlow listener ${where} failed`, err));
        this.server = server;
        log.info(`OpenFlow controller listening on ${this.opts.listenAddress}:${this.port}`);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const c of [...this.sockets]) c.close('controller stopping');
    this.packetIns.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  connection(dpid: bigint): OfConnection | undefined {
    const c = this.byDpid.get(dpid);
    return c?.isOpen ? c : undefined;
  }

  connectedDatapaths(): bigint[] {
    return [...this.byDpid.keys()];
  }

  /**
   * The connection of a datapath, waiting up to timeoutMs for it to (re)connect. An abort (the
   * bridge was re-created or got another datapath id) rejects at once with the signal's reason.
   */
  waitForConnection(dpid: bigint, timeoutMs: number, signal?: AbortSignal): Promise<OfConnection> {
    if (signal?.aborted) return Promise.reject(abortError(signal, dpid));
    const c = this.connection(dpid);
    if (c) return Promise.resolve(c);
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.off('switch-connected', onConnected);
        signal?.removeEventListener('abort', onAbort);
      };
      const onConnected = (d: bigint): void => {
        if (d !== dpid) return;
        const conn = this.connection(dpid);
        if (!conn) return;
        finish();
        resolve(conn);
      };
      const onAbort = (): void => {
        finish();
        reject(abortError(signal!, dpid));
      };
      const timer = setTimeout(() => {
        finish();
        reject(new OfRequestError(`switch with datapath id ${dpidHex(dpid)} did not connect to ${this.opts.listenAddress}:${this.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('switch-connected', onConnected);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private accept(socket: Socket): void {
    const conn = new OfConnection(
      socket,
      { requestTimeoutMs: this.opts.requestTimeoutMs, echoIntervalMs: this.opts.echoIntervalMs, handshakeTimeoutMs: this.opts.handshakeTimeoutMs },
      (c) => this.ready(c),
      (c) => this.closed(c),
      (c, raw) => this.packetIns.push(c.datapathId!, raw),
    );
    this.sockets.add(conn);
    log.debug(`OpenFlow connection from ${conn.remote}`);
  }

  private ready(c: OfConnection): void {
    const dpid = c.datapathId!;
    const old = this.byDpid.get(dpid);
    this.byDpid.set(dpid, c);
    if (old && old !== c) old.close(`replaced by a newer connection of the same datapath from ${c.remote}`);
    log.info(`OpenFlow switch ${dpidHex(dpid)} connected from ${c.remote}`);
    this.emit('switch-connected', dpid);
  }

  private closed(c: OfConnection): void {
    this.sockets.delete(c);
    const dpid = c.datapathId;
    if (dpid === undefined || this.byDpid.get(dpid) !== c) return;
    this.byDpid.delete(dpid);
    log.info(`OpenFlow switch ${dpidHex(dpid)} disconnected`);
    this.emit('switch-disconnected', dpid);
  }
}
