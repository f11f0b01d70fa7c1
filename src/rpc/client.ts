// RPC client in the manner of oslo.messaging's RPCClient plus neutron's BackingOffClient:
// one reply queue per process, a waiter per _msg_id, and per-method timeouts that double after
// every MessagingTimeout (rpc.md §1).
import { getLogger, type Logger } from '../util/log.js';
import { sleep as defaultSleep } from '../util/backoff.js';
import {
  adminContext, buildCallMessage, buildCastMessage, decodeEnvelope, encodeEnvelope, parseReply, uuidHex,
  MessagingTimeout, RemoteError,
  type JsonObject, type JsonValue, type RequestContext,
} from './envelope.js';
import { fanoutExchange, queueArguments, topicExchange, type AmqpConnection, type Delivery, type ExchangeOptions, type QueueArgumentSettings, type QueueSpec } from './amqp-connection.js';

export interface RpcClientOptions {
  connection: AmqpConnection;
  /** [DEFAULT] control_exchange. */
  exchange?: string;
  /** amqp_durable_queues / amqp_auto_delete for the control exchange. */
  exchangeOptions?: ExchangeOptions;
  /** rpc_response_timeout, seconds: default timeout of a call. */
  rpcResponseTimeoutSec?: number;
  /** rpc_response_max_timeout, seconds: ceiling of the back-off. */
  rpcResponseMaxTimeoutSec?: number;
  /** rabbit_transient_queues_ttl, seconds: x-expires of the reply queue. */
  transientQueuesTtlSec?: number;
  /** rabbit_ha_queues: the reply queue's x-ha-policy. */
  queueArguments?: QueueArgumentSettings;
  /** Context sent with every request unless a call passes its own; default: one admin context for the client's life. */
  context?: RequestContext | (() => RequestContext);
  /** Injected for tests: uniform [0,1) and a sleep. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
}

export interface CallOptions {
  /** Requested API version "X.Y". */
  version: string;
  /**
   * Explicit timeout, seconds. A call with an explicit timeout (report_state) does not take part
   * in the back-off; without it the method's current back-off timeout applies.
   */
  timeoutSec?: number;
  /** Target server (host): routing key `<topic>.<server>`. */
  server?: string;
  namespace?: string | null;
  context?: RequestContext;
}

export interface CastOptions {
  version: string;
  server?: string;
  /** Cast to every server of the topic through `<topic>_fanout`. */
  fanout?: boolean;
  namespace?: string | null;
  context?: RequestContext;
}

interface Waiter {
  method: string;
  result: JsonValue;
  resolve: (v: JsonValue) => void;
  reject: (e: Error) => void;
}

export class RpcClient {
  readonly replyQueue: string;
  private readonly conn: AmqpConnection;
  private readonly exchangeName: string;
  private readonly exchangeOptions: ExchangeOptions;
  private readonly defaultTimeoutSec: number;
  private maxTimeoutSec: number;
  private readonly methodTimeouts = new Map<string, number>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly contextSource: () => RequestContext;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly log: Logger;
  private readonly ttlSec: number;
  private closed = false;

  private constructor(opts: RpcClientOptions) {
    this.conn = opts.connection;
    this.exchangeName = opts.exchange ?? 'neutron';
    this.exchangeOptions = opts.exchangeOptions ?? {};
    this.defaultTimeoutSec = opts.rpcResponseTimeoutSec ?? 60;
    this.maxTimeoutSec = opts.rpcResponseMaxTimeoutSec ?? 600;
    this.ttlSec = opts.transientQueuesTtlSec ?? 1800;
    const ctx = opts.context;
    if (typeof ctx === 'function') this.contextSource = ctx;
    else {
      const fixed = ctx ?? adminContext();
      this.contextSource = () => fixed;
    }
    this.random = opts.random ?? Math.random;
    this.sleep = opts.sleep ?? ((ms) => defaultSleep(ms));
    this.log = opts.logger ?? getLogger('rpc.client');
    this.replyQueue = `reply_${uuidHex()}`;
  }

  /** Registers the reply queue consumer (declared now if connected, else on connect). */
  static async create(opts: RpcClientOptions): Promise<RpcClient> {
    const client = new RpcClient(opts);
    const spec: QueueSpec = {
      name: client.replyQueue, durable: false, autoDelete: false,
      arguments: queueArguments(opts.queueArguments ?? {}, { kind: 'transient', ttlSec: client.ttlSec }), bindings: [],
    };
    await client.conn.consume(spec, (d) => client.onReply(d));
    return client;
  }

  /** Current timeout of `method` (namespace-scoped like neutron's back-off table). */
  methodTimeoutSec(method: string, namespace?: string | null): number {
    return Math.min(this.methodTimeouts.get(scoped(method, namespace)) ?? this.defaultTimeoutSec, this.maxTimeoutSec);
  }

  /** On shutdown: cap every method timeout (quitting_rpc_timeout). Only ever lowers. */
  capTimeouts(maxSec: number): void {
    if (maxSec >= this.maxTimeoutSec) return;
    this.maxTimeoutSec = maxSec;
    for (const [k, v] of this.methodTimeouts) this.methodTimeouts.set(k, Math.min(v, maxSec));
  }

