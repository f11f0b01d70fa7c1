// A private RabbitMQ broker for tests: own node name, own Erlang cookie (HOME is a temp dir), own
// mnesia/log/config files, AMQP and distribution ports chosen free and bound to 127.0.0.1.
// It runs /usr/lib/rabbitmq/bin/rabbitmq-server directly (not the /usr/sbin wrapper, which
// switches to the rabbitmq user and to /var/lib/rabbitmq's cookie), so nothing here touches the
// system broker or any other test's broker.
//
//   const mq = await PrivateRabbitmq.start();
//   mq.transportUrl            // rabbit://<user>:<password>@127.0.0.1:<port>/<vhost>
//   await mq.stop(); await mq.start();   // broker restart on the same data
//   await mq.destroy();        // stop and delete the temp dir
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, readdirSync, mkdtempSync, mkdirSync, rmSync, writeFileSync, openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { promisify } from 'node:util';
import { freePort } from '../../lab/ovs.js';

const run = promisify(execFile);
const RABBIT_BIN = '/usr/lib/rabbitmq/bin';

export function haveRabbitmq(): boolean {
  return existsSync(join(RABBIT_BIN, 'rabbitmq-server')) &&
    spawnSync('which', ['erl'], { stdio: 'ignore' }).status === 0;
}

export interface PrivateRabbitmqOptions {
  user?: string;
  password?: string;
  vhost?: string;
  /** Seconds to wait for the node to boot. */
  bootTimeoutSec?: number;
  /** Also listen for AMQP over TLS on 127.0.0.1:`tlsPort` with this certificate. */
  tls?: PrivateRabbitmqTls;
}

export interface PrivateRabbitmqTls {
  certFile: string;
  keyFile: string;
  /** CA that client certificates must be signed by. */
  caFile: string;
  /** Refuse clients without a certificate (fail_if_no_peer_cert). */
  requireClientCert?: boolean;
  /** Also offer the EXTERNAL login (rabbitmq_auth_mechanism_ssl): the user is the client certificate's CN. */
  externalLogin?: boolean;
}

export interface QueueInfo {
  name: string;
  durable: boolean;
  autoDelete: boolean;
  arguments: Record<string, unknown>;
  consumers: number;
  messages: number;
}

export interface BindingInfo {
  source: string;
  destination: string;
  routingKey: string;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => { s.destroy(); resolve(false); });
  });
}

