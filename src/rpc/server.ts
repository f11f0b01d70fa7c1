// RPC server in the manner of an oslo.messaging RPC server on the rabbit driver: for one
// (topic, host) it consumes the three queues oslo declares, decodes, suppresses duplicates,
// dispatches to endpoint methods by namespace and version, and replies to calls (rpc.md §2.7).
import { getLogger, type Logger } from '../util/log.js';
import { sleep } from '../util/backoff.js';
import {
  buildReplyMessage, decodeEnvelope, encodeEnvelope, failureFromError, parseRequest, uuidHex, versionIsCompatible,
  NoSuchMethod, UnsupportedVersion, UniqueIdCache,
  type FailureInfo, type IncomingRequest, type JsonObject, type JsonValue, type RequestContext,
} from './envelope.js';
import { fanoutExchange, queueArguments, topicExchange, type AmqpConnection, type Delivery, type ExchangeOptions, type QueueArgumentSettings, type QueueSpec } from './amqp-connection.js';

/** An endpoint method: receives the caller's context and the keyword arguments. */
export type RpcHandler = (context: RequestContext, args: JsonObject) => JsonValue | void | Promise<JsonValue | void>;

export interface RpcEndpoint {
  /** Target version "X.Y" this endpoint implements (agent: "1.7", resource push: "1.1"). */
  version: string;
  /** Target namespace; null/undefined for every neutron agent endpoint but trunk. */
  namespace?: string | null;
  /** Only own properties are callable, so nothing inherited is reachable over the wire. */
  methods: Record<string, RpcHandler>;
}

export interface RpcServerOptions {
  connection: AmqpConnection;
  topic: string;
  /** Host name: the `<topic>.<host>` queue. */
  server: string;
  endpoints: RpcEndpoint[];
  exchange?: string;
  exchangeOptions?: ExchangeOptions;
  /** rabbit_transient_queues_ttl, seconds: x-expires of the fanout queue. */
  transientQueuesTtlSec?: number;
  /** rabbit_ha_queues, rabbit_quorum_queue. */
  queueArguments?: QueueArgumentSettings;
  /** Larger bodies are dropped unparsed. */
  maxMessageBytes?: number;
  /** kombu_missing_consumer_retry_timeout: how long an unroutable reply is retried. */
  replyRetryTimeoutSec?: number;
  logger?: Logger;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * `[DEFAULT] rpc_ping_enabled`: oslo.messaging's PingEndpoint, on every server of the agent. It has
 * no target of its own, so the dispatcher's default applies: no namespace, version 1.0.
 */
export const PING_ENDPOINT: RpcEndpoint = { version: '1.0', namespace: null, methods: { oslo_rpc_server_ping: () => 'pong' } };

export class RpcServer {
  readonly topic: string;
  readonly server: string;
  /** The three queue names: `<topic>`, `<topic>.<host>`, `<topic>_fanout_<hex>`. */
  readonly queues: { topic: string; server: string; fanout: string };
  private readonly conn: AmqpConnection;
  private readonly endpoints: RpcEndpoint[];
  private readonly log: Logger;
  private readonly seen = new UniqueIdCache();
  private readonly maxBytes: number;
  private readonly replyRetryMs: number;
  private readonly specs: QueueSpec[];
  private stopped = false;
  private readonly inflight = new Set<Promise<void>>();

  private constructor(opts: RpcServerOptions) {
    this.conn = opts.connection;
    this.topic = opts.topic;
    this.server = opts.server;
    this.endpoints = opts.endpoints;
    for (const ep of this.endpoints) versionIsCompatible(ep.version, ep.version); // validates the target version
    this.log = opts.logger ?? getLogger('rpc.server');
    this.maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.replyRetryMs = (opts.replyRetryTimeoutSec ?? 60) * 1000;
    const exchange = topicExchange(opts.exchange ?? 'neutron', opts.exchangeOptions);
    const fanout = fanoutExchange(opts.topic);
    // oslo.messaging: a topic queue is durable and auto-deleted as its exchange is.
    const { durable, autoDelete } = exchange;
    const topicArgs = queueArguments(opts.queueArguments ?? {}, { kind: 'topic' });
    const fanoutArgs = queueArguments(opts.queueArguments ?? {}, { kind: 'transient', ttlSec: opts.transientQueuesTtlSec ?? 1800 });
    this.queues = { topic: opts.topic, server: `${opts.topic}.${opts.server}`, fanout: `${opts.topic}_fanout_${uuidHex()}` };
    this.specs = [
      { name: this.queues.topic, durable, autoDelete, arguments: topicArgs, bindings: [{ exchange, routingKey: this.queues.topic }] },
      { name: this.queues.server, durable, autoDelete, arguments: topicArgs, bindings: [{ exchange, routingKey: this.queues.server }] },
      { name: this.queues.fanout, durable: false, autoDelete: false, arguments: fanoutArgs, bindings: [{ exchange: fanout, routingKey: opts.topic }] },
    ];
  }

