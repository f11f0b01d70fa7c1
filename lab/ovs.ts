// A private Open vSwitch (ovsdb-server + ovs-vswitchd, userspace datapath) in a temporary
// directory, for the demo, benchmarks and tests. Each instance has its own database socket and run directory, so the
// bridges' management sockets (<bridge>.mgmt) live there too and ovs-ofctl/ovs-vsctl reach them
// through OVS_RUNDIR. Bridges must be datapath_type=netdev: these machines have no kernel module.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, existsSync, readlinkSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer } from 'node:net';

const run = promisify(execFile);

export function haveOvs(): boolean {
  return spawnSync('which', ['ovsdb-server'], { stdio: 'ignore' }).status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Two userspace-datapath ovs-vswitchd cannot share a network namespace (both create the tap
 * "ovs-netdev"); fail early with the remedy rather than with a confusing "not a bridge" later.
 */
function assertNoOtherVswitchdHere(): void {
  let mine: string;
  try {
    mine = readlinkSync('/proc/self/ns/net');
  } catch {
    return;
  }
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('ovs-vswitchd')) continue;
      if (readlinkSync(`/proc/${pid}/ns/net`) === mine) {
        throw new Error(
          `another ovs-vswitchd (pid ${pid}) runs in this network namespace; run this test under scripts/netns-run.sh`,
        );
      }
    } catch (e) {
      if (e instanceof Error && e.message.startsWith('another ovs-vswitchd')) throw e;
      // the process ended while we looked: not a conflict
    }
  }
}

export interface PrivateOvsOptions {
  /** Also listen for OVSDB on tcp:127.0.0.1:<port>. */
  tcp?: boolean;
  /** Run both daemons inside this existing network namespace. */
  netns?: string;
  /** Also listen for OVSDB over TLS on ssl:127.0.0.1:<sslPort> with these files (read at every startDb). */
  ssl?: PrivateOvsSsl;
}

export interface PrivateOvsSsl {
  keyFile: string;
  certFile: string;
  /** CA that clients' certificates must be signed by (ovsdb-server requires one from every client). */
  caFile: string;
}

