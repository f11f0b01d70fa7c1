// Joins the TAP that node's test runner prints for one test file at a time into one TAP stream, as
// if one runner had run them all: one version line, top-level test points numbered across files, one
// plan, and the summary (`# tests N` …) summed. test/run.ts runs files in parallel, each in its own
// `node --test`, and prints each file's output whole once the file is done. A run's failures are
// repeated, each with its first error lines, just before the summary: the end of a long run's output
// is what is read (and often all that is kept).

/** The counters of node's TAP summary, in the order it prints them. */
export const SUMMARY_KEYS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'] as const;
export type SummaryKey = (typeof SUMMARY_KEYS)[number];
export type Summary = Record<SummaryKey, number>;

const TOP_LEVEL_POINT = /^(not ok|ok) (\d+)\b(.*)$/;
const PLAN = /^1\.\.\d+$/;
const SUMMARY_LINE = /^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)$/;
const SUBTEST = /^( *)# Subtest: (.*)$/;
const FAILED_POINT = /^( *)not ok \d+ - (.*)$/;
/** Failures that only echo another: a test cancelled because its suite failed, a suite whose tests failed. */
const ECHOES = new Set(['cancelledByParent', 'subtestsFailed']);
/** Lines of a failure's error repeated in the digest. */
const DIGEST_ERROR_LINES = 12;

/** A test that failed in its own right: where, what kind of failure, the start of its error. */
export interface Failure {
  file: string;
  /** Suite names down to the test's, joined by ' > '. */
  test: string;
  failureType: string;
  error: string[];
}

/** The failures of one file's TAP, echoes (ECHOES) left out. */
export function failuresOf(file: string, tap: string): Failure[] {
  const lines = tap.split('\n');
  const names: string[] = [];
  const found: Failure[] = [];
  for (let i = 0; i < lines.length; i++) {
    const sub = SUBTEST.exec(lines[i]!);
    if (sub) {
      names[sub[1]!.length / 4] = sub[2]!;
      names.length = sub[1]!.length / 4 + 1;
      continue;
    }
    const point = FAILED_POINT.exec(lines[i]!);
    if (!point || / # TODO\b/.test(point[2]!) || lines[i + 1]?.trim() !== '---') continue;
    const depth = point[1]!.length / 4;
    const yaml = `${point[1]}  `;
    let failureType = '';
    let error: string[] = [];
    for (i += 2; i < lines.length && lines[i] !== `${yaml}...`; i++) {
      const line = lines[i]!;
      if (line.startsWith(`${yaml}failureType: `)) failureType = line.slice(yaml.length + 13).replace(/^'|'$/g, '');
      else if (line === `${yaml}error: |-`) {
        while (lines[i + 1]?.startsWith(`${yaml}  `) || lines[i + 1] === '') error.push(lines[++i]!.slice(yaml.length + 2));
      } else if (line.startsWith(`${yaml}error: `)) error = [line.slice(yaml.length + 7).replace(/^'|'$/g, '')];
    }
    if (ECHOES.has(failureType)) continue;
    while (error.at(-1) === '') error.pop();
    found.push({ file, test: [...names.slice(0, depth), point[2]!].join(' > '), failureType, error: error.slice(0, DIGEST_ERROR_LINES) });
  }
  return found;
}

export function emptySummary(): Summary {
  return { tests: 0, suites: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 };
}

export class TapMerger {
  private points = 0;
  private started = false;
  readonly summary: Summary = emptySummary();
  readonly failures: Failure[] = [];

  /** The version line, once: what a TAP stream starts with. */
  begin(): string[] {
    if (this.started) return [];
    this.started = true;
    return ['TAP version 13'];
  }

  /**
   * One file's complete TAP output (`file` names it in the digest of failures), renumbered and with
   * its version line, plan and summary taken out (the summary is added to `summary`). Returns the
   * lines to print, the version line first when this is the first file.
   */
  file(tap: string, file: string): string[] {
    const out = this.begin();
    this.failures.push(...failuresOf(file, tap));
    const lines = tap.split('\n');
    if (lines.at(-1) === '') lines.pop();
    for (const line of lines) {
      if (line === 'TAP version 13' || PLAN.test(line)) continue;
      const summary = SUMMARY_LINE.exec(line);
      if (summary) {
        const key = summary[1] as SummaryKey | 'duration_ms';
        if (key !== 'duration_ms') this.summary[key] += Number(summary[2]);
        continue;
      }
      const point = TOP_LEVEL_POINT.exec(line);
      if (point) {
        this.points += 1;
        out.push(`${point[1]} ${this.points}${point[3]}`);
        continue;
      }
      out.push(line);
    }
    return out;
  }

  /** A file whose runner died without a summary: one failing point, so the run cannot pass. */
  failedFile(file: string, why: string): string[] {
    const out = this.begin();
    this.points += 1;
    this.summary.tests += 1;
    this.summary.fail += 1;
    out.push(`not ok ${this.points} - ${file}`, '  ---', `  error: ${JSON.stringify(why)}`, '  ...');
    this.failures.push({ file, test: '(the whole file)', failureType: 'no summary', error: why.split('\n').slice(0, DIGEST_ERROR_LINES) });
    return out;
  }

  /** The digest of failures (if any), the plan and the summed summary: what node's runner prints last. */
  end(durationMs: number): string[] {
    const out = this.begin();
    if (this.failures.length) out.push(`# failures: ${this.failures.length}`);
    for (const f of this.failures) out.push(`# ${f.file}: ${f.test} (${f.failureType})`, ...f.error.map((l) => `#     ${l}`));
    out.push(`1..${this.points}`);
    for (const k of SUMMARY_KEYS) out.push(`# ${k} ${this.summary[k]}`);
    out.push(`# duration_ms ${durationMs.toFixed(3)}`);
    return out;
  }
}
