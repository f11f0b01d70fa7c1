// The projection of bench/scale.ts's figures to clouds of 1,000 and 10,000 hosts: for each side, each
// control-plane cost is fitted to a + b·N over the measured N (least squares), then evaluated at the
// projected host count H. Costs of one event are the whole fleet's (a port plugged: the server's fan-out
// to every host of the network); a restart's cost is per agent restarted, so a rolling restart's is H
// times; idling is the whole fleet's per minute (the server's own periodic work plus every agent's reports).
// An event's cost is net of the idle rate (as scale.ts wrote it) when the run's idle window spans two
// state-report intervals (--idle-s ≥ 60); from a shorter window the rate is not to be trusted, and the
// idle share is put back (gross).
// No OVS, no lab: it reads the JSON that scale.ts wrote (bench/results/scale.json, or a run kept under a
// dated name such as bench/results/scale-2026-12-07.json); given several files, each fit pools their points.
//   node dist/bench/scale-model.js [bench/results/scale.json ...] [--hosts 1000,10000]
import { readFileSync } from 'node:fs';

interface Cost {
  seconds: number;
  serverCpu: number;
  rabbitCpu: number;
  received: number;
  delivered: number;
}

/** The part of a scale.ts run this model reads. */
interface SizeRun {
  fanout: Cost;
  group: Cost;
  restart: Cost;
  idle: Cost;
}

interface ScaleResult {
  date: string;
  machine: string;
  /** The run's --idle-s (absent from none so far, but a hand-made file may lack it). */
  idleS?: number;
  raw: Record<string, { ours: SizeRun[]; reference: SizeRun[] }>;
}

/** Least-squares line through the points (a constant when there is one N). */
export function fitLine(points: [number, number][]): { a: number; b: number } {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  if (n < 2 || sxx === 0) return { a: my, b: 0 };
  const b = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
  return { a: my - b * mx, b };
}

type Charged = keyof Omit<Cost, 'seconds'>;
/** What an event cost, from one run: net of the idle rate or with the idle share (see the header). */
type Charge = (c: Cost, idle: Cost, k: Charged) => number;

interface Measure {
  label: string;
  unit: string;
  /** The cost at N hosts, from one run. */
  pick: (r: SizeRun, n: number, charge: Charge) => number;
  /** How the fitted per-N value becomes the fleet's at H hosts. */
  fleet: (perN: number, h: number) => number;
}

/** Two report_state intervals (30 s by default): a shorter idle window holds one report per agent or a burst. */
const TRUSTED_IDLE_S = 60;
const net: Charge = (c, _idle, k) => c[k];
/**
 * The idle share put back: scale.ts subtracts the rate of its idle window, and a short window (15 s on
 * 2026-12-06, before it waited for the server to be quiet) can hold the end of the fleet's start-up
 * (10 reference agents: 5.9 s of server CPU in 15 s), which would make costs negative.
 */
const gross: Charge = (c, idle, k) => c[k] + (idle[k] * c.seconds) / idle.seconds;
const perMinute = (c: Cost, k: Charged): number => (c[k] * 60) / c.seconds;
const MEASURES: Measure[] = [
  { label: 'a port plugged on a network on every host: neutron-server CPU', unit: 's', pick: (r, _n, at) => at(r.fanout, r.idle, 'serverCpu'), fleet: (v) => v },
  { label: '… messages delivered by the broker', unit: 'msgs', pick: (r, _n, at) => at(r.fanout, r.idle, 'delivered'), fleet: (v) => v },
  { label: 'a port joins a remote group used on every host: neutron-server CPU', unit: 's', pick: (r, _n, at) => at(r.group, r.idle, 'serverCpu'), fleet: (v) => v },
  { label: '… messages delivered by the broker', unit: 'msgs', pick: (r, _n, at) => at(r.group, r.idle, 'delivered'), fleet: (v) => v },
  { label: 'rolling restart of every agent: neutron-server CPU', unit: 's', pick: (r, n, at) => at(r.restart, r.idle, 'serverCpu') / n, fleet: (v, h) => v * h },
  { label: '… messages published', unit: 'msgs', pick: (r, n, at) => at(r.restart, r.idle, 'received') / n, fleet: (v, h) => v * h },
  { label: '… messages delivered', unit: 'msgs', pick: (r, n, at) => at(r.restart, r.idle, 'delivered') / n, fleet: (v, h) => v * h },
  { label: 'idle, per minute, whole fleet: neutron-server CPU', unit: 's', pick: (r) => perMinute(r.idle, 'serverCpu'), fleet: (v) => v },
  { label: 'idle, per minute, whole fleet: messages published', unit: 'msgs', pick: (r) => perMinute(r.idle, 'received'), fleet: (v) => v },
];