// rabbitmqctl's JSON gives queue arguments as [[name, type, value], ...].
function queueArguments(raw: Record<string, unknown> | unknown[]): Record<string, unknown> {
  if (!Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = {};
  for (const entry of raw) {
    if (Array.isArray(entry) && typeof entry[0] === 'string') out[entry[0]] = entry[entry.length - 1];
  }
  return out;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class PrivateRabbitmq {
  readonly dir: string;
  readonly nodeName: string;
  port = 0;
  distPort = 0;
  /** AMQP over TLS (0 without the tls option). */
  tlsPort = 0;
  readonly user: string;
  readonly password: string;
  readonly vhost: string;
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly bootTimeoutSec: number;

  private constructor(opts: PrivateRabbitmqOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'ovs-agent-rmq-'));
    const tag = randomBytes(4).toString('hex');
    this.nodeName = `rabbit-test-${tag}@localhost`;
    this.user = opts.user ?? `agent${tag}`;
    // A password with URL-special characters exercises transport_url decoding.
    this.password = opts.password ?? `pw:${randomBytes(6).toString('hex')}/@`;
    this.vhost = opts.vhost ?? `/neutron-${tag}`;
    this.bootTimeoutSec = opts.bootTimeoutSec ?? 90;
    const home = join(this.dir, 'home');
    mkdirSync(home, { recursive: true });
    // A fresh cookie, private to this broker and the rabbitmqctl calls made for it.
    writeFileSync(join(home, '.erlang.cookie'), randomBytes(20).toString('hex').toUpperCase(), { mode: 0o400 });
    writeFileSync(join(this.dir, 'rabbitmq-env.conf'), '');
    // The user, vhost and permissions are created from the config on first boot (an empty
    // database), which spares three slow rabbitmqctl round trips.
    writeFileSync(join(this.dir, 'rabbitmq.conf'), [
      'loopback_users = none',
      `default_user = ${this.user}`,
      `default_pass = ${this.password}`,
      `default_vhost = ${this.vhost}`,
      'default_permissions.configure = .*',
      'default_permissions.read = .*',
      'default_permissions.write = .*',
      '',
    ].join('\n'));
    writeFileSync(join(this.dir, 'enabled_plugins'), '[].\n');
  }

  static async start(opts: PrivateRabbitmqOptions = {}): Promise<PrivateRabbitmq> {
    const mq = new PrivateRabbitmq(opts);
    try {
      mq.port = await freePort();
      mq.distPort = await freePort();
      if (opts.tls) {
        mq.tlsPort = await freePort();
        const t = opts.tls;
        appendFileSync(join(mq.dir, 'rabbitmq.conf'), [
          `listeners.ssl.1 = 127.0.0.1:${mq.tlsPort}`,
          `ssl_options.cacertfile = ${t.caFile}`,
          `ssl_options.certfile = ${t.certFile}`,
          `ssl_options.keyfile = ${t.keyFile}`,
          'ssl_options.verify = verify_peer',
          `ssl_options.fail_if_no_peer_cert = ${t.requireClientCert ? 'true' : 'false'}`,
          ...(t.externalLogin ? ['auth_mechanisms.1 = PLAIN', 'auth_mechanisms.2 = AMQPLAIN', 'auth_mechanisms.3 = EXTERNAL', 'ssl_cert_login_from = common_name'] : []),
          '',
        ].join('\n'));
        if (t.externalLogin) writeFileSync(join(mq.dir, 'enabled_plugins'), '[rabbitmq_auth_mechanism_ssl].\n');
      }
      await mq.start();
    } catch (err) {
      await mq.destroy().catch(() => undefined);
      throw err;
    }
    return mq;
  }

  private get env(): NodeJS.ProcessEnv {
    const d = this.dir;
    return {
      ...process.env,
      HOME: join(d, 'home'),
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_USE_LONGNAME: 'false',
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: join(d, 'mnesia'),
      RABBITMQ_LOG_BASE: join(d, 'log'),
      RABBITMQ_PID_FILE: join(d, 'rabbit.pid'),
      RABBITMQ_FEATURE_FLAGS_FILE: join(d, 'feature_flags'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(d, 'enabled_plugins'),
      RABBITMQ_CONF_ENV_FILE: join(d, 'rabbitmq-env.conf'),
      RABBITMQ_CONFIG_FILE: join(d, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(d, 'advanced.config'),
      // Keep Erlang distribution (and an epmd this node may start) on loopback.
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      ERL_EPMD_ADDRESS: '127.0.0.1',
    };
  }

  /** `rabbit://user:password@127.0.0.1:port/vhost` as oslo.messaging's transport_url takes it. */
  get transportUrl(): string {
    return this.transportUrlFor([`127.0.0.1:${this.port}`]);
  }

  /** `rabbit://…@127.0.0.1:<tlsPort>/vhost[?query]`: the TLS listener (TLS itself is switched on by options). */
  tlsTransportUrl(query = ''): string {
    return this.transportUrlFor([`127.0.0.1:${this.tlsPort}`]) + (query ? `?${query}` : '');
  }

  /** A transport_url over several `host:port` entries (all with this broker's credentials). */
  transportUrlFor(hostPorts: string[]): string {
    const cred = `${encodeURIComponent(this.user)}:${encodeURIComponent(this.password)}`;
    return `rabbit://${hostPorts.map((h) => `${cred}@${h}`).join(',')}/${encodeURIComponent(this.vhost)}`;
  }

  get running(): boolean {
    return this.proc !== null;
  }

  async ctl(args: string[], timeoutMs = 60_000): Promise<string> {
    try {
      const { stdout } = await run(join(RABBIT_BIN, 'rabbitmqctl'), ['-n', this.nodeName, ...args],
        { env: this.env, cwd: this.dir, timeout: timeoutMs, maxBuffer: 16 << 20 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`rabbitmqctl ${args.join(' ')} on ${this.nodeName}: ${e.stderr || e.message}`);
    }
  }

  /** Start (or restart, on the same mnesia data) the node and wait until it serves AMQP. */
  async start(): Promise<void> {
    if (this.proc) return;
    const out = openSync(join(this.dir, 'server.out'), 'a');
    const proc = spawn(join(RABBIT_BIN, 'rabbitmq-server'), [], {
      env: this.env, cwd: this.dir, stdio: ['ignore', out, out], detached: true,
    });
    closeSync(out);
    let exitedEarly = false;
    this.exited = new Promise((resolve) => proc.once('exit', () => { exitedEarly = true; resolve(); }));
    this.proc = proc;
    const deadline = Date.now() + this.bootTimeoutSec * 1000;
    // The AMQP listener opens at the very end of boot; await_startup then confirms.
    while (!(await portOpen(this.port))) {
      if (exitedEarly) {
        this.proc = null;
        throw new Error(`rabbitmq-server ${this.nodeName} exited during boot: ${this.tail()}`);
      }
      if (Date.now() > deadline) {
        await this.stop().catch(() => undefined);
        throw new Error(`rabbitmq-server ${this.nodeName} not listening on ${this.port} after ${this.bootTimeoutSec}s: ${this.tail()}`);
      }
      await delay(200);
    }
    await this.ctl(['await_startup', '--timeout', String(this.bootTimeoutSec)]);
  }

  private tail(): string {
    try {
      return readFileSync(join(this.dir, 'server.out'), 'utf8').slice(-2000);
    } catch {
      return '(no server.out)';
    }
  }

  /** Stop the node, keeping its data for a later start(). */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    try {
      await this.ctl(['stop'], 30_000);
    } catch (err) {
      process.stderr.write(`PrivateRabbitmq: ${String(err)}; killing pid ${proc.pid}\n`);
      if (proc.pid) {
        try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((r) => { timer = setTimeout(() => r(true), 30_000); }),
    ]);
    clearTimeout(timer);
    if (timedOut && proc.pid) {
      try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* already gone */ }
      await this.exited;
    }
    this.proc = null;
    // The listener must be gone before a restart may bind it again.
    for (let i = 0; i < 50 && (await portOpen(this.port)); i++) await delay(100);
  }

  async destroy(): Promise<void> {
    await this.stop();
    await this.stopEpmd();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * The node started an epmd daemon that outlives it (and the test's private network namespace).
   * It is stopped here when this node started it (its environment names this node) and no other
   * node is registered with it; any other epmd is left alone.
   */
  private async stopEpmd(): Promise<void> {
    const mark = `RABBITMQ_NODENAME=${this.nodeName}`;
    const pids: number[] = [];
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'epmd') continue;
        if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(mark)) pids.push(Number(pid));
      } catch {
        // the process ended while we looked, or is not ours to read: not our epmd
      }
    }
    if (pids.length === 0) return;
    try {
      const { stdout } = await run('epmd', ['-names'], { env: this.env, timeout: 10_000 });
      if (/^name /m.test(stdout)) return; // another node still uses it
    } catch (err) {
      process.stderr.write(`PrivateRabbitmq: epmd -names: ${(err as Error).message}; stopping epmd anyway\n`);
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch (err) {
        process.stderr.write(`PrivateRabbitmq: stopping epmd ${pid}: ${(err as Error).message}\n`);
      }
    }
  }

  async listQueues(): Promise<QueueInfo[]> {
    const out = await this.ctl(['list_queues', '-p', this.vhost, '--formatter', 'json',
      'name', 'durable', 'auto_delete', 'arguments', 'consumers', 'messages']);
    const rows = JSON.parse(out) as Array<{ name: string; durable: boolean; auto_delete: boolean;
      arguments: Record<string, unknown> | unknown[]; consumers: number; messages: number }>;
    return rows.map((r) => ({
      name: r.name, durable: r.durable, autoDelete: r.auto_delete,
      arguments: queueArguments(r.arguments), consumers: r.consumers, messages: r.messages,
    }));
  }

  /** Each consumer's queue, prefetch count and consumer arguments. */
  async listConsumers(): Promise<Array<{ queue: string; prefetchCount: number; arguments: Record<string, unknown> }>> {
    const out = await this.ctl(['list_consumers', '-p', this.vhost, '--formatter', 'json', 'queue_name', 'prefetch_count', 'arguments']);
    const rows = JSON.parse(out) as Array<{ queue_name: string; prefetch_count: number; arguments: Record<string, unknown> | unknown[] }>;
    return rows.map((r) => ({ queue: r.queue_name, prefetchCount: r.prefetch_count, arguments: queueArguments(r.arguments) }));
  }

  async listBindings(): Promise<BindingInfo[]> {
    const out = await this.ctl(['list_bindings', '-p', this.vhost, '--formatter', 'json',
      'source_name', 'destination_name', 'routing_key']);
    const rows = JSON.parse(out) as Array<{ source_name: string; destination_name: string; routing_key: string }>;
    return rows.map((r) => ({ source: r.source_name, destination: r.destination_name, routingKey: r.routing_key }));
  }

  async listExchanges(): Promise<Array<{ name: string; type: string; durable: boolean; autoDelete: boolean }>> {
    const out = await this.ctl(['list_exchanges', '-p', this.vhost, '--formatter', 'json',
      'name', 'type', 'durable', 'auto_delete']);
    const rows = JSON.parse(out) as Array<{ name: string; type: string; durable: boolean; auto_delete: boolean }>;
    return rows.map((r) => ({ name: r.name, type: r.type, durable: r.durable, autoDelete: r.auto_delete }));
  }
}

// ---------------------------------------------------------------------------------------------
// Small utilities for RPC tests.


/** Collects log lines (pass `capture.sink` to configureLogging). */
export class LogCapture {
  readonly lines: string[] = [];
  readonly sink = { write: (line: string) => { this.lines.push(line); } };
  matching(re: RegExp): string[] {
    return this.lines.filter((l) => re.test(l));
  }
  clear(): void {
    this.lines.length = 0;
  }
}
