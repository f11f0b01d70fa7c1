// Joins the TAP that node's test runner prints for one test file at a time into one TAP stream, as
// if one runner had run them all: one version line, top-level test points numbered across files, one
// plan, and the summary (`# tests N` …) summed. test/run.ts runs files in parallel, each in its own
// `node --test`, and prints each file's output whole once the file is done.

/** The counters of node's TAP summary, in the order it prints them. */
export const SUMMARY_KEYS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'] as const;
export type SummaryKey = (typeof SUMMARY_KEYS)[number];
export type Summary = Record<SummaryKey, number>;

const TOP_LEVEL_POINT = /^(not ok|ok) (\d+)\b(.*)$/;
const PLAN = /^1\.\.\d+$/;
const SUMMARY_LINE = /^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)$/;

export function emptySummary(): Summary {
  return { tests: 0, suites: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 };
}

export class TapMerger {
  private points = 0;
  private started = false;
  readonly summary: Summary = emptySummary();

  /**
   * One file's complete TAP output, renumbered and with its version line, plan and summary taken
   * out (the summary is added to `summary`). Returns the lines to print, the version line first
   * when this is the first file.
   */
  /** The version line, once: what a TAP stream starts with. */
  begin(): string[] {
    if (this.started) return [];
    this.started = true;
    return ['TAP version 13'];
  }

  file(tap: string): string[] {
    const out = this.begin();
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
    return out;
  }

  /** The plan and the summed summary: what node's runner prints last. */
  end(durationMs: number): string[] {
    const out = this.begin();
    out.push(`1..${this.points}`);
    for (const k of SUMMARY_KEYS) out.push(`# ${k} ${this.summary[k]}`);
    out.push(`# duration_ms ${durationMs.toFixed(3)}`);
    return out;
  }
}
