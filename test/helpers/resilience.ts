// Tools for the resilience tests (test/integration/resilience): an agent configured against a
// NeutronLab and a PrivateOvs, a continuous pinger whose replies carry kernel timestamps (so
// outages and recovery times can be measured after the fact), and flow-set snapshots.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { AgentProcess } from '../../lab/agent-process.js';
import { labAgentFiles, type LabAgentOptions } from '../../lab/agent-config.js';
import { waitFor, type NeutronLab } from '../../lab/neutron.js';
import { startLab } from '../../lab/host.js';
import type { PrivateOvs } from '../../lab/ovs.js';
import { cleanupAllVms, type Vm } from '../../lab/vm.js';

/**
 * How soon after ovs-vswitchd is back the VMs must pass traffic again. The native backend hears of
 * the restart at once (the switch reconnects to its controller); with ovs-ofctl only the canary
 * check, every 2 s, tells, so the same re-setup may start up to 2 s later.
 */
export const OVS_RESTART_RECOVERY_BOUND_MS = { native: 2000, 'ovs-ofctl': 4000 } as const;

export interface AgentConfigOptions {
  host: string;
  ofListenPort: number;
  /** [ovs] of_interface (default: the agent's, native). */
  ofInterface?: LabAgentOptions['ofInterface'];
  /** Extra lines for [agent] (e.g. 'report_interval = 2'). */
  agent?: string[];
  /** Extra lines for [ovs]. */
  ovs?: string[];
  bridgeMappings?: string;
}

/** The lab host's files (report_interval 2 s, so liveness shows quickly), against this lab and OVS. */
export function agentConfig(lab: NeutronLab, ovs: PrivateOvs, o: AgentConfigOptions): Record<string, string> {
  return labAgentFiles({ ...o, transportUrl: lab.transportUrl, ovsdbConnection: ovs.unixConnection, reportIntervalSec: 2 });
}

/**
 * One neutron lab for the whole file (under `npm test` the shared one, borrowed): the file's
 * before() starts it and hands it to `use`, its after() gives it back. For the file's tests only:
 * node 20 runs a file's other top-level before() hooks without waiting for this one.
 */
export function labForFile(use: (lab: NeutronLab) => void): void {
  let lab: NeutronLab | undefined;
  before(async () => {
    lab = await startLab();
    use(lab);
  }, { timeout: 240000 });
  after(async () => {
    await lab?.stop();
  }, { timeout: 60000 });
}

/** Starts the agent CLI with these files and waits until its bridges are set up. */
export async function startAgent(files: Record<string, string>, ovs: PrivateOvs, timeoutMs = 30000): Promise<AgentProcess> {
  const a = new AgentProcess(files, ovs.env).start();
  await a.waitForLog(/bridges set up/, timeoutMs);
  return a;
}

/** Waits until the server lists the agent of `host` as alive (it has reported since it started). */
export async function waitAgentAlive(lab: NeutronLab, host: string, timeoutMs = 60000): Promise<void> {
  await waitFor(async () => (await lab.listAgents()).find((a) => a.host === host && a.alive), timeoutMs, `the agent of ${host} alive in the API`);
}

/** Something a test leaves running that one call ends at once (a pinger, a probe, a flow watch). */
export interface Killable {
  kill(): void;
}

/**
 * Ends what a lab-host test started, in order and whatever failed before: its traffic, the VMs,
 * the agent (its output kept in $RS_KEEP_LOG/<host>.log when that is set), the OVS and the lab.
 */
export async function stopLabHost(h: { host: string; agent?: AgentProcess; ovs?: PrivateOvs; lab?: NeutronLab; running?: Iterable<Killable> }): Promise<void> {
  await stopAgentHost(h);
  await Promise.allSettled([h.lab?.stop(), h.ovs?.stop()]);
}

/** What runs on a test host's OVS: traffic, VMs, the agent (its log kept with RS_KEEP_LOG; killed if it will not stop). */
export async function stopAgentHost(h: { host: string; agent?: AgentProcess; running?: Iterable<Killable> }): Promise<void> {
  if (process.env.RS_KEEP_LOG && h.agent) writeFileSync(`${process.env.RS_KEEP_LOG}/${h.host}.log`, h.agent.output);
  for (const r of h.running ?? []) r.kill();
  await cleanupAllVms();
  if (h.agent) {
    await h.agent.stop().catch(async (e: unknown) => {
      note(`stopping the agent of ${h.host} failed, killing it: ${e instanceof Error ? e.message : String(e)}`);
      await h.agent?.stop('SIGKILL');
    });
    h.agent.cleanup();
  }
}

/**
 * Asserts that attempts made at `times` (ms since the epoch, in order) watched the whole of a
 * window: one before it began, one after it ended, and never more than `maxGapMs` between two.
 * What a test proves with a probe is that no moment went unwatched, which a count of attempts in a
 * wall-clock window does not say (a busy machine makes fewer attempts, a slow restart more).
 */
