// log_config_append files as operators write them for OpenStack services: what the agent opens for
// each, and a refusal naming the file and section for what it cannot stand in for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogConfigFileError, parseLogConfigFile } from '../../../src/cli/log-config-file.js';
import { DEFAULT_LINE_FORMAT } from '../../../src/util/log-format.js';

// use_json = True among the options: the file's formatters decide all the same.
const defaults = { format: { ...DEFAULT_LINE_FORMAT, dateFormat: '%d/%m/%Y %H:%M:%S', json: true } };
const parse = (text: string) => parseLogConfigFile(text, '/etc/neutron/logging.conf', defaults);

// The shape of oslo.log's own example (doc/source/admin/example_nova.rst's logging.conf).
const OSLO_EXAMPLE = `[loggers]
keys = root, neutron, amqp

[handlers]
keys = stderr, stdout, syslog, watchedfile, null

[formatters]
keys = context, default, json

[logger_root]
level = WARNING
handlers = null

[logger_neutron]
level = INFO
handlers = stderr, syslog
qualname = neutron

[logger_amqp]
level = WARNING
handlers = stderr
qualname = amqp

[handler_stderr]
class = StreamHandler
args = (sys.stderr,)
formatter = context

[handler_stdout]
class = StreamHandler
args = (sys.stdout,)
formatter = context

[handler_syslog]
class = handlers.SysLogHandler
args = ('/dev/log', handlers.SysLogHandler.LOG_LOCAL1)
formatter = default
level = ERROR

[handler_watchedfile]
class = handlers.WatchedFileHandler
args = ('/var/log/neutron/agent.log',)
formatter = json

[handler_null]
class = logging.NullHandler
formatter = default
args = ()

[formatter_context]
class = oslo_log.formatters.ContextFormatter

[formatter_default]
format = %(levelname)s %(message)s
datefmt = %H:%M

[formatter_json]
class = oslo_log.formatters.JSONFormatter
`;

test('the neutron logger and root: their handlers, levels and formatters; other programs\' loggers listed as unused', () => {
  const plan = parse(OSLO_EXAMPLE);
  assert.equal(plan.level, 'INFO', 'the neutron logger\'s level');
  assert.deepEqual(plan.unused, ['amqp']);
  assert.deepEqual(plan.handlers.map((h) => [h.name, h.to, h.level]), [
    ['stderr', { kind: 'stderr' }, undefined],
    ['syslog', { kind: 'syslog', facility: 17 << 3, socket: '/dev/log' }, 'ERROR'],
    // root's NullHandler writes nothing
  ]);
  assert.deepEqual(plan.handlers[0]!.format, { ...defaults.format, json: false }, 'ContextFormatter: the options\' line format');
  assert.equal(plan.handlers[1]!.format.format, '%(levelname)s %(message)s');
  assert.equal(plan.handlers[1]!.format.dateFormat, '%H:%M');
});

test('propagate = 0 keeps root\'s handlers out; without a neutron logger root decides, WARNING by default', () => {
  const noPropagate = OSLO_EXAMPLE.replace('qualname = neutron', 'qualname = neutron\npropagate = 0')
    .replace('[logger_root]\nlevel = WARNING\nhandlers = null', '[logger_root]\nlevel = DEBUG\nhandlers = stdout');
  assert.deepEqual(parse(noPropagate).handlers.map((h) => h.name), ['stderr', 'syslog']);
  const rootOnly = `[loggers]\nkeys = root\n[handlers]\nkeys = file\n[formatters]\nkeys = json\n[logger_root]\nhandlers = file\n`
    + `[handler_file]\nclass = FileHandler\nargs = ('/var/log/neutron/ovs.log', 'a')\nformatter = json\n[formatter_json]\nclass = oslo_log.formatters.JSONFormatter\n`;
  const plan = parse(rootOnly);
  assert.equal(plan.level, 'WARNING');
  assert.deepEqual(plan.handlers.map((h) => [h.to, h.format.json]), [[{ kind: 'file', path: '/var/log/neutron/ovs.log' }, true]]);
});

test('a handler without a formatter prints the message alone with Python\'s default asctime; kwargs are read', () => {
  const text = `[loggers]\nkeys = root\n[handlers]\nkeys = s\n[logger_root]\nlevel = NOTSET\nhandlers = s\n`
    + `[handler_s]\nclass = oslo_log.handlers.OSSysLogHandler\nkwargs = {'facility': 'local3'}\n`;
  const plan = parse(text);
  assert.equal(plan.level, 'DEBUG');
  assert.deepEqual(plan.handlers[0]!.to, { kind: 'syslog', facility: 19 << 3, socket: undefined });
  assert.equal(plan.handlers[0]!.format.format, '%(message)s');
  assert.equal(plan.handlers[0]!.format.pythonAsctime, true);
  assert.equal(plan.handlers[0]!.format.json, false);
});

