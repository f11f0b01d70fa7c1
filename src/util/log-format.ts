// Log lines in oslo.log's shape: Python %-style format strings (logging_default_format_string) and
// strftime dates (log_date_format), so an operator's grep patterns and log parsers keep working.

import { hostname } from 'node:os';

export type Level = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

/** One log call, before formatting: the fields oslo.log's ContextFormatter fills. */
export interface LogRecord {
  time: Date;
  level: Level;
  name: string;
  message: string;
  /** The error logged with the message (WARNING and worse), for use_json's error_summary and traceback. */
  error?: { summary: string; traceback: string[] };
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const pad = (n: number, w = 2, c = '0') => String(n).padStart(w, c);

/**
 * C strftime over local time, as Python's time.strftime that logging's asctime uses. Directives not
 * listed stay as written (Python passes those to libc, whose output we do not try to imitate).
 */
export function strftime(fmt: string, d: Date): string {
  return fmt.replace(/%([a-zA-Z%])/g, (all, c: string) => {
    switch (c) {
      case 'Y': return String(d.getFullYear());
      case 'y': return pad(d.getFullYear() % 100);
      case 'm': return pad(d.getMonth() + 1);
      case 'd': return pad(d.getDate());
      case 'e': return pad(d.getDate(), 2, ' ');
      case 'H': return pad(d.getHours());
      case 'I': return pad(d.getHours() % 12 || 12);
      case 'M': return pad(d.getMinutes());
      case 'S': return pad(d.getSeconds());
      case 'p': return d.getHours() < 12 ? 'AM' : 'PM';
      case 'j': {
        const start = new Date(d.getFullYear(), 0, 1);
        return pad(Math.floor((d.getTime() - start.getTime()) / 86400000) + 1, 3);
      }
      case 'a': return DAYS[d.getDay()]!.slice(0, 3);
      case 'A': return DAYS[d.getDay()]!;
      case 'b': case 'h': return MONTHS[d.getMonth()]!.slice(0, 3);
      case 'B': return MONTHS[d.getMonth()]!;
      case 'z': {
        const off = -d.getTimezoneOffset();
        return `${off < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
      }
      case 'Z': return Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? '';
      case 'F': return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
      case 'T': return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
      case 's': return String(Math.floor(d.getTime() / 1000));
      case '%': return '%';
      default: return all;
    }
  });
}

export interface LineFormat {
  /** logging_default_format_string: the agent's messages carry no request context. */
  format: string;
  /** log_date_format, for %(asctime)s. */
  dateFormat: string;
  /** The binary name, for %(processName)s-like fields some operators use. */
  binary: string;
  /** use_json: one JSON object a line, as oslo.log's JSONFormatter writes it, instead of `format`. */
  json?: boolean;
  /** %(asctime)s as Python's logging.Formatter without a datefmt prints it: `%Y-%m-%d %H:%M:%S,mmm`. */
  pythonAsctime?: boolean;
}

export const DEFAULT_LINE_FORMAT: LineFormat = {
  format: '%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s [-] %(instance)s%(message)s',
  dateFormat: '%Y-%m-%d %H:%M:%S',
  binary: 'neutron-openvswitch-agent',
};

/**
 * Python's `format % record`: %(key)s / %(key)d with optional flags, width and precision, and %%.
 * Fields a context would fill (request ids, user identity, instance) are empty or '-', as oslo.log
 * leaves them for messages without a context.
 */
export function formatLine(r: LogRecord, f: LineFormat): string {
  if (f.json) return formatJson(r, f);
  const fields: Record<string, string | number> = {
    asctime: f.pythonAsctime ? `${strftime('%Y-%m-%d %H:%M:%S', r.time)},${pad(r.time.getMilliseconds(), 3)}` : strftime(f.dateFormat, r.time),
    msecs: r.time.getMilliseconds(),
    process: process.pid,
    processName: 'MainProcess',
    levelname: r.level,
    levelno: LEVEL_NUMBER[r.level],
    name: r.name,
    message: r.message,
    instance: '',
    color: '',
    reset_color: '',
    resource: '',
    global_request_id: '-',
    request_id: '-',
    user_identity: '-',
    project: '-',
    binary: f.binary,
    created: r.time.getTime() / 1000,
  };
  return f.format.replace(/%(?:\(([^)]*)\))?([-#0 +]*)(\d*)(?:\.(\d+))?([sdifr%])/g, (all, key: string | undefined, flags: string, width: string, prec: string | undefined, conv: string) => {
    if (conv === '%') return '%';
    if (key === undefined) return all;
    const v = fields[key];
    let s: string;
    if (v === undefined) s = '';
    else if (conv === 'd' || conv === 'i') s = String(Math.trunc(Number(v)));
    else if (conv === 'f') s = Number(v).toFixed(prec === undefined ? 6 : Number(prec));
    else s = String(v);
    const w = width ? Number(width) : 0;
    if (s.length >= w) return s;
    if (flags.includes('-')) return s.padEnd(w);
    return s.padStart(w, flags.includes('0') && conv !== 's' && conv !== 'r' ? '0' : ' ');
  });
}

/**
 * use_json: the keys of oslo.log's JSONFormatter, in its order, so log shippers' mappings keep
 * working. The agent records no call site: pathname, filename, lineno and funcname are null, module is
 * the logger's last name. Messages are formatted before logging: `msg` is the message, `args` empty.
 */
function formatJson(r: LogRecord, f: LineFormat): string {
  return JSON.stringify({
    message: r.message,
    asctime: strftime(f.dateFormat, r.time),
    name: r.name,
    msg: r.message,
    args: [],
    levelname: r.level,
    levelno: LEVEL_NUMBER[r.level],
    pathname: null,
    filename: null,
    module: r.name.slice(r.name.lastIndexOf('.') + 1),
    lineno: null,
    funcname: null,
    created: r.time.getTime() / 1000,
    msecs: r.time.getMilliseconds(),
    relative_created: r.time.getTime() - performance.timeOrigin,
    thread: null,
    thread_name: 'MainThread',
    process_name: 'MainProcess',
    process: process.pid,
    traceback: r.error?.traceback ?? null,
    hostname: hostname(),
    error_summary: r.error?.summary ?? '',
    context: {},
    extra: { project: 'neutron', version: 'unknown' },
  });
}

export const LEVEL_NUMBER: Record<Level, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };

/** syslog severity of each level, as oslo.log's SYSLOG_MAP. */
export const SYSLOG_SEVERITY: Record<Level, number> = { DEBUG: 7, INFO: 6, WARNING: 4, ERROR: 3, CRITICAL: 2 };

const FACILITIES = [
  'KERN', 'USER', 'MAIL', 'DAEMON', 'AUTH', 'SYSLOG', 'LPR', 'NEWS', 'UUCP', 'CRON', 'AUTHPRIV', 'FTP',
] as const;

/**
 * syslog_log_facility as oslo.log reads it (`LOG_LOCAL0`, `local0`, `user` ...) → the facility code
 * shifted into a priority; undefined for a name syslog does not have.
 */
export function syslogFacility(name: string): number | undefined {
  let n = name.trim().toUpperCase();
  if (n.startsWith('LOG_')) n = n.slice(4);
  const i = (FACILITIES as readonly string[]).indexOf(n);
  if (i >= 0) return i << 3;
  const local = /^LOCAL([0-7])$/.exec(n);
  return local ? (16 + Number(local[1])) << 3 : undefined;
}

export const SYSLOG_FACILITY_NAMES = [...FACILITIES.map((f) => `LOG_${f}`), ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => `LOG_LOCAL${i}`)];
