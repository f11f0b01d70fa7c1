// Debian's neutron-l3-agent for DVR tests: on one simulated host (a private OVS), in `dvr` mode
// (or `dvr_snat`), its router ports plugged into that OVS's br-int, its namespaces made in the
// caller's network namespace, or with `netns` inside that host's namespace. No metadata proxy.
// stop() ends it and the privsep helpers of its run. When its privsep daemon hits eventlet's
// cross-thread bug (PRIVSEP_STUCK), so that it waits for good, it is started again.
//
// Two L3 agents on one machine name their router namespaces alike (qrouter-<router id>): one in a
// simulated host runs in a mount namespace of its own with a private /run/netns, so each host's
// routers are its own, as on two machines.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PrivateOvs } from './ovs.js';

const run = promisify(execFile);

export interface L3AgentOptions {
  host: string;
  transportUrl: string;
  ovs: PrivateOvs;
  mode: 'dvr' | 'dvr_snat';
  /**
   * Run inside this network namespace (a simulated host: TwoHosts), with a /run/netns of its own;
   * the OVS is then reached on its unix socket and `transportUrl` must be reachable from there.
   */
  netns?: string;
}

/**
 * What oslo.privsep's daemon logs when eventlet's cross-thread bug strikes it: a green semaphore
 * released on one of its worker threads wakes a waiter of another (neutron's privileged commands run
 * eventlet's green subprocess on real threads). That waiter's call is never answered and the L3
 * agent waits on it for good. Now and then, more often with two labs' L3 agents busy at once (CI);
 * not ours to fix.
 */
const PRIVSEP_STUCK = 'greenlet.error: cannot switch to a different thread';

/**
 * The agent runs under a shell that starts it again only when asked (a `restart` file in its
 * directory): a crash still ends the run. In a simulated host the shell holds the mount namespace
 * with its own /run/netns, so a restarted agent finds its routers' namespaces.
 */
const SUPERVISOR = 'while :; do neutron-l3-agent "$@" & echo $! > "$L3_DIR/pid"; wait $!; [ -e "$L3_DIR/restart" ] || exit; rm -f "$L3_DIR/restart"; done';

/** neutron.agent.l3.agent's update actions that end without a "Finished a router update" line: PD_UPDATE, UPDATE_NETWORK. */
const NO_FINISH_LINE = new Set(['5', '6']);

export class L3Agent {
  private exited = false;
  /** Where the running agent's part of l3.log starts. */
  private logFrom = 0;
  private scanned = 0;
  private readonly watchdog: NodeJS.Timeout;

  private constructor(
    readonly dir: string,
    private readonly child: ChildProcess,
  ) {
    child.on('exit', () => (this.exited = true));
    this.watchdog = setInterval(() => this.restartIfStuck(), 1000);
    this.watchdog.unref();
  }

  static start(o: L3AgentOptions): L3Agent {
    const dir = mkdtempSync(join(tmpdir(), 'l3-agent-'));
    writeFileSync(join(dir, 'neutron.conf'), `[DEFAULT]\nhost = ${o.host}\ntransport_url = ${o.transportUrl}\nstate_path = ${dir}\n[oslo_concurrency]\nlock_path = ${dir}/lock\n`);
    writeFileSync(
      join(dir, 'l3_agent.ini'),
      [
        '[DEFAULT]', 'interface_driver = openvswitch', `agent_mode = ${o.mode}`, 'enable_metadata_proxy = False', 'debug = True',
        '[ovs]', `ovsdb_connection = ${o.netns ? o.ovs.unixConnection : o.ovs.tcpConnection}`, 'integration_bridge = br-int',
        '[agent]', `root_helper = env OVS_RUNDIR=${o.ovs.dir}`, 'report_interval = 5', '',
      ].join('\n'),
    );
    const args = ['--config-file', join(dir, 'neutron.conf'), '--config-file', join(dir, 'l3_agent.ini'), '--log-file', join(dir, 'l3.log')];
    const [cmd, argv]: [string, string[]] = o.netns
      ? ['ip', ['netns', 'exec', o.netns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
        `mount -t tmpfs -o size=1m,mode=755 l3-agent-netns /run/netns && ${SUPERVISOR}`, 'l3-agent', ...args]]
      : ['sh', ['-c', SUPERVISOR, 'l3-agent', ...args]];
    const err = openSync(join(dir, 'stderr'), 'w');
    const child = spawn(cmd, argv, { env: { ...o.ovs.env, L3_DIR: dir }, stdio: ['ignore', 'ignore', err] });
    closeSync(err);
    return new L3Agent(dir, child);
  }

