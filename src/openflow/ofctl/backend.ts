// The ovs-ofctl backend: flows go to the bridge as text through ovs-ofctl, one process per batch.
// A batch is written with `--bundle`: 10 000 flows cost one process, not 10 000. Should the switch
// refuse a flow of it (and so all of it), the batch is halved until the refused flows are found and
// everything else is in, which is what the native backend does with its pipelined flow mods.
import { isAscii } from 'node:buffer';
import { spawn } from 'node:child_process';
import type { FlowMod, FlowStats, PortDesc } from '../flow.js';
import type { Meter, MeterFeatures, MeterMod } from '../meter.js';
import { formatFlowModLine, formatFilter, formatMeter } from '../text.js';
import { DumpDecoder, FlowTextError, scanDumpLine } from './dump.js';
import { meterModFailure, MeterTextError, parseDumpMeters, parseMeterFeatures } from './meters.js';
import { MeterModError, OpenFlowError, type OpenFlowBackend, type OpenFlowSwitch, type StatsFilter } from '../backend.js';
import { getLogger } from '../../util/log.js';

const LOG = getLogger('openflow.ofctl');

export interface OfctlOptions {
  /** The ovs-ofctl binary (default: from PATH). */
  binary?: string;
  /** Seconds before an ovs-ofctl run is abandoned (ovs-ofctl --timeout). */
  timeoutSec: number;
  /** Environment for ovs-ofctl (OVS_RUNDIR decides where the bridges' .mgmt sockets are). */
  env?: NodeJS.ProcessEnv;
}

interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * ovs-ofctl's output as text. A flow dump is ASCII (a megabyte for 10 000 flows): checked as such,
 * it is copied into a string as Latin-1, the same text several times cheaper than decoding UTF-8.
 */
export function outputText(b: Buffer): string {
  return isAscii(b) ? b.toString('latin1') : b.toString('utf8');
}

function runOfctl(opts: OfctlOptions, args: string[], stdin?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.binary ?? 'ovs-ofctl', [`--timeout=${opts.timeoutSec}`, ...args], {
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ stdout: outputText(Buffer.concat(out)), stderr: Buffer.concat(err).toString('utf8'), code }),
    );
    child.stdin.on('error', () => {
      // EPIPE when ovs-ofctl exits early (bridge missing); its stderr says why, reported on close.
    });
    child.stdin.end(stdin ?? '');
  });
}

/**
 * One `dump-flows` line: `cookie=0x1, duration=1.2s, table=0, n_packets=0, n_bytes=0, priority=3,... actions=...`.
 * The flow is decoded too when the model can express it (everything the agent writes); a line that
 * cannot be decoded keeps its table, priority, cookie and counters, and is logged at debug level.
 * Undefined for blank and reply-header lines. The lines of one dump share a decoder.
 */
export function parseDumpFlowsLine(line: string, decoder = new DumpDecoder()): FlowStats | undefined {
  const l = line.trim();
  if (!l || l.startsWith('OFPST_') || l.startsWith('NXST_')) return undefined;
  const { flow, table, cookie, nPackets, nBytes, duration, idleTimeout, hardTimeout } = scanDumpLine(l, decoder);
  if (flow instanceof FlowTextError) {
    LOG.debug(`dump-flows line kept without its flow (${flow.message}): ${l}`);
    return {
      table: Number(table ?? 0),
      priority: priorityOf(line),
      cookie: cookie === undefined ? 0n : decoder.cookie(cookie),
      packetCount: counter(nPackets),
      byteCount: counter(nBytes),
      durationSec: duration ? Number.parseFloat(duration) : 0,
      idleTimeout: Number(idleTimeout ?? 0),
      hardTimeout: Number(hardTimeout ?? 0),
    };
  }
  // One literal with the flow in it: adding it afterwards would grow the object a second time.
  return {
    table: flow.table,
    priority: flow.priority,
    // The decoded flow holds the same cookie already: not parsed twice.
    cookie: flow.cookie ?? 0n,
    packetCount: counter(nPackets),
    byteCount: counter(nBytes),
    durationSec: duration ? Number.parseFloat(duration) : 0,
    idleTimeout: Number(idleTimeout ?? 0),
    hardTimeout: Number(hardTimeout ?? 0),
    flow,
  };
}

/** A packet or byte counter: most are 0 in a dump, which needs no BigInt parse. */
function counter(text: string | undefined): bigint {
  return text === undefined || text === '0' ? 0n : BigInt(text);
}

/** Every flow of a `dump-flows` reply, line by line without an array of lines, with one decoder. */
export function parseDumpFlows(text: string): FlowStats[] {
  const out: FlowStats[] = [];
  const decoder = new DumpDecoder();
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const stats = parseDumpFlowsLine(text.slice(start, end), decoder);
    if (stats) out.push(stats);
    start = end + 1;
  }
  return out;
}

