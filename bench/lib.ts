// Shared pieces of the benchmarks: repeated measurements, medians, a printed table, JSON results.
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { exact, output, popVlan, vlan, type Flow } from '../src/openflow/flow.js';

export interface Series {
  label: string;
  unit: string;
  ours: number[];
  reference: number[];
  /** Why the reference has no figure, when it has none. */
  referenceNote?: string;
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmt = (x: number): string => (Number.isNaN(x) ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function machine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
}

export function ovsVersion(): string {
  try {
    return execSync('ovs-vswitchd --version', { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

/** Print the table and write bench/results/<name>.json (or $BENCH_RESULTS_DIR/<name>.json). */
export function report(name: string, title: string, series: Series[], extra: Record<string, unknown> = {}): void {
  const rows = series.map((s) => {
    const o = median(s.ours);
    const r = median(s.reference);
    return {
      label: s.label,
      unit: s.unit,
      ours: { median: o, min: Math.min(...s.ours), max: Math.max(...s.ours), runs: s.ours.length },
      reference: s.reference.length
        ? { median: r, min: Math.min(...s.reference), max: Math.max(...s.reference), runs: s.reference.length }
        : null,
      // No ratio of nothing to nothing (0/0), nor against a zero.
      ratio: s.reference.length && r !== 0 ? o / r : null,
      referenceNote: s.referenceNote ?? null,
    };
  });
  const out = { name, title, date: new Date().toISOString(), machine: machine(), ovs: ovsVersion(), rows, ...extra };
  // BENCH_RESULTS_DIR: elsewhere than bench/results (the smoke test's tiny runs must not replace real figures).
  const dir = process.env.BENCH_RESULTS_DIR ?? 'bench/results';
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/${name}.json`, JSON.stringify(out, null, 2) + '\n');
  const lines = [
    `## ${title}`,
    `${out.date.slice(0, 10)}, ${out.machine}, ${out.ovs}`,
    '',
    '| measure | unit | ours median (min-max) | reference median (min-max) | ours/reference |',
    '|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.unit} | ${fmt(r.ours.median)} (${fmt(r.ours.min)}-${fmt(r.ours.max)}) | ${
          r.reference ? `${fmt(r.reference.median)} (${fmt(r.reference.min)}-${fmt(r.reference.max)})` : r.referenceNote ?? '-'
        } | ${r.ratio === null ? '-' : r.ratio.toFixed(2)} |`,
    ),
  ];
  process.stdout.write(lines.join('\n') + '\n\n');
}

/** Resident set size of a process, MiB (0 if it is gone). */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds (user+system) a process has used. */
export function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    const hz = 100;
    return (Number(rest[11]) + Number(rest[12])) / hz;
  } catch {
    return 0;
  }
}

export function haveReference(): boolean {
  try {
    execSync('command -v neutron-openvswitch-agent', { stdio: 'ignore', shell: '/bin/sh' });
    return true;
  } catch {
    return false;
  }
}

export function argInt(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

/** `n` br-tun-style unicast flows (table 20: VLAN + destination MAC -> tunnel id, out port 2), all distinct. */
export function unicastFlows(n: number): Flow[] {
  const out: Flow[] = [];
  for (let i = 0; i < n; i++) {
    const mac = `fa:16:3e:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    out.push({
      table: 20,
      priority: 2,
      match: { vlanVid: vlan(1 + (i % 100)), ethDst: exact(mac) },
      actions: [popVlan(), { type: 'set_field', field: 'tun_id', value: BigInt(1000 + (i % 100)) }, output(2)],
    });
  }
  return out;
}

/**
 * Cleanups a signal (Ctrl-C, a run's `timeout`) must still run, last added first, before the process exits
 * with 130: a benchmark killed midway must not leave agents, an OVS or a lab behind. Add a cleanup when its
 * resource starts, delete it once stopped normally.
 */
export function stopOnSignals(log: (line: string) => void): Set<() => Promise<void>> {
  const cleanups = new Set<() => Promise<void>>();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void (async () => {
        log(`${sig}: stopping what this run started`);
        for (const stop of [...cleanups].reverse()) await stop().catch((e: unknown) => log(`cleanup after ${sig}: ${String(e)}`));
        process.exit(130);
      })();
    });
  }
  return cleanups;
}
