// OVSDB JSON-RPC client: one connection at a time to `[ovs] ovsdb_connection`, request timeouts,
// echo/inactivity probing, reconnect with back-off, and a monitor that feeds a sink (the replica)
// with a full snapshot on every (re)connection and incremental updates in between.
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  JsonStreamDecoder,
  type Json,
  type JsonObject,
  type MonitorRequests,
  type Operation,
  type OperationResult,
  type RpcId,
  type TableUpdates,
  encodeMonitorRequests,
  encodeRequest,
  encodeResponse,
  isOperationError,
  op as ops,
  parseOperationResult,
  parseRpcMessage,
  parseTableUpdates,
} from './protocol.js';
import { Backoff } from '../util/backoff.js';
import { getLogger } from '../util/log.js';
import { tlsConnectionOptions, tlsFailureReason, type TlsClientSettings } from '../util/tls.js';

const LOG = getLogger('ovsdb.client');

// ---------------------------------------------------------------------------------------------
// Endpoint
// ---------------------------------------------------------------------------------------------

export type OvsdbEndpoint = { kind: 'tcp' | 'ssl'; host: string; port: number } | { kind: 'unix'; path: string };

export const OVSDB_DEFAULT_PORT = 6640;

/** Parses `[ovs] ovsdb_connection`: `tcp:IP[:PORT]`, `tcp:[IPv6][:PORT]`, `ssl:` likewise, `unix:PATH`. */
export function parseOvsdbEndpoint(text: string): OvsdbEndpoint {
  const s = text.trim();
  const colon = s.indexOf(':');
  const method = colon < 0 ? s : s.slice(0, colon);
  const rest = colon < 0 ? '' : s.slice(colon + 1);
  switch (method) {
    case 'unix':
      if (!rest) throw new Error(`ovsdb_connection "${text}": unix: needs a socket path`);
      return { kind: 'unix', path: rest };
    case 'tcp':
    case 'ssl': {
      let host: string;
      let portText: string | undefined;
      if (rest.startsWith('[')) {
        const end = rest.indexOf(']');
        if (end < 0) throw new Error(`ovsdb_connection "${text}": unterminated [IPv6] address`);
        host = rest.slice(1, end);
        const after = rest.slice(end + 1);
        if (after && !after.startsWith(':')) throw new Error(`ovsdb_connection "${text}": expected ":PORT" after the IPv6 address`);
        portText = after ? after.slice(1) : undefined;
      } else {
        const parts = rest.split(':');
        if (parts.length > 2) throw new Error(`ovsdb_connection "${text}": IPv6 addresses must be written as [addr]`);
        host = parts[0];
        portText = parts[1];
      }
      if (!host) throw new Error(`ovsdb_connection "${text}": ${method}: needs an address`);
      let port = OVSDB_DEFAULT_PORT;
      if (portText !== undefined && portText !== '') {
        if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
          throw new Error(`ovsdb_connection "${text}": bad port "${portText}"`);
        }
        port = Number(portText);
      }
      return { kind: method, host, port };
    }
    case 'ptcp':
    case 'punix':
    case 'pssl':
      throw new Error(`ovsdb_connection "${text}": passive (${method}:) connections are not supported, use tcp:, ssl: or unix:`);
    default:
      throw new Error(`ovsdb_connection "${text}": unknown connection method "${method}" (expected tcp:, ssl: or unix:)`);
  }
}

