import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TapMerger } from '../../tap-merge.js';

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
    const out = [...m.begin(), ...m.file(fileTap('a', true, 1)), ...m.file(fileTap('b', false, 2)), ...m.end(100)];
    assert.equal(out.filter((l) => l === 'TAP version 13').length, 1);
    assert.deepEqual(out.filter((l) => /^(not )?ok /.test(l)), ['ok 1 - a', 'not ok 2 - b']);
    assert.deepEqual(out.filter((l) => /^ {4}ok /.test(l)), ['    ok 1 - inner', '    ok 1 - inner']);
    assert.deepEqual(out.slice(-9), ['1..2', '# tests 3', '# suites 2', '# pass 1', '# fail 2', '# cancelled 0', '# skipped 0', '# todo 0', '# duration_ms 100.000']);
  });

  it('counts a file whose runner died without a summary as one failed test', () => {
    const m = new TapMerger();
    m.file(fileTap('a', true, 1));
    const lines = m.failedFile('integration/x.test.js', 'nsenter did not start');
    assert.equal(lines[0], 'not ok 2 - integration/x.test.js');
    assert.equal(m.summary.fail, 1);
    assert.equal(m.end(1)[0], '1..2');
  });
});