export function assertCovers(times: readonly number[], window: { from: number; to: number }, maxGapMs: number, what: string): void {
  assert.ok(times.length > 0, `${what}: no attempt at all`);
  const first = times[0]!;
  const last = times[times.length - 1]!;
  assert.ok(first <= window.from, `${what}: the first attempt came ${first - window.from} ms after the window began`);
  assert.ok(last >= window.to, `${what}: the last attempt came ${window.to - last} ms before the window ended`);
  let worst = { gap: 0, at: first };
  for (let i = 1; i < times.length; i++) {
    const gap = times[i]! - times[i - 1]!;
    if (gap > worst.gap) worst = { gap, at: times[i - 1]! };
  }
  assert.ok(worst.gap <= maxGapMs, `${what}: ${worst.gap} ms without an attempt from +${worst.at - window.from} ms into the window (want <= ${maxGapMs})`);
}

export interface PingReply {
  seq: number;
  /** Arrival time (ms since the epoch), from ping -D. */
  at: number;
}

export interface PingSummary {
  transmitted: number;
  received: number;
  /** Sequence numbers never answered (the last in-flight one excluded). */
  lostSeqs: number[];
}

/**
 * `ping -i <interval> -D` running in a VM until stop(). Every reply is kept with its timestamp:
 * the first reply after an instant measures recovery, missing sequence numbers count losses.
 */
export class Pinger {
  readonly replies: PingReply[] = [];
  private out = '';
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  readonly startedAt = Date.now();

  private constructor(
    readonly from: Pick<Vm, 'netns'>,
    readonly to: string,
    readonly intervalSec: number,
  ) {
    this.child = spawn('ip', ['netns', 'exec', from.netns, 'ping', '-n', '-D', '-i', String(intervalSec), '-W', '1', to], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (b: Buffer) => this.onData(b.toString()));
    this.child.stderr!.on('data', (b: Buffer) => (this.out += b.toString()));
    this.exited = new Promise((r) => this.child.once('exit', () => r()));
  }

  static start(from: Pick<Vm, 'netns'>, to: string, intervalSec = 0.05): Pinger {
    return new Pinger(from, to, intervalSec);
  }

  /**
   * Starts pinging every 50 ms, kept in `running` for the file's teardown, and waits for a first
   * reply: the baseline a fault is measured against.
   */
  static async startAnswered(from: Pick<Vm, 'netns'>, to: string, running: Killable[], what = 'pinging before the fault'): Promise<Pinger> {
    const p = Pinger.start(from, to);
    running.push(p);
    if (!(await p.waitReplyAfter(Date.now(), 5000))) throw new Error(`${what}: no reply from ${to} to ${from.netns} within 5 s`);
    return p;
  }

  private partial = '';
  private onData(s: string): void {
    this.out += s;
    const lines = (this.partial + s).split('\n');
    this.partial = lines.pop()!;
    for (const l of lines) {
      const m = /^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)/.exec(l);
      if (m) this.replies.push({ seq: Number(m[2]), at: Math.round(Number(m[1]) * 1000) });
    }
  }

  /** First reply that arrived at or after `t` (ms since the epoch). */
  firstReplyAfter(t: number): PingReply | undefined {
    return this.replies.find((r) => r.at >= t);
  }

  /** Waits until a reply arrives at or after `t`; undefined on timeout. */
  async waitReplyAfter(t: number, timeoutMs: number): Promise<PingReply | undefined> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = this.firstReplyAfter(t);
      if (r || Date.now() > end) return r;
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  /** Longest time between two consecutive replies (ms), with when it started. */
  longestGap(): { ms: number; from: number } {
    let best = { ms: 0, from: this.startedAt };
    for (let i = 1; i < this.replies.length; i++) {
      const d = this.replies[i]!.at - this.replies[i - 1]!.at;
      if (d > best.ms) best = { ms: d, from: this.replies[i - 1]!.at };
    }
    return best;
  }

  /** Stops ping (SIGINT, so it prints its summary) and counts what was lost. */
  async stop(): Promise<PingSummary> {
    // Let the last request get its answer before stopping.
    await new Promise((r) => setTimeout(r, Math.max(200, this.intervalSec * 4000)));
    this.child.kill('SIGINT');
    await this.exited;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(this.out);
    if (!m) throw new Error(`ping ${this.to} from ${this.from.netns}: no summary:\n${this.out.slice(-2000)}`);
    const answered = new Set(this.replies.map((r) => r.seq));
    const maxSeq = Number(m[1]);
    const lostSeqs: number[] = [];
    for (let s = 1; s < maxSeq; s++) if (!answered.has(s)) lostSeqs.push(s);
    return { transmitted: Number(m[1]), received: Number(m[2]), lostSeqs };
  }

  /** Kills ping without waiting (cleanup paths). */
  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Flows of `bridge` without cookies or stats, as a set. */
