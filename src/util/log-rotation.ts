// Log file rotation as Python's logging.handlers does it (oslo.log's log_rotation_type = size uses
// RotatingFileHandler, = interval TimedRotatingFileHandler): when to roll over, what the rotated
// file is called and which old ones go. Pure: times are passed in (seconds since the epoch, whole
// seconds as Python's int(time.time())), so tests need no clock; local time is the process's (TZ).
// The file operations are RotatingFileSink's (src/util/log-sinks.ts).

/** RotatingFileHandler(maxBytes, backupCount): roll when the next line would reach maxBytes. */
export interface SizeRotation {
  kind: 'size';
  maxBytes: number;
  backupCount: number;
}

/** TimedRotatingFileHandler(when, interval, backupCount), local time (utc False, no atTime). */
export interface IntervalRotation {
  kind: 'interval';
  /** Upper case, as the handler keeps it: S, M, H, D, MIDNIGHT or W0 … W6 (0 is Monday). */
  when: string;
  /** As given: the number of `when` units (for W<d> and MIDNIGHT it only shifts the rotated name). */
  interval: number;
  backupCount: number;
}

export type RotationPolicy = SizeRotation | IntervalRotation;

const DAY = 24 * 60 * 60;

interface WhenRules {
  /** Seconds in one unit of `interval`. */
  unit: number;
  /** strftime format of the rotated name's suffix. */
  suffix: string;
  /** A dot-separated part of an old file's name that marks it as one of ours. */
  extMatch: RegExp;
  dayOfWeek?: number;
}

// Python's patterns (compiled with re.ASCII: \d and \w are ASCII only, as here).
const RULES: Record<string, WhenRules> = {
  S: { unit: 1, suffix: '%Y-%m-%d_%H-%M-%S', extMatch: /^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}(\.\w+)?$/ },
  M: { unit: 60, suffix: '%Y-%m-%d_%H-%M', extMatch: /^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}(\.\w+)?$/ },
  H: { unit: 60 * 60, suffix: '%Y-%m-%d_%H', extMatch: /^\d{4}-\d{2}-\d{2}_\d{2}(\.\w+)?$/ },
  D: { unit: DAY, suffix: '%Y-%m-%d', extMatch: /^\d{4}-\d{2}-\d{2}(\.\w+)?$/ },
  MIDNIGHT: { unit: DAY, suffix: '%Y-%m-%d', extMatch: /^\d{4}-\d{2}-\d{2}(\.\w+)?$/ },
};

function rules(p: IntervalRotation): WhenRules {
  const r = RULES[p.when];
  if (r) return r;
  return { unit: 7 * DAY, suffix: '%Y-%m-%d', extMatch: RULES.D!.extMatch, dayOfWeek: Number(p.when.slice(1)) };
}

/** oslo.log's log_rotate_interval_type → the handler's `when` (weekday: W + log_rotate_interval). */
export function whenFromIntervalType(intervalType: string, interval: number): string {
  const t = intervalType.toLowerCase();
  const base = ({ seconds: 's', minutes: 'm', hours: 'h', days: 'd', weekday: 'w', midnight: 'midnight' } as Record<string, string>)[t];
  if (base === undefined) throw new RangeError(`rotation interval type ${intervalType}: not one of Seconds, Minutes, Hours, Days, Weekday, Midnight`);
  return base === 'w' ? `w${interval}` : base;
}

/**
 * The handler's constructor checks, with its messages; and one more: S/M/H/D with an interval below 1
 * would make Python's doRollover loop forever looking for the next time, so it is refused here.
 */
export function intervalRotation(when: string, interval: number, backupCount: number): IntervalRotation {
  const w = when.toUpperCase();
  if (w.startsWith('W')) {
    if (w.length !== 2) throw new RangeError(`You must specify a day for weekly rollover from 0 to 6 (0 is Monday): ${w}`);
    if (w[1]! < '0' || w[1]! > '6') throw new RangeError(`Invalid day specified for weekly rollover: ${w}`);
  } else if (!RULES[w]) {
    throw new RangeError(`Invalid rollover interval specified: ${w}`);
  } else if (w !== 'MIDNIGHT' && !(interval >= 1)) {
    throw new RangeError(`interval ${interval} with when ${w}: must be at least 1 (Python's handler would never find the next rollover time)`);
  }
  if (!Number.isInteger(interval) || !Number.isInteger(backupCount)) throw new RangeError(`interval ${interval}, backupCount ${backupCount}: whole numbers expected`);
  return { kind: 'interval', when: w, interval, backupCount };
}

// ---- size

