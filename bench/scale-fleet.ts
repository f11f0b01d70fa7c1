// What bench/scale.ts needs to run N agents as N hosts on one Open vSwitch, the way neutron's fullstack
// tests do: per host its own integration and tunnel bridge (and patch ports), its own `host`, its own
// local_ip (an address on the namespace's loopback: tunnel endpoints only need to be distinct, no packet
// is sent), its own of_listen_port; no provider bridge. Tunnel ports are named by both ends (ours:
// `[agent] tunnel_port_naming = local-and-remote-ip`; the reference: neutron's fullstack entry point,
// which names them the same way), so two hosts' tunnels to a third do not collide.
// Also here: each bridge's flows as dumps show them, and the control plane's meter (CPU of
// neutron-server and RabbitMQ, messages counted by the broker).
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PrivateOvs } from '../lab/ovs.js';
import { type NeutronLab, type NeutronAgent } from '../lab/neutron.js';
import { cpuSeconds } from './lib.js';
import { RunningAgent, sleep, type Side } from './agents.js';

const run = promisify(execFile);

/** Tunnel endpoints: 198.19.255.1… (RFC 2544 range, apart from the ports' 198.18.0.0/20). */
export function localIp(i: number): string {
  if (i >= 254) throw new Error(`host ${i}: at most 254 hosts have a tunnel address in 198.19.255.0/24`);
  return `198.19.255.${i + 1}`;
}

export async function addLocalIps(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await run('ip', ['addr', 'replace', `${localIp(i)}/32`, 'dev', 'lo']);
}

export async function removeLocalIps(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await run('ip', ['addr', 'del', `${localIp(i)}/32`, 'dev', 'lo']).catch((e: unknown) => {
      process.stderr.write(`# removing ${localIp(i)} from lo: ${e instanceof Error ? e.message : String(e)}\n`);
    });
  }
}

/** One simulated host: its names (OVS names stay within 15 characters) and its agent. */
export interface Host {
  index: number;
  name: string;
  intBridge: string;
  tunBridge: string;
  localIp: string;
  agent: RunningAgent;
}

/** The reference with neutron's fullstack patch (tunnel ports named by both ends), eventlet first as its entry points do. */
const REFERENCE_FULLSTACK_ARGV = [
  // Debian's interpreter, where neutron is installed (not whatever python3 PATH finds first).
  '/usr/bin/python3', '-c',
  'import sys\nfrom neutron.common import eventlet_utils\neventlet_utils.monkey_patch()\n' +
    'from neutron.tests.common.agents import ovs_agent\nsys.exit(ovs_agent.main())',
];

function hostIni(side: Side, i: number, ovs: PrivateOvs): string {
  const lines = [
    '[ovs]', `integration_bridge = sbi-${i}`, `tunnel_bridge = sbt-${i}`, `int_peer_patch_port = spt-${i}`, `tun_peer_patch_port = spi-${i}`,
    `local_ip = ${localIp(i)}`, 'bridge_mappings =',
    '[securitygroup]', 'firewall_driver = openvswitch',
    '[agent]',
  ];
  if (side === 'ours') lines.push('tunnel_port_naming = local-and-remote-ip');
  // The reference's ovs-ofctl/ovs-vsctl calls reach the private OVS through its run directory.
  else lines.push(`root_helper = env OVS_RUNDIR=${ovs.dir}`, '[oslo_concurrency]', `lock_path = ${join(ovs.dir, `lock-${i}`)}`);
  return lines.join('\n') + '\n';
}

export async function startHost(side: Side, i: number, name: string, lab: NeutronLab, ovs: PrivateOvs): Promise<Host> {
  const agent = await RunningAgent.start(side, {
    host: name, transportUrl: lab.transportUrl, ovs, extraIni: hostIni(side, i, ovs), sharedOvs: true,
    ...(side === 'reference' ? { referenceArgv: REFERENCE_FULLSTACK_ARGV } : {}),
  });
  return { index: i, name, intBridge: `sbi-${i}`, tunBridge: `sbt-${i}`, localIp: localIp(i), agent };
}

/** Names of the hosts the server sees alive. */
export async function aliveHosts(lab: NeutronLab, names: Set<string>): Promise<Set<string>> {
  const r = await lab.api<{ agents: NeutronAgent[] }>('GET', '/v2.0/agents?agent_type=Open%20vSwitch%20agent&fields=host&fields=alive');
  return new Set(r.agents.filter((a) => a.alive && names.has(a.host)).map((a) => a.host));
}

/** One flow of a bridge, as a dump showed it. */
export interface WatchedFlow {
  table: number;
  cookie: string;
  /** Priority, match and actions as printed. */
  text: string;
  /** performance.now() at the end of the first dump that showed it with this cookie. */
  at: number;
}

