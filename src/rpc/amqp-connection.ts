// AMQP 0-9-1 connection manager for the oslo.messaging rabbit driver's behaviour: round-robin
// failover over the hosts of transport_url, kombu's reconnect schedule, publisher confirms,
// and a registry of queues/consumers that is re-declared after every reconnect.
import { EventEmitter } from 'node:events';
import { basename } from 'node:path';
import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Message, Options } from 'amqplib';
import { getLogger, type Logger } from '../util/log.js';
import { sleep } from '../util/backoff.js';
import { parseTransportUrl, redactTransportUrl, type TransportHost, type TransportUrl } from '../config/index.js';
import { muteIpServernameWarning, tlsConnectionOptions, tlsFailureReason, type TlsClientSettings } from '../util/tls.js';

export { parseTransportUrl, redactTransportUrl };
export type { TransportHost, TransportUrl };

/** `amqp://user:****@host:port/vhost` (`amqps://` over TLS) of one host, for logs (the password is never printed). */
export function describeHost(host: TransportHost, virtualHost: string, tls = false): string {
  const h = host.host.includes(':') ? `[${host.host}]` : host.host;
  return `${tls ? 'amqps' : 'amqp'}://${encodeURIComponent(host.username)}:****@${h}:${host.port}/${encodeURIComponent(virtualHost)}`;
}

// ---------------------------------------------------------------------------------------------
// Entities and properties (rpc.md §2.2, §2.3)

export interface ExchangeSpec {
  name: string;
  type: 'topic' | 'fanout' | 'direct';
  durable: boolean;
  autoDelete: boolean;
}

export interface QueueBinding {
  exchange: ExchangeSpec;
  routingKey: string;
}

export interface QueueSpec {
  name: string;
  durable: boolean;
  autoDelete: boolean;
  arguments: Record<string, string | number | boolean>;
  bindings: QueueBinding[];
}

export interface ExchangeOptions {
  /** amqp_durable_queues, or rabbit_quorum_queue (oslo.messaging's `durable`; default false). */
  durable?: boolean;
  /** amqp_auto_delete (default false). */
  autoDelete?: boolean;
}

/** The control exchange (`neutron`): topic, durable=amqp_durable_queues, auto_delete=amqp_auto_delete. */
export function topicExchange(name: string, opts: ExchangeOptions = {}): ExchangeSpec {
  return { name, type: 'topic', durable: opts.durable ?? false, autoDelete: opts.autoDelete ?? false };
}

/**
 * `<topic>_fanout`: fanout, auto-delete, never durable: oslo.messaging declares it so whatever
 * amqp_durable_queues says (both where it consumes and where it publishes), and RabbitMQ refuses a
 * second declaration that differs.
 */
export function fanoutExchange(topic: string): ExchangeSpec {
  return { name: `${topic}_fanout`, type: 'fanout', durable: false, autoDelete: true };
}

/** `[oslo_messaging_rabbit] rabbit_quorum_queue` and its limits (0: not set). */
export interface QuorumQueueSettings {
  deliveryLimit: number;
  maxMemoryLength: number;
  maxMemoryBytes: number;
}

/** What `[oslo_messaging_rabbit]` adds to the queues it declares. */
export interface QueueArgumentSettings {
  /** rabbit_ha_queues: `x-ha-policy: all` on every queue. */
  haQueues?: boolean;
  /** rabbit_quorum_queue: topic queues are quorum queues (then durable, as their exchange). */
  quorum?: QuorumQueueSettings | undefined;
}

/**
 * oslo.messaging's queue arguments (impl_rabbit `_get_queue_arguments`): `topic` queues (a topic and
 * its `<topic>.<host>`) may be quorum queues; transient ones (fanout, reply) get `x-expires`.
 */
