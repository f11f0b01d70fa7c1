// A strict parser of the Prometheus text exposition format (0.0.4), for tests that read /metrics
// as Prometheus would: every line must parse, every sample must belong to a family declared by
// # TYPE before it, no series may repeat, and histograms must be cumulative with +Inf = _count.
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

export class PrometheusParseError extends Error {
  constructor(lineNo: number, line: string, why: string) {
    super(`line ${lineNo}: ${why}: ${JSON.stringify(line.slice(0, 200))}`);
    this.name = 'PrometheusParseError';
  }
}

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') throw new PrometheusParseError(lines.length, lines[lines.length - 1]!, 'the text must end with a newline');
  lines.pop();
  lines.forEach((line, i) => {
    const n = i + 1;
    const fail = (why: string): never => {
      throw new PrometheusParseError(n, line, why);
    };
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) fail('bad metric name');
      let f = families.get(name);
      if (kind === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) fail(`unknown type '${rest}'`);
        if (f && f.samples.length) fail('TYPE after samples');
        if (f?.type && f.type !== 'untyped' && (f as { typed?: boolean }).typed) fail('second TYPE line');
        if (!f) {
          f = { name, type: rest as MetricType, help: '', samples: [] };
          families.set(name, f);
        }
        f.type = rest as MetricType;
        (f as { typed?: boolean }).typed = true;
      } else {
        if (!f) {
          f = { name, type: 'untyped', help: '', samples: [] };
          families.set(name, f);
        }
        f.help = unescapeHelp(rest);
      }
      return;
    }
    const sample = parseSample(line, fail);
    const family = familyOf(sample.name, families);
    if (!family) fail(`sample of no declared family`);
    const key = `${sample.name}{${Object.entries(sample.labels).sort().map(([k, v]) => `${k}=${v}`).join(',')}}`;
    if (seen.has(key)) fail('duplicate series');
    seen.add(key);
    family!.samples.push(sample);
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function familyOf(sampleName: string, families: Map<string, MetricFamily>): MetricFamily | undefined {
  for (const [name, f] of families) {
    if (SUFFIXES[f.type].some((s) => name + s === sampleName)) return f;
  }
  return undefined;
}

function parseSample(line: string, fail: (why: string) => never): Sample {
  let i = 0;
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) fail('no metric name');
  const name = nameMatch![0];
  i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const ln = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (!ln || !LABEL_NAME.test(ln[0])) fail('bad label name');
      i += ln![0].length;
      if (line[i] !== '=' || line[i + 1] !== '"') fail('expected ="');
      i += 2;
      let v = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) fail('unterminated label value');
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i + 1];
          if (e === '\\') v += '\\';
          else if (e === '"') v += '"';
          else if (e === 'n') v += '\n';
          else fail('bad escape in label value');
          i += 2;
          continue;
        }
        v += c;
        i++;
      }
      i++;
      if (Object.prototype.hasOwnProperty.call(labels, ln![0])) fail('label repeated');
      labels[ln![0]] = v;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') fail('expected , or }');
    }
    i++;
  }
  if (line[i] !== ' ') fail('expected a space before the value');
  const parts = line.slice(i + 1).split(' ');
  if (parts.length < 1 || parts.length > 2) fail('expected value [timestamp]');
  const value = parseValue(parts[0]!);
  if (value === undefined) fail(`bad value '${parts[0]}'`);
  if (parts.length === 2 && !/^-?\d+$/.test(parts[1]!)) fail('bad timestamp');
  return { name, labels, value: value! };
}

/** As Prometheus reads values (Go's ParseFloat): NaN and Inf in any case (prom-client writes `Nan`). */
function parseValue(s: string): number | undefined {
  const special = s.toLowerCase();
  if (special === '+inf' || special === 'inf' || special === '+infinity' || special === 'infinity') return Infinity;
  if (special === '-inf' || special === '-infinity') return -Infinity;
  if (special === 'nan') return NaN;
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
}

function checkHistogram(f: MetricFamily): void {
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let h = series.get(key);
    if (!h) series.set(key, (h = { buckets: [] }));
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      h.buckets.push([parseValue(le)!, s.value]);
    } else if (s.name.endsWith('_count')) h.count = s.value;
  }
  for (const [key, h] of series) {
    const sorted = [...h.buckets].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]![1] < sorted[i - 1]![1]) throw new Error(`${f.name}${key}: buckets not cumulative`);
    }
    const inf = sorted[sorted.length - 1];
    if (!inf || inf[0] !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`);
    if (h.count !== inf[1]) throw new Error(`${f.name}${key}: +Inf bucket ${inf[1]} != _count ${h.count}`);
  }
}

/** The value of the one sample of `name` whose labels include `labels`; undefined if none. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

/** Every sample of `name` whose labels include `labels`. */
export function samples(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): Sample[] {
  const out: Sample[] = [];
  for (const f of families.values()) {
    for (const s of f.samples) if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) out.push(s);
  }
  return out;
}
