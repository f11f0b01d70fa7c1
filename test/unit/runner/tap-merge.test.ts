import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { failuresOf, TapMerger } from '../../tap-merge.js';

const fileTap = (name: string, ok: boolean, tests: number): string =>
  [
    'TAP version 13',
    `# Subtest: ${name}`,
    '    # Subtest: inner',
    '    ok 1 - inner',
    '      ---',
    '      duration_ms: 1.5',
    '      ...',
    '    1..1',
    `${ok ? 'ok' : 'not ok'} 1 - ${name}`,
    '  ---',
    '  duration_ms: 2.5',
    '  ...',
    '1..1',
    `# tests ${tests}`,
    '# suites 1',
    `# pass ${ok ? tests : 0}`,
    `# fail ${ok ? 0 : tests}`,
    '# cancelled 0',
    '# skipped 0',
    '# todo 0',
    '# duration_ms 12.3',
    '',
  ].join('\n');

describe('TapMerger', () => {
  it('numbers top-level points across files, keeps nested ones, prints one version line and plan', () => {
    const m = new TapMerger();
    const out = [...m.begin(), ...m.file(fileTap('a', true, 1), 'a.test.js'), ...m.file(fileTap('b', false, 2), 'b.test.js'), ...m.end(100)];
    assert.equal(out.filter((l) => l === 'TAP version 13').length, 1);
    assert.deepEqual(out.filter((l) => /^(not )?ok /.test(l)), ['ok 1 - a', 'not ok 2 - b']);
    assert.deepEqual(out.filter((l) => /^ {4}ok /.test(l)), ['    ok 1 - inner', '    ok 1 - inner']);
    assert.deepEqual(out.slice(-9), ['1..2', '# tests 3', '# suites 2', '# pass 1', '# fail 2', '# cancelled 0', '# skipped 0', '# todo 0', '# duration_ms 100.000']);
  });

  it('counts a file whose runner died without a summary as one failed test', () => {
    const m = new TapMerger();
    m.file(fileTap('a', true, 1), 'a.test.js');
    const lines = m.failedFile('integration/x.test.js', 'nsenter did not start');
    assert.equal(lines[0], 'not ok 2 - integration/x.test.js');
    assert.equal(m.summary.fail, 1);
    assert.ok(m.end(1).includes('1..2'));
  });

  // As node 20 prints them: a suite whose before hook threw (its tests cancelled), a failed assertion.
  const failingTap = [
    'TAP version 13',
    '# Subtest: suite A',
    '    # Subtest: t1',
    '    not ok 1 - t1',
    '      ---',
    '      duration_ms: 0',
    "      failureType: 'cancelledByParent'",
    "      error: 'test did not finish before its parent and was cancelled'",
    "      code: 'ERR_TEST_FAILURE'",
    '      ...',
    '    1..1',
    'not ok 1 - suite A',
    '  ---',
    '  duration_ms: 2.8',
    "  type: 'suite'",
    "  failureType: 'hookFailed'",
    '  error: |-',
    '    port of g1 ACTIVE not within 60000 ms',
    '    second line',
    "  code: 'ERR_TEST_FAILURE'",
    '  stack: |-',
    '    SuiteContext.<anonymous> (file:///tmp/h.test.mjs:4:30)',
    '  ...',
    '# Subtest: suite B',
    '    # Subtest: fails',
    '    not ok 1 - fails',
    '      ---',
    '      duration_ms: 2.4',
    "      failureType: 'testCodeFailure'",
    '      error: |-',
    '        one is two',
    '        ',
    '        1 !== 2',
    '        ',
    "      code: 'ERR_ASSERTION'",
    '      ...',
    '    # Subtest: ok',
    '    ok 2 - ok',
    '      ---',
    '      duration_ms: 0.3',
    '      ...',
    '    1..2',
    'not ok 2 - suite B',
    '  ---',
    "  type: 'suite'",
    "  failureType: 'subtestsFailed'",
    "  error: '1 subtest failed'",
    '  ...',
    '1..2',
    '# tests 3',
    '# suites 2',
    '# pass 1',
    '# fail 1',
    '# cancelled 1',
    '# skipped 0',
    '# todo 0',
    '# duration_ms 9.1',
  ].join('\n');

  it('finds the failures in their own right: a failed hook and a failed test, not the tests it cancelled nor the suite that only counts them', () => {
    assert.deepEqual(failuresOf('h.test.js', failingTap), [
      { file: 'h.test.js', test: 'suite A', failureType: 'hookFailed', error: ['port of g1 ACTIVE not within 60000 ms', 'second line'] },
      { file: 'h.test.js', test: 'suite B > fails', failureType: 'testCodeFailure', error: ['one is two', '', '1 !== 2'] },
    ]);
  });

  it('repeats every failure with its error just before the plan and summary, a dead file\'s too', () => {
    const m = new TapMerger();
    m.file(fileTap('a', true, 1), 'a.test.js');
    m.file(failingTap, 'integration/h.test.js');
    m.failedFile('integration/x.test.js', 'nsenter did not start\nexit 1');
    const end = m.end(1);
    assert.deepEqual(end.slice(0, end.indexOf('1..4')), [
      '# failures: 3',
      '# integration/h.test.js: suite A (hookFailed)',
      '#     port of g1 ACTIVE not within 60000 ms',
      '#     second line',
      '# integration/h.test.js: suite B > fails (testCodeFailure)',
      '#     one is two',
      '#     ',
      '#     1 !== 2',
      '# integration/x.test.js: (the whole file) (no summary)',
      '#     nsenter did not start',
      '#     exit 1',
    ]);
    assert.equal(end.at(-1), '# duration_ms 1.000');
  });

  it('prints no digest when nothing failed', () => {
    const m = new TapMerger();
    m.file(fileTap('a', true, 1), 'a.test.js');
    assert.equal(m.end(1)[0], '1..1');
  });
});