export function queueArguments(o: QueueArgumentSettings, queue: { kind: 'topic' } | { kind: 'transient'; ttlSec: number }): Record<string, string | number> {
  const args: Record<string, string | number> = {};
  if (o.haQueues) args['x-ha-policy'] = 'all';
  if (queue.kind === 'topic' && o.quorum) {
    args['x-queue-type'] = 'quorum';
    if (o.quorum.deliveryLimit) args['x-delivery-limit'] = o.quorum.deliveryLimit;
    if (o.quorum.maxMemoryLength) args['x-max-in-memory-length'] = o.quorum.maxMemoryLength;
    if (o.quorum.maxMemoryBytes) args['x-max-in-memory-bytes'] = o.quorum.maxMemoryBytes;
  }
  if (queue.kind === 'transient' && queue.ttlSec > 0) args['x-expires'] = queue.ttlSec * 1000;
  return args;
}

/** Basic properties oslo/kombu put on every message; `expiration` only on calls. */
export function messageProperties(expirationMs?: number): Options.Publish {
  const p: Options.Publish = {
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    deliveryMode: 2,
    priority: 0,
    headers: {},
  };
  if (expirationMs !== undefined) p.expiration = String(Math.max(0, Math.round(expirationMs)));
  return p;
}

/**
 * kombu's reconnect schedule: after every complete cycle over the hosts sleep
 * interval_start + cycle*interval_step seconds, capped at interval_max.
 */
export function reconnectDelaySec(cycle: number, retryIntervalSec: number, retryBackoffSec: number, intervalMaxSec: number): number {
  return Math.min(intervalMaxSec, (retryIntervalSec || 1) + cycle * retryBackoffSec);
}

// ---------------------------------------------------------------------------------------------
// Connection manager

export interface AmqpConnectionOptions {
  /** transport_url text or its parsed form. */
  transportUrl: string | TransportUrl;
  /** rabbit_login_method: AMQPLAIN (oslo default), PLAIN, or EXTERNAL (the broker takes the user from the TLS client certificate). */
  loginMethod?: 'AMQPLAIN' | 'PLAIN' | 'EXTERNAL';
  /** heartbeat_timeout_threshold, seconds (0 disables heartbeats). */
  heartbeatTimeoutThresholdSec?: number;
  /** rabbit_retry_interval, seconds. */
  retryIntervalSec?: number;
  /** rabbit_retry_backoff, seconds added per failed cycle. */
  retryBackoffSec?: number;
  /** rabbit_interval_max, seconds. */
  intervalMaxSec?: number;
  /** TCP connect + AMQP handshake timeout per attempt, seconds. */
  connectTimeoutSec?: number;
  /** What this connection is for, in logs and in the broker's connection_name. */
  purpose?: string;
  /** `[oslo_messaging_rabbit] ssl`: every host is reached over TLS with these settings, never in plaintext. */
  tls?: TlsClientSettings;
  /** rabbit_qos_prefetch_count: basic.qos of the consuming channel (0: unlimited, none sent). */
  prefetchCount?: number;
  /** enable_cancel_on_failover: every consumer asks for `x-cancel-on-ha-failover`. */
  cancelOnHaFailover?: boolean;
  logger?: Logger;
}

export interface Delivery {
  queue: string;
  exchange: string;
  routingKey: string;
  deliveryTag: number;
  redelivered: boolean;
  body: Buffer;
  properties: Message['properties'];
}

export type DeliveryHandler = (delivery: Delivery) => void;

export type PublishOutcome = 'routed' | 'returned';

export interface PublishOptions {
  /** Per-message TTL in ms (calls). */
  expirationMs?: number;
  /** Ask the broker to return the message when no queue takes it (replies). */
  mandatory?: boolean;
  /** Gives up waiting for a (re)connection when aborted. */
  signal?: AbortSignal;
}

interface Consumer {
  spec: QueueSpec;
  handler: DeliveryHandler;
  /** Connection generation it was last declared on. */
  generation: number;
}

interface Live {
  generation: number;
  model: ChannelModel;
  publishCh: ConfirmChannel;
  consumeCh: Channel;
  declaredExchanges: Set<string>;
  closed: Promise<Error | null>;
  isClosed: boolean;
  /** Pending mandatory publishes, keyed by exchange/routing key/body; set when returned. */
  returns: Map<string, { returned: boolean }>;
  /** Serialises topology operations on this connection. */
  topology: Promise<void>;
}