export function formatOvsdbEndpoint(e: OvsdbEndpoint): string {
  if (e.kind === 'unix') return `unix:${e.path}`;
  return e.host.includes(':') ? `${e.kind}:[${e.host}]:${e.port}` : `${e.kind}:${e.host}:${e.port}`;
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** The server answered a request with a JSON-RPC error. */
export class OvsdbRequestError extends Error {
  constructor(readonly method: string, readonly error: Json, readonly endpoint: string) {
    super(`OVSDB ${method} request to ${endpoint} failed: ${typeof error === 'string' ? error : JSON.stringify(error)}`);
    this.name = 'OvsdbRequestError';
  }
}

/** A transaction was answered but one of its operations (or the commit) failed. */
export class OvsdbTransactionError extends Error {
  constructor(
    /** RFC 7047 error tag, e.g. "constraint violation", "timed out", "referential integrity violation". */
    readonly error: string,
    readonly details: string | undefined,
    /** Index of the failing operation; ops.length for a commit-time error. */
    readonly operationIndex: number,
    readonly operation: Operation | undefined,
    readonly comment: string | undefined,
  ) {
    const what = operation ? `operation ${operationIndex} (${operation.op}${'table' in operation ? ` ${operation.table}` : ''})` : 'commit';
    super(`OVSDB transaction${comment ? ` "${comment}"` : ''} failed at ${what}: ${error}${details ? `: ${details}` : ''}`);
    this.name = 'OvsdbTransactionError';
  }
}

/** No connection, connection lost, or request timed out. */
export class OvsdbConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OvsdbConnectionError';
  }
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/** Receives the monitored tables: a full snapshot per connection, then incremental updates. */
export interface MonitorSink {
  readonly monitorRequests: MonitorRequests;
  resync(snapshot: TableUpdates): void;
  update(updates: TableUpdates): void;
}

export interface OvsdbClientOptions {
  /** `[ovs] ovsdb_connection` text. */
  endpoint: string;
  /** Per-request timeout (`[ovs] ovsdb_timeout`), seconds. Default 10. */
  timeoutSec?: number;
  database?: string;
  monitor?: MonitorSink;
  /** Send an echo after this long without traffic; drop the connection if it is not answered
   *  within as long again. 0 disables. Default 5000. */
  probeIntervalMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  maxMessageBytes?: number;
  /** Certificates for an ssl: endpoint (`[ovs] ssl_key_file`, `ssl_cert_file`, `ssl_ca_cert_file`). */
  tls?: TlsClientSettings;
}

export interface OvsdbClientEvents {
  /** The session is usable: socket up and (if monitoring) the replica loaded. Every time. */
  connected: [];
  /** The connection was lost (not emitted by close()). */
  disconnected: [reason: string];
  /** After a reconnection, the replica has been reconciled with the server (after its 'update'). */
  resynced: [];
}

interface Pending {
  method: string;
  resolve: (v: Json) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface Session {
  socket: Socket;
  decoder: JsonStreamDecoder;
  pending: Map<RpcId, Pending>;
  lastRx: number;
  probeTimer: NodeJS.Timeout | undefined;
  probing: boolean;
  ready: boolean;
  dead: boolean;
}

const MONITOR_ID = 'ovs-agent-replica';

export class OvsdbClient extends EventEmitter<OvsdbClientEvents> {
  readonly endpoint: OvsdbEndpoint;
  readonly endpointText: string;
  readonly database: string;
  private readonly timeoutMs: number;
  private readonly probeMs: number;
  private readonly maxMessageBytes: number | undefined;
  private readonly monitor: MonitorSink | undefined;
  private readonly tls: TlsClientSettings | undefined;
  private readonly backoff: Backoff;
  private session: Session | undefined;
  private nextId = 1;
  private closed = true;
  private everReady = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(opts: OvsdbClientOptions) {
    super();
    this.endpoint = parseOvsdbEndpoint(opts.endpoint);
    this.endpointText = formatOvsdbEndpoint(this.endpoint);
    this.database = opts.database ?? 'Open_vSwitch';
    this.timeoutMs = (opts.timeoutSec ?? 10) * 1000;
    this.probeMs = opts.probeIntervalMs ?? 5000;
    this.maxMessageBytes = opts.maxMessageBytes;
    this.monitor = opts.monitor;
    if (this.endpoint.kind === 'ssl' && !opts.tls) {
      throw new Error(`ovsdb_connection ${this.endpointText}: ssl: needs [ovs] ssl_key_file, ssl_cert_file and ssl_ca_cert_file`);
    }
    this.tls = opts.tls;
    this.backoff = new Backoff(opts.backoffInitialMs ?? 500, opts.backoffMaxMs ?? 8000);
  }