/** The priority of a line whose flow could not be decoded (never a value from inside the actions). */
function priorityOf(line: string): number {
  const m = /(?:^|[ ,])priority=(\d+)/.exec(line.split('actions=')[0] ?? '');
  return m ? Number(m[1]) : 32768;
}

/** Parse `dump-ports-desc` output lines like ` 1(patch-tun): addr:aa:bb:cc:dd:ee:ff`. */
export function parsePortsDesc(text: string): PortDesc[] {
  const ports: PortDesc[] = [];
  const re = /^\s*(\d+|LOCAL)\(([^)]+)\): addr:([0-9a-f:]{17})/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    ports.push({ portNo: m[1] === 'LOCAL' ? 0xfffffffe : Number(m[1]), name: m[2]!, hwAddr: m[3]! });
  }
  return ports;
}

const MAX_LISTED_ERRORS = 5;

/**
 * Whether ovs-ofctl failed because of a flow (the switch answered with an OpenFlow error, or the
 * text did not parse), not because the bridge or its socket is unusable: only then is halving
 * the batch worth it.
 */
export function refusedFlow(stderr: string): boolean {
  // The switch: "Error OFPFMFC_TABLE_FULL for: OFPT_FLOW_MOD ..."; the parser: "ovs-ofctl: -:3: ...".
  return /^Error OFP[A-Z]+_[A-Z_]+ for: OFPT_FLOW_MOD|^ovs-ofctl: -:\d+:/m.test(stderr);
}

/** The error name ovs-ofctl printed for a refused flow mod (e.g. OFPBIC_BAD_TABLE_ID), else its first line. */
export function refusalReason(stderr: string): string {
  const names = stderr.match(/\bOFP[A-Z]+_[A-Z_]+\b/g)?.filter((n) => n !== 'OFPBFC_MSG_FAILED' && !n.startsWith('OFPT_'));
  return names?.[0] ?? stderr.trim().split('\n')[0] ?? 'refused';
}

/** The ovs-ofctl command of each meter mod. */
const METER_VERBS: Record<MeterMod['command'], string> = { add: 'add-meter', modify: 'mod-meter', delete: 'del-meter' };

class OfctlSwitch implements OpenFlowSwitch {
  constructor(readonly bridge: string, private readonly opts: OfctlOptions) {}

  retire(): void {
    // ovs-ofctl names the bridge, not a datapath: nothing waits for a switch, and a missing bridge
    // fails each run at once (bounded by --timeout besides).
  }

  async apply(mods: FlowMod[]): Promise<void> {
    if (mods.length === 0) return;
    const lines = mods.map(formatFlowModLine);
    const r = await this.addFlows(lines);
    if (r.code === 0) {
      LOG.debug(`${this.bridge}: applied ${mods.length} flow mods in one bundle`);
      return;
    }
    if (!refusedFlow(r.stderr)) {
      throw new OpenFlowError(`ovs-ofctl --bundle add-flows (${mods.length} flow mods) failed: ${r.stderr.trim()}`, this.bridge, {
        flow: r.stderr.trim().split('\n')[0] ?? '',
      });
    }
    // The switch (or ovs-ofctl's parser) refused some flow of the bundle, so none of it went in.
    // As the native backend does, install everything else and report the refused ones: one bad
    // port's flow must not keep every other port unwired. Halving finds them in O(k log n) runs.
    const refused: { index: number; line: string; why: string }[] = [];
    await this.bisect(lines, 0, refused);
    const listed = refused.slice(0, MAX_LISTED_ERRORS).map((f) => `${f.why} for "${f.line}"`).join('; ');
    const more = refused.length > MAX_LISTED_ERRORS ? ` (and ${refused.length - MAX_LISTED_ERRORS} more)` : '';
    throw new OpenFlowError(`switch refused ${refused.length} of ${mods.length} flow mods: ${listed}${more}`, this.bridge, {
      ...(refused[0] ? { flow: refused[0].line } : {}),
      refused: refused.map((f) => ({ index: f.index, reason: f.why })),
    });
  }

  private addFlows(lines: string[]): Promise<RunResult> {
    return runOfctl(this.opts, ['-O', 'OpenFlow13', '--bundle', 'add-flows', this.bridge, '-'], lines.join('\n') + '\n');
  }

