// The projection of bench/scale.ts's figures to clouds of 1,000 and 10,000 hosts: for each side, each
// control-plane cost (as measured, idle share included) is fitted to a + b·N over the measured N (least squares), then evaluated at the
// projected host count H. Costs of one event are the whole fleet's (a port plugged: the server's fan-out
// to every host of the network); costs of a restart and of idling are per agent, so the fleet's is H times.
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

interface Measure {
  label: string;
  unit: string;
  /** The cost at N hosts, from one run. */
  pick: (r: SizeRun, n: number) => number;
  /** How the fitted per-N value becomes the fleet's at H hosts. */
  fleet: (perN: number, h: number) => number;
}

const perMinute = (c: Cost, x: number): number => (x * 60) / c.seconds;
/**
 * An event's cost as measured, the idle share put back: scale.ts subtracts the rate of its idle window,
 * and that window, right after the ports are wired, can still hold the end of the fleet's start-up
 * (10 reference agents: 5.9 s of server CPU in 15 s on 2026-12-06), which would make costs negative.
 */
const gross = (c: Cost, idle: Cost, k: keyof Omit<Cost, 'seconds'>): number => c[k] + (idle[k] * c.seconds) / idle.seconds;
const MEASURES: Measure[] = [
  { label: 'a port plugged on a network on every host: neutron-server CPU', unit: 's', pick: (r) => gross(r.fanout, r.idle, 'serverCpu'), fleet: (v) => v },
  { label: '… messages delivered by the broker', unit: 'msgs', pick: (r) => gross(r.fanout, r.idle, 'delivered'), fleet: (v) => v },
  { label: 'a port joins a remote group used on every host: neutron-server CPU', unit: 's', pick: (r) => gross(r.group, r.idle, 'serverCpu'), fleet: (v) => v },
  { label: '… messages delivered by the broker', unit: 'msgs', pick: (r) => gross(r.group, r.idle, 'delivered'), fleet: (v) => v },
  { label: 'rolling restart of every agent: neutron-server CPU', unit: 's', pick: (r, n) => gross(r.restart, r.idle, 'serverCpu') / n, fleet: (v, h) => v * h },
  { label: '… messages published', unit: 'msgs', pick: (r, n) => gross(r.restart, r.idle, 'received') / n, fleet: (v, h) => v * h },
  { label: '… messages delivered', unit: 'msgs', pick: (r, n) => gross(r.restart, r.idle, 'delivered') / n, fleet: (v, h) => v * h },
  { label: 'idle, per minute: neutron-server CPU', unit: 's', pick: (r, n) => perMinute(r.idle, r.idle.serverCpu) / n, fleet: (v, h) => v * h },
  { label: 'idle, per minute: messages published', unit: 'msgs', pick: (r, n) => perMinute(r.idle, r.idle.received) / n, fleet: (v, h) => v * h },
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
    try {
      return { file, res: JSON.parse(readFileSync(file, 'utf8')) as ScaleResult };
    } catch (e) {
      throw new Error(`${file}: not a scale.ts result (${e instanceof Error ? e.message : String(e)})`);
    }
  });
  const several = results.length > 1;
  const fmt = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(2));
  const lines = [
    `Projection of ${results.map(({ file, res }) => `${file} (${res.date.slice(0, 10)}, ${res.machine})`).join(' and ')}: cost = a + b·N fitted per side${several ? ', the files\' points pooled' : ''}`,
    '',
    `| cost | unit | side | measured N | a | b | ${hosts.map((h) => `H=${h}`).join(' | ')} |`,
    `|---|---|---|---|---|---|${hosts.map(() => '---').join('|')}|`,
  ];
  for (const m of MEASURES) {
    for (const side of ['ours', 'reference'] as const) {
      const points: [number, number][] = [];
      for (const { res } of results) for (const [n, r] of Object.entries(res.raw)) for (const run of r[side]) points.push([Number(n), m.pick(run, Number(n))]);
      if (!points.length) continue;
      const { a, b } = fitLine(points);
      lines.push(`| ${m.label} | ${m.unit} | ${side} | ${sizesOf(points)} | ${fmt(a)} | ${b.toPrecision(3)} | ${hosts.map((h) => fmt(m.fleet(a + b * h, h))).join(' | ')} |`);
    }
  }
  lines.push('', 'As measured (idle share included; one event per N, per agent where said):', '',
    `| ${several ? 'run | ' : ''}N | side | fan-out: server CPU s / msgs delivered | member added: server CPU s / msgs delivered | restart, per agent: server CPU s / RabbitMQ CPU s / msgs published / delivered |`,
    `|${several ? '---|' : ''}---|---|---|---|---|`);
  for (const { res } of results) {
    for (const [n, r] of Object.entries(res.raw)) {
      for (const side of ['ours', 'reference'] as const) {
        for (const x of r[side]) {
          const k = Number(n);
          lines.push(`| ${several ? `${res.date.slice(0, 10)} | ` : ''}${n} | ${side} | ${fmt(gross(x.fanout, x.idle, 'serverCpu'))} / ${fmt(gross(x.fanout, x.idle, 'delivered'))} | ${fmt(gross(x.group, x.idle, 'serverCpu'))} / ${fmt(gross(x.group, x.idle, 'delivered'))} | ${
            fmt(gross(x.restart, x.idle, 'serverCpu') / k)} / ${fmt(gross(x.restart, x.idle, 'rabbitCpu') / k)} / ${fmt(gross(x.restart, x.idle, 'received') / k)} / ${fmt(gross(x.restart, x.idle, 'delivered') / k)} |`);
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