test('what the agent cannot stand in for is refused naming the file, the section and what to do', () => {
  const withHandler = (cls: string, args: string) =>
    `[loggers]\nkeys = root\n[handlers]\nkeys = h\n[logger_root]\nhandlers = h\n[handler_h]\nclass = ${cls}\nargs = ${args}\n`;
  const refused = (text: string, re: RegExp) =>
    assert.throws(() => parse(text), (e: unknown) => e instanceof LogConfigFileError && re.test(e.message), re.source);
  refused(withHandler('handlers.TimedRotatingFileHandler', "('/var/log/x.log', 'midnight', 1, 7, None, False, True)"),
    /^log_config_append \/etc\/neutron\/logging\.conf \[handler_h\]: handlers\.TimedRotatingFileHandler: utc=True: .*local time only; leave utc out/);
  refused(withHandler('handlers.SysLogHandler', "(('loghost', 514),)"), /\[handler_h\]: handlers\.SysLogHandler: only a local socket path/);
  refused(withHandler('fluent.handler.FluentHandler', "('neutron',)"), /\[handler_h\]: fluent\.handler\.FluentHandler: not a handler class/);
  refused(withHandler('StreamHandler', '(open("/tmp/x"),)'), /\[handler_h\]: args\/kwargs: /);
  refused(withHandler('FileHandler', "('/var/log/x.log', 'w')"), /mode w: the agent only appends/);
  refused(`[loggers]\nkeys = root\n[handlers]\nkeys = h\n[logger_root]\nhandlers = other\n`, /\[logger_root\]: handler other is not in \[handlers\] keys/);
  refused(`[loggers]\nkeys = neutron\n[handlers]\nkeys =\n`, /\[loggers\]: keys must include root/);
  refused(`[loggers]\nkeys = root\n[logger_root]\nlevel = LOUD\n`, /\[handlers\]: section missing/);
  refused(`[loggers]\nkeys = root\n[handlers]\nkeys =\n[logger_root]\nlevel = LOUD\n`, /\[logger_root\]: level LOUD/);
  refused('level = INFO\n', /Section must be started/);
});

test('rotating handlers: RotatingFileHandler and TimedRotatingFileHandler rotate as in Python, from args or kwargs', () => {
  const withHandler = (cls: string, args: string, kwargs = '{}') =>
    `[loggers]\nkeys = root\n[handlers]\nkeys = h\n[logger_root]\nhandlers = h\n[handler_h]\nclass = ${cls}\nargs = ${args}\nkwargs = ${kwargs}\n`;
  const to = (cls: string, args: string, kwargs?: string) => parse(withHandler(cls, args, kwargs)).handlers[0]!.to;
  assert.deepEqual(to('handlers.RotatingFileHandler', "('/var/log/x.log', 'a', 1048576, 5)"),
    { kind: 'file', path: '/var/log/x.log', rotation: { kind: 'size', maxBytes: 1048576, backupCount: 5 } });
  assert.deepEqual(to('logging.handlers.RotatingFileHandler', "('/var/log/x.log',)", "{'maxBytes': 10, 'backupCount': 1, 'encoding': 'utf-8'}"),
    { kind: 'file', path: '/var/log/x.log', rotation: { kind: 'size', maxBytes: 10, backupCount: 1 } });
  // Python forces append mode when it rotates, so 'w' is harmless there.
  assert.deepEqual(to('handlers.RotatingFileHandler', "('/var/log/x.log', 'w', 10, 1)"),
    { kind: 'file', path: '/var/log/x.log', rotation: { kind: 'size', maxBytes: 10, backupCount: 1 } });
  assert.deepEqual(to('handlers.TimedRotatingFileHandler', "('/var/log/x.log', 'midnight', 1, 7)"),
    { kind: 'file', path: '/var/log/x.log', rotation: { kind: 'interval', when: 'MIDNIGHT', interval: 1, backupCount: 7 } });
  assert.deepEqual(to('handlers.TimedRotatingFileHandler', "('/var/log/x.log',)", "{'backupCount': 2, 'utc': False, 'atTime': None}"),
    { kind: 'file', path: '/var/log/x.log', rotation: { kind: 'interval', when: 'H', interval: 1, backupCount: 2 } }, "Python's default when is 'h'");
  assert.deepEqual(to('handlers.TimedRotatingFileHandler', "('/var/log/x.log', 'w6')"),
    { kind: 'file', path: '/var/log/x.log', rotation: { kind: 'interval', when: 'W6', interval: 1, backupCount: 0 } });

  const refused = (text: string, re: RegExp) =>
    assert.throws(() => parse(text), (e: unknown) => e instanceof LogConfigFileError && re.test(e.message), re.source);
  const timed = 'handlers.TimedRotatingFileHandler';
  refused(withHandler(timed, "('/var/log/x.log', 'midnight', 1, 7, None, False, False, three_am)"), /\[handler_h\]: handlers\.TimedRotatingFileHandler: atTime: not implemented; leave it out/);
  refused(withHandler(timed, "('/var/log/x.log', 'W7')"), /\[handler_h\]: handlers\.TimedRotatingFileHandler: Invalid day specified for weekly rollover: W7/);
  refused(withHandler(timed, "('/var/log/x.log', 'fortnightly')"), /Invalid rollover interval specified: FORTNIGHTLY/);
  refused(withHandler(timed, "('/var/log/x.log', 'S', 0)"), /interval 0 with when S: must be at least 1/);
  refused(withHandler(timed, "('/var/log/x.log', 'H', 1.5)"), /interval 1\.5: a whole number expected/);
  refused(withHandler(timed, "('/var/log/x.log', 'H', 1, 3, 'latin-1')"), /encoding "latin-1": the agent writes UTF-8; leave encoding out or write 'utf-8'/);
  refused(withHandler('handlers.RotatingFileHandler', "('/var/log/x.log', 'a', 10, 1, None, True)"), /handlers\.RotatingFileHandler: delay=True: .*leave delay out/);
  refused(withHandler('handlers.RotatingFileHandler', "('/var/log/x.log', 'w')"), /mode w with maxBytes 0: the agent only appends/);
  refused(withHandler('handlers.RotatingFileHandler', '()'), /handlers\.RotatingFileHandler: the first argument must be the file name/);
});