  /** l3.log from byte `from` on; undefined before the agent has written it. */
  private readLog(from: number): Buffer | undefined {
    let fd: number;
    try {
      fd = openSync(join(this.dir, 'l3.log'), 'r');
    } catch {
      return undefined;
    }
    try {
      const buf = Buffer.alloc(Math.max(0, fstatSync(fd).size - from));
      const n = readSync(fd, buf, 0, buf.length, from);
      return buf.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  }

  /** The agent's log since it was last (re)started; `tail` characters of it. */
  log(tail = 4000): string {
    return this.readLog(this.logFrom)?.toString('utf8').slice(-tail) ?? '(no log)';
  }

  /** The privsep daemon stuck (PRIVSEP_STUCK): the agent and its privsep daemons are killed and the agent started again. */
  private restartIfStuck(): void {
    if (this.exited) return;
    // Only what was written since the last look, from a line's length before it: a line may have been half written then.
    const from = Math.max(this.logFrom, this.scanned - PRIVSEP_STUCK.length);
    const text = this.readLog(from);
    if (!text) return;
    this.scanned = from + text.length;
    if (!text.includes(PRIVSEP_STUCK)) return;
    process.stderr.write(`neutron-l3-agent (${this.dir}): its privsep daemon logged '${PRIVSEP_STUCK}' (eventlet's cross-thread bug), so a call of it is never answered; restarting the L3 agent\n`);
    this.logFrom = this.scanned;
    writeFileSync(join(this.dir, 'restart'), '');
    this.killAgent();
    this.killPrivsepHelpers();
  }

  private killAgent(signal: NodeJS.Signals = 'SIGKILL'): void {
    try {
      process.kill(Number(readFileSync(join(this.dir, 'pid'), 'utf8')), signal);
    } catch (e) {
      process.stderr.write(`neutron-l3-agent (${this.dir}): cannot signal it: ${String(e)}\n`);
    }
  }

  private killPrivsepHelpers(): void {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
        if (cmd.includes('privsep-helper') && cmd.includes(this.dir)) process.kill(Number(d), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }

  /**
   * Whether the agent has finished every update of `routerId` it started, at least one: the router
   * is then set up in full here. Routed traffic passes well before that (its qr- ports and routes
   * come first); the address-scope iptables rules come last, and the restore that first adds them
   * commits the filter table (the `-o qr-… ! --mark … DROP` rules) before the mangle table (the
   * marks), so for some milliseconds every packet routed out of those ports is dropped
   * (iptables-nft commits table by table; neutron's iptables manager writes tables in sorted order).
   */
  routerSettled(routerId: string): boolean {
    const text = this.log(Number.MAX_SAFE_INTEGER);
    // Router updates only: the agent logs no end of a network update (action 6: a network_update
    // notification, handled at once) nor, in this form, of a prefix delegation one (5).
    const started = [...text.matchAll(new RegExp(`Starting processing update ${routerId}, action (\\d+), .*?update_id ([0-9a-f-]+)`, 'g'))]
      .filter((m) => !NO_FINISH_LINE.has(m[1]!)).map((m) => m[2]!);
    const finished = new Set([...text.matchAll(new RegExp(`Finished a router update for ${routerId}, update_id ([0-9a-f-]+)`, 'g'))].map((m) => m[1]!));
    return finished.size > 0 && started.every((u) => finished.has(u));
  }

  /** Waits until routerSettled() holds and goes on holding for `quietMs` (a queued update starts at once). */
  async waitRouterSettled(routerId: string, timeoutMs: number, quietMs = 3000): Promise<void> {
    const end = Date.now() + timeoutMs;
    let since: number | undefined;
    for (;;) {
      this.assertRunning();
      if (!this.routerSettled(routerId)) since = undefined;
      else if (since === undefined) since = Date.now();
      else if (Date.now() - since >= quietMs) return;
      if (Date.now() > end) {
        const text = this.log(Number.MAX_SAFE_INTEGER);
        const open = [...text.matchAll(new RegExp(`^.*Starting processing update ${routerId}, .*update_id ([0-9a-f-]+).*$`, 'gm'))]
          .filter((m) => !text.includes(`update_id ${m[1]!}. Time elapsed`)).map((m) => m[0]);
        const problems = text.split('\n').filter((l) => / (ERROR|WARNING) neutron\.agent\.l3/.test(l)).slice(-10);
        throw new Error(`neutron-l3-agent (${this.dir}) did not finish setting up router ${routerId} within ${timeoutMs} ms; updates not finished:\n${open.join('\n') || '(none)'}\n`
          + `its last warnings and errors:\n${problems.join('\n') || '(none)'}\nlog tail:\n${this.log()}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  assertRunning(): void {
    if (this.exited) {
      const stderr = readFileSync(join(this.dir, 'stderr'), 'utf8').slice(-2000);
      throw new Error(`neutron-l3-agent exited; stderr:\n${stderr}\nlog tail:\n${this.log()}`);
    }
  }

  /** SIGTERM, SIGKILL after `graceMs`; then the privsep helpers started for this run's directory. */
  async stop(graceMs = 5000): Promise<void> {
    clearInterval(this.watchdog);
    if (!this.exited) {
      this.killAgent('SIGTERM');
      const end = Date.now() + graceMs;
      while (!this.exited && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      if (!this.exited) {
        this.killAgent('SIGKILL');
        this.child.kill('SIGKILL');
      }
    }
    this.killPrivsepHelpers();
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Waits (20 s at most) for an L3 agent to delete a removed router's namespaces, which it makes in the
 * machine's /run/netns; those still there are deleted, and said so (by `who`): a run leaves none behind.
 */
export async function routerNamespacesGone(routerId: string, who: string): Promise<void> {
  const left = (): string[] => ['qrouter', 'snat'].map((p) => `${p}-${routerId}`).filter((n) => existsSync(`/run/netns/${n}`));
  for (let i = 0; i < 40 && left().length; i++) await new Promise((r) => setTimeout(r, 500));
  for (const ns of left()) {
    process.stderr.write(`${who}: the L3 agent left namespace ${ns}; deleting it\n`);
    await run('ip', ['netns', 'delete', ns]);
  }
}