export class ConnectionClosedError extends Error {
  override name = 'ConnectionClosedError';
}

/**
 * One AMQP connection (one publish channel with confirms, one consume channel) that keeps
 * itself connected. Events: `connected` (first time), `reconnected` (every later time, after all
 * registered queues and consumers are declared again), `disconnected` (Error).
 */
export class AmqpConnection extends EventEmitter {
  readonly url: TransportUrl;
  private readonly opts: Required<Omit<AmqpConnectionOptions, 'transportUrl' | 'logger' | 'purpose' | 'tls'>> & { purpose: string };
  private readonly tls: TlsClientSettings | undefined;
  private readonly log: Logger;
  private live: Live | null = null;
  private generation = 0;
  private hostIndex = 0;
  private closing = false;
  private readonly abort = new AbortController();
  private readonly consumers = new Map<string, Consumer>();
  private readyWaiters: Array<{ resolve: (l: Live) => void; reject: (e: Error) => void }> = [];
  private loop: Promise<void> | null = null;
  private everConnected = false;

  constructor(options: AmqpConnectionOptions) {
    super();
    this.url = typeof options.transportUrl === 'string' ? parseTransportUrl(options.transportUrl) : options.transportUrl;
    this.opts = {
      loginMethod: options.loginMethod ?? 'AMQPLAIN',
      heartbeatTimeoutThresholdSec: options.heartbeatTimeoutThresholdSec ?? 60,
      retryIntervalSec: options.retryIntervalSec ?? 1,
      retryBackoffSec: options.retryBackoffSec ?? 2,
      intervalMaxSec: options.intervalMaxSec ?? 30,
      connectTimeoutSec: options.connectTimeoutSec ?? 10,
      prefetchCount: options.prefetchCount ?? 0,
      cancelOnHaFailover: options.cancelOnHaFailover ?? false,
      purpose: options.purpose ?? 'rpc',
    };
    this.tls = options.tls;
    if (this.tls) muteIpServernameWarning();
    this.log = options.logger ?? getLogger('rpc.transport');
    // 'error' without a listener would throw; failures are logged by the loop instead.
    this.on('error', () => undefined);
  }

  get connected(): boolean {
    return this.live !== null && !this.live.isClosed;
  }

  /** Host currently (or last) used, password masked. */
  get currentHost(): string {
    return describeHost(this.url.hosts[this.hostIndex]!, this.url.virtualHost, this.tls !== undefined);
  }

  /** Starts the connect loop; resolves once connected the first time (retries forever). */
  async start(): Promise<void> {
    if (!this.loop) this.loop = this.run();
    await this.waitReady();
  }

  /** Closes for good: pending publishes and waiters fail with ConnectionClosedError. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.abort.abort();
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.reject(new ConnectionClosedError(`AMQP connection (${this.opts.purpose}) closed`));
    const live = this.live;
    this.live = null;
    if (live && !live.isClosed) {
      try {
        await live.model.close();
      } catch (err) {
        this.log.debug(`closing AMQP connection (${this.opts.purpose}) to ${this.currentHost}: ${String(err)}`);
      }
    }
    await this.loop?.catch(() => undefined);
  }

  /**
   * Declares `spec` (its bindings' exchanges, the queue, the bindings) and consumes it with manual
   * ack; the message is acked before `handler` runs, as oslo does. Re-applied after reconnects.
   */
  async consume(spec: QueueSpec, handler: DeliveryHandler): Promise<void> {
    if (this.consumers.has(spec.name)) throw new Error(`queue ${spec.name} is already consumed on this connection`);
    const c: Consumer = { spec, handler, generation: -1 };
    this.consumers.set(spec.name, c);
    const live = this.live;
    if (live && !live.isClosed) await this.withTopology(live, () => this.declareConsumer(live, c));
  }

