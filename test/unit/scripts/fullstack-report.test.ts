import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { markdown, readRuns, text } from '../../../scripts/fullstack/report.js';

const ID = 'neutron.tests.fullstack.test_qos.TestDscpMarkingQoSOvs.test_dscp_marking_packets';
const ID2 = 'neutron.tests.fullstack.test_connectivity.TestOvsConnectivitySameNetwork.test_connectivity(VXLAN)';

function withRuns(lines: (dir: string) => string[], files: Record<string, string>, check: (runs: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'fullstack-report-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    const runs = join(dir, 'runs.tsv');
    writeFileSync(runs, lines(dir).map((l) => `${l}\n`).join(''));
    check(runs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('one row per test with both agents, the failure\'s first error line under it, a summary', () => {
  withRuns(
    (d) => [
      `reference\t${ID}\t${d}/r.json\t${d}/r.log\t0\t80`,
      `ours\t${ID}\t${d}/o.json\t${d}/o.log\t1\t70`,
      `ours\t${ID2}\t${d}/none.json\t${d}/o2.log\t124\t900`,
    ],
    {
      'r.json': JSON.stringify({ id: ID, status: 'pass', seconds: 71.4, error: '' }),
      'o.json': JSON.stringify({ id: ID, status: 'fail', seconds: 64.6, error: 'RuntimeError: no | DSCP' }),
    },
    (runs) => {
      const rows = readRuns(runs);
      assert.equal(rows.length, 2);
      const out = text(rows).split('\n');
      assert.match(out[1]!, /^test_qos\.TestDscpMarkingQoSOvs\.test_dscp_marking_packets +pass +71 s +fail +65 s$/);
      assert.equal(out[2], '    ovs-agent: RuntimeError: no | DSCP');
      assert.match(out[3]!, /test_connectivity\(VXLAN\) +— +timeout +900 s$/);
      assert.equal(out[4], '    ovs-agent: killed after 900 s');
      assert.equal(out.at(-1), 'reference: 1 passed, 0 failed, 0 skipped of 1 (1 min); ovs-agent: 0 passed, 2 failed, 0 skipped of 2 (16 min)');
      const md = markdown(rows).split('\n');
      assert.equal(md[2], '| `test_qos.TestDscpMarkingQoSOvs.test_dscp_marking_packets` | pass | 71 s | fail | 65 s | ovs-agent: RuntimeError: no \\| DSCP |');
    },
  );
});

test('a run that wrote no result shows its exit code and the last line of its log', () => {
  withRuns((d) => [`ours\t${ID}\t${d}/none.json\t${d}/o.log\t1\t3`], { 'o.log': 'selected\ncannot load neutron.tests.fullstack.test_qos: boom\n\n' }, (runs) => {
    assert.match(text(readRuns(runs)), /ovs-agent: exit 1: cannot load neutron\.tests\.fullstack\.test_qos: boom/);
  });
});

test('a skipped run shows its reason: neutron\'s unstable_test turns a failure into a skip', () => {
  const reason = `skipped: ${ID} was marked as unstable because of bug 1798475, failure was: 1 != 0`;
  withRuns((d) => [`ours\t${ID}\t${d}/o.json\t${d}/o.log\t0\t48`], { 'o.json': JSON.stringify({ id: ID, status: 'skip', seconds: 47.7, error: reason }) }, (runs) => {
    const out = text(readRuns(runs)).split('\n');
    assert.match(out[1]!, /skip +48 s$/);
    assert.equal(out[2], `    ovs-agent: ${reason}`);
    assert.equal(out.at(-1), 'ovs-agent: 0 passed, 0 failed, 1 skipped of 1 (1 min)');
  });
});

test('a malformed line is refused with its file and line number', () => {
  withRuns(() => ['ours\tonly-two'], {}, (runs) => {
    assert.throws(() => readRuns(runs), /runs\.tsv:1: expected agent, test id, result, log, exit code, seconds separated by tabs/);
  });
});
