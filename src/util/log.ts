// Logging in the shape operators know from oslo.log:
// "2026-11-24 02:26:59.448 1234 INFO ovs_agent.<logger> message"
import { redactSecrets } from './redact.js';

export type Level = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';
const ORDER: Record<Level, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };

export interface LogSink {
  write(line: string): void;
}

let threshold: Level = 'INFO';
/** Told of every WARNING and worse (the metrics endpoint keeps the last few for `ovs-agent status`). */
let problemObserver: ((level: Level, logger: string, message: string) => void) | undefined;

export function setProblemObserver(fn: ((level: Level, logger: string, message: string) => void) | undefined): void {
  problemObserver = fn;
}
let sink: LogSink = { write: (line) => process.stderr.write(line) };

export function configureLogging(opts: { debug?: boolean; sink?: LogSink }): void {
  threshold = opts.debug ? 'DEBUG' : 'INFO';
  if (opts.sink) sink = opts.sink;
}

function stamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
}

export class Logger {
  constructor(readonly name: string) {}
  private emit(level: Level, msg: string, err?: unknown): void {
    if (problemObserver && ORDER[level] >= ORDER.WARNING) {
      problemObserver(level, this.name, err === undefined ? msg : `${msg}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (ORDER[level] < ORDER[threshold]) return;
    let line = `${stamp(new Date())} ${process.pid} ${level} ${this.name} ${msg}`;
    if (err !== undefined) line += `: ${err instanceof Error ? err.message : String(err)}`;
    sink.write(redactSecrets(line) + '\n');
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