/** Python's len() of the line: code points, not bytes (its check compares them with the byte size). */
export function pythonLength(line: string): number {
  let n = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < line.length) {
      const d = line.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/**
 * RotatingFileHandler.shouldRollover, for a line (newline included) about to go to a file of `size`
 * bytes. With maxBytes or backupCount 0 (or below) nothing is ever rotated: Python then only reopens
 * the same file, which keeps growing.
 */
export function sizeRolloverDue(p: SizeRotation, size: number, line: string): boolean {
  return p.maxBytes > 0 && p.backupCount > 0 && size + pythonLength(line) >= p.maxBytes;
}

/** The renames of one size rollover, in order: file.(n-1) → file.n … file.1 → file.2, then file → file.1. */
export function sizeRolloverMoves(file: string, backupCount: number): Array<[from: string, to: string]> {
  const moves: Array<[string, string]> = [];
  for (let i = backupCount - 1; i > 0; i--) moves.push([`${file}.${i}`, `${file}.${i + 1}`]);
  moves.push([file, `${file}.1`]);
  return moves;
}

// ---- interval

interface LocalTime {
  hour: number;
  minute: number;
  second: number;
  /** 0 is Monday, as Python's tm_wday. */
  weekday: number;
  isDst: boolean;
}

/** Python's time.localtime(t) fields the handler uses. */
export function localTime(t: number): LocalTime {
  const d = new Date(t * 1000);
  return { hour: d.getHours(), minute: d.getMinutes(), second: d.getSeconds(), weekday: (d.getDay() + 6) % 7, isDst: isDst(d) };
}

/**
 * tm_isdst from the UTC offset: summer time is an offset above the year's smaller one (January's or
 * July's, so the southern hemisphere counts too). Zones that changed their standard offset during
 * the year, or have a "negative DST" (Europe/Dublin in tzdata's main form), may differ from libc.
 */
function isDst(d: Date): boolean {
  const y = d.getFullYear();
  const standard = Math.max(new Date(y, 0, 1).getTimezoneOffset(), new Date(y, 6, 1).getTimezoneOffset());
  return d.getTimezoneOffset() < standard;
}

/** The seconds between rollovers: the unit times interval (a week times the day for oslo's Weekday). */
export function intervalSeconds(p: IntervalRotation): number {
  return rules(p).unit * p.interval;
}

/** TimedRotatingFileHandler.computeRollover (utc False, atTime None). */
export function computeRollover(p: IntervalRotation, currentTime: number): number {
  let result = currentTime + intervalSeconds(p);
  if (p.when !== 'MIDNIGHT' && !p.when.startsWith('W')) return result;
  const t = localTime(currentTime);
  let currentDay = t.weekday;
  // Seconds left until the next midnight, counted on the wall clock as Python does.
  let r = DAY - ((t.hour * 60 + t.minute) * 60 + t.second);
  if (r < 0) {
    r += DAY;
    currentDay = (currentDay + 1) % 7;
  }
  result = currentTime + r;
  const dayOfWeek = rules(p).dayOfWeek;
  if (dayOfWeek === undefined || currentDay === dayOfWeek) return result;
  const daysToWait = currentDay < dayOfWeek ? dayOfWeek - currentDay : 6 - currentDay + dayOfWeek + 1;
  let newRolloverAt = result + daysToWait * DAY;
  const dstAtRollover = localTime(newRolloverAt).isDst;
  if (t.isDst !== dstAtRollover) newRolloverAt += t.isDst ? 3600 : -3600;
  return newRolloverAt;
}

/** The handler's first rollover time: from the log file's modification time (it exists: it was just opened). */
export function firstRolloverAt(p: IntervalRotation, mtime: number): number {
  return computeRollover(p, Math.trunc(mtime));
}

/** The rotated file's suffix, doRollover's: the start of the interval that ends at rolloverAt, DST-adjusted. */
export function rotatedSuffix(p: IntervalRotation, rolloverAt: number, currentTime: number): string {
  const t = rolloverAt - intervalSeconds(p);
  const dstNow = localTime(currentTime).isDst;
  const dstThen = localTime(t).isDst;
  const at = dstNow === dstThen ? t : t + (dstNow ? 3600 : -3600);
  return strftimeLocal(rules(p).suffix, at);
}

/** doRollover's next rollover time after rolling over at currentTime. */
export function nextRolloverAt(p: IntervalRotation, currentTime: number): number {
  let next = computeRollover(p, currentTime);
  const step = intervalSeconds(p);
  // step > 0 always holds for S/M/H/D (intervalRotation refuses less); MIDNIGHT and W<d> are always ahead.
  while (next <= currentTime && step > 0) next += step;
  if (p.when === 'MIDNIGHT' || p.when.startsWith('W')) {
    const dstNow = localTime(currentTime).isDst;
    if (dstNow !== localTime(next).isDst) next += dstNow ? 3600 : -3600;
  }
  return next;
}

/**
 * getFilesToDelete: of the names in the log file's directory, those that start with the file's name
 * and carry a date part of this `when` after `<name without extension>.`; sorted, all but the newest
 * backupCount. Nothing when backupCount is 0 or below (all are kept).
 */
export function filesToDelete(p: IntervalRotation, baseName: string, names: readonly string[]): string[] {
  if (p.backupCount <= 0) return [];
  const prefix = `${splitExtension(baseName)[0]}.`;
  const { extMatch } = rules(p);
  const ours = names.filter((n) => n.startsWith(baseName) && n.startsWith(prefix)
    && n.slice(prefix.length).split('.').some((part) => extMatch.test(part)));
  if (ours.length < p.backupCount) return [];
  return ours.sort(codePointOrder).slice(0, ours.length - p.backupCount);
}

/** Python's os.path.splitext on a base name: leading dots do not start an extension. */
function splitExtension(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || /^\.+$/.test(name.slice(0, dot))) return [name, ''];
  return [name.slice(0, dot), name.slice(dot)];
}

/** Python's str ordering (code points), not localeCompare. */
function codePointOrder(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** The suffixes' directives (%Y %m %d %H %M %S) of local time t. */
function strftimeLocal(fmt: string, t: number): string {
  const d = new Date(t * 1000);
  return fmt.replace(/%([YmdHMS])/g, (_all, c: string) => {
    switch (c) {
      case 'Y': return pad(d.getFullYear(), 4);
      case 'm': return pad(d.getMonth() + 1);
      case 'd': return pad(d.getDate());
      case 'H': return pad(d.getHours());
      case 'M': return pad(d.getMinutes());
      default: return pad(d.getSeconds());
    }
  });
}
