// loggingPlan: which rotation oslo.log's options ask for the log file, as oslo.log's
// _setup_logging_from_conf picks its handler (watch_log_file first, then log_rotation_type).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loggingPlan } from '../../../src/cli/logging.js';
import { ConfigError, loadConfig } from '../../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ovs-agent-logging-plan-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const planOf = (defaults: string) => {
  const file = join(dir, `neutron${n++}.conf`);
  writeFileSync(file, `[DEFAULT]\n${defaults}`);
  return loggingPlan(loadConfig(['--config-file', file], { hostname: 'h', searchDirs: [] }));
};

test('log_rotation_type = size: RotatingFileHandler with max_logfile_size_mb MiB and max_logfile_count (oslo\'s defaults 200, 30)', () => {
  assert.deepEqual(planOf('log_file = /var/log/a.log\nlog_rotation_type = Size\nmax_logfile_size_mb = 1\nmax_logfile_count = 2\n').rotation,
    { kind: 'size', maxBytes: 1048576, backupCount: 2 });
  assert.deepEqual(planOf('log_dir = /var/log\nlog_rotation_type = size\n').rotation, { kind: 'size', maxBytes: 200 * 1048576, backupCount: 30 });
});

test('log_rotation_type = interval: the type maps to `when`; for Weekday the interval is the day (and multiplies the week)', () => {
  assert.deepEqual(planOf('log_file = /var/log/a.log\nlog_rotation_type = interval\n').rotation, { kind: 'interval', when: 'D', interval: 1, backupCount: 30 });
  assert.deepEqual(planOf('log_file = /var/log/a.log\nlog_rotation_type = INTERVAL\nlog_rotate_interval_type = Midnight\nmax_logfile_count = 7\n').rotation,
    { kind: 'interval', when: 'MIDNIGHT', interval: 1, backupCount: 7 });
  assert.deepEqual(planOf('log_file = /var/log/a.log\nlog_rotation_type = interval\nlog_rotate_interval_type = weekday\nlog_rotate_interval = 6\n').rotation,
    { kind: 'interval', when: 'W6', interval: 6, backupCount: 30 });
  assert.deepEqual(planOf('log_file = /var/log/a.log\nlog_rotation_type = interval\nlog_rotate_interval_type = minutes\nlog_rotate_interval = 15\n').rotation,
    { kind: 'interval', when: 'M', interval: 15, backupCount: 30 });
});

test('no rotation: none, watch_log_file = True (it wins, as in oslo.log), or no log file', () => {
  assert.equal(planOf('log_file = /var/log/a.log\n').rotation, undefined);
  assert.equal(planOf('log_file = /var/log/a.log\nlog_rotation_type = size\nwatch_log_file = True\n').rotation, undefined);
  assert.equal(planOf('log_rotation_type = size\nuse_stderr = True\n').rotation, undefined);
});

test('what Python\'s handler refuses stops the agent naming the file, the option and why', () => {
  const refused = (text: string, re: RegExp) => assert.throws(() => planOf(text), (e: unknown) => e instanceof ConfigError && re.test(e.message), re.source);
  refused('log_file = /a.log\nlog_rotation_type = interval\nlog_rotate_interval_type = Weekday\nlog_rotate_interval = 7\n',
    /neutron\d+\.conf:\d+: \[DEFAULT\] log_rotate_interval = '7': with log_rotation_type = interval and log_rotate_interval_type = Weekday: Invalid day specified for weekly rollover: W7 \(for Weekday, log_rotate_interval is the day: 0 is Monday/);
  refused('log_file = /a.log\nlog_rotation_type = interval\nlog_rotate_interval_type = seconds\nlog_rotate_interval = 0\n', /log_rotate_interval = '0': .*must be at least 1/);
});