/** "2,10,20" or, where runs repeat an N, "2×2,10×2,20". */
function sizesOf(points: [number, number][]): string {
  const count = new Map<number, number>();
  for (const [n] of points) count.set(n, (count.get(n) ?? 0) + 1);
  return [...count].sort(([x], [y]) => x - y).map(([n, k]) => (k > 1 ? `${n}×${k}` : `${n}`)).join(',');
}

function main(): void {
  const args = process.argv.slice(2);
  const hi = args.indexOf('--hosts');
  const hosts = hi >= 0 ? args[hi + 1]!.split(',').map(Number) : [1000, 10000];
  const named = args.filter((a, i) => !a.startsWith('--') && (hi < 0 || i !== hi + 1));
  const files = named.length ? named : ['bench/results/scale.json'];
  const results = files.map((file) => {
    let res: ScaleResult;
    try {
      res = JSON.parse(readFileSync(file, 'utf8')) as ScaleResult;
    } catch (e) {
      throw new Error(`${file}: not a scale.ts result (${e instanceof Error ? e.message : String(e)})`);
    }
    const trusted = (res.idleS ?? 0) >= TRUSTED_IDLE_S;
    return { file, res, charge: trusted ? net : gross, how: trusted ? `net of the idle rate (--idle-s ${res.idleS})` : `idle share included (--idle-s ${res.idleS ?? '?'})` };
  });
  const several = results.length > 1;
  const fmt = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(2));
  const lines = [
    `Projection of ${results.map(({ file, res, how }) => `${file} (${res.date.slice(0, 10)}, ${res.machine}; events ${how})`).join(' and ')}: cost = a + b·N fitted per side${several ? ', the files\' points pooled' : ''}`,
    '',
    `| cost | unit | side | measured N | a | b | ${hosts.map((h) => `H=${h}`).join(' | ')} |`,
    `|---|---|---|---|---|---|${hosts.map(() => '---').join('|')}|`,
  ];
  for (const m of MEASURES) {
    for (const side of ['ours', 'reference'] as const) {
      const points: [number, number][] = [];
      for (const { res, charge } of results) for (const [n, r] of Object.entries(res.raw)) for (const run of r[side]) points.push([Number(n), m.pick(run, Number(n), charge)]);
      if (!points.length) continue;
      const { a, b } = fitLine(points);
      lines.push(`| ${m.label} | ${m.unit} | ${side} | ${sizesOf(points)} | ${fmt(a)} | ${b.toPrecision(3)} | ${hosts.map((h) => fmt(m.fleet(a + b * h, h))).join(' | ')} |`);
    }
  }
  lines.push('', 'As measured (one event per N; as the header says, net or with the idle share):', '',
    `| ${several ? 'run | ' : ''}N | side | fan-out: server CPU s / msgs delivered | member added: server CPU s / msgs delivered | restart, per agent: server CPU s / RabbitMQ CPU s / msgs published / delivered | idle, whole fleet per minute: server CPU s / msgs published |`,
    `|${several ? '---|' : ''}---|---|---|---|---|---|`);
  for (const { res, charge: at } of results) {
    for (const [n, r] of Object.entries(res.raw)) {
      for (const side of ['ours', 'reference'] as const) {
        for (const x of r[side]) {
          const k = Number(n);
          lines.push(`| ${several ? `${res.date.slice(0, 10)} | ` : ''}${n} | ${side} | ${fmt(at(x.fanout, x.idle, 'serverCpu'))} / ${fmt(at(x.fanout, x.idle, 'delivered'))} | ${fmt(at(x.group, x.idle, 'serverCpu'))} / ${fmt(at(x.group, x.idle, 'delivered'))} | ${
            fmt(at(x.restart, x.idle, 'serverCpu') / k)} / ${fmt(at(x.restart, x.idle, 'rabbitCpu') / k)} / ${fmt(at(x.restart, x.idle, 'received') / k)} / ${fmt(at(x.restart, x.idle, 'delivered') / k)} | ${
            fmt(perMinute(x.idle, 'serverCpu'))} / ${fmt(perMinute(x.idle, 'received'))} |`);
        }
      }
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
}

try {
  main();
} catch (e) {
  process.stderr.write(`scale-model: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