  /** Stops consuming a queue (the queue itself stays, as in oslo). */
  async cancel(queueName: string): Promise<void> {
    const c = this.consumers.get(queueName);
    this.consumers.delete(queueName);
    const live = this.live;
    if (!c || !live || live.isClosed) return;
    await this.withTopology(live, async () => {
      const tag = consumerTags.get(c);
      if (tag) await live.consumeCh.cancel(tag);
    });
  }

  /**
   * Publishes with publisher confirms. `exchange` is declared first (once per connection);
   * `null` means the default exchange. Waits for a connection when there is none, and publishes
   * again on the next connection when the connection drops before the confirm (receivers drop
   * the duplicate by `_unique_id`). Errors of the channel itself (e.g. exchange type mismatch)
   * are thrown.
   */
  async publish(exchange: ExchangeSpec | null, routingKey: string, body: string, opts: PublishOptions = {}): Promise<PublishOutcome> {
    const content = Buffer.from(body, 'utf8');
    for (;;) {
      if (opts.signal?.aborted) throw abortError(opts.signal, exchange, routingKey);
      const live = await this.waitReady(opts.signal);
      try {
        if (exchange) await this.ensureExchange(live, exchange);
        return await this.publishOn(live, exchange?.name ?? '', routingKey, content, opts);
      } catch (err) {
        if (this.closing) throw new ConnectionClosedError(`publish to ${exchange?.name ?? '(default)'}/${routingKey}: connection closed`);
        // The connection's close event follows its channels' errors closely: give it a moment.
        await Promise.race([live.closed, sleep(100)]);
        if (live.isClosed) {
          this.log.debug(`publish to exchange ${exchange?.name ?? '(default)'} key ${routingKey} interrupted by a connection loss; publishing again after reconnect`);
          continue;
        }
        throw new Error(`publish to exchange "${exchange?.name ?? ''}" routing key "${routingKey}" failed: ${errText(err)}`);
      }
    }
  }

  // -------------------------------------------------------------------------------------------

