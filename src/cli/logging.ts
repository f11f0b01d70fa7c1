// The daemon's logging from oslo.log's options ([DEFAULT] log_file, log_dir, use_stderr, use_journal,
// use_syslog, syslog_log_facility, debug, log_date_format, logging_default_format_string).
import { ConfigError, originOf, type AgentConfig } from '../config/index.js';
import { SYSLOG_FACILITY_NAMES, syslogFacility, type LineFormat } from '../util/log-format.js';
import { FileSink, JournalSink, SyslogSink, logFilePath, stderrSink, stdoutSink } from '../util/log-sinks.js';
import { configureLogging, type LogSink } from '../util/log.js';

export const BINARY = 'neutron-openvswitch-agent';

/** What a configuration asks for, resolved: for the log line at start-up and for tests. */
export interface LoggingPlan {
  file?: string;
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
  return {
    ...(file ? { file } : {}),
    stderr: d.use_stderr,
    journal: d.use_journal,
    // oslo.log: standard output only when nothing else of these three is configured
    stdout: !file && !d.use_stderr && !d.use_journal,
    syslog: d.use_syslog,
    facility: facility ?? 8,
    format: { format: d.logging_default_format_string, dateFormat: d.log_date_format, binary: BINARY },
  };
}

/** Opens the sinks and makes them the logger's; throws with the path if the log file cannot be opened. */
export function setupLogging(cfg: AgentConfig): LoggingPlan {
  const plan = loggingPlan(cfg);
  const sinks: LogSink[] = [];
  if (plan.file) sinks.push(new FileSink(plan.file));
  if (plan.stderr) sinks.push(stderrSink);
  if (plan.journal) sinks.push(new JournalSink(plan.facility, BINARY));
  if (plan.stdout) sinks.push(stdoutSink);
  if (plan.syslog) sinks.push(new SyslogSink(plan.facility, BINARY));
  configureLogging({ debug: cfg.DEFAULT.debug, sinks, format: plan.format });
  return plan;
}
