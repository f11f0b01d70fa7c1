// `[DEFAULT] log_config_append`: a Python logging configuration file (logging.config.fileConfig's
// format) replaces the other logging options, as in oslo.log. The parts such files hold for an
// OpenStack agent are read: the root logger and the `neutron` logger (the agent's lines stand for
// neutron's), their levels and handlers, and handlers and formatters of the classes below. Anything
// else is refused with the file, the section and what to write instead, never silently dropped.
// Pure: takes the text, returns what to open; the daemon opens it (src/cli/logging.ts).
import { normalizeGroupName, parseIni, lookupIni, type IniDocument } from '../config/ini.js';
import { syslogFacility, type Level, type LineFormat } from '../util/log-format.js';
import { intervalRotation, type RotationPolicy } from '../util/log-rotation.js';

export class LogConfigFileError extends Error {
  override readonly name = 'LogConfigFileError';
  constructor(readonly path: string, readonly section: string | undefined, readonly reason: string) {
    super(`log_config_append ${path}${section ? ` [${section}]` : ''}: ${reason}`);
  }
}

/** Where one handler writes. */
export type LogDestination =
  | { kind: 'stdout' | 'stderr' }
  | { kind: 'file'; path: string; rotation?: RotationPolicy }
  | { kind: 'syslog'; facility: number; socket: string | undefined }
  | { kind: 'journal'; facility: number };

export interface LogHandlerPlan {
  /** The handler's name in the file (handler_<name>). */
  name: string;
  to: LogDestination;
  /** The handler's own level; undefined: every line the logger passes. */
  level: Level | undefined;
  format: LineFormat;
}

export interface LogConfigPlan {
  /** The agent's effective level: the `neutron` logger's, else the root logger's (WARNING unless set). */
  level: Level;
  handlers: LogHandlerPlan[];
  /** Loggers of the file that are not the agent's (oslo.messaging, amqp, ...), for one line at start. */
  unused: string[];
}

/** What a formatter falls back to: the options' line format (oslo's ContextFormatter uses them). */
export interface LogConfigDefaults {
  format: LineFormat;
}

const LEVELS: Record<string, Level> = {
  NOTSET: 'DEBUG', DEBUG: 'DEBUG', INFO: 'INFO', WARN: 'WARNING', WARNING: 'WARNING', ERROR: 'ERROR', FATAL: 'CRITICAL', CRITICAL: 'CRITICAL',
};

/** Python's logging.Formatter without a format: the message alone. */
const PLAIN_FORMAT = '%(message)s';

export function parseLogConfigFile(text: string, path: string, defaults: LogConfigDefaults): LogConfigPlan {
  let doc: IniDocument;
  try {
    doc = parseIni(text, path);
  } catch (e) {
    throw new LogConfigFileError(path, undefined, e instanceof Error ? e.message : String(e));
  }
  const get = (section: string, key: string): string | undefined => lookupIni(doc, section, key)?.value;
  const keys = (section: string): string[] => {
    requireSection(doc, path, section);
    return commaList(get(section, 'keys'));
  };
  const loggers = keys('loggers');
  if (!loggers.includes('root')) throw new LogConfigFileError(path, 'loggers', 'keys must include root');
  const handlerNames = new Set(keys('handlers'));
  const formatterNames = new Set(doc.groups.includes('formatters') ? keys('formatters') : []);

  const level = (section: string, value: string | undefined): Level | undefined => {
    if (value === undefined || value.trim() === '') return undefined;
    const l = LEVELS[value.trim().toUpperCase()];
    if (!l) throw new LogConfigFileError(path, section, `level ${value}: not one of ${Object.keys(LEVELS).join(', ')}`);
    return l;
  };
  const handlerList = (section: string): string[] =>
    commaList(get(section, 'handlers')).map((h) => {
      if (!handlerNames.has(h)) throw new LogConfigFileError(path, section, `handler ${h} is not in [handlers] keys`);
      return h;
    });

  // The agent's lines are the reference's `neutron.*` lines: the `neutron` logger's settings, then root's.
  const root = `logger_root`;
  const neutron = loggers.filter((k) => k !== 'root').map((k) => `logger_${k}`).find((s) => get(s, 'qualname')?.trim() === 'neutron');
  const unused = loggers.filter((k) => k !== 'root' && `logger_${k}` !== neutron).map((k) => get(`logger_${k}`, 'qualname')?.trim() || k);
  const names: string[] = [];
  if (neutron) names.push(...handlerList(neutron));
  if (!neutron || get(neutron, 'propagate')?.trim() !== '0') names.push(...handlerList(root));
  const effective = (neutron ? level(neutron, get(neutron, 'level')) : undefined) ?? level(root, get(root, 'level')) ?? 'WARNING';

  // use_json belongs to the options the file replaces: its formatters say JSON or not.
  const textFormat: LineFormat = { ...defaults.format, json: false };
  const formats = new Map<string, LineFormat>();
  const formatOf = (name: string | undefined, handler: string): LineFormat => {
    if (name === undefined || name.trim() === '') return { ...textFormat, format: PLAIN_FORMAT, pythonAsctime: true };
    const f = name.trim();
    if (!formatterNames.has(f)) throw new LogConfigFileError(path, `handler_${handler}`, `formatter ${f} is not in [formatters] keys`);
    let made = formats.get(f);
    if (!made) formats.set(f, (made = formatter(doc, path, `formatter_${f}`, textFormat)));
    return made;
  };

  const handlers = [...new Set(names)].flatMap((name): LogHandlerPlan[] => {
    const section = `handler_${name}`;
    requireSection(doc, path, section);
    const to = destination(path, section, get(section, 'class'), get(section, 'args'), get(section, 'kwargs'));
    if (to === undefined) return [];
    return [{ name, to, level: level(section, get(section, 'level')), format: formatOf(get(section, 'formatter'), name) }];
  });
  return { level: effective, handlers, unused };
}

