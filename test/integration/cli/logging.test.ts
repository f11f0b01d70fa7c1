// The daemon logs where oslo.log's options say, in oslo.log's line format: a file (log_file joined
// under log_dir, reopened when logrotate moves it), syslog (a datagram socket this test binds, as
// /dev/log is one), journald's stream socket, or stdout; with use_json, as JSON objects; or as a
// log_config_append file says.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrivateOvs } from '../../../lab/ovs.js';
import { AgentProcess } from '../../../lab/agent-process.js';
import { waitFor } from '../../../lab/neutron.js';
import { DatagramReceiver } from '../../helpers/unix-datagram.js';
import { JOURNAL_SOCKET_ENV, SYSLOG_SOCKET_ENV } from '../../../src/util/log-sinks.js';

let ovs: PrivateOvs;
let dir: string;
before(async () => {
  ovs = await PrivateOvs.start();
  dir = mkdtempSync(join(tmpdir(), 'ovs-agent-logging-'));
});
after(async () => {
  await ovs?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const conf = (extra = '') => `[DEFAULT]\nhost = compute1\ntransport_url = fake:/\n${extra}[ovs]\novsdb_connection = ${ovs.unixConnection}\ndatapath_type = netdev\nof_listen_port = 16635\n`;
// oslo.log's logging_default_format_string with the default log_date_format
const LINE = (level: string) => new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\d+ ${level} ovs_agent\\.[\\w.-]+ \\[-\\] \\S`);


const fileHas = (path: string, re: RegExp) => () => (existsSync(path) && re.test(readFileSync(path, 'utf8')) ? true : undefined);

test('--log-file relative to --log-dir: every line in the reference\'s format, nothing on stdout', async () => {
  const logDir = mkdtempSync(join(dir, 'logdir-'));
  const agent = new AgentProcess({ 'neutron.conf': conf() }, ovs.env);
  try {
    agent.start(['--config-file', agent.path('neutron.conf'), '--log-file', 'agent.log', '--log-dir', logDir]);
    const file = join(logDir, 'agent.log');
    await waitFor(fileHas(file, /bridges set up/), 30000, 'bridges set up in the log file', 50);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.ok(lines.length >= 3, 'several lines');
    for (const l of lines) assert.match(l, LINE('(INFO|WARNING)'), l);
    assert.match(lines[0]!, new RegExp(` ${agent.pid} INFO ovs_agent\\.cli \\[-\\] starting with `));
    assert.equal(agent.output, '', 'nothing written to stdout or stderr');

    // logrotate moves the file away: the agent writes to a new file at the configured path.
    renameSync(file, `${file}.1`);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(agent.pid!, 'SIGHUP');
    await waitFor(fileHas(file, /SIGHUP: configuration files re-read/), 30000, 'the SIGHUP line in a new file', 50);
    assert.doesNotMatch(readFileSync(`${file}.1`, 'utf8'), /SIGHUP/, 'the moved file is left alone');
    assert.equal(await agent.stop(), 0);
    assert.match(readFileSync(file, 'utf8'), /SIGTERM received/);
  } finally {
    agent.cleanup();
  }
});

test('log_rotation_type = size: past max_logfile_size_mb the agent rolls the file over, keeping max_logfile_count backups', async () => {
  const logDir = mkdtempSync(join(dir, 'rotate-'));
  const file = join(logDir, 'agent.log');
  // 200 bytes short of 1 MiB: the first line or two still fit, a later one rolls the file over.
  const old = 'x'.repeat(1048576 - 200 - 1) + '\n';
  writeFileSync(file, old);
  writeFileSync(`${file}.1`, 'backup 1\n');
  writeFileSync(`${file}.2`, 'backup 2\n');
  const agent = new AgentProcess({ 'neutron.conf': conf(`log_file = ${file}\nlog_rotation_type = Size\nmax_logfile_size_mb = 1\nmax_logfile_count = 2\n`) }, ovs.env);
  try {
    agent.start();
    await waitFor(fileHas(file, /bridges set up/), 30000, 'bridges set up in the new log file', 50);
    assert.equal(await agent.stop(), 0);
    assert.deepEqual(readdirSync(logDir).sort(), ['agent.log', 'agent.log.1', 'agent.log.2']);
    const rotated = readFileSync(`${file}.1`, 'utf8');
    assert.ok(rotated.startsWith(old), 'the full file became agent.log.1');
    assert.match(rotated.slice(old.length), / INFO ovs_agent\.cli \[-\] starting with /, 'with the agent\'s first lines');
    assert.ok(rotated.length <= 1048576, `agent.log.1 holds at most 1 MiB (${rotated.length})`);
    assert.equal(readFileSync(`${file}.2`, 'utf8'), 'backup 1\n', 'backup 1 moved up, backup 2 dropped');
    const current = readFileSync(file, 'utf8');
    assert.doesNotMatch(current, /starting with/);
    assert.match(current, /SIGTERM received/);
    assert.equal(agent.output, '', 'nothing on stdout or stderr');
  } finally {
    agent.cleanup();
  }
});

test('log_dir alone: <log_dir>/neutron-openvswitch-agent.log; log_date_format is honoured', async () => {
  const logDir = mkdtempSync(join(dir, 'logdir-'));
  const agent = new AgentProcess({ 'neutron.conf': conf(`log_dir = ${logDir}\nlog_date_format = %d/%b/%Y %H:%M:%S\n`) }, ovs.env);
  try {
    agent.start();
    const file = join(logDir, 'neutron-openvswitch-agent.log');
    await waitFor(fileHas(file, /bridges set up/), 30000, 'bridges set up', 50);
    for (const l of readFileSync(file, 'utf8').trim().split('\n')) {
      assert.match(l, /^\d\d\/[A-Z][a-z]{2}\/\d{4} \d\d:\d\d:\d\d\.\d{3} \d+ (INFO|WARNING) ovs_agent\./, l);
    }
    assert.equal(await agent.stop(), 0);
  } finally {
    agent.cleanup();
  }
});

test('use_json: every line one JSON object with oslo.log\'s keys, in the log file and through a SIGTERM', async () => {
  const logDir = mkdtempSync(join(dir, 'logdir-'));
  const agent = new AgentProcess({ 'neutron.conf': conf(`log_dir = ${logDir}\nuse_json = True\n`) }, ovs.env);
  try {
    agent.start();
    const file = join(logDir, 'neutron-openvswitch-agent.log');
    await waitFor(fileHas(file, /bridges set up/), 30000, 'bridges set up', 50);
    assert.equal(await agent.stop(), 0);
    const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records) {
      assert.match(String(r.asctime), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      assert.match(String(r.name), /^ovs_agent\./);
      assert.equal(r.process, agent.pid);
      assert.equal(r.msg, r.message);
    }
    assert.match(String(records[0]!.message), /^starting with /);
    assert.equal(records[0]!.levelname, 'INFO');
    assert.ok(records.some((r) => /SIGTERM received/.test(String(r.message))), 'the stop is logged as JSON too');
  } finally {
    agent.cleanup();
  }
});

test('no log file: lines on stdout, as oslo.log does', async () => {
  const agent = new AgentProcess({ 'neutron.conf': conf() }, ovs.env);
  try {
    agent.start();
    await agent.waitForLog(/bridges set up/, 30000);
    assert.match(agent.output.split('\n')[0]!, LINE('INFO'));
    assert.equal(await agent.stop(), 0);
  } finally {
    agent.cleanup();
  }
});

test('use_syslog: each line reaches the syslog socket with the facility and severity of syslog_log_facility', async () => {
  const sock = join(dir, 'syslog.sock');
  const rx = new DatagramReceiver(sock);
  const agent = new AgentProcess(
    { 'neutron.conf': conf(`use_syslog = True\nsyslog_log_facility = LOG_LOCAL0\nlog_file = ${join(dir, 'syslog-test.log')}\n`) },
    { ...ovs.env, [SYSLOG_SOCKET_ENV]: sock },
  );
  try {
    await rx.ready;
    agent.start();
    const m = await waitFor(() => rx.messages.map((x) => x.text).find((x) => /bridges set up/.test(x)), 30000, 'bridges set up over syslog', 50);
    // logger's local format: <PRI>Mmm dd hh:mm:ss TAG: message; LOG_LOCAL0 (16 << 3) | INFO (6) = 134
    assert.match(m, /^<134>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d neutron-openvswitch-agent: \d{4}-\d\d-\d\d [\d:.]+ \d+ INFO ovs_agent\.cli \[-\] bridges set up/);
    assert.ok(rx.messages.some((x) => x.text.startsWith('<134>') && / INFO ovs_agent\.cli \[-\] starting with /.test(x.text)), 'the first line too');
    assert.equal(await agent.stop(), 0);
  } finally {
    agent.cleanup();
    rx.stop();
  }
});

test('use_journal: lines reach journald\'s stream socket with a level prefix; without journald, stderr and a clear message', async () => {
  const sock = join(dir, 'journal.sock');
  let received = '';
  const server = createServer((c) => c.on('data', (b: Buffer) => (received += b.toString())));
  await new Promise<void>((r) => server.listen(sock, r));
  const agent = new AgentProcess({ 'neutron.conf': conf('use_journal = True\nsyslog_log_facility = daemon\n') }, { ...ovs.env, [JOURNAL_SOCKET_ENV]: sock });
  try {
    agent.start();
    await waitFor(() => (/bridges set up/.test(received) ? true : undefined), 30000, 'bridges set up over the journal socket', 50);
    // identifier, unit id, priority (LOG_DAEMON | INFO = 30), level prefix on, no forwarding
    assert.ok(received.startsWith('neutron-openvswitch-agent\n\n30\n1\n0\n0\n0\n'), received.slice(0, 80));
    const lines = received.split('\n').slice(7).filter(Boolean);
    for (const l of lines) assert.match(l, /^<[46]>\d{4}-\d\d-\d\d [\d:.]+ \d+ (INFO|WARNING) ovs_agent\./, l);
    assert.equal(agent.output, '', 'use_journal alone: nothing on stdout');
    assert.equal(await agent.stop(), 0);
  } finally {
    agent.cleanup();
    server.close();
  }
  const lost = new AgentProcess({ 'neutron.conf': conf('use_journal = True\n') }, { ...ovs.env, [JOURNAL_SOCKET_ENV]: join(dir, 'no-such.sock') });
  try {
    lost.start();
    await lost.waitForLog(/bridges set up/, 30000);
    assert.match(lost.output, /use_journal: cannot log to journald at \S+no-such\.sock: .*ENOENT.*; logging to stderr instead/);
    assert.match(lost.output, / INFO ovs_agent\.cli \[-\] starting with /, 'the lines queued meanwhile are not lost');
    assert.equal(await lost.stop(), 0);
  } finally {
    lost.cleanup();
  }
});

test('log_config_append: the Python logging file decides handlers, format and level; a SIGHUP reads it again once modified', async () => {
  const logDir = mkdtempSync(join(dir, 'logconfig-'));
  const file = join(logDir, 'ovs.log');
  const logConfig = (format: string) => `[loggers]\nkeys = root, neutron\n[handlers]\nkeys = file, out\n[formatters]\nkeys = plain\n`
    + `[logger_root]\nlevel = WARNING\nhandlers = out\n[logger_neutron]\nlevel = INFO\nhandlers = file\nqualname = neutron\npropagate = 0\n`
    + `[handler_file]\nclass = handlers.WatchedFileHandler\nargs = ('${file}',)\nformatter = plain\n`
    + `[handler_out]\nclass = StreamHandler\nargs = (sys.stdout,)\n[formatter_plain]\nformat = ${format}\ndatefmt = %H:%M:%S\n`;
  const configPath = join(logDir, 'logging.conf');
  writeFileSync(configPath, logConfig('A|%(asctime)s|%(levelname)s|%(name)s|%(message)s'));
  // use_json and log_dir are replaced by the file, as in oslo.log.
  const agent = new AgentProcess({ 'neutron.conf': conf(`log_config_append = ${configPath}\nuse_json = True\nlog_dir = ${logDir}\n`) }, ovs.env);
  try {
    agent.start();
    await waitFor(fileHas(file, /bridges set up/), 30000, 'bridges set up in the handler\'s file', 50);
    for (const l of readFileSync(file, 'utf8').trim().split('\n')) assert.match(l, /^A\|\d\d:\d\d:\d\d\|(INFO|WARNING)\|ovs_agent\.[\w.-]+\|\S/, l);
    assert.equal(agent.output, '', 'root\'s stdout handler gets nothing: the neutron logger does not propagate');
    assert.ok(!existsSync(join(logDir, 'neutron-openvswitch-agent.log')), 'log_dir is not used');

    writeFileSync(configPath, logConfig('B|%(levelname)s|%(message)s'));
    process.kill(agent.pid!, 'SIGHUP');
    await waitFor(fileHas(file, /^B\|INFO\|SIGHUP: configuration files re-read/m), 30000, 'lines in the new format', 50);
    assert.match(readFileSync(file, 'utf8'), /^B\|INFO\|logging set up again from /m);

    // A file made unusable is reported and the running logging kept.
    writeFileSync(configPath, logConfig('C|%(message)s').replace(`class = handlers.WatchedFileHandler\nargs = ('${file}',)`,
      `class = handlers.TimedRotatingFileHandler\nargs = ('${file}', 'midnight', 1, 7, None, False, True)`));
    process.kill(agent.pid!, 'SIGHUP');
    await waitFor(fileHas(file, /^B\|ERROR\|SIGHUP: logging not set up again, keeping the running one: log_config_append \S+ \[handler_file\]: handlers\.TimedRotatingFileHandler: utc=True/m), 30000, 'the refusal in the running log', 50);
    assert.equal(await agent.stop(), 0);
  } finally {
    agent.cleanup();
  }
});

test('a log_config_append file the agent cannot use stops it, naming the file and the section', async () => {
  const configPath = join(dir, 'udp-syslog.conf');
  writeFileSync(configPath, `[loggers]\nkeys = root\n[handlers]\nkeys = udp\n[logger_root]\nhandlers = udp\n[handler_udp]\nclass = handlers.SysLogHandler\nargs = (('loghost', 514),)\n`);
  const agent = new AgentProcess({ 'neutron.conf': conf(`log_config_append = ${configPath}\n`) }, ovs.env);
  try {
    agent.start();
    assert.equal(await agent.waitExit(20000), 1);
    assert.match(agent.output, /log_config_append \S+udp-syslog\.conf \[handler_udp\]: handlers\.SysLogHandler: only a local socket path/);
  } finally {
    agent.cleanup();
  }
});

test('an unknown syslog_log_facility stops the agent naming the option', async () => {
  const agent = new AgentProcess({ 'neutron.conf': conf('use_syslog = True\nsyslog_log_facility = LOG_NOPE\n') }, ovs.env);
  try {
    agent.start();
    assert.equal(await agent.waitExit(20000), 1);
    assert.match(agent.output, /neutron\.conf:\d+: \[DEFAULT\] syslog_log_facility = 'LOG_NOPE': syslog facility must be one of: LOG_KERN, LOG_USER/);
  } finally {
    agent.cleanup();
  }
});