  /**
   * Calls `method` on one server of `topic` (or on `server`) and returns its result. Throws
   * RemoteError (remote failure) or MessagingTimeout (after the back-off sleep, for calls without
   * an explicit timeout).
   */
  async call(topic: string, method: string, args: JsonObject, opts: CallOptions): Promise<JsonValue> {
    const explicit = opts.timeoutSec !== undefined;
    const key = scoped(method, opts.namespace);
    const timeoutSec = explicit ? opts.timeoutSec! : this.methodTimeoutSec(method, opts.namespace);
    try {
      return await this.callOnce(topic, method, args, opts, timeoutSec);
    } catch (err) {
      if (!(err instanceof MessagingTimeout) || explicit) throw err;
      const waitSec = this.random() * Math.min(timeoutSec, this.defaultTimeoutSec);
      this.log.error(`Timeout in RPC method ${key}. Waiting for ${Math.round(waitSec)} seconds before next attempt. ` +
        `If the server is not down, consider increasing the rpc_response_timeout option as Neutron server(s) ` +
        `may be overloaded and unable to respond quickly enough.`);
      const newTimeout = Math.min(timeoutSec * 2, this.maxTimeoutSec);
      if (newTimeout > this.methodTimeoutSec(method, opts.namespace)) {
        this.log.warning(`Increasing timeout for ${key} calls to ${newTimeout} seconds. Restart the agent to restore it to the default value.`);
        this.methodTimeouts.set(key, newTimeout);
      }
      await this.sleep(waitSec * 1000);
      throw err;
    }
  }

  /** Fire-and-forget request; resolves once the broker confirmed the publish. */
  async cast(topic: string, method: string, args: JsonObject, opts: CastOptions): Promise<void> {
    this.assertOpen();
    const msg = buildCastMessage(method, args, {
      version: opts.version, namespace: opts.namespace ?? null, context: opts.context ?? this.contextSource(),
    });
    const body = encodeEnvelope(msg);
    if (opts.fanout) {
      await this.conn.publish(fanoutExchange(topic), '', body);
    } else {
      await this.conn.publish(topicExchange(this.exchangeName, this.exchangeOptions), routingKey(topic, opts.server), body);
    }
  }

  /** Fails pending calls and stops consuming the reply queue. Does not close the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [msgId, w] of this.waiters) w.reject(new Error(`RPC client closed while waiting for ${w.method} (msg_id ${msgId})`));
    this.waiters.clear();
    await this.conn.cancel(this.replyQueue).catch((e: unknown) => this.log.debug(`cancelling reply consumer: ${String(e)}`));
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('RPC client is closed');
  }

  private async callOnce(topic: string, method: string, args: JsonObject, opts: CallOptions, timeoutSec: number): Promise<JsonValue> {
    this.assertOpen();
    const msg = buildCallMessage(method, args, {
      version: opts.version, namespace: opts.namespace ?? null, context: opts.context ?? this.contextSource(),
      replyQueue: this.replyQueue,
    });
    const msgId = msg._msg_id as string;
    const target = routingKey(topic, opts.server);
    const abort = new AbortController();
    const reply = new Promise<JsonValue>((resolve, reject) => {
      this.waiters.set(msgId, { method, result: null, resolve, reject });
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.waiters.delete(msgId);
        const err = new MessagingTimeout(
          `Timed out waiting for a reply to message ID ${msgId} (method ${method} on topic ${target}, ${timeoutSec}s)`,
          msgId, method, timeoutSec);
        abort.abort(err);
        reject(err);
      }, timeoutSec * 1000);
    });
    try {
      const published = this.conn.publish(topicExchange(this.exchangeName, this.exchangeOptions), target, encodeEnvelope(msg),
        { expirationMs: timeoutSec * 1000, signal: abort.signal });
      // Whichever of these loses its race must not surface as an unhandled rejection.
      for (const p of [published, reply, timeout]) p.catch(() => undefined);
      await Promise.race([published, timeout]);
      return await Promise.race([reply, timeout]);
    } finally {
      clearTimeout(timer);
      this.waiters.delete(msgId);
    }
  }

  private onReply(d: Delivery): void {
    let parsed;
    try {
      parsed = parseReply(decodeEnvelope(d.body));
    } catch (err) {
      this.log.error(`dropping malformed reply on ${d.queue} (${d.body.length} bytes): ${(err as Error).message}`);
      return;
    }
    const w = this.waiters.get(parsed.msgId);
    if (!w) {
      this.log.info(`No calling threads waiting for msg_id : ${parsed.msgId}; dropping the late reply`);
      return;
    }
    if (parsed.failure) {
      this.waiters.delete(parsed.msgId);
      w.reject(parsed.failure);
      return;
    }
    // Several replies: the last non-null result wins (call-monitor heartbeats carry null).
    if (parsed.result !== null) w.result = parsed.result;
    if (parsed.ending) {
      this.waiters.delete(parsed.msgId);
      w.resolve(w.result);
    }
  }
}

function scoped(method: string, namespace?: string | null): string {
  return namespace ? `${namespace}.${method}` : method;
}

function routingKey(topic: string, server?: string): string {
  return server ? `${topic}.${server}` : topic;
}

export { MessagingTimeout, RemoteError };