  /**
   * Applies `lines` in order, splitting around refused flows; order is kept (a delete before the
   * add that follows it). `offset`: index of lines[0] in the caller's batch.
   */
  private async bisect(lines: string[], offset: number, refused: { index: number; line: string; why: string }[]): Promise<void> {
    const r = await this.addFlows(lines);
    if (r.code === 0) return;
    if (!refusedFlow(r.stderr)) {
      throw new OpenFlowError(`ovs-ofctl --bundle add-flows (${lines.length} flow mods) failed: ${r.stderr.trim()}`, this.bridge);
    }
    if (lines.length === 1) {
      refused.push({ index: offset, line: lines[0]!, why: refusalReason(r.stderr) });
      return;
    }
    const half = lines.length >> 1;
    await this.bisect(lines.slice(0, half), offset, refused);
    await this.bisect(lines.slice(half), offset + half, refused);
  }

  async dumpFlows(filter: StatsFilter = {}): Promise<FlowStats[]> {
    const sel = formatFilter({
      ...(filter.table !== undefined ? { table: filter.table } : {}),
      ...(filter.cookie !== undefined ? { cookie: filter.cookie, cookieMask: filter.cookieMask ?? 0xffffffffffffffffn } : {}),
    });
    const args = ['-O', 'OpenFlow13', 'dump-flows', this.bridge];
    if (sel) args.push(sel);
    const r = await runOfctl(this.opts, args);
    if (r.code !== 0) throw new OpenFlowError(`ovs-ofctl dump-flows failed: ${r.stderr.trim()}`, this.bridge);
    return parseDumpFlows(r.stdout);
  }

  /** `add-meter`, `mod-meter` or `del-meter` with the meter's text; a refusal's OFPMMFC name becomes a MeterModError. */
  async applyMeter(mod: MeterMod): Promise<void> {
    const verb = METER_VERBS[mod.command];
    const [text, meterId] = mod.command === 'delete' ? [`meter=${mod.meterId}`, mod.meterId] : [formatMeter(mod.meter), mod.meter.id];
    const r = await runOfctl(this.opts, ['-O', 'OpenFlow13', verb, this.bridge, text]);
    if (r.code === 0) return;
    const failure = meterModFailure(r.stderr);
    if (failure) throw new MeterModError(`switch refused ${verb} ${text}: ${failure}`, this.bridge, meterId, failure);
    throw new OpenFlowError(`ovs-ofctl ${verb} ${text} failed: ${r.stderr.trim()}`, this.bridge);
  }

  async dumpMeters(): Promise<Meter[]> {
    const r = await runOfctl(this.opts, ['-O', 'OpenFlow13', 'dump-meters', this.bridge]);
    if (r.code !== 0) throw new OpenFlowError(`ovs-ofctl dump-meters failed: ${r.stderr.trim()}`, this.bridge);
    return this.parsed('dump-meters', () => parseDumpMeters(r.stdout));
  }

  async meterFeatures(): Promise<MeterFeatures> {
    const r = await runOfctl(this.opts, ['-O', 'OpenFlow13', 'meter-features', this.bridge]);
    if (r.code !== 0) throw new OpenFlowError(`ovs-ofctl meter-features failed: ${r.stderr.trim()}`, this.bridge);
    return this.parsed('meter-features', () => parseMeterFeatures(r.stdout));
  }

  /** ovs-ofctl output the meter model cannot read fails the request, naming the bridge and the word. */
  private parsed<T>(command: string, parse: () => T): T {
    try {
      return parse();
    } catch (e) {
      if (e instanceof MeterTextError) throw new OpenFlowError(`ovs-ofctl ${command}: ${e.message}`, this.bridge);
      throw e;
    }
  }

  async portDesc(): Promise<PortDesc[]> {
    const r = await runOfctl(this.opts, ['-O', 'OpenFlow13', 'dump-ports-desc', this.bridge]);
    if (r.code !== 0) throw new OpenFlowError(`ovs-ofctl dump-ports-desc failed: ${r.stderr.trim()}`, this.bridge);
    return parsePortsDesc(r.stdout);
  }
}

export class OfctlBackend implements OpenFlowBackend {
  readonly kind = 'ovs-ofctl' as const;
  /** Flows go through each bridge's management socket: no controller. */
  readonly controllerTarget = undefined;
  // No OpenFlow connection drops when ovs-vswitchd restarts: the canary is the only sign, checked
  // as often as the reference polls.
  readonly canaryIntervalMs = 2_000;
  constructor(private readonly opts: OfctlOptions) {}

  onSwitchConnected(): void {
    // No connection, so never called.
  }

  async start(): Promise<void> {
    const r = await runOfctl(this.opts, ['--version']).catch((e: unknown) => {
      throw new Error(`of_interface = ovs-ofctl, but ovs-ofctl cannot be run: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (r.code !== 0) throw new Error(`of_interface = ovs-ofctl, but 'ovs-ofctl --version' failed: ${r.stderr.trim()}`);
  }

  bridge(name: string): OpenFlowSwitch {
    return new OfctlSwitch(name, this.opts);
  }

  async stop(): Promise<void> {
    // Nothing is held open between batches.
  }
}
