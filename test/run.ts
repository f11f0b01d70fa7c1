// `npm test`'s runner: runs test files in `--jobs` (default 2) slots at once, each slot a network
// namespace of its own (test/slot.ts) with its own neutron-server lab that the slot's files borrow
// (lab/host.ts, SHARED_LAB_ENV) instead of paying ~25 s for a lab each. Within a slot files run one at
// a time, as they assume (a userspace ovs-vswitchd owns its namespace's tap names; a file's lab is
// emptied for the next). Longest files first (test/durations.json, measured; unknown files in the
// middle), unit files while a slot's lab is starting. Each file runs in its own `node --test`; its
// TAP is printed whole when it ends and all of it joined as one runner's (test/tap-merge.ts), node's
// summary last. The exit code is 1 when a file failed.
//
//   node dist/test/run.js [--jobs N] [--record-durations FILE] FILE...
//
// OVS_AGENT_TEST_JOBS sets the default of --jobs, OVS_AGENT_TEST_RECORD of --record-durations (to
// refresh test/durations.json from a CI run). Slots' labs start one after the other (the lab's
// database template cache is made by the first).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { haveNeutronLab } from '../lab/neutron.js';
import { SHARED_LAB_ENV } from '../lab/host.js';
import type { SlotEvent } from './slot.js';
import { TapMerger } from './tap-merge.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Per file (relative to dist/test), seconds it took in a recorded run. */
const DURATIONS = resolve(here, '..', '..', 'test', 'durations.json');
const UNKNOWN_INTEGRATION_S = 20;
const UNKNOWN_UNIT_S = 1;

const say = (line: string): void => {
  process.stderr.write(`test runner: ${line}\n`);
};
const print = (lines: string[]): void => {
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
};

interface Options {
  jobs: number;
  recordDurations?: string;
  files: string[];
}