/** Dumps of one table tried at most this many times when the switch refuses the connection. */
const DUMP_ATTEMPTS = 4;

/**
 * A bridge's flows of some tables, read by `ovs-ofctl dump-flows` when asked (refresh). A flow's time is
 * the end of the first dump that showed it: an upper bound, late by at most one round of dumps. (Flow
 * monitors, `ovs-ofctl monitor watch:`, would time them exactly, but gave the initial flows and no update
 * of the agents' flows in this set-up; not understood yet.)
 */
export class FlowWatch {
  readonly flows = new Map<string, WatchedFlow>();

  constructor(private readonly ovs: PrivateOvs, readonly bridge: string, private readonly tables: number[]) {}

  async refresh(): Promise<void> {
    const seen = new Map<string, WatchedFlow>();
    for (const table of this.tables) {
      const stdout = await this.dump(table);
      const at = performance.now();
      for (const line of stdout.split('\n')) {
        const m = /cookie=(0x[0-9a-f]+), (?:\S+_timeout=\d+, )*table=(\d+), (.*)$/.exec(line);
        if (!m) continue;
        const [, cookie, , text] = m as unknown as [string, string, string, string];
        const key = `${table} ${text}`;
        const before = this.flows.get(key);
        seen.set(key, before && before.cookie === cookie ? before : { table, cookie, text, at });
      }
    }
    this.flows.clear();
    for (const [k, f] of seen) this.flows.set(k, f);
  }

  /**
   * One table's dump. With 50 agents' bridges being set up on one ovs-vswitchd, its management socket
   * for a bridge can refuse a connection now and then ("failed to connect to socket (Broken pipe)",
   * 2026-12-07, N = 50): that is the observer's miss, not the agents', so it is tried again a few times.
   */
  private async dump(table: number): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await run('ovs-ofctl', ['dump-flows', '--no-stats', this.bridge, `table=${table}`], { env: this.ovs.env, maxBuffer: 64 << 20 })).stdout;
      } catch (e) {
        const why = (e as { stderr?: string }).stderr ?? String(e);
        if (attempt >= DUMP_ATTEMPTS || !/failed to connect to socket/.test(why)) throw new Error(`dump-flows ${this.bridge} table=${table} (attempt ${attempt}): ${why}`);
        process.stderr.write(`# dump-flows ${this.bridge} table=${table}: ${why.trim()}; again (attempt ${attempt + 1}/${DUMP_ATTEMPTS})\n`);
        await sleep(200 * attempt);
      }
    }
  }

  /** The flows of a table whose text matches. */
  find(table: number, re: RegExp): WatchedFlow[] {
    const out: WatchedFlow[] = [];
    for (const f of this.flows.values()) if (f.table === table && re.test(f.text)) out.push(f);
    return out;
  }

  cookies(): Set<string> {
    return new Set([...this.flows.values()].map((f) => f.cookie));
  }
}