function requireSection(doc: IniDocument, path: string, section: string): void {
  if (!doc.groups.includes(normalizeGroupName(section))) throw new LogConfigFileError(path, section, 'section missing');
}

/** `keys` and `handlers` values: names separated by commas, blanks around them ignored. */
function commaList(value: string | undefined): string[] {
  return (value ?? '').split(',').map((k) => k.trim()).filter((k) => k !== '');
}

function formatter(doc: IniDocument, path: string, section: string, textFormat: LineFormat): LineFormat {
  const get = (key: string): string | undefined => lookupIni(doc, section, key)?.value;
  requireSection(doc, path, section);
  const cls = (get('class') ?? 'logging.Formatter').trim();
  const datefmt = get('datefmt');
  switch (cls) {
    case 'logging.Formatter':
    case 'Formatter':
      return { ...textFormat, format: get('format') ?? PLAIN_FORMAT, ...(datefmt ? { dateFormat: datefmt } : { pythonAsctime: true }) };
    case 'oslo_log.formatters.ContextFormatter':
      // Its lines come from logging_default_format_string (the agent's lines carry no request context).
      return { ...textFormat, ...(datefmt ? { dateFormat: datefmt } : {}) };
    case 'oslo_log.formatters.JSONFormatter':
      return { ...textFormat, json: true, ...(datefmt ? { dateFormat: datefmt } : {}) };
    default:
      throw new LogConfigFileError(path, section, `class ${cls}: not one of logging.Formatter, oslo_log.formatters.ContextFormatter, oslo_log.formatters.JSONFormatter`);
  }
}