function parseArgs(argv: string[]): Options {
  const envJobs = process.env.OVS_AGENT_TEST_JOBS;
  const opts: Options = { jobs: envJobs ? Number(envJobs) : 2, files: [] };
  if (process.env.OVS_AGENT_TEST_RECORD) opts.recordDurations = process.env.OVS_AGENT_TEST_RECORD;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--jobs') opts.jobs = Number(argv[++i]);
    else if (a === '--record-durations') opts.recordDurations = argv[++i];
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}; usage: node dist/test/run.js [--jobs N] [--record-durations FILE] FILE...`);
    else opts.files.push(a);
  }
  if (!Number.isInteger(opts.jobs) || opts.jobs < 1) throw new Error(`--jobs (or OVS_AGENT_TEST_JOBS) must be a whole number ≥ 1, not ${String(opts.jobs)}`);
  if (opts.files.length === 0) throw new Error('usage: node dist/test/run.js [--jobs N] [--record-durations FILE] FILE...');
  return opts;
}

const key = (file: string): string => relative(resolve(here), resolve(file));
const needsLab = (file: string): boolean => !key(file).startsWith('unit/');

function readDurations(): Map<string, number> {
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(DURATIONS, 'utf8')) as Record<string, number>));
  } catch (e) {
    say(`no file durations to order by (${e instanceof Error ? e.message : String(e)}): files run in the order given`);
    return new Map();
  }
}

/** A network namespace of the run's, with its process (test/slot.ts) and its lab once started. */
class Slot {
  private readonly events: SlotEvent[] = [];
  private waiters: Array<() => void> = [];
  labDir: string | undefined;
  /** Resolved once the lab is up, has failed, or will not be started. */
  labSettled: Promise<void>;
  private settleLab!: () => void;
  labDone = false;
  exited = false;
  /** Whether the slot came up (its namespace is there); false when it ended first. */
  readonly ready: Promise<boolean>;

  constructor(
    readonly n: number,
    readonly proc: ChildProcess,
  ) {
    this.labSettled = new Promise((r) => {
      this.settleLab = () => {
        this.labDone = true;
        r();
      };
    });
    this.ready = this.next(['ready']).then((e) => e !== undefined);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let e: SlotEvent;
      try {
        e = JSON.parse(line) as SlotEvent;
      } catch {
        say(`slot ${n}: ${line}`);
        return;
      }
      this.events.push(e);
      for (const w of this.waiters.splice(0)) w();
    });
    proc.once('exit', (code, signal) => {
      this.exited = true;
      if (!this.labDone) say(`slot ${n} ended (${signal ?? code}) before its lab was settled`);
      this.settleLab();
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static start(n: number, script: string): Slot {
    const proc = spawn('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$@"', 'test-slot', process.execPath, script], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    proc.once('error', (e) => say(`slot ${n} did not start: ${e.message}`));
    return new Slot(n, proc);
  }

  async next(kinds: Array<SlotEvent['event']>): Promise<SlotEvent | undefined> {
    for (;;) {
      const i = this.events.findIndex((e) => kinds.includes(e.event));
      if (i >= 0) return this.events.splice(i, 1)[0];
      if (this.exited) return undefined;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async startLab(): Promise<void> {
    const t0 = Date.now();
    this.proc.stdin!.write('lab\n');
    const e = await this.next(['lab', 'lab-failed']);
    if (e?.event === 'lab') {
      this.labDir = e.dir;
      say(`slot ${this.n}: shared neutron lab up in ${Date.now() - t0} ms (${e.dir})`);
    } else {
      // Its files then start labs of their own, and report what goes wrong with them.
      say(`slot ${this.n}: the shared neutron lab did not start, each test file starts its own: ${e?.event === 'lab-failed' ? e.error : 'the slot ended'}`);
    }
    this.settleLab();
  }

  noLab(): void {
    this.settleLab();
  }

  /** Stops the lab (the slot process does, on stdin's end) and waits for the slot to end. */
  async end(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.stdin!.end();
    await gone;
  }
}

interface FileResult {
  file: string;
  code: number;
  ms: number;
  tap: string;
  error?: string;
}

function runFile(slot: Slot, file: string, running: Set<ChildProcess>): Promise<FileResult> {
  const t0 = Date.now();
  const env = slot.labDir ? { ...process.env, [SHARED_LAB_ENV]: slot.labDir } : { ...process.env };
  if (!slot.labDir) delete env[SHARED_LAB_ENV];
  const child = spawn('nsenter', [`--net=/proc/${slot.proc.pid}/ns/net`, '--', process.execPath, '--test', '--test-reporter=tap', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
  running.add(child);
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolveRun) => {
    let error: string | undefined;
    child.once('error', (e) => {
      error = `nsenter did not start: ${e.message}`;
    });
    child.once('close', (code, signal) => {
      running.delete(child);
      resolveRun({ file, code: code ?? 1, ms: Date.now() - t0, tap: Buffer.concat(chunks).toString('utf8'), ...(error || signal ? { error: error ?? `ended by ${signal}` } : {}) });
    });
  });
}

async function main(opts: Options): Promise<number> {
  const t0 = Date.now();
  const durations = readDurations();
  const hint = (f: string): number => durations.get(key(f)) ?? (needsLab(f) ? UNKNOWN_INTEGRATION_S : UNKNOWN_UNIT_S);
  const byLength = (a: string, b: string): number => hint(b) - hint(a);
  const labQueue = opts.files.filter(needsLab).sort(byLength);
  const freeQueue = opts.files.filter((f) => !needsLab(f)).sort(byLength);
  const withLab = haveNeutronLab() && labQueue.length > 0;
  const jobs = Math.min(opts.jobs, opts.files.length);

  const merger = new TapMerger();
  const running = new Set<ChildProcess>();
  const measured: Record<string, number> = {};
  let failed = false;
  let interrupted: NodeJS.Signals | undefined;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      interrupted = sig;
      labQueue.length = 0;
      freeQueue.length = 0;
      for (const c of running) c.kill(sig);
    });
  }

  print(merger.begin());
  const slots = Array.from({ length: jobs }, (_, i) => Slot.start(i + 1, join(here, 'slot.js')));
  // Labs one after the other: the first makes the database template the others copy.
  const labsStarted = (async () => {
    for (const s of slots) {
      if (interrupted || !withLab || !(await s.ready)) s.noLab();
      else await s.startLab();
    }
  })();

  const worker = async (slot: Slot): Promise<void> => {
    if (!(await slot.ready)) return;
    for (;;) {
      const file = slot.labDone ? (labQueue.shift() ?? freeQueue.shift()) : freeQueue.shift();
      if (file === undefined) {
        if (slot.labDone || labQueue.length === 0) return;
        await slot.labSettled;
        continue;
      }
      if (slot.exited) {
        (needsLab(file) ? labQueue : freeQueue).unshift(file);
        return;
      }
      const r = await runFile(slot, file, running);
      measured[key(file)] = Math.round(r.ms / 100) / 10;
      if (r.code !== 0) failed = true;
      print([`# file ${key(file)}: slot ${slot.n}, ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}`]);
      print(/^# tests \d+$/m.test(r.tap) ? merger.file(r.tap, key(file)) : merger.failedFile(key(file), r.error ?? `no TAP summary (exit ${r.code})\n${r.tap}`));
    }
  };
  await Promise.all(slots.map(worker));
  await labsStarted;
  await Promise.all(slots.map((s) => s.end()));
  if (labQueue.length + freeQueue.length > 0) {
    failed = true;
    print(merger.failedFile('(not run)', `no slot was left to run: ${[...labQueue, ...freeQueue].map(key).join(', ')}`));
  }
  if (opts.recordDurations) {
    writeFileSync(opts.recordDurations, `${JSON.stringify(Object.fromEntries(Object.entries(measured).sort()), null, 1)}\n`);
    say(`file durations written to ${opts.recordDurations}`);
  }
  print(merger.end(Date.now() - t0));
  if (interrupted) return 130;
  return failed ? 1 : 0;
}

let opts: Options;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  say(e instanceof Error ? e.message : String(e));
  process.exit(2);
}
main(opts).then(
  (code) => process.exit(code),
  (e: unknown) => {
    say(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