  /** Declares and consumes the three queues (now, or as soon as the connection is up). */
  static async start(opts: RpcServerOptions): Promise<RpcServer> {
    const srv = new RpcServer(opts);
    for (const spec of srv.specs) await srv.conn.consume(spec, (d) => srv.onDelivery(d));
    return srv;
  }

  /** Stops consuming; waits for handlers already running. The connection stays open. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const spec of this.specs) {
      await this.conn.cancel(spec.name).catch((e: unknown) => this.log.debug(`cancelling consumer of ${spec.name}: ${String(e)}`));
    }
    await Promise.allSettled([...this.inflight]);
  }

  private onDelivery(d: Delivery): void {
    if (this.stopped) return;
    const p = this.handle(d).catch((err: unknown) => {
      this.log.error(`unexpected failure handling a message from queue ${d.queue} (delivery ${d.deliveryTag})`, err);
    });
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private async handle(d: Delivery): Promise<void> {
    const where = `queue ${d.queue} (exchange "${d.exchange}", routing key "${d.routingKey}", ${d.body.length} bytes)`;
    if (d.body.length > this.maxBytes) {
      this.log.error(`dropping message from ${where}: larger than ${this.maxBytes} bytes`);
      return;
    }
    let req: IncomingRequest;
    try {
      req = parseRequest(decodeEnvelope(d.body));
    } catch (err) {
      this.log.error(`dropping malformed message from ${where}: ${(err as Error).message}; body starts ${JSON.stringify(d.body.subarray(0, 120).toString('utf8'))}`);
      return;
    }
    if (this.seen.seen(req.uniqueId)) {
      this.log.warning(`dropping duplicate message ${req.uniqueId} (${req.method}) from ${where}`);
      return;
    }
    const what = req.msgId ? `call ${req.method} (msg_id ${req.msgId})` : `cast ${req.method}`;
    let result: JsonValue = null;
    let failure: FailureInfo | null = null;
    try {
      const handler = this.findHandler(req);
      const r = await handler(req.context, req.args);
      result = r === undefined ? null : r;
    } catch (err) {
      if (err instanceof NoSuchMethod || err instanceof UnsupportedVersion) {
        this.log.error(`${what} on ${where}: ${err.message}`);
      } else {
        this.log.error(`Exception during message handling of ${what} on ${where}`, err);
      }
      failure = failureFromError(err);
    }
    if (req.msgId === null || req.replyQueue === null) return; // casts: logged only
    let body: string;
    try {
      body = encodeEnvelope(buildReplyMessage({ msgId: req.msgId, result, failure }));
    } catch (err) {
      // e.g. a result that is not JSON-serialisable: answer with that failure instead
      this.log.error(`result of ${what} cannot be serialised`, err);
      body = encodeEnvelope(buildReplyMessage({ msgId: req.msgId, failure: failureFromError(err) }));
    }
    await this.sendReply(req.replyQueue, req.msgId, what, body);
  }

  /** oslo's dispatcher: namespace must match, version must be compatible, method must exist. */
  private findHandler(req: IncomingRequest): RpcHandler {
    let foundCompatible = false;
    for (const ep of this.endpoints) {
      if ((ep.namespace ?? null) !== req.namespace) continue;
      if (!versionIsCompatible(ep.version, req.version)) continue;
      if (Object.hasOwn(ep.methods, req.method) && typeof ep.methods[req.method] === 'function') {
        return ep.methods[req.method]!;
      }
      foundCompatible = true;
    }
    if (foundCompatible) throw new NoSuchMethod(req.method);
    throw new UnsupportedVersion(req.version, req.method);
  }

  /** Mandatory publish to the default exchange; an unroutable reply is retried every 0.25 s. */
  private async sendReply(replyQueue: string, msgId: string, what: string, body: string): Promise<void> {
    const deadline = Date.now() + this.replyRetryMs;
    for (;;) {
      let outcome;
      try {
        outcome = await this.conn.publish(null, replyQueue, body, { mandatory: true });
      } catch (err) {
        this.log.error(`failed to send the reply to ${what} to ${replyQueue}`, err);
        return;
      }
      if (outcome === 'routed') return;
      if (Date.now() >= deadline || this.stopped) {
        this.log.error(`The reply ${msgId} failed to send after ${Math.round(this.replyRetryMs / 1000)} seconds due to a missing queue (${replyQueue}). Abandoning...`);
        return;
      }
      await sleep(250);
    }
  }
}
