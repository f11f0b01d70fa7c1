// The daemon's logging from oslo.log's options ([DEFAULT] log_file, log_dir, use_stderr, use_journal,
// use_syslog, syslog_log_facility, debug, log_date_format, logging_default_format_string, use_json,
// watch_log_file, log_rotation_type and its max_logfile_size_mb, max_logfile_count,
// log_rotate_interval, log_rotate_interval_type),
// or from the Python logging file log_config_append names, which then replaces them (as in oslo.log).
import { readFileSync, statSync } from 'node:fs';
import { ConfigError, originOf, type AgentConfig } from '../config/index.js';
import { SYSLOG_FACILITY_NAMES, syslogFacility, type LineFormat } from '../util/log-format.js';
import { intervalRotation, whenFromIntervalType, type RotationPolicy } from '../util/log-rotation.js';
import { FileSink, JournalSink, RotatingFileSink, SyslogSink, logFilePath, stderrSink, stdoutSink } from '../util/log-sinks.js';
import { configureLogging, getLogger, type LogOutput, type LogSink } from '../util/log.js';
import { parseLogConfigFile, type LogDestination } from './log-config-file.js';

export const BINARY = 'neutron-openvswitch-agent';
const LOG = getLogger('cli');

/** What a configuration asks for, resolved: for the log line at start-up and for tests. */
export interface LoggingPlan {
  file?: string;
  /** How the agent rotates `file` itself; undefined: it does not (logrotate may, the file is reopened). */
  rotation?: RotationPolicy;
  stderr: boolean;
  stdout: boolean;
  journal: boolean;
  syslog: boolean;
  facility: number;
  format: LineFormat;
}

export function loggingPlan(cfg: AgentConfig): LoggingPlan {
  const d = cfg.DEFAULT;
  const facility = syslogFacility(d.syslog_log_facility);
  if (facility === undefined && (d.use_syslog || d.use_journal)) {
    throw new ConfigError({
      group: 'DEFAULT', option: 'syslog_log_facility', value: d.syslog_log_facility, origin: originOf(cfg, 'DEFAULT', 'syslog_log_facility'),
      reason: `syslog facility must be one of: ${SYSLOG_FACILITY_NAMES.join(', ')}`,
    });
  }
  const file = logFilePath(d.log_file, d.log_dir, BINARY);
  const rotation = file ? rotationOf(cfg) : undefined;
  return {
    ...(file ? { file } : {}),
    ...(rotation ? { rotation } : {}),
    stderr: d.use_stderr,
    journal: d.use_journal,
    // oslo.log: standard output only when nothing else of these three is configured
    stdout: !file && !d.use_stderr && !d.use_journal,
    syslog: d.use_syslog,
    facility: facility ?? 8,
    format: { format: d.logging_default_format_string, dateFormat: d.log_date_format, binary: BINARY, json: d.use_json },
  };
}

/**
 * oslo.log's choice of file handler: watch_log_file wins (the file is only reopened when moved), then
 * log_rotation_type: interval → TimedRotatingFileHandler, size → RotatingFileHandler, none → neither.
 */
function rotationOf(cfg: AgentConfig): RotationPolicy | undefined {
  const d = cfg.DEFAULT;
  if (d.watch_log_file) return undefined;
  switch (d.log_rotation_type.toLowerCase()) {
    case 'size':
      return { kind: 'size', maxBytes: d.max_logfile_size_mb * 1024 * 1024, backupCount: d.max_logfile_count };
    case 'interval':
      try {
        return intervalRotation(whenFromIntervalType(d.log_rotate_interval_type, d.log_rotate_interval), d.log_rotate_interval, d.max_logfile_count);
      } catch (e) {
        throw new ConfigError({
          group: 'DEFAULT', option: 'log_rotate_interval', value: String(d.log_rotate_interval), origin: originOf(cfg, 'DEFAULT', 'log_rotate_interval'),
          reason: `with log_rotation_type = interval and log_rotate_interval_type = ${d.log_rotate_interval_type}: ${e instanceof Error ? e.message : String(e)}`
            + (d.log_rotate_interval_type.toLowerCase() === 'weekday' ? ' (for Weekday, log_rotate_interval is the day: 0 is Monday … 6 Sunday)' : ''),
        });
      }
    default:
      return undefined;
  }
}

