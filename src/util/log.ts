// Logging in the shape operators know from oslo.log:
// "2026-11-24 02:26:59.448 1234 INFO ovs_agent.<logger> [-] message"
// Where lines go (file, stdout/stderr, syslog, journald) is chosen by the daemon (src/util/log-sinks.ts).
import { redactSecrets } from './redact.js';
import { DEFAULT_LINE_FORMAT, LEVEL_NUMBER, formatLine, type Level, type LineFormat, type LogRecord } from './log-format.js';

export type { Level } from './log-format.js';

export interface LogSink {
  /** One formatted line, newline included; `level` for sinks that carry a priority (syslog, journald). */
  write(line: string, level: Level): void;
  /** Releases what the sink holds (a file, a socket, a child process) when logging is set up anew. */
  close?(): void;
}

/** A sink with its own line format and level (a log_config_append handler); else the shared ones. */
export interface LogOutput {
  sink: LogSink;
  format?: LineFormat;
  level?: Level;
}

let threshold: Level = 'INFO';
let outputs: LogOutput[] = [{ sink: { write: (line) => process.stderr.write(line) } }];
let lineFormat: LineFormat = DEFAULT_LINE_FORMAT;
/** Told of every WARNING and worse (the metrics endpoint keeps the last few for `ovs-agent status`). */
let problemObserver: ((level: Level, logger: string, message: string) => void) | undefined;

export function setProblemObserver(fn: ((level: Level, logger: string, message: string) => void) | undefined): void {
  problemObserver = fn;
}

/**
 * `level` sets the level, else `debug` (INFO when neither is given); `sink`/`sinks`/`outputs` replace
 * where lines go and `format` how they look; what is not given stays as it is (SIGHUP with a changed
 * `debug` changes only the level). Returns the outputs replaced, for their owner to close.
 */
export function configureLogging(opts: { debug?: boolean; level?: Level; sink?: LogSink; sinks?: LogSink[]; outputs?: LogOutput[]; format?: LineFormat }): LogOutput[] {
  threshold = opts.level ?? (opts.debug ? 'DEBUG' : 'INFO');
  const before = outputs;
  if (opts.sink) outputs = [{ sink: opts.sink }];
  if (opts.sinks) outputs = opts.sinks.map((sink) => ({ sink }));
  if (opts.outputs) outputs = opts.outputs;
  if (opts.format) lineFormat = opts.format;
  return outputs === before ? [] : before;
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
    const record: LogRecord = { time: new Date(), level, name: this.name, message };
    // Formatted once per line format: most hosts have one, a log_config_append file may have several.
    const lines = new Map<LineFormat, string>();
    for (const o of outputs) {
      if (o.level !== undefined && LEVEL_NUMBER[level] < LEVEL_NUMBER[o.level]) continue;
      const format = o.format ?? lineFormat;
      let line = lines.get(format);
      if (line === undefined) {
        // Only JSON lines carry the error apart (its summary and stack); text lines have it in the message.
        if (format.json && err !== undefined) record.error ??= errorInfo(err);
        lines.set(format, (line = formatLine(record, format) + '\n'));
      }
      o.sink.write(line, level);
    }
  }
  debug(msg: string): void { this.emit('DEBUG', msg); }
  info(msg: string): void { this.emit('INFO', msg); }
  warning(msg: string, err?: unknown): void { this.emit('WARNING', msg, err); }
  error(msg: string, err?: unknown): void { this.emit('ERROR', msg, err); }
  critical(msg: string, err?: unknown): void { this.emit('CRITICAL', msg, err); }
}

/** An error as use_json carries it: "Name: message" and its stack, secrets masked as in the message. */
function errorInfo(err: unknown): { summary: string; traceback: string[] } {
  if (!(err instanceof Error)) return { summary: redactSecrets(String(err)), traceback: [] };
  const summary = redactSecrets(`${err.name}: ${err.message}`);
  return { summary, traceback: (err.stack ?? summary).split('\n').map(redactSecrets) };
}

export function getLogger(name: string): Logger {
  return new Logger(`ovs_agent.${name}`);
}