  get isConnected(): boolean {
    return this.session?.ready === true;
  }

  get requestTimeoutMs(): number {
    return this.timeoutMs;
  }

  /**
   * Connects and loads the monitor's initial state. Rejects (naming the endpoint) if this first
   * attempt fails; after it succeeded, lost connections are re-established in the background.
   */
  async connect(): Promise<void> {
    if (!this.closed) throw new Error(`OVSDB client for ${this.endpointText} is already started`);
    this.closed = false;
    try {
      await this.openSession();
    } catch (err) {
      this.closed = true;
      throw new OvsdbConnectionError(`cannot connect to OVSDB at ${this.endpointText}: ${(err as Error).message}`);
    }
  }

  /** Closes the connection, stops reconnecting, fails outstanding requests. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const s = this.session;
    this.session = undefined;
    if (s) {
      this.teardown(s, 'client closed');
      await new Promise<void>((resolve) => {
        if (s.socket.destroyed) return resolve();
        s.socket.once('close', () => resolve());
        s.socket.destroy();
      });
    }
    this.failReadyWaiters(new OvsdbConnectionError(`OVSDB client for ${this.endpointText} closed`));
  }

  /** A raw JSON-RPC request; waits (within the timeout) for a usable connection. */
  async request(method: string, params: Json[]): Promise<Json> {
    const deadline = Date.now() + this.timeoutMs;
    const s = await this.waitReady(deadline, method);
    return this.send(s, method, params, deadline - Date.now(), this.timeoutMs);
  }

  /**
   * Runs one transaction. Resolves with one result per operation; rejects with
   * OvsdbTransactionError naming the failing operation, the server's error/details and `comment`.
   */
  async transact(operations: Operation[], opts: { comment?: string } = {}): Promise<OperationResult[]> {
    const all = opts.comment ? [...operations, ops.comment(opts.comment)] : operations;
    const reply = await this.request('transact', [this.database, ...(all as unknown as Json[])]);
    if (!Array.isArray(reply)) throw new OvsdbRequestError('transact', `unexpected reply ${JSON.stringify(reply)}`, this.endpointText);
    const results = reply.map(parseOperationResult);
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      if (isOperationError(r)) throw new OvsdbTransactionError(r.error, r.details, i, all[i], opts.comment);
    }
    return results.slice(0, operations.length).map((r) => (r === null || isOperationError(r) ? {} : r));
  }

  /**
   * An echo round trip. ovsdb-server flushes pending monitor updates before it reads the next
   * request, so once this resolves after a transact reply, the replica reflects that transaction.
   */
  async sync(): Promise<void> {
    await this.request('echo', []);
  }

  // ---- sessions ----------------------------------------------------------------------------

