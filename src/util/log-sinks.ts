// Where the daemon's log lines go, chosen from oslo.log's options as oslo.log chooses:
//   log_file / log_dir      a file (log_dir alone: <log_dir>/neutron-openvswitch-agent.log), reopened
//                           when it is moved or removed (logrotate), as WatchedFileHandler does;
//                           rotated by the agent with log_rotation_type = size / interval
//   use_stderr              standard error
//   use_journal             journald, through its stream socket (/run/systemd/journal/stdout, the one
//                           systemd-cat uses: Node has no unix datagram sockets for the native one)
//   none of the above       standard output
//   use_syslog (in addition) syslog at /dev/log with syslog_log_facility, through one long-lived
//                           `logger --prio-prefix` child (again: no unix datagrams in Node)
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readdirSync, renameSync, statSync, unlinkSync, watch, writeSync, type FSWatcher } from 'node:fs';
import { connect, Socket } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { SYSLOG_SEVERITY, type Level } from './log-format.js';
import type { LogSink } from './log.js';
import {
  computeRollover, filesToDelete, firstRolloverAt, nextRolloverAt, rotatedSuffix, sizeRolloverDue, sizeRolloverMoves,
  type IntervalRotation, type RotationPolicy, type SizeRotation,
} from './log-rotation.js';

/** Test hooks: the syslog and journald sockets, which a test cannot bind at their real paths. */
export const SYSLOG_SOCKET_ENV = 'OVS_AGENT_SYSLOG_SOCKET';
export const JOURNAL_SOCKET_ENV = 'OVS_AGENT_JOURNAL_STREAM_SOCKET';

export const DEFAULT_SYSLOG_SOCKET = '/dev/log';
export const DEFAULT_JOURNAL_STREAM_SOCKET = '/run/systemd/journal/stdout';

/** The file oslo.log writes to: log_file under log_dir (an absolute log_file wins), or <log_dir>/<binary>.log. */
export function logFilePath(logFile: string | null, logDir: string | null, binary: string): string | undefined {
  if (logFile && logDir) return resolve(logDir, logFile);
  if (logFile) return logFile;
  if (logDir) return resolve(logDir, `${binary}.log`);
  return undefined;
}

/** Appends with synchronous writes: the last lines before an exit (a start-up failure) must reach the file. */
export class FileSink implements LogSink {
  protected fd: number;
  private ino: number;
  private watcher: FSWatcher | undefined;

  constructor(readonly path: string) {
    this.fd = FileSink.open(path);
    this.ino = fstatSync(this.fd).ino;
    this.watch();
  }

  private static open(path: string): number {
    try {
      return openSync(path, 'a', 0o640);
    } catch (e) {
      throw new Error(`cannot open log file ${path}: ${(e as Error).message}`);
    }
  }

  /** One inotify watch on the file; a write never stats it. */
  private watch(): void {
    try {
      this.watcher = watch(this.path, { persistent: false }, () => this.reopenIfMoved());
      this.watcher.on('error', () => this.reopenIfMoved());
    } catch (e) {
      process.stderr.write(`log file ${this.path}: not watched for rotation: ${(e as Error).message}\n`);
    }
  }

  private reopenIfMoved(): void {
    let current: number | undefined;
    try {
      current = statSync(this.path).ino;
    } catch {
      current = undefined; // moved or removed: a new file is created below
    }
    if (current === this.ino) return;
    this.watcher?.close();
    const old = this.fd;
    try {
      this.fd = FileSink.open(this.path);
      this.ino = fstatSync(this.fd).ino;
      closeSync(old);
    } catch (e) {
      process.stderr.write(`log file ${this.path} was moved and cannot be reopened, writing to the moved file: ${(e as Error).message}\n`);
      return;
    }
    this.watch();
  }

  /**
   * For a sink that moves the file away itself (rotation): the watch on it is dropped before `move`
   * runs, so its event is not taken for logrotate's, then a new file is opened at the path and watched.
   * If `move` throws, the path is opened and watched all the same and the error passed on; if the
   * path cannot be opened, lines keep going to the file already open.
   */
  protected replaceFile(move: () => void): void {
    this.watcher?.close();
    this.watcher = undefined;
    let moveError: unknown;
    try {
      move();
    } catch (e) {
      moveError = e;
    }
    try {
      const fd = FileSink.open(this.path);
      const old = this.fd;
      this.fd = fd;
      this.ino = fstatSync(fd).ino;
      closeSync(old);
    } finally {
      this.watch();
    }
    if (moveError !== undefined) throw moveError;
  }

  write(line: string): void {
    writeSync(this.fd, line);
  }

  close(): void {
    this.watcher?.close();
    closeSync(this.fd);
  }
}

/**
 * A log file rotated by the agent itself (log_rotation_type = size / interval, or a rotating handler
 * of a log_config_append file), as Python's RotatingFileHandler / TimedRotatingFileHandler: checked
 * before each line is written. It is still reopened when something else moves it (logrotate).
 * A rotation that fails is reported on stderr once and tried again at the next line (as Python does);
 * the line goes to the file that is open.
 */
export class RotatingFileSink extends FileSink {
  private rolloverAt = 0;
  private failing = false;
  private readonly now: () => number;

  /** `now`: seconds since the epoch, for tests; Python's int(time.time()) by default. */
  constructor(path: string, readonly rotation: RotationPolicy, options: { now?: () => number } = {}) {
    super(path);
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    // The handler stats the file it has just opened (created if missing): its mtime starts the clock.
    if (rotation.kind === 'interval') this.rolloverAt = firstRolloverAt(rotation, fstatSync(this.fd).mtimeMs / 1000);
  }