/** A handler's class and arguments → where it writes; undefined for a NullHandler. */
function destination(path: string, section: string, cls: string | undefined, argsText: string | undefined, kwargsText: string | undefined): LogDestination | undefined {
  const name = (cls ?? '').trim();
  if (name === '') throw new LogConfigFileError(path, section, 'class missing');
  let args: PyValue[];
  let kwargs: Map<string, PyValue>;
  try {
    args = pyTuple(argsText ?? '()');
    kwargs = pyKwargs(kwargsText ?? '{}');
  } catch (e) {
    throw new LogConfigFileError(path, section, `args/kwargs: ${e instanceof Error ? e.message : String(e)}`);
  }
  const arg = (i: number, key: string): PyValue | undefined => args[i] ?? kwargs.get(key);
  const fail = (reason: string): never => {
    throw new LogConfigFileError(path, section, `${name}: ${reason}`);
  };
  const facility = (v: PyValue | undefined): number => {
    if (v === undefined) return 1 << 3;
    if (typeof v === 'number') return v << 3;
    const written = typeof v === 'string' ? v : refName(v);
    const n = written?.slice(written.lastIndexOf('.') + 1);
    return (n !== undefined ? syslogFacility(n) : undefined) ?? fail(`facility ${JSON.stringify(v)}: not a syslog facility`);
  };
  switch (name.replace(/^logging\./, '')) {
    case 'StreamHandler':
    case 'handlers.ColorHandler':
    case 'oslo_log.handlers.ColorHandler': {
      const stream = arg(0, 'stream');
      if (stream === undefined || refName(stream) === 'sys.stderr') return { kind: 'stderr' };
      if (refName(stream) === 'sys.stdout') return { kind: 'stdout' };
      return fail('the stream must be sys.stdout or sys.stderr');
    }
    case 'FileHandler':
    case 'handlers.WatchedFileHandler': {
      const file = arg(0, 'filename');
      const mode = arg(1, 'mode') ?? 'a';
      if (typeof file !== 'string' || file === '') return fail('the first argument must be the file name');
      if (mode !== 'a') return fail(`mode ${String(mode)}: the agent only appends ('a')`);
      return { kind: 'file', path: file };
    }
    case 'handlers.RotatingFileHandler':
      return sizeRotatingFile(arg, fail);
    case 'handlers.TimedRotatingFileHandler':
      return timedRotatingFile(arg, fail);
    case 'handlers.SysLogHandler': {
      const address = arg(0, 'address');
      if (address !== undefined && typeof address !== 'string') return fail('only a local socket path is supported as the address (not host and port)');
      return { kind: 'syslog', facility: facility(arg(1, 'facility')), socket: address ?? undefined };
    }
    case 'oslo_log.handlers.OSSysLogHandler':
      return { kind: 'syslog', facility: facility(arg(0, 'facility')), socket: undefined };
    case 'oslo_log.handlers.OSJournalHandler':
      return { kind: 'journal', facility: facility(arg(0, 'facility')) };
    case 'NullHandler':
      return undefined;
    default:
      return fail('not a handler class the agent can stand in for (StreamHandler, FileHandler, handlers.WatchedFileHandler, '
        + 'handlers.RotatingFileHandler, handlers.TimedRotatingFileHandler, handlers.SysLogHandler, '
        + 'oslo_log.handlers.OSSysLogHandler, oslo_log.handlers.OSJournalHandler, NullHandler)');
  }
}

type ArgOf = (i: number, key: string) => PyValue | undefined;
type Fail = (reason: string) => never;

/** handlers.RotatingFileHandler(filename, mode='a', maxBytes=0, backupCount=0, encoding=None, delay=False, errors=None) */
function sizeRotatingFile(arg: ArgOf, fail: Fail): LogDestination {
  const path = rotatingFileCommon(arg, fail, 6);
  const maxBytes = wholeNumber(arg(2, 'maxBytes'), 'maxBytes', 0, fail);
  const backupCount = wholeNumber(arg(3, 'backupCount'), 'backupCount', 0, fail);
  // Python forces 'a' when it rotates (maxBytes > 0); otherwise the mode is the file's.
  const mode = arg(1, 'mode') ?? 'a';
  if (maxBytes <= 0 && mode !== 'a') return fail(`mode ${String(mode)} with maxBytes ${maxBytes}: the agent only appends ('a')`);
  return { kind: 'file', path, rotation: { kind: 'size', maxBytes, backupCount } };
}

