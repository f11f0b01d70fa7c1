// Logging in the shape operators know from oslo.log:
// "2026-11-24 02:26:59.448 1234 INFO ovs_agent.<logger> [-] message"
// Where lines go (file, stdout/stderr, syslog, journald) is chosen by the daemon (src/util/log-sinks.ts).
import { redactSecrets } from './redact.js';
import { DEFAULT_LINE_FORMAT, LEVEL_NUMBER, formatLine, type Level, type LineFormat } from './log-format.js';

export type { Level } from './log-format.js';

export interface LogSink {
  /** One formatted line, newline included; `level` for sinks that carry a priority (syslog, journald). */
  write(line: string, level: Level): void;
}

let threshold: Level = 'INFO';
let sinks: LogSink[] = [{ write: (line) => process.stderr.write(line) }];
let lineFormat: LineFormat = DEFAULT_LINE_FORMAT;
/** Told of every WARNING and worse (the metrics endpoint keeps the last few for `ovs-agent status`). */
let problemObserver: ((level: Level, logger: string, message: string) => void) | undefined;

export function setProblemObserver(fn: ((level: Level, logger: string, message: string) => void) | undefined): void {
  problemObserver = fn;
}

/**
 * `debug` sets the level (INFO when not given, as before); `sink`/`sinks` replace where lines go and
 * `format` how they look; what is not given stays as it is (SIGHUP changes only the level).
 */
export function configureLogging(opts: { debug?: boolean; sink?: LogSink; sinks?: LogSink[]; format?: LineFormat }): void {
  threshold = opts.debug ? 'DEBUG' : 'INFO';
  if (opts.sink) sinks = [opts.sink];
  if (opts.sinks) sinks = opts.sinks;
  if (opts.format) lineFormat = opts.format;
}

export class Logger {
  constructor(readonly name: string) {}
  private emit(level: Level, msg: string, err?: unknown): void {
    let message = msg;
    if (err !== undefined) message += `: ${err instanceof Error ? err.message : String(err)}`;
    // Whatever printed a broker password by mistake prints '****', in every sink and in `status`.
    message = redactSecrets(message);
    if (problemObserver && LEVEL_NUMBER[level] >= LEVEL_NUMBER.WARNING) problemObserver(level, this.name, message);
    if (LEVEL_NUMBER[level] < LEVEL_NUMBER[threshold]) return;
    const line = formatLine({ time: new Date(), level, name: this.name, message }, lineFormat) + '\n';
    for (const s of sinks) s.write(line, level);
  }
  debug(msg: string): void { this.emit('DEBUG', msg); }
  info(msg: string): void { this.emit('INFO', msg); }
  warning(msg: string, err?: unknown): void { this.emit('WARNING', msg, err); }
  error(msg: string, err?: unknown): void { this.emit('ERROR', msg, err); }
  critical(msg: string, err?: unknown): void { this.emit('CRITICAL', msg, err); }
}

export function getLogger(name: string): Logger {
  return new Logger(`ovs_agent.${name}`);
}