export class PrivateOvs {
  readonly dir: string;
  readonly dbSock: string;
  tcpPort = 0;
  sslPort = 0;
  private constructor(readonly opts: PrivateOvsOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'ovs-agent-ovs-'));
    this.dbSock = join(this.dir, 'db.sock');
  }

  /** `unix:<dir>/db.sock`, as `[ovs] ovsdb_connection` takes it. */
  get unixConnection(): string {
    return `unix:${this.dbSock}`;
  }
  get tcpConnection(): string {
    return `tcp:127.0.0.1:${this.tcpPort}`;
  }
  /** `ssl:127.0.0.1:<sslPort>` (with the ssl option). */
  get sslConnection(): string {
    return `ssl:127.0.0.1:${this.sslPort}`;
  }
  /** Environment that points OVS tools (ovs-vsctl, ovs-ofctl, ovs-appctl) at this instance. */
  get env(): NodeJS.ProcessEnv {
    return { ...process.env, OVS_RUNDIR: this.dir, OVS_LOGDIR: this.dir, OVS_DBDIR: this.dir };
  }

  static async start(opts: PrivateOvsOptions = {}): Promise<PrivateOvs> {
    if (!opts.netns) assertNoOtherVswitchdHere();
    const ovs = new PrivateOvs(opts);
    await ovs.startDb(true);
    await ovs.startVswitchd();
    return ovs;
  }

  private wrap(cmd: string, args: string[]): [string, string[]] {
    return this.opts.netns ? ['ip', ['netns', 'exec', this.opts.netns, cmd, ...args]] : [cmd, args];
  }

  async startDb(create: boolean): Promise<void> {
    const db = join(this.dir, 'conf.db');
    if (create) {
      rmSync(db, { force: true });
      await run('ovsdb-tool', ['create', db, '/usr/share/openvswitch/vswitch.ovsschema']);
    }
    if (this.opts.tcp && this.tcpPort === 0) this.tcpPort = await freePort();
    const remotes = [`--remote=punix:${this.dbSock}`];
    if (this.opts.tcp) remotes.push(`--remote=ptcp:${this.tcpPort}:127.0.0.1`);
    const ssl = this.opts.ssl;
    if (ssl) {
      if (this.sslPort === 0) this.sslPort = await freePort();
      remotes.push(`--remote=pssl:${this.sslPort}:127.0.0.1`, `--private-key=${ssl.keyFile}`, `--certificate=${ssl.certFile}`, `--ca-cert=${ssl.caFile}`);
    }
    const [c, a] = this.wrap('ovsdb-server', [
      ...remotes,
      `--pidfile=${join(this.dir, 'ovsdb-server.pid')}`,
      '--detach',
      `--log-file=${join(this.dir, 'ovsdb-server.log')}`,
      db,
    ]);
    await run(c, a, { env: this.env });
    if (create) await this.vsctl('--no-wait', 'init');
  }

  async startVswitchd(): Promise<void> {
    const [c, a] = this.wrap('ovs-vswitchd', [
      `unix:${this.dbSock}`,
      `--pidfile=${join(this.dir, 'ovs-vswitchd.pid')}`,
      '--detach',
      `--log-file=${join(this.dir, 'ovs-vswitchd.log')}`,
    ]);
    await run(c, a, { env: this.env });
  }

  private pid(name: string): number | undefined {
    const f = join(this.dir, `${name}.pid`);
    if (!existsSync(f)) return undefined;
    const n = Number(readFileSync(f, 'utf8').trim());
    return Number.isFinite(n) && n > 0 ? n : undefined;
  }

  /** Kill a daemon (SIGKILL by default: a crash, not a clean stop). */
  async kill(name: 'ovsdb-server' | 'ovs-vswitchd', signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const pid = this.pid(name);
    if (pid === undefined) return;
    try {
      process.kill(pid, signal);
    } catch {
      return; // already gone
    }
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    rmSync(join(this.dir, `${name}.pid`), { force: true });
  }

  async vsctl(...args: string[]): Promise<string> {
    const [c, a] = this.wrap('ovs-vsctl', [`--db=unix:${this.dbSock}`, '--timeout=10', ...args]);
    const { stdout } = await run(c, a, { env: this.env });
    return stdout.trim();
  }

  async ofctl(...args: string[]): Promise<string> {
    const [c, a] = this.wrap('ovs-ofctl', args);
    // A br-int with a firewall and hundreds of ports dumps far more than execFile's default 1 MiB.
    const { stdout } = await run(c, a, { env: this.env, maxBuffer: 512 << 20 });
    return stdout;
  }

  async addBridge(name: string): Promise<void> {
    await this.vsctl('--may-exist', 'add-br', name, '--', 'set', 'bridge', name, 'datapath_type=netdev');
  }

  /** Adds bridge `name` in fail mode secure (nothing passes that no flow allows), speaking OpenFlow 1.0, 1.3 and 1.4. */
  async addSecureBridge(name: string): Promise<void> {
    await this.addBridge(name);
    await this.vsctl('set', 'bridge', name, 'fail_mode=secure', 'protocols=OpenFlow10,OpenFlow13,OpenFlow14');
  }

  /** A secure bridge whose controller is a native backend on 127.0.0.1:`port` (out of band); its datapath id. */
  async addControlledBridge(name: string, port: number): Promise<bigint> {
    await this.addSecureBridge(name);
    await this.vsctl('set-controller', name, `tcp:127.0.0.1:${port}`);
    await this.vsctl('set', 'controller', name, 'connection_mode=out-of-band');
    return this.datapathId(name);
  }

  async datapathId(name: string): Promise<bigint> {
    return BigInt(`0x${(await this.vsctl('get', 'bridge', name, 'datapath_id')).replace(/"/g, '')}`);
  }

  /**
   * Flows of a bridge as `ovs-ofctl dump-flows --no-stats` prints them, cookies stripped and
   * lines sorted: comparable across agents and backends.
   */
  async dumpFlows(bridge: string, opts: { keepCookies?: boolean } = {}): Promise<string[]> {
    const out = await this.ofctl('-O', 'OpenFlow13', 'dump-flows', '--no-stats', bridge);
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('OFPST_FLOW') && !l.startsWith('OFPST'))
      .map((l) => (opts.keepCookies ? l : l.replace(/cookie=0x[0-9a-f]+, ?/g, '').replace(/cookie=0x[0-9a-f]+,?/g, '')))
      .sort();
  }

  async stop(): Promise<void> {
    await this.kill('ovs-vswitchd', 'SIGTERM');
    await this.kill('ovsdb-server', 'SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