export async function flowSet(ovs: PrivateOvs, bridge: string): Promise<Set<string>> {
  return new Set(await ovs.dumpFlows(bridge));
}

async function flowSets(ovs: PrivateOvs, bridges: readonly string[]): Promise<Map<string, Set<string>>> {
  return new Map(await Promise.all(bridges.map(async (b) => [b, await flowSet(ovs, b)] as const)));
}

export interface FlowWatchResult {
  /** Each bridge's flows when the watch started and when it stopped. */
  before: Map<string, Set<string>>;
  after: Map<string, Set<string>>;
  samples: number;
  /** The sample that lacked the most needed flows (in both `before` and `after`): when, and which. */
  worst: { at: number; gone: string[] };
}

/**
 * Bridges' flows sampled every 50 ms across a fault (an agent restart, say): a flow there before
 * and after that is missing from some sample is one the dataplane did without for a while.
 */
export class FlowWatch implements Killable {
  private sampling = true;
  private readonly samples: Array<{ at: number; flows: Map<string, Set<string>> }> = [];
  private readonly loop: Promise<unknown>;

  private constructor(
    private readonly ovs: PrivateOvs,
    private readonly bridges: readonly string[],
    private readonly before: Map<string, Set<string>>,
  ) {
    // Kept settled so a failed dump does not go unhandled; stop() rethrows it.
    this.loop = this.sample().then(() => undefined, (e: unknown) => e);
  }

  static async start(ovs: PrivateOvs, bridges: readonly string[]): Promise<FlowWatch> {
    return new FlowWatch(ovs, bridges, await flowSets(ovs, bridges));
  }

  private async sample(): Promise<void> {
    while (this.sampling) {
      this.samples.push({ at: Date.now(), flows: await flowSets(this.ovs, this.bridges) });
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(): void {
    this.sampling = false;
  }

  async stop(): Promise<FlowWatchResult> {
    this.sampling = false;
    const failed = await this.loop;
    if (failed !== undefined) throw new Error(`sampling the flows of ${this.bridges.join(', ')}: ${failed instanceof Error ? failed.message : String(failed)}`);
    const after = await flowSets(this.ovs, this.bridges);
    const needed = this.bridges.map((b) => [b, [...this.before.get(b)!].filter((f) => after.get(b)!.has(f))] as const);
    let worst: FlowWatchResult['worst'] = { at: 0, gone: [] };
    for (const s of this.samples) {
      const gone = needed.flatMap(([b, flows]) => missing(flows, s.flows.get(b)!));
      if (gone.length > worst.gone.length) worst = { at: s.at, gone };
    }
    return { before: this.before, after, samples: this.samples.length, worst };
  }
}

/**
 * Whether a dumped flow was learned from traffic (a learn action's product, table 20): it has a
 * hard_timeout of its own, before its actions. The learn action's flow itself names hard_timeout
 * only inside its actions and is the agent's.
 */
export function isLearnedFlow(flow: string): boolean {
  const at = flow.indexOf(' actions=');
  return (at < 0 ? flow : flow.slice(0, at)).includes('hard_timeout=');
}

/** The agents' flows: learned flows come from traffic, not from either agent. */
export function withoutLearnedFlows(flows: string[]): string[] {
  return flows.filter((f) => !isLearnedFlow(f));
}

/** Cookies of `bridge`'s flows ('0x0' for a flow without one), learned flows aside. */
export async function flowCookies(ovs: PrivateOvs, bridge: string): Promise<Set<string>> {
  const lines = withoutLearnedFlows(await ovs.dumpFlows(bridge, { keepCookies: true }));
  return new Set(lines.map((l) => /cookie=(0x[0-9a-f]+)/.exec(l)?.[1] ?? '0x0'));
}

/** Elements of `a` missing from `b`. */
export function missing(a: Iterable<string>, b: Set<string>): string[] {
  return [...a].filter((x) => !b.has(x));
}

/** Port name -> tag of every port on `bridge` that has one. */
export async function portTags(ovs: PrivateOvs, bridge: string): Promise<Map<string, number>> {
  const names = (await ovs.vsctl('list-ports', bridge)).split('\n').filter(Boolean);
  const out = new Map<string, number>();
  for (const n of names) {
    const t = await ovs.vsctl('get', 'Port', n, 'tag');
    if (/^\d+$/.test(t)) out.set(n, Number(t));
  }
  return out;
}

/** [1,2,3,7,9,10] -> "1-3,7,9-10" */
export function ranges(seqs: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < seqs.length; ) {
    let j = i;
    while (j + 1 < seqs.length && seqs[j + 1] === seqs[j]! + 1) j++;
    out.push(i === j ? `${seqs[i]}` : `${seqs[i]}-${seqs[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

export const note = (s: string): void => {
  process.stdout.write(`# ${s}\n`);
};