  private waitReady(signal?: AbortSignal): Promise<Live> {
    if (this.closing) return Promise.reject(new ConnectionClosedError(`AMQP connection (${this.opts.purpose}) closed`));
    const live = this.live;
    if (live && !live.isClosed) return Promise.resolve(live);
    return new Promise<Live>((resolve, reject) => {
      const w = { resolve, reject };
      this.readyWaiters.push(w);
      if (signal) {
        const onAbort = () => {
          this.readyWaiters = this.readyWaiters.filter((x) => x !== w);
          reject(abortError(signal, null, ''));
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  private async run(): Promise<void> {
    const hosts = this.url.hosts;
    let failuresInCycle = 0;
    let cycle = 0;
    while (!this.closing) {
      const host = hosts[this.hostIndex]!;
      const where = describeHost(host, this.url.virtualHost, this.tls !== undefined);
      let live: Live;
      try {
        live = await this.connectOnce(host);
      } catch (err) {
        if (this.closing) break;
        failuresInCycle++;
        const roundDone = failuresInCycle >= hosts.length;
        const delaySec = roundDone ? reconnectDelaySec(cycle, this.opts.retryIntervalSec, this.opts.retryBackoffSec, this.opts.intervalMaxSec) : 0;
        const reason = this.tls ? tlsFailureReason(err, this.tls) : errText(err);
        this.log.error(`AMQP server on ${where} (${this.opts.purpose}) is unreachable: ${reason}. ` +
          (roundDone ? `Trying again in ${delaySec} seconds.` : `Trying next host.`));
        this.hostIndex = (this.hostIndex + 1) % hosts.length;
        if (roundDone) {
          failuresInCycle = 0;
          cycle++;
          await sleep(delaySec * 1000, this.abort.signal);
        }
        continue;
      }
      failuresInCycle = 0;
      cycle = 0;
      const reconnect = this.everConnected;
      this.everConnected = true;
      this.live = live;
      // Queues registered while connectOnce() was declaring the others.
      await this.withTopology(live, async () => {
        for (const c of this.consumers.values()) await this.declareConsumer(live, c);
      }).catch((e: unknown) => this.log.error(`declaring queues on ${where} (${this.opts.purpose}) failed: ${errText(e)}`));
      this.log.info(`${reconnect ? 'Reconnected' : 'Connected'} to AMQP server on ${where} (${this.opts.purpose})`);
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      for (const w of waiters) w.resolve(live);
      this.emit(reconnect ? 'reconnected' : 'connected');
      const err = await live.closed;
      if (this.closing) break;
      this.live = null;
      this.log.error(`AMQP connection (${this.opts.purpose}) to ${where} lost: ${err ? errText(err) : 'closed'}; reconnecting`);
      this.emit('disconnected', err ?? new Error('connection closed'));
    }
  }

  private async connectOnce(host: TransportHost): Promise<Live> {
    const user = host.username;
    const pass = host.password;
    const credentials = this.opts.loginMethod === 'PLAIN' ? amqp.credentials.plain(user, pass)
      : this.opts.loginMethod === 'EXTERNAL' ? amqp.credentials.external() : amqp.credentials.amqplain(user, pass);
    const script = basename(process.argv[1] ?? process.argv0 ?? 'node');
    // Over TLS the certificate files are read for every attempt, so a corrected file is used at the next retry.
    const tlsOptions = this.tls ? tlsConnectionOptions(this.tls, host.host) : {};
    const model = await amqp.connect({
      protocol: this.tls ? 'amqps' : 'amqp',
      hostname: host.host,
      port: host.port,
      // amqplib unescapes the vhost of the object form
      vhost: encodeURIComponent(this.url.virtualHost),
      heartbeat: this.opts.heartbeatTimeoutThresholdSec,
      locale: 'en_US',
    }, {
      ...tlsOptions,
      credentials,
      timeout: this.opts.connectTimeoutSec * 1000,
      clientProperties: { connection_name: `${script}:${process.pid}:${randomUUID()}`, purpose: this.opts.purpose },
    });
    const generation = ++this.generation;
    let markClosed!: (e: Error | null) => void;
    const closed = new Promise<Error | null>((r) => { markClosed = r; });
    let lastError: Error | null = null;
    const partial: { isClosed: boolean } = { isClosed: false };
    const finish = (e: Error | null) => {
      if (partial.isClosed) return;
      partial.isClosed = true;
      markClosed(e ?? lastError);
    };
    model.on('error', (e: Error) => { lastError = e; });
    model.on('close', (e?: Error) => finish(e ?? null));
    model.on('blocked', (reason: string) => this.log.error(`The broker has blocked the connection (${this.opts.purpose}): ${reason}`));
    model.on('unblocked', () => this.log.info(`The broker has unblocked the connection (${this.opts.purpose})`));
    try {
      const publishCh = await model.createConfirmChannel();
      const consumeCh = await model.createChannel();
      if (this.opts.prefetchCount) await consumeCh.prefetch(this.opts.prefetchCount, false);
      const live: Live = {
        generation, model, publishCh, consumeCh, declaredExchanges: new Set(), closed,
        get isClosed() { return partial.isClosed; },
        returns: new Map(), topology: Promise.resolve(),
      };
      publishCh.on('return', (msg: Message) => {
        const entry = live.returns.get(returnKey(msg.fields.exchange, msg.fields.routingKey, msg.content));
        if (entry) entry.returned = true;
      });
      // Any channel failing takes the connection down: the reconnect re-declares everything.
      const onChannelClose = (which: string) => (e?: Error) => {
        // Channels also close as part of a connection closing: only a channel closing alone
        // (a channel error) is reported here.
        setImmediate(() => {
          if (partial.isClosed || this.closing) return;
          this.log.error(`AMQP ${which} channel (${this.opts.purpose}) closed: ${errText(e ?? lastError ?? 'closed by broker')}; reconnecting`);
          model.close().catch(() => finish(e ?? lastError));
        });
      };
      publishCh.on('error', (e: Error) => { lastError = e; });
      consumeCh.on('error', (e: Error) => { lastError = e; });
      publishCh.on('close', onChannelClose('publish'));
      consumeCh.on('close', onChannelClose('consume'));
      await this.withTopology(live, async () => {
        for (const c of this.consumers.values()) await this.declareConsumer(live, c);
      });
      return live;
    } catch (err) {
      await model.close().catch(() => undefined);
      throw err;
    }
  }

  private withTopology(live: Live, fn: () => Promise<void>): Promise<void> {
    const next = live.topology.then(fn);
    live.topology = next.catch(() => undefined);
    return next;
  }

  private async ensureExchange(live: Live, ex: ExchangeSpec): Promise<void> {
    if (live.declaredExchanges.has(ex.name)) return;
    await live.publishCh.assertExchange(ex.name, ex.type, { durable: ex.durable, autoDelete: ex.autoDelete });
    live.declaredExchanges.add(ex.name);
  }

  private async declareConsumer(live: Live, c: Consumer): Promise<void> {
    if (c.generation === live.generation || this.consumers.get(c.spec.name) !== c) return;
    const ch = live.consumeCh;
    const { spec } = c;
    for (const b of spec.bindings) {
      await ch.assertExchange(b.exchange.name, b.exchange.type, { durable: b.exchange.durable, autoDelete: b.exchange.autoDelete });
    }
    await ch.assertQueue(spec.name, { durable: spec.durable, autoDelete: spec.autoDelete, arguments: spec.arguments });
    for (const b of spec.bindings) await ch.bindQueue(spec.name, b.exchange.name, b.routingKey);
    const ok = await ch.consume(spec.name, (msg: ConsumeMessage | null) => {
      if (msg === null) {
        // consumer_cancel_notify: the queue went away under us; reconnect re-declares it
        this.log.error(`AMQP consumer of queue ${spec.name} (${this.opts.purpose}) cancelled by the broker; reconnecting`);
        live.model.close().catch(() => undefined);
        return;
      }
      ch.ack(msg);
      try {
        c.handler({
          queue: spec.name, exchange: msg.fields.exchange, routingKey: msg.fields.routingKey,
          deliveryTag: msg.fields.deliveryTag, redelivered: msg.fields.redelivered, body: msg.content, properties: msg.properties,
        });
      } catch (err) {
        this.log.error(`handler of queue ${spec.name} threw for delivery ${msg.fields.deliveryTag}`, err);
      }
    }, { noAck: false, ...(this.opts.cancelOnHaFailover ? { arguments: { 'x-cancel-on-ha-failover': true } } : {}) });
    consumerTags.set(c, ok.consumerTag);
    c.generation = live.generation;
  }

  private publishOn(live: Live, exchange: string, routingKey: string, content: Buffer, opts: PublishOptions): Promise<PublishOutcome> {
    return new Promise<PublishOutcome>((resolve, reject) => {
      const props = messageProperties(opts.expirationMs);
      let entry: { returned: boolean } | undefined;
      let key = '';
      if (opts.mandatory) {
        props.mandatory = true;
        key = returnKey(exchange, routingKey, content);
        entry = { returned: false };
        live.returns.set(key, entry);
      }
      try {
        live.publishCh.publish(exchange, routingKey, content, props, (err: unknown) => {
          if (entry && live.returns.get(key) === entry) live.returns.delete(key);
          if (err) reject(err instanceof Error ? err : new Error(String(err)));
          else resolve(entry?.returned ? 'returned' : 'routed');
        });
      } catch (err) {
        if (entry) live.returns.delete(key);
        reject(err);
      }
    });
  }
}

const consumerTags = new WeakMap<Consumer, string>();

function returnKey(exchange: string, routingKey: string, content: Buffer): string {
  return `${exchange}\u0000${routingKey}\u0000${content.toString('latin1')}`;
}

function errText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

function abortError(signal: AbortSignal, exchange: ExchangeSpec | null, routingKey: string): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  return new Error(`publish to ${exchange?.name ?? '(default)'}/${routingKey} aborted`);
}
