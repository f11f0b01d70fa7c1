import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LINE_FORMAT, formatLine, strftime, syslogFacility } from '../../../src/util/log-format.js';

const at = new Date(2026, 10, 24, 2, 6, 9, 48); // local time, as Python's asctime

test('the default line is oslo.log\'s logging_default_format_string', () => {
  const line = formatLine({ time: at, level: 'INFO', name: 'ovs_agent.agent', message: 'bridges set up' }, DEFAULT_LINE_FORMAT);
  assert.equal(line, `2026-11-24 02:06:09.048 ${process.pid} INFO ovs_agent.agent [-] bridges set up`);
});

test('log_date_format and a custom format string are honoured, widths and %% included', () => {
  const line = formatLine(
    { time: at, level: 'WARNING', name: 'n', message: 'm' },
    { format: '%(asctime)s|%(levelname)-8s|%(msecs)d|%(process)5d|%%|%(request_id)s|%(unknown)s|', dateFormat: '%d/%b/%y %I:%M %p', binary: 'b' },
  );
  assert.equal(line, `24/Nov/26 02:06 AM|WARNING |48|${String(process.pid).padStart(5)}|%|-||`);
});

test('use_json: one JSON object a line with the keys of oslo.log\'s JSONFormatter, in its order', () => {
  const f = { ...DEFAULT_LINE_FORMAT, json: true };
  const info = JSON.parse(formatLine({ time: at, level: 'INFO', name: 'ovs_agent.port_pass', message: 'bridges "set" up' }, f)) as Record<string, unknown>;
  // As oslo.log 5 printed them for a neutron-openvswitch-agent line (/usr/lib/python3/dist-packages/oslo_log/formatters.py).
  assert.deepEqual(Object.keys(info), [
    'message', 'asctime', 'name', 'msg', 'args', 'levelname', 'levelno', 'pathname', 'filename', 'module', 'lineno', 'funcname',
    'created', 'msecs', 'relative_created', 'thread', 'thread_name', 'process_name', 'process', 'traceback', 'hostname',
    'error_summary', 'context', 'extra',
  ]);
  assert.equal(info.message, 'bridges "set" up');
  assert.equal(info.asctime, '2026-11-24 02:06:09');
  assert.equal(info.levelno, 20);
  assert.equal(info.module, 'port_pass');
  assert.equal(info.created, at.getTime() / 1000);
  assert.equal(info.msecs, 48);
  assert.equal(info.process, process.pid);
  assert.equal(info.traceback, null);
  assert.equal(info.error_summary, '');
  assert.deepEqual(info.extra, { project: 'neutron', version: 'unknown' });
  const err = JSON.parse(formatLine(
    { time: at, level: 'ERROR', name: 'n', message: 'm: boom', error: { summary: 'Error: boom', traceback: ['Error: boom', '    at x'] } }, f,
  )) as Record<string, unknown>;
  assert.equal(err.error_summary, 'Error: boom');
  assert.deepEqual(err.traceback, ['Error: boom', '    at x']);
});

test('strftime covers the directives log_date_format uses', () => {
  assert.equal(strftime('%Y-%m-%dT%H:%M:%S %j %a %A %B %e %%', at), '2026-11-24T02:06:09 328 Tue Tuesday November 24 %');
  assert.match(strftime('%z', at), /^[+-]\d{4}$/);
});

test('syslog facilities are read as oslo.log reads them', () => {
  assert.equal(syslogFacility('LOG_USER'), 8);
  assert.equal(syslogFacility('user'), 8);
  assert.equal(syslogFacility('LOG_LOCAL0'), 128);
  assert.equal(syslogFacility('local7'), 184);
  assert.equal(syslogFacility('LOG_DAEMON'), 24);
  assert.equal(syslogFacility('LOG_NOPE'), undefined);
});
