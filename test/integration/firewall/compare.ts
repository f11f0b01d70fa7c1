// Comparing br-int flow dumps with the reference's firewall fixtures
// (test/fixtures/reference/firewall/*.flows): both sides are normalised the same way, and the
// conjunction ids, which each agent allocates in its own order, are renumbered on both sides by
// where they first appear, so that only a real difference in the pipeline shows up.

/**
 * One `ovs-ofctl -O OpenFlow13 dump-flows --no-stats` output (or its lines) in fixture form:
 * no header, cookies, statistics, durations or `reset_counts` flags (the reference adds some flows
 * outside a bundle, which OVS then shows with that flag); blank lines dropped, lines sorted.
 */
export function normaliseFlows(dump: string | readonly string[]): string[] {
  const lines = typeof dump === 'string' ? dump.split('\n') : dump;
  return lines
    .map((l) => normaliseLine(l))
    .filter((l) => l !== '' && !l.startsWith('OFPST') && !l.startsWith('NXST'))
    .sort();
}

function normaliseLine(line: string): string {
  return line
    .trim()
    .replace(/cookie=0x[0-9a-f]+(\/0x[0-9a-f]+)?, ?/g, '')
    .replace(/\b(duration=[0-9.]+s|n_packets=\d+|n_bytes=\d+|idle_age=\d+|hard_age=\d+), ?/g, '')
    .replace(/\breset_counts,? ?/g, '')
    .replace(/, (?=actions=)/, ' ')
    .replace(/ +/g, ' ')
    .trim();
}

// Where a conjunction id shows in a flow: the match `conj_id=N`, the action `conjunction(N,k/n)`,
// and the accept flows' `set_field:0xN->reg7` (reg7 carries the id of the matched remote-group rule).
const CONJ_ID = /(conj_id=)(\d+)|(conjunction\()(\d+)(,)|(set_field:)(0x[0-9a-f]+)(->reg7)/g;

/** The line with every conjunction id replaced by a placeholder: the same on both sides. */
function conjSkeleton(line: string): string {
  return line.replace(CONJ_ID, (_m, a?: string, _b?: string, c?: string, _d?: string, e?: string, f?: string, _g?: string, h?: string) =>
    a !== undefined ? `${a}#` : c !== undefined ? `${c}#${e ?? ''}` : `${f ?? ''}#${h ?? ''}`,
  );
}

/**
 * Renumbers conjunction ids 1, 2, 3… in order of first appearance, where lines are visited sorted
 * by their text with the ids blanked out: the visiting order therefore does not depend on the ids
 * themselves, and two dumps that differ only in their agent's choice of ids come out equal.
 * (Flows that differ only by their ids tie; they are then visited in id order, which an agent
 * allocating ids in the same relative order, as the reference does, keeps consistent.)
 * A flow whose actions are only conjunctions gets them sorted: their order means nothing to OVS.
 * Returns normalised, sorted lines.
 */
export function renumberConjunctions(lines: readonly string[]): string[] {
  const visit = [...lines]
    .map((line) => ({ line, key: conjSkeleton(line) }))
    .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : compareIds(x.line, y.line)));
  const map = new Map<number, number>();
  const renumber = (id: number): number => {
    let n = map.get(id);
    if (n === undefined) {
      n = map.size + 1;
      map.set(id, n);
    }
    return n;
  };
  const out = visit.map(({ line }) =>
    line.replace(CONJ_ID, (_m, a?: string, b?: string, c?: string, d?: string, e?: string, f?: string, g?: string, h?: string) => {
      if (a !== undefined) return `${a}${renumber(Number(b))}`;
      if (c !== undefined) return `${c}${renumber(Number(d))}${e ?? ''}`;
      return `${f ?? ''}0x${renumber(Number(g)).toString(16)}${h ?? ''}`;
    }),
  );
  return out.map(sortConjunctionActions).sort();
}

function sortConjunctionActions(line: string): string {
  const m = /^(.* actions=)((?:conjunction\(\d+,\d+\/\d+\),?)+)$/.exec(line);
  if (!m) return line;
  const actions = m[2]!.split(/,(?=conjunction)/).map((a) => a.replace(/,$/, ''));
  const key = (a: string): number[] => (a.match(/\d+/g) ?? []).map(Number);
  actions.sort((x, y) => {
    const [a, b] = [key(x), key(y)];
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  });
  return `${m[1]}${actions.join(',')}`;
}

/** Orders two lines with the same skeleton by their conjunction ids, numerically. */
function compareIds(x: string, y: string): number {
  const ids = (l: string): number[] => [...l.matchAll(CONJ_ID)].map((m) => Number(m[2] ?? m[4] ?? m[7]));
  const a = ids(x);
  const b = ids(y);
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export interface FlowDiff {
  /** In the expected dump (the reference's), not in the actual one. */
  missing: string[];
  /** In the actual dump, not in the expected one. */
  extra: string[];
  equal: boolean;
  /** Both lists, readable, for an assertion message; '' when equal. */
  report: string;
}

/**
 * Compares two dumps as multisets of normalised lines with conjunction ids renumbered on each
 * side. `label` names what is compared in the report (e.g. the fixture file).
 */
export function diffFlows(expected: string | readonly string[], actual: string | readonly string[], label = 'br-int'): FlowDiff {
  const exp = renumberConjunctions(normaliseFlows(expected));
  const act = renumberConjunctions(normaliseFlows(actual));
  const count = (ls: string[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const l of ls) m.set(l, (m.get(l) ?? 0) + 1);
    return m;
  };
  const e = count(exp);
  const a = count(act);
  const missing: string[] = [];
  const extra: string[] = [];
  for (const [l, n] of e) for (let i = a.get(l) ?? 0; i < n; i++) missing.push(l);
  for (const [l, n] of a) for (let i = e.get(l) ?? 0; i < n; i++) extra.push(l);
  missing.sort();
  extra.sort();
  const equal = missing.length === 0 && extra.length === 0;
  const report = equal
    ? ''
    : [
        `${label}: ${missing.length} flow(s) missing, ${extra.length} extra (conjunction ids renumbered on both sides)`,
        ...missing.map((l) => `- ${l}`),
        ...extra.map((l) => `+ ${l}`),
      ].join('\n');
  return { missing, extra, equal, report };
}
