// Tools for the resilience tests (test/integration/resilience): an agent configured against a
// NeutronLab and a PrivateOvs, a continuous pinger whose replies carry kernel timestamps (so
// outages and recovery times can be measured after the fact), and flow-set snapshots.
import { spawn, type ChildProcess } from 'node:child_process';
import { AgentProcess } from '../../lab/agent-process.js';
import { labAgentFiles, type LabAgentOptions } from '../../lab/agent-config.js';
import type { NeutronLab } from '../../lab/neutron.js';
import type { PrivateOvs } from '../../lab/ovs.js';
import type { Vm } from '../../lab/vm.js';

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

/** Starts the agent CLI with these files and waits until its bridges are set up. */
export async function startAgent(files: Record<string, string>, ovs: PrivateOvs, timeoutMs = 30000): Promise<AgentProcess> {
  const a = new AgentProcess(files, ovs.env).start();
  await a.waitForLog(/bridges set up/, timeoutMs);
  return a;
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
    readonly from: Vm,
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

  static start(from: Vm, to: string, intervalSec = 0.05): Pinger {
    return new Pinger(from, to, intervalSec);
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