/** Runs `work` over `items`, `width` at a time. */
export async function inParallel<T>(items: T[], width: number, work: (x: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async (): Promise<void> => {
    for (let x = queue.shift(); x !== undefined; x = queue.shift()) await work(x);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/** What the control plane has spent up to now: CPU seconds of neutron-server (all its processes) and RabbitMQ, broker message counters. */
export interface ControlPlaneSample {
  at: number;
  serverCpu: number;
  rabbitCpu: number;
  /** Messages published to the broker (AMQP 0-9-1, all connections). */
  received: number;
  /** Messages the broker delivered to consumers (basic.get included). */
  delivered: number;
}

/** Reads neutron-server's and RabbitMQ's CPU from /proc and the broker's global message counters through rabbitmqctl. */
export class ControlPlaneMeter {
  private readonly env: NodeJS.ProcessEnv;
  private readonly node: string;

  constructor(private readonly lab: NeutronLab) {
    const vars = new Map<string, string>();
    for (const l of readFileSync(join(lab.dir, 'lab.env'), 'utf8').split('\n')) {
      const m = /^(\w+)=(.*)$/.exec(l);
      if (m) vars.set(m[1]!, m[2]!);
    }
    const epmd = vars.get('EPMD_PORT');
    if (!epmd) throw new Error(`${lab.dir}/lab.env names no EPMD_PORT: cannot reach the lab's RabbitMQ with rabbitmqctl`);
    // The lab's broker runs with HOME (its Erlang cookie) in the lab and its own epmd port (scripts/lab/lab.sh).
    this.env = { ...process.env, HOME: join(lab.dir, 'rabbit'), ERL_EPMD_PORT: epmd };
    this.node = `lab${lab.rabbitPort}@localhost`;
  }

  private pidOf(file: string): number {
    const pid = Number(readFileSync(join(this.lab.dir, file), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${join(this.lab.dir, file)}: no pid`);
    return pid;
  }

  /** The process and every descendant (neutron-server forks its API and RPC workers). */
  private static treeCpu(root: number): number {
    const children = new Map<number, number[]>();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const st = readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
        children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
      } catch {
        // gone meanwhile: its CPU is no longer anyone's to count
      }
    }
    let sum = 0;
    const todo = [root];
    while (todo.length) {
      const p = todo.pop()!;
      sum += cpuSeconds(p);
      todo.push(...(children.get(p) ?? []));
    }
    return sum;
  }

  async brokerCounters(): Promise<{ received: number; delivered: number }> {
    let stdout: string;
    try {
      ({ stdout } = await run('/usr/lib/rabbitmq/bin/rabbitmqctl', ['-q', '-n', this.node, 'eval', 'rabbit_global_counters:overview().'], { env: this.env, timeout: 60000 }));
    } catch (e) {
      throw new Error(`rabbitmqctl eval on ${this.node}: ${(e as { stderr?: string }).stderr ?? String(e)}`);
    }
    // #{[{protocol,amqp091}] => #{messages_received_total => N, ...}, [{protocol,amqp091},{queue_type,Q}] =>
    // #{messages_delivered_total => N, ...}, ...}: publishes are counted per protocol, deliveries per queue type.
    const field = (body: string, k: string): number => {
      const m = new RegExp(`${k}\\s*=>\\s*(\\d+)`).exec(body);
      if (!m) throw new Error(`rabbit_global_counters:overview() gave no ${k}:\n${stdout.slice(0, 2000)}`);
      return Number(m[1]);
    };
    const proto = /\[\{protocol,amqp091\}\]\s*=>\s*#\{([^}]*)\}/.exec(stdout);
    if (!proto) throw new Error(`rabbit_global_counters:overview() has no amqp091 entry:\n${stdout.slice(0, 2000)}`);
    let delivered = 0;
    for (const m of stdout.matchAll(/\[\{protocol,amqp091\},\{queue_type,\w+\}\]\s*=>\s*#\{([^}]*)\}/g)) delivered += field(m[1]!, 'messages_delivered_total');
    return { received: field(proto[1]!, 'messages_received_total'), delivered };
  }

  /** neutron-server's CPU seconds so far (all its processes); no broker call. */
  serverCpu(): number {
    return ControlPlaneMeter.treeCpu(this.pidOf('server.pid'));
  }

  /**
   * Waits until neutron-server has used under a tenth of a core over 5 s, at most `capS`: the end of the
   * fleet's start-up (the reference's tunnel syncs and resyncs) must not count as idle. Returns the seconds waited.
   */
  async quiet(capS: number): Promise<number> {
    const t0 = performance.now();
    for (;;) {
      const c0 = this.serverCpu();
      await sleep(5000);
      if (this.serverCpu() - c0 < 0.5 || performance.now() - t0 > capS * 1000) return (performance.now() - t0) / 1000;
    }
  }

  async sample(): Promise<ControlPlaneSample> {
    const counters = await this.brokerCounters();
    return { at: performance.now(), serverCpu: this.serverCpu(), rabbitCpu: cpuSeconds(this.pidOf('rabbit/pid')), ...counters };
  }
}

/** What a stretch of time cost the control plane, with the idle rate (per second) taken off the CPU. */
export interface ControlPlaneCost {
  seconds: number;
  serverCpu: number;
  rabbitCpu: number;
  received: number;
  delivered: number;
}

export function costBetween(a: ControlPlaneSample, b: ControlPlaneSample, idle?: ControlPlaneCost): ControlPlaneCost {
  const seconds = (b.at - a.at) / 1000;
  const rate = (x: number): number => (idle && idle.seconds > 0 ? (x / idle.seconds) * seconds : 0);
  return {
    seconds,
    serverCpu: b.serverCpu - a.serverCpu - rate(idle?.serverCpu ?? 0),
    rabbitCpu: b.rabbitCpu - a.rabbitCpu - rate(idle?.rabbitCpu ?? 0),
    received: b.received - a.received - rate(idle?.received ?? 0),
    delivered: b.delivered - a.delivered - rate(idle?.delivered ?? 0),
  };
}

/** Waits until `done` holds, checking every `intervalMs`; throws with `state()` after timeoutMs. */
export async function waitUntil(what: string, timeoutMs: number, done: () => boolean | Promise<boolean>, state: () => string, intervalMs = 20): Promise<void> {
  const t0 = performance.now();
  let said = t0;
  while (!(await done())) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms (${state()})`);
    if (performance.now() - said > 30000) {
      said = performance.now();
      process.stderr.write(`# waiting for ${what}: ${((said - t0) / 1000).toFixed(0)} s (${state()})\n`);
    }
    await sleep(intervalMs);
  }
}
