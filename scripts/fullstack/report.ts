// The result table of a peer-suite run (scripts/fullstack/peer-suite.sh): one row per fullstack
// test with the reference agent's and ovs-agent's result and time, and under it the first error
// line of each run that failed (or the reason of a skip). Printed as text and written as markdown.
//
//   node dist/scripts/fullstack/report.js RUNS_TSV RESULTS_MD
//
// RUNS_TSV has one line per run: agent (reference | ours), test id, result JSON (written by
// harness/oafs_run.py; absent when the run was killed), log, exit code, wall seconds.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

type Agent = 'reference' | 'ours';
type Status = 'pass' | 'fail' | 'skip' | 'timeout' | 'no result';

interface Run {
  status: Status;
  seconds: number;
  error: string;
}

export interface Row {
  id: string;
  runs: Partial<Record<Agent, Run>>;
}

const PREFIX = 'neutron.tests.fullstack.';
const AGENT_NAMES: Record<Agent, string> = { reference: 'reference', ours: 'ovs-agent' };

function isAgent(s: string): s is Agent {
  return s === 'reference' || s === 'ours';
}

/** The last non-empty line of a log, for a run that wrote no result. */
function lastLine(path: string): string {
  if (!existsSync(path)) return `no log ${path}`;
  const lines = readFileSync(path, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.length > 0 ? lines[lines.length - 1]!.slice(0, 300) : 'empty log';
}

function readRun(file: string, lineNo: number, jsonPath: string, logPath: string, exitCode: number, wall: number): Run {
  if (existsSync(jsonPath)) {
    const parsed: unknown = JSON.parse(readFileSync(jsonPath, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) throw new Error(`${jsonPath}: not a JSON object`);
    const r = parsed as Record<string, unknown>;
    const status = r['status'];
    if (status !== 'pass' && status !== 'fail' && status !== 'skip') throw new Error(`${jsonPath}: status ${String(status)}`);
    return { status, seconds: typeof r['seconds'] === 'number' ? r['seconds'] : wall, error: typeof r['error'] === 'string' ? r['error'] : '' };
  }
  // timeout(1) exits 124 when it stopped the test, 137 when it had to SIGKILL it.
  if (exitCode === 124 || exitCode === 137) return { status: 'timeout', seconds: wall, error: `killed after ${wall} s` };
  if (!Number.isInteger(exitCode)) throw new Error(`${file}:${lineNo}: exit code is not a number`);
  return { status: 'no result', seconds: wall, error: `exit ${exitCode}: ${lastLine(logPath)}` };
}

export function readRuns(file: string): Row[] {
  const rows = new Map<string, Row>();
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (line === '') return;
    const fields = line.split('\t');
    const [agent, id, json, log, rc, wall] = fields;
    if (fields.length !== 6 || agent === undefined || !isAgent(agent) || !id || !json || !log || !rc || !wall) {
      throw new Error(`${file}:${i + 1}: expected agent, test id, result, log, exit code, seconds separated by tabs`);
    }
    const row = rows.get(id) ?? { id, runs: {} };
    row.runs[agent] = readRun(file, i + 1, json, log, Number(rc), Number(wall));
    rows.set(id, row);
  });
  return [...rows.values()];
}

function cells(row: Row, agent: Agent): [string, string] {
  const run = row.runs[agent];
  return run ? [run.status, `${Math.round(run.seconds)} s`] : ['—', ''];
}

/** The first error line of each run that did not pass; a skip's reason too, since neutron's
 * `unstable_test` turns a failure into a skip ("marked as unstable ..., failure was: ..."). */
function notPassed(row: Row): string[] {
  return (['reference', 'ours'] as const).flatMap((a) => {
    const run = row.runs[a];
    return run && run.status !== 'pass' ? [`${AGENT_NAMES[a]}: ${run.error}`] : [];
  });
}

function summary(rows: Row[]): string {
  return (['reference', 'ours'] as const)
    .map((a) => {
      const runs = rows.map((r) => r.runs[a]).filter((r): r is Run => r !== undefined);
      if (runs.length === 0) return '';
      const count = (s: Status): number => runs.filter((r) => r.status === s).length;
      const minutes = Math.round(runs.reduce((t, r) => t + r.seconds, 0) / 60);
      return `${AGENT_NAMES[a]}: ${count('pass')} passed, ${count('fail') + count('timeout') + count('no result')} failed, ${count('skip')} skipped of ${runs.length} (${minutes} min)`;
    })
    .filter((s) => s !== '')
    .join('; ');
}

export function text(rows: Row[]): string {
  const header = ['test', 'reference', 'time', 'ovs-agent', 'time'];
  const body = rows.map((r) => [r.id.replace(PREFIX, ''), ...cells(r, 'reference'), ...cells(r, 'ours')]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((b) => b[c]!.length)));
  const fmt = (cols: string[]): string => cols.map((s, c) => s.padEnd(widths[c]!)).join('  ').trimEnd();
  const out = [fmt(header)];
  rows.forEach((r, i) => {
    out.push(fmt(body[i]!));
    for (const f of notPassed(r)) out.push(`    ${f}`);
  });
  out.push('', summary(rows));
  return out.join('\n');
}

export function markdown(rows: Row[]): string {
  const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|');
  const out = ['| test | reference | time | ovs-agent | time | first error |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    const cols = [`\`${r.id.replace(PREFIX, '')}\``, ...cells(r, 'reference'), ...cells(r, 'ours'), notPassed(r).join('<br>')];
    out.push(`| ${cols.map(esc).join(' | ')} |`);
  }
  out.push('', summary(rows), '');
  return out.join('\n');
}

function main(argv: string[]): void {
  const [runsFile, mdFile] = argv;
  if (argv.length !== 2 || !runsFile || !mdFile) {
    console.error('usage: report.js RUNS_TSV RESULTS_MD');
    process.exit(2);
  }
  try {
    const rows = readRuns(runsFile);
    console.log(text(rows));
    writeFileSync(mdFile, markdown(rows));
    console.log(`\nmarkdown: ${mdFile}`);
  } catch (e) {
    console.error(`report: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}

// Run as a program, not when a test imports it.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