  override write(line: string): void {
    try {
      if (this.rotation.kind === 'size' ? this.sizeRollover(this.rotation, line) : this.timedRollover(this.rotation)) this.failing = false;
    } catch (e) {
      if (!this.failing) process.stderr.write(`log file ${this.path}: cannot rotate (${this.rotation.kind}), writing on to the current file: ${(e as Error).message}\n`);
      this.failing = true;
    }
    super.write(line);
  }

  private sizeRollover(p: SizeRotation, line: string): boolean {
    if (p.maxBytes <= 0 || p.backupCount <= 0) return false;
    const st = fstatSync(this.fd);
    // Python never rotates anything but a regular file (bpo-45401).
    if (!st.isFile() || !sizeRolloverDue(p, st.size, line)) return false;
    this.replaceFile(() => {
      for (const [from, to] of sizeRolloverMoves(this.path, p.backupCount)) {
        if (existsSync(from)) renameSync(from, to);
      }
    });
    return true;
  }

  private timedRollover(p: IntervalRotation): boolean {
    const t = this.now();
    if (t < this.rolloverAt) return false;
    const st = statSync(this.path, { throwIfNoEntry: false });
    if (st && !st.isFile()) {
      this.rolloverAt = computeRollover(p, t);
      return false;
    }
    const rotated = `${this.path}.${rotatedSuffix(p, this.rolloverAt, t)}`;
    this.replaceFile(() => {
      if (existsSync(this.path)) renameSync(this.path, rotated);
    });
    // Python deletes the old files before it sets the next time, so a failed delete makes it roll over
    // again at the next line and replace the file it has just rotated; the time is set first here.
    this.rolloverAt = nextRolloverAt(p, t);
    if (p.backupCount <= 0) return true;
    const dir = dirname(resolve(this.path));
    for (const old of filesToDelete(p, basename(this.path), readdirSync(dir))) unlinkSync(join(dir, old));
    return true;
  }
}

export const stdoutSink: LogSink = { write: (line) => process.stdout.write(line) };
export const stderrSink: LogSink = { write: (line) => process.stderr.write(line) };

/**
 * syslog through a `logger` child reading `<PRI>line` from its standard input: one process for the
 * agent's life, as cheap per line as a pipe write. If logger cannot run, lines go to stderr with one
 * message saying why.
 */
export class SyslogSink implements LogSink {
  private child: ChildProcess | undefined;
  private failed = false;

  constructor(readonly facility: number, readonly ident: string, readonly socketPath = process.env[SYSLOG_SOCKET_ENV] || DEFAULT_SYSLOG_SOCKET) {
    const child = spawn('logger', ['--prio-prefix', '--tag', ident, '--socket', socketPath, '--size', '16384'], {
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    child.on('error', (e) => this.fail(`cannot run logger: ${e.message}`));
    child.on('exit', (code, sig) => this.fail(`logger exited (${sig ?? code})`));
    child.stdin!.on('error', (e) => this.fail(`writing to logger: ${e.message}`));
    // The pipe must not keep the agent alive, nor the child outlive it: it reads EOF when we exit.
    child.unref();
    if (child.stdin instanceof Socket) child.stdin.unref();
    this.child = child;
  }

  private fail(why: string): void {
    if (this.failed) return;
    this.failed = true;
    this.child = undefined;
    process.stderr.write(`use_syslog: ${why}; syslog at ${this.socketPath} gets no more lines, logging to stderr instead\n`);
  }

  write(line: string, level: Level): void {
    if (this.failed || !this.child) {
      process.stderr.write(line);
      return;
    }
    // logger takes one message per line: continuation lines keep the priority of the first.
    const pri = `<${this.facility | SYSLOG_SEVERITY[level]}>`;
    this.child.stdin!.write(line.replace(/\n(?=.)/g, `\n${pri}`).replace(/^/, pri));
  }

  close(): void {
    this.child?.stdin?.end();
  }
}

/**
 * journald's stream protocol: a header naming the identifier and default priority (which carries the
 * facility), then one line per message with its `<level>` prefix. Lines written before the socket is
 * connected are queued; if journald cannot be reached they go to stderr, with one message saying so.
 */
export class JournalSink implements LogSink {
  private socket: Socket | undefined;
  private queue: string[] | undefined = [];
  private failed = false;

  constructor(readonly facility: number, readonly ident: string, readonly socketPath = process.env[JOURNAL_SOCKET_ENV] || DEFAULT_JOURNAL_STREAM_SOCKET) {
    const s = connect(socketPath);
    s.on('connect', () => {
      // identifier, unit id, priority, level prefix, forward to syslog / kmsg / console
      s.write(`${ident}\n\n${facility | 6}\n1\n0\n0\n0\n`);
      for (const l of this.queue ?? []) s.write(l);
      this.queue = undefined;
      s.unref();
    });
    s.on('error', (e) => this.fail(e.message));
    s.on('close', () => this.fail('connection closed'));
    this.socket = s;
  }

  private fail(why: string): void {
    if (this.failed) return;
    this.failed = true;
    this.socket = undefined;
    process.stderr.write(`use_journal: cannot log to journald at ${this.socketPath}: ${why}; logging to stderr instead\n`);
    for (const l of this.queue ?? []) process.stderr.write(l.replace(/^<\d>/gm, ''));
    this.queue = undefined;
  }

  write(line: string, level: Level): void {
    if (this.failed) {
      process.stderr.write(line);
      return;
    }
    const pri = `<${SYSLOG_SEVERITY[level]}>`;
    const framed = line.replace(/\n(?=.)/g, `\n${pri}`).replace(/^/, pri);
    if (this.queue) this.queue.push(framed);
    else this.socket?.write(framed);
  }

  close(): void {
    this.socket?.end();
  }
}