/**
 * Opens the sinks and makes them the logger's; throws with the path if a log file cannot be opened,
 * or with the file and section if the log_config_append file cannot be used.
 */
export function setupLogging(cfg: AgentConfig): void {
  if (cfg.DEFAULT.log_config_append) {
    applyLogConfigFile(cfg, cfg.DEFAULT.log_config_append);
    return;
  }
  const plan = loggingPlan(cfg);
  const sinks: LogSink[] = [];
  if (plan.file) sinks.push(plan.rotation ? new RotatingFileSink(plan.file, plan.rotation) : new FileSink(plan.file));
  if (plan.stderr) sinks.push(stderrSink);
  if (plan.journal) sinks.push(new JournalSink(plan.facility, BINARY));
  if (plan.stdout) sinks.push(stdoutSink);
  if (plan.syslog) sinks.push(new SyslogSink(plan.facility, BINARY));
  closeAll(configureLogging({ debug: cfg.DEFAULT.debug, sinks, format: plan.format }));
  loadedFile = undefined;
}

/**
 * SIGHUP, as oslo.log's mutate hook: a changed `debug` sets the level; the log_config_append file is
 * read again if it is another file or was modified since. A file that became unusable is reported
 * and the running logging kept.
 */
export function reloadLogging(before: AgentConfig, after: AgentConfig): void {
  if (after.DEFAULT.debug !== before.DEFAULT.debug) configureLogging({ debug: after.DEFAULT.debug });
  const path = after.DEFAULT.log_config_append;
  if (!path && !before.DEFAULT.log_config_append) return;
  if (path && loadedFile?.path === path && loadedFile.mtimeMs === mtimeOf(path)) return;
  try {
    setupLogging(after);
    LOG.info(`logging set up again from ${path || 'the logging options'}`);
  } catch (e) {
    LOG.error(`SIGHUP: logging not set up again, keeping the running one: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The log_config_append file in use and its modification time (a SIGHUP re-reads a modified one). */
let loadedFile: { path: string; mtimeMs: number | undefined } | undefined;

/** Undefined when the file cannot be stat'ed: it is then read again, and that read says why it fails. */
function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function applyLogConfigFile(cfg: AgentConfig, path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError({
      group: 'DEFAULT', option: 'log_config_append', value: path, origin: originOf(cfg, 'DEFAULT', 'log_config_append'),
      reason: `cannot read the logging configuration: ${e instanceof Error ? e.message : String(e)}`,
    });
  }
  const mtimeMs = mtimeOf(path);
  const plan = parseLogConfigFile(text, path, { format: loggingPlan(cfg).format });
  const outputs: LogOutput[] = [];
  try {
    for (const h of plan.handlers) outputs.push({ sink: openSink(h.to), format: h.format, ...(h.level ? { level: h.level } : {}) });
  } catch (e) {
    closeAll(outputs);
    throw e;
  }
  closeAll(configureLogging({ level: plan.level, outputs }));
  loadedFile = { path, mtimeMs };
  if (plan.unused.length > 0) LOG.info(`${path}: loggers of other programs, not the agent's: ${plan.unused.join(', ')}`);
}

function openSink(to: LogDestination): LogSink {
  switch (to.kind) {
    case 'stdout': return stdoutSink;
    case 'stderr': return stderrSink;
    case 'file': return to.rotation ? new RotatingFileSink(to.path, to.rotation) : new FileSink(to.path);
    case 'syslog': return to.socket !== undefined ? new SyslogSink(to.facility, BINARY, to.socket) : new SyslogSink(to.facility, BINARY);
    case 'journal': return new JournalSink(to.facility, BINARY);
  }
}

function closeAll(outputs: LogOutput[]): void {
  for (const o of outputs) o.sink.close?.();
}