  private openSocket(): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const e = this.endpoint;
      const tls = e.kind === 'ssl' ? this.tls : undefined;
      let socket: Socket;
      try {
        // Over ssl: the session starts only once the server's certificate has been verified.
        socket = e.kind === 'unix' ? createConnection({ path: e.path })
          : tls ? tlsConnect({ host: e.host, port: e.port, ...tlsConnectionOptions(tls, e.host) })
            : createConnection({ host: e.host, port: e.port });
      } catch (err) {
        reject(new Error(tls ? tlsFailureReason(err, tls) : (err as Error).message));
        return;
      }
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect timed out after ${this.timeoutMs / 1000}s`));
      }, this.timeoutMs);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', onError);
        resolve(socket);
      });
      const onError = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(tls ? new Error(tlsFailureReason(err, tls)) : err);
      };
      socket.once('error', onError);
    });
  }

  private async openSession(): Promise<void> {
    const socket = await this.openSocket();
    if (this.closed) {
      socket.destroy();
      throw new OvsdbConnectionError('client closed');
    }
    socket.setNoDelay(true);
    const s: Session = {
      socket,
      decoder: new JsonStreamDecoder(this.maxMessageBytes === undefined ? {} : { maxMessageBytes: this.maxMessageBytes }),
      pending: new Map(),
      lastRx: Date.now(),
      probeTimer: undefined,
      probing: false,
      ready: false,
      dead: false,
    };
    this.session = s;
    socket.on('data', (chunk: Buffer) => this.onData(s, chunk));
    // With TLS 1.3 a server refuses a client certificate after the handshake: say so, not just the OpenSSL text.
    socket.on('error', (err) => this.lost(s, this.tls ? tlsFailureReason(err, this.tls) : err.message));
    socket.on('close', () => this.lost(s, 'connection closed by peer'));
    if (this.probeMs > 0) this.startProbe(s);

    if (this.monitor) {
      try {
        const reply = await this.send(s, 'monitor', [this.database, MONITOR_ID, encodeMonitorRequests(this.monitor.monitorRequests)], this.timeoutMs);
        if (s.dead) throw new OvsdbConnectionError('connection lost while loading the monitor');
        const snapshot = parseTableUpdates(reply);
        this.deliver(() => this.monitor!.resync(snapshot), 'resync');
      } catch (err) {
        this.teardown(s, (err as Error).message);
        if (this.session === s) this.session = undefined;
        s.socket.destroy();
        throw err;
      }
    }
    s.ready = true;
    this.backoff.reset();
    const reconnected = this.everReady;
    this.everReady = true;
    LOG.info(`${reconnected ? 'Reconnected' : 'Connected'} to OVSDB at ${this.endpointText}`);
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.resolve();
    if (reconnected) this.emit('resynced');
    this.emit('connected');
  }

  private deliver(fn: () => void, what: string): void {
    try {
      fn();
    } catch (err) {
      // A listener of the replica threw; the replica itself is consistent. Do not break the stream.
      LOG.error(`error while delivering OVSDB monitor ${what} from ${this.endpointText}`, err);
    }
  }

  private onData(s: Session, chunk: Buffer): void {
    if (s.dead) return;
    s.lastRx = Date.now();
    const { messages, error } = s.decoder.push(chunk);
    for (const m of messages) {
      if (s.dead) return;
      this.onMessage(s, m);
    }
    if (error) {
      LOG.error(`dropping OVSDB connection to ${this.endpointText}`, error);
      this.lost(s, error.message);
      s.socket.destroy();
    }
  }

  private onMessage(s: Session, raw: JsonObject): void {
    const m = parseRpcMessage(raw);
    if (m instanceof Error) {
      LOG.warning(`ignoring malformed message from OVSDB at ${this.endpointText}`, m);
      return;
    }
    switch (m.kind) {
      case 'response': {
        const p = s.pending.get(m.id);
        if (!p) {
          LOG.debug(`OVSDB reply for unknown request id ${JSON.stringify(m.id)} from ${this.endpointText}`);
          return;
        }
        s.pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.error !== null) p.reject(new OvsdbRequestError(p.method, m.error, this.endpointText));
        else p.resolve(m.result);
        return;
      }
      case 'request':
        if (m.method === 'echo') {
          this.write(s, encodeResponse(m.id, m.params));
        } else {
          this.write(s, encodeResponse(m.id, null, { error: 'unknown method', details: m.method }));
        }
        return;
      case 'notification':
        if (m.method === 'update' && this.monitor && m.params[0] === MONITOR_ID) {
          let updates: TableUpdates;
          try {
            updates = parseTableUpdates(m.params[1] ?? null);
          } catch (err) {
            // Cannot trust the replica any more: reconnecting forces a full resync.
            LOG.error(`malformed monitor update from ${this.endpointText}, reconnecting`, err);
            this.lost(s, 'malformed monitor update');
            s.socket.destroy();
            return;
          }
          this.deliver(() => this.monitor!.update(updates), 'update');
        }
        return;
    }
  }

  private write(s: Session, text: string): void {
    if (s.dead || s.socket.destroyed) return;
    s.socket.write(text);
  }

  /** `timeoutMs` is what is left of the caller's budget; `budgetMs` (the whole budget) is what errors report. */
  private send(s: Session, method: string, params: Json[], timeoutMs: number, budgetMs = timeoutMs): Promise<Json> {
    return new Promise<Json>((resolve, reject) => {
      if (s.dead) {
        reject(new OvsdbConnectionError(`OVSDB ${method}: not connected to ${this.endpointText}`));
        return;
      }
      const id = this.nextId++;
      const timer = setTimeout(() => {
        s.pending.delete(id);
        reject(new OvsdbConnectionError(`OVSDB ${method} request #${id} to ${this.endpointText} timed out after ${budgetMs / 1000}s`));
      }, Math.max(0, timeoutMs));
      s.pending.set(id, { method, resolve, reject, timer });
      this.write(s, encodeRequest(method, params, id));
    });
  }

  private waitReady(deadline: number, method: string): Promise<Session> {
    const s = this.session;
    if (s && s.ready && !s.dead) return Promise.resolve(s);
    if (this.closed) return Promise.reject(new OvsdbConnectionError(`OVSDB ${method}: client for ${this.endpointText} is not connected`));
    return new Promise<Session>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          const cur = this.session;
          if (cur && cur.ready) resolve(cur);
          else reject(new OvsdbConnectionError(`OVSDB ${method}: connection to ${this.endpointText} lost`));
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
        reject(new OvsdbConnectionError(`OVSDB ${method}: no connection to ${this.endpointText} within ${this.timeoutMs / 1000}s`));
      }, Math.max(0, deadline - Date.now()));
      this.readyWaiters.push(waiter);
    });
  }

  private failReadyWaiters(err: Error): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  private startProbe(s: Session): void {
    const tick = (): void => {
      if (s.dead) return;
      const idle = Date.now() - s.lastRx;
      if (idle >= this.probeMs && !s.probing) {
        s.probing = true;
        this.send(s, 'echo', [], this.probeMs).then(
          () => {
            s.probing = false;
          },
          (err: Error) => {
            s.probing = false;
            if (s.dead) return;
            LOG.warning(`OVSDB at ${this.endpointText} did not answer the inactivity probe, reconnecting`, err);
            this.lost(s, 'inactivity probe timed out');
            s.socket.destroy();
          },
        );
      }
      s.probeTimer = setTimeout(tick, Math.max(50, Math.min(this.probeMs, this.probeMs - idle)));
    };
    s.probeTimer = setTimeout(tick, this.probeMs);
  }

  private teardown(s: Session, reason: string): void {
    if (s.dead) return;
    s.dead = true;
    s.ready = false;
    if (s.probeTimer) clearTimeout(s.probeTimer);
    for (const [id, p] of s.pending) {
      clearTimeout(p.timer);
      p.reject(new OvsdbConnectionError(`OVSDB ${p.method} request #${id} to ${this.endpointText} failed: ${reason}`));
    }
    s.pending.clear();
  }

  private lost(s: Session, reason: string): void {
    if (s.dead) return;
    const wasReady = s.ready;
    this.teardown(s, reason);
    if (this.session === s) this.session = undefined;
    if (this.closed) return;
    if (wasReady) {
      LOG.warning(`lost OVSDB connection to ${this.endpointText}: ${reason}`);
      this.emit('disconnected', reason);
    }
    // While connect() is still running its first attempt, it reports the failure itself.
    if (this.everReady) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      this.openSession().catch((err: Error) => {
        LOG.warning(`reconnecting to OVSDB at ${this.endpointText} failed, retrying`, err);
        this.scheduleReconnect();
      });
    }, delay);
  }
}
