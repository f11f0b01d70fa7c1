// Every benchmark script runs end to end on a tiny size (1 run, a few ports, our agent only) and
// produces what a reader needs: a printed table of medians and its JSON result file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const results = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
after(() => rmSync(results, { recursive: true, force: true }));

const TINY: Record<string, string[]> = {
  startup: ['--runs', '1', '--no-reference'],
  flowrate: ['--runs', '1', '--flows', '200'],
  'flow-audit': ['--runs', '1', '--flows', '200'],
  sync: ['--runs', '1', '--ports', '2', '--no-reference'],
  plug: ['--runs', '1', '--sizes', '1,2', '--timeout-s', '120', '--no-reference'],
  restart: ['--runs', '1', '--ports', '2', '--idle-s', '1', '--no-reference'],
  'server-cost': ['--runs', '1', '--ports', '2', '--baseline-s', '1', '--after-s', '1', '--no-reference'],
  firewall: ['--runs', '1', '--ports', '2', '--members', '3', '--timeout-s', '120', '--no-reference'],
  qos: ['--runs', '1', '--ports', '2', '--cold-ports', '2', '--policies', '2', '--timeout-s', '120', '--no-reference'],
  trunk: ['--runs', '1', '--sizes', '1', '--timeout-s', '120', '--no-reference'],
  dhcp: ['--runs', '1', '--requests', '3', '--no-reference'],
  scale: ['--runs', '1', '--sizes', '2', '--ports-per-host', '1', '--idle-s', '2', '--settle-s', '1', '--timeout-s', '120', '--no-reference'],
};

for (const [name, args] of Object.entries(TINY)) {
  test(`bench ${name} prints a table and writes its JSON`, { timeout: 600000 }, () => {
    const r = spawnSync(process.execPath, [resolve(`dist/bench/${name}.js`), ...args], {
      encoding: 'utf8',
      env: { ...process.env, BENCH_RESULTS_DIR: results },
      timeout: 590000,
    });
    assert.equal(r.status, 0, `bench ${name} exited ${r.status ?? r.signal}:\n${r.stderr.slice(-3000)}`);
    assert.match(r.stdout, /\| measure \| unit \| ours median \(min-max\) \| reference median \(min-max\) \| ours\/reference \|/);
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| measure'));
    assert.ok(rows.length >= 1, `no result rows:\n${r.stdout}`);
    // Our side always measured something: a number in the ours column of every row.
    for (const row of rows) assert.match(row.split('|')[3]!, /\d/, `row without our figure: ${row}`);
    const json = JSON.parse(readFileSync(join(results, `${name}.json`), 'utf8')) as { name: string; rows: { ours: { median: number; runs: number } }[] };
    assert.equal(json.name, name);
    assert.equal(json.rows.length, rows.length);
    assert.ok(json.rows.every((x) => x.ours.runs >= 1 && Number.isFinite(x.ours.median)), JSON.stringify(json.rows));
  });
}

// The projection to 1,000 and 10,000 hosts (bench/README.md) is computed from scale.ts's JSON: it must read
// what the scale run above wrote and give our side a finite fitted cost for every measure.
test('bench scale-model projects the scale run\'s JSON', () => {
  const r = spawnSync(process.execPath, [resolve('dist/bench/scale-model.js'), join(results, 'scale.json'), '--hosts', '1000'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `scale-model exited ${r.status ?? r.signal}:\n${r.stderr}`);
  const ours = r.stdout.split('\n').filter((l) => /^\| [^|]+ \| \w+ \| ours \| 2 \|/.test(l));
  assert.equal(ours.length, 9, `expected 9 projected measures for ours at N = 2:\n${r.stdout}`);
  for (const row of ours) assert.match(row.split('|')[7]!, /^ -?\d+(\.\d+)? $/, `projection without a finite figure: ${row}`);
});