/** handlers.TimedRotatingFileHandler(filename, when='h', interval=1, backupCount=0, encoding=None, delay=False, utc=False, atTime=None, errors=None) */
function timedRotatingFile(arg: ArgOf, fail: Fail): LogDestination {
  const path = rotatingFileCommon(arg, fail, 8);
  const when = arg(1, 'when') ?? 'h';
  if (typeof when !== 'string') return fail(`when ${JSON.stringify(when)}: a string expected ('S', 'M', 'H', 'D', 'midnight' or 'W0' … 'W6')`);
  const interval = wholeNumber(arg(2, 'interval'), 'interval', 1, fail);
  const backupCount = wholeNumber(arg(3, 'backupCount'), 'backupCount', 0, fail);
  const utc = arg(6, 'utc');
  if (!pyFalse(utc)) return fail('utc=True: the agent rotates on local time only; leave utc out, or use handlers.WatchedFileHandler with logrotate');
  const atTime = arg(7, 'atTime');
  if (atTime !== undefined && atTime !== null) return fail('atTime: not implemented; leave it out (midnight and W0 … W6 then roll over at midnight), or use handlers.WatchedFileHandler with logrotate');
  try {
    return { kind: 'file', path, rotation: intervalRotation(when, interval, backupCount) };
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
}

/** The file name and the arguments both rotating handlers share: encoding, delay, errors (at `errorsAt`). */
function rotatingFileCommon(arg: ArgOf, fail: Fail, errorsAt: number): string {
  const file = arg(0, 'filename');
  if (typeof file !== 'string' || file === '') return fail('the first argument must be the file name');
  const encoding = arg(4, 'encoding');
  if (encoding !== undefined && encoding !== null && !(typeof encoding === 'string' && /^utf[-_]?8$/i.test(encoding))) {
    return fail(`encoding ${JSON.stringify(encoding)}: the agent writes UTF-8; leave encoding out or write 'utf-8'`);
  }
  const delay = arg(5, 'delay');
  if (!pyFalse(delay)) return fail('delay=True: the agent opens the file when logging starts; leave delay out');
  const errors = arg(errorsAt, 'errors');
  if (errors !== undefined && errors !== null) return fail('errors: not implemented (the agent writes UTF-8, which has no encoding errors); leave it out');
  return file;
}

/** Python's falsy values among the literals read (an argument left out counts as its False default). */
function pyFalse(v: PyValue | undefined): boolean {
  return v === undefined || v === null || v === false || v === 0 || v === '';
}

function wholeNumber(v: PyValue | undefined, name: string, otherwise: number, fail: Fail): number {
  if (v === undefined || v === null) return otherwise;
  if (typeof v !== 'number' || !Number.isInteger(v)) return fail(`${name} ${JSON.stringify(v)}: a whole number expected`);
  return v;
}

// ---- the Python literals fileConfig's `args` and `kwargs` hold: strings, numbers, names, tuples, dicts

type PyValue = string | number | boolean | null | { ref: string } | PyValue[];

/** The dotted name a value refers to (sys.stdout, handlers.SysLogHandler.LOG_USER), if it is one. */
function refName(v: PyValue): string | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v.ref : undefined;
}

function pyTuple(text: string): PyValue[] {
  const v = new PyReader(text).whole();
  if (!Array.isArray(v)) throw new Error(`${text}: not a tuple`);
  return v;
}

function pyKwargs(text: string): Map<string, PyValue> {
  return new PyReader(text).wholeDict();
}

class PyReader {
  private i = 0;
  constructor(private readonly s: string) {}

  whole(): PyValue {
    const v = this.value();
    this.end();
    return v;
  }

  wholeDict(): Map<string, PyValue> {
    this.expect('{');
    const out = new Map<string, PyValue>();
    while (!this.take('}')) {
      const k = this.value();
      if (typeof k !== 'string') throw new Error(`${this.s}: dict keys must be strings`);
      this.expect(':');
      out.set(k, this.value());
      if (!this.take(',')) {
        this.expect('}');
        break;
      }
    }
    this.end();
    return out;
  }

  private value(): PyValue {
    this.skip();
    const c = this.s[this.i];
    if (c === '(') {
      this.i++;
      const items: PyValue[] = [];
      while (!this.take(')')) {
        items.push(this.value());
        if (!this.take(',')) {
          this.expect(')');
          break;
        }
      }
      return items;
    }
    if (c === "'" || c === '"') return this.string(c);
    const m = /^(-?\d+(?:\.\d+)?)|^([A-Za-z_][\w.]*)/.exec(this.s.slice(this.i));
    if (!m) throw new Error(`${this.s}: cannot read at ${JSON.stringify(this.s.slice(this.i, this.i + 10))}`);
    this.i += m[0].length;
    if (m[1] !== undefined) return Number(m[1]);
    if (m[2] === 'None') return null;
    if (m[2] === 'True' || m[2] === 'False') return m[2] === 'True';
    return { ref: m[2]! };
  }

  private string(q: string): string {
    let out = '';
    for (this.i++; this.i < this.s.length; this.i++) {
      const c = this.s[this.i]!;
      if (c === q) {
        this.i++;
        return out;
      }
      if (c === '\\' && this.i + 1 < this.s.length) out += this.s[++this.i];
      else out += c;
    }
    throw new Error(`${this.s}: unterminated string`);
  }

  private skip(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }

  private take(c: string): boolean {
    this.skip();
    if (this.s[this.i] !== c) return false;
    this.i++;
    return true;
  }

  private expect(c: string): void {
    if (!this.take(c)) throw new Error(`${this.s}: expected ${c} at ${this.i}`);
  }

  private end(): void {
    this.skip();
    if (this.i !== this.s.length) throw new Error(`${this.s}: unexpected ${JSON.stringify(this.s.slice(this.i))}`);
  }
}
