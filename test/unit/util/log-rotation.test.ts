// log_rotation_type = size / interval as Python's RotatingFileHandler / TimedRotatingFileHandler do
// it: the files an operator finds after a run of writes, the rotated names for each `when`, the
// MIDNIGHT and W<d> rollover times (in Europe/Berlin, across both DST changes of 2026), and the same
// runs replayed through the real Python handlers (/usr/bin/python3, the clock patched) for parity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  computeRollover, filesToDelete, intervalRotation, nextRolloverAt, pythonLength, rotatedSuffix, whenFromIntervalType,
  type RotationPolicy,
} from '../../../src/util/log-rotation.js';
import { RotatingFileSink } from '../../../src/util/log-sinks.js';

// Node re-reads TZ when it is assigned; every local time below (and Python's) is Berlin's.
process.env.TZ = 'Europe/Berlin';
const local = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => new Date(y, mo - 1, d, h, mi, s).getTime() / 1000;

const PYTHON = '/usr/bin/python3';
const root = mkdtempSync(join(tmpdir(), 'ovs-agent-rotation-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => {
  const d = join(root, `d${dirs++}`);
  mkdirSync(d);
  return d;
};

/** The directory as an operator sees it: file name → contents. */
const listing = (dir: string): Record<string, string> =>
  Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));

test('size: rolls over before the line that would reach maxBytes; file.1 … file.backupCount, the oldest dropped', () => {
  const dir = freshDir();
  const file = join(dir, 'agent.log');
  const sink = new RotatingFileSink(file, { kind: 'size', maxBytes: 100, backupCount: 2 });
  const line = (i: number) => `line ${String(i).padStart(2, '0')} ${'x'.repeat(21)}\n`; // 30 characters
  for (let i = 1; i <= 10; i++) sink.write(line(i));
  sink.close();
  assert.deepEqual(listing(dir), {
    'agent.log': line(10),
    'agent.log.1': line(7) + line(8) + line(9),
    'agent.log.2': line(4) + line(5) + line(6),
  });
});

test('size: maxBytes 0 or backupCount 0 never rotates (the file grows); a longer file at start rolls at the first line', () => {
  for (const rotation of [{ kind: 'size', maxBytes: 0, backupCount: 3 }, { kind: 'size', maxBytes: 50, backupCount: 0 }] as const) {
    const dir = freshDir();
    const sink = new RotatingFileSink(join(dir, 'agent.log'), rotation);
    for (let i = 0; i < 20; i++) sink.write('0123456789\n');
    sink.close();
    assert.deepEqual(Object.keys(listing(dir)), ['agent.log'], JSON.stringify(rotation));
    assert.equal(listing(dir)['agent.log']!.length, 220);
  }
  const dir = freshDir();
  writeFileSync(join(dir, 'agent.log'), 'y'.repeat(500));
  writeFileSync(join(dir, 'agent.log.1'), 'old 1\n');
  const sink = new RotatingFileSink(join(dir, 'agent.log'), { kind: 'size', maxBytes: 100, backupCount: 3 });
  sink.write('first\n');
  sink.close();
  assert.deepEqual(listing(dir), { 'agent.log': 'first\n', 'agent.log.1': 'y'.repeat(500), 'agent.log.2': 'old 1\n' });
});

test('size: Python counts the line in characters, the file in bytes', () => {
  assert.equal(pythonLength('é😀\n'), 3);
  const dir = freshDir();
  const sink = new RotatingFileSink(join(dir, 'agent.log'), { kind: 'size', maxBytes: 12, backupCount: 1 });
  sink.write('ééééé\n'); // 11 bytes, 6 characters: 0 + 6 < 12
  sink.write('é\n'); // 11 + 2 = 13 ≥ 12: rolls
  sink.close();
  assert.deepEqual(listing(dir), { 'agent.log': 'é\n', 'agent.log.1': 'ééééé\n' });
});

test('after its own rollover the sink is not fooled by its watch, and a later logrotate move is still followed', async () => {
  const dir = freshDir();
  const file = join(dir, 'agent.log');
  const sink = new RotatingFileSink(file, { kind: 'size', maxBytes: 20, backupCount: 1 });
  sink.write('aaaaaaaaaaaaaaa\n');
  sink.write('bbbbbbbbbbbbbbb\n'); // rolls: a… to agent.log.1
  await sleep(100); // inotify events of the rename, if any were still watched, arrive here
  sink.write('c\n');
  assert.deepEqual(listing(dir), { 'agent.log': 'bbbbbbbbbbbbbbb\nc\n', 'agent.log.1': 'aaaaaaaaaaaaaaa\n' });
  renameSync(file, join(dir, 'moved'));
  await sleep(100);
  sink.write('d\n');
  sink.close();
  assert.equal(readFileSync(file, 'utf8'), 'd\n', 'reopened after the outside move');
});

test('a rollover that fails is reported once on stderr with the path; the lines go on to the open file', () => {
  const dir = freshDir();
  const file = join(dir, 'agent.log');
  mkdirSync(join(dir, 'agent.log.1', 'busy'), { recursive: true }); // a non-empty directory: the rename fails
  const sink = new RotatingFileSink(file, { kind: 'size', maxBytes: 10, backupCount: 1 });
  const said: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => said.push(chunk) > 0) as typeof process.stderr.write;
  try {
    for (const l of ['aaaaaaa\n', 'bbbbbbb\n', 'ccccccc\n']) sink.write(l);
  } finally {
    process.stderr.write = write;
    sink.close();
  }
  assert.equal(readFileSync(file, 'utf8'), 'aaaaaaa\nbbbbbbb\nccccccc\n');
  assert.equal(said.length, 1, said.join(''));
  assert.match(said[0]!, new RegExp(`^log file ${file}: cannot rotate \\(size\\), writing on to the current file: .*agent\\.log\\.1`));
});

test('interval: the rotated name for each `when`, at a fixed clock (file modified 2026-01-15 10:20:30, a Thursday)', () => {
  const mtime = local(2026, 1, 15, 10, 20, 30);
  const cases: Array<[when: string, interval: number, writeAt: number, name: string]> = [
    ['S', 1, mtime + 5, 'agent.log.2026-01-15_10-20-30'],
    ['M', 1, mtime + 75, 'agent.log.2026-01-15_10-20'],
    ['H', 1, mtime + 3600, 'agent.log.2026-01-15_10'],
    ['D', 1, mtime + 86400, 'agent.log.2026-01-15'],
    ['MIDNIGHT', 1, local(2026, 1, 16, 0, 0, 5), 'agent.log.2026-01-15'],
    // oslo's Weekday with log_rotate_interval = 3 (Thursday): the name is 3 weeks before the rollover.
    ['W3', 3, local(2026, 1, 16), 'agent.log.2025-12-26'],
  ];
  for (const [when, interval, writeAt, name] of cases) {
    const dir = freshDir();
    const file = join(dir, 'agent.log');
    writeFileSync(file, 'before\n');
    utimesSync(file, mtime, mtime);
    let now = mtime;
    const sink = new RotatingFileSink(file, intervalRotation(when, interval, 5), { now: () => now });
    sink.write('not yet\n');
    now = writeAt;
    sink.write('after\n');
    sink.close();
    assert.deepEqual(listing(dir), { 'agent.log': 'after\n', [name]: 'before\nnot yet\n' }, when);
  }
});

test('interval: MIDNIGHT and W<d> rollover times in Berlin, across the spring and autumn DST changes', () => {
  const midnight = intervalRotation('midnight', 1, 7);
  assert.equal(computeRollover(midnight, local(2026, 3, 28, 10)), local(2026, 3, 29));
  // On the 23-hour day Python counts the wall clock from before the change: its first time is 01:00 ...
  assert.equal(computeRollover(midnight, local(2026, 3, 29, 1)), local(2026, 3, 30, 1));
  // ... and doRollover's DST correction brings the next one back to midnight.
  assert.equal(nextRolloverAt(midnight, local(2026, 3, 29, 1)), local(2026, 3, 30));
  assert.equal(nextRolloverAt(midnight, local(2026, 10, 25, 12)), local(2026, 10, 26));
  // Weekday 6 (Sunday): the midnight that ends Sunday, one hour fewer in between when DST starts.
  const sunday = intervalRotation(whenFromIntervalType('Weekday', 6), 6, 7);
  assert.equal(sunday.when, 'W6');
  assert.equal(computeRollover(sunday, local(2026, 3, 25, 12)), local(2026, 3, 30));
  assert.equal(computeRollover(sunday, local(2026, 3, 29, 12)), local(2026, 3, 30));
  assert.equal(computeRollover(sunday, local(2026, 10, 21, 12)), local(2026, 10, 26));
  const monday = intervalRotation('W0', 0, 7);
  assert.equal(computeRollover(monday, local(2026, 3, 31, 9)), local(2026, 4, 7), 'Tuesday: the end of next Monday');
  // The name of a MIDNIGHT file rolled just after the autumn change: the day before, not 23:00 of the day before that.
  assert.equal(rotatedSuffix(midnight, local(2026, 10, 26), local(2026, 10, 26, 0, 0, 1)), '2026-10-25');
});

test('interval: old files beyond backupCount go, oldest first; other files in the directory stay', () => {
  const days = intervalRotation('D', 1, 2);
  const names = ['agent.log', 'agent.log.2026-01-03', 'agent.log.2026-01-01', 'agent.log.2026-01-02.gz', 'agent.log.2026-01-04_10', 'agent.log.1', 'agent.2026-01-01', 'other.log.2026-01-01'];
  assert.deepEqual(filesToDelete(days, 'agent.log', names), ['agent.log.2026-01-01']);
  assert.deepEqual(filesToDelete(intervalRotation('D', 1, 5), 'agent.log', names), [], 'fewer than backupCount: none');
  assert.deepEqual(filesToDelete(intervalRotation('D', 1, 0), 'agent.log', names), [], 'backupCount 0 keeps all');
  assert.deepEqual(filesToDelete(intervalRotation('H', 1, 0 + 1), 'agent.log', names), [], 'one H file, one kept');
});

test('interval: what Python refuses (or would loop forever on) is refused with its reason', () => {
  assert.throws(() => intervalRotation('W7', 7, 1), /Invalid day specified for weekly rollover: W7/);
  assert.throws(() => intervalRotation(whenFromIntervalType('weekday', 10), 10, 1), /You must specify a day for weekly rollover from 0 to 6/);
  assert.throws(() => intervalRotation('fortnight', 1, 1), /Invalid rollover interval specified: FORTNIGHT/);
  assert.throws(() => intervalRotation('S', 0, 1), /interval 0 with when S: must be at least 1/);
  assert.equal(intervalRotation('midnight', 0, 1).when, 'MIDNIGHT', 'MIDNIGHT rolls at midnight whatever the interval');
});

// ---- parity with the real Python handlers

interface Scenario {
  rotation: RotationPolicy;
  /** Modification time of the log file when the handler starts (it holds `start`). */
  mtime: number;
  start: string;
  /** Other files already in the directory. */
  pre?: Record<string, string>;
  /** [clock, message] */
  steps: Array<[number, string]>;
}

const PY_REPLAY = `
import json, logging, logging.handlers, os, sys, time
root = sys.argv[1]
clock = [0]
time.time = lambda: clock[0]
out = []
for i, s in enumerate(json.load(sys.stdin)):
    d = os.path.join(root, 'py%d' % i)
    os.mkdir(d)
    for name, text in (s.get('pre') or {}).items():
        with open(os.path.join(d, name), 'w') as f: f.write(text)
    path = os.path.join(d, 'agent.log')
    with open(path, 'w') as f: f.write(s['start'])
    os.utime(path, (s['mtime'], s['mtime']))
    clock[0] = s['mtime']
    r = s['rotation']
    if r['kind'] == 'size':
        h = logging.handlers.RotatingFileHandler(path, maxBytes=r['maxBytes'], backupCount=r['backupCount'], encoding='utf-8')
    else:
        h = logging.handlers.TimedRotatingFileHandler(path, when=r['when'], interval=r['interval'], backupCount=r['backupCount'], encoding='utf-8')
    h.setFormatter(logging.Formatter('%(message)s'))
    for t, msg in s['steps']:
        clock[0] = t
        h.emit(logging.makeLogRecord({'msg': msg}))
    h.close()
    out.append({f: open(os.path.join(d, f), encoding='utf-8').read() for f in sorted(os.listdir(d))})
json.dump(out, sys.stdout)
`;

function replayHere(s: Scenario): Record<string, string> {
  const dir = freshDir();
  for (const [name, text] of Object.entries(s.pre ?? {})) writeFileSync(join(dir, name), text);
  const file = join(dir, 'agent.log');
  writeFileSync(file, s.start);
  utimesSync(file, s.mtime, s.mtime);
  let now = s.mtime;
  const sink = new RotatingFileSink(file, s.rotation, { now: () => now });
  for (const [t, msg] of s.steps) {
    now = t;
    sink.write(`${msg}\n`);
  }
  sink.close();
  return listing(dir);
}

/** Every `gap` seconds from `from`, `count` messages. */
const every = (from: number, gap: number, count: number): Array<[number, string]> =>
  Array.from({ length: count }, (_, i) => [from + i * gap, `message ${i} at ${new Date((from + i * gap) * 1000).toString()}`]);

const SCENARIOS: Scenario[] = [
  { rotation: { kind: 'size', maxBytes: 100, backupCount: 2 }, mtime: local(2026, 1, 1), start: '', steps: every(local(2026, 1, 1), 1, 12) },
  { rotation: { kind: 'size', maxBytes: 120, backupCount: 3 }, mtime: local(2026, 1, 1), start: 'z'.repeat(200), pre: { 'agent.log.2': 'two\n', 'agent.log.7': 'seven\n' },
    steps: [[1, 'é😀 short'], [1, 'ü'.repeat(60)], [1, 'ü'.repeat(60)], [1, 'x'], [1, 'y'.repeat(150)], [1, 'z']] },
  // lines of 10: the third reaches maxBytes exactly, so it opens a new file
  { rotation: { kind: 'size', maxBytes: 20, backupCount: 2 }, mtime: local(2026, 1, 1), start: '', steps: [[1, 'aaaaaaaaa'], [1, 'bbbbbbbbb'], [1, 'ccccccccc'], [1, 'ddddddddd'], [1, 'eeeeeeeee']] },
  { rotation: { kind: 'size', maxBytes: 0, backupCount: 2 }, mtime: local(2026, 1, 1), start: 'a', steps: every(local(2026, 1, 1), 1, 5) },
  { rotation: { kind: 'size', maxBytes: 30, backupCount: 0 }, mtime: local(2026, 1, 1), start: 'a', steps: every(local(2026, 1, 1), 1, 5) },
  { rotation: intervalRotation('S', 10, 3), mtime: local(2026, 3, 29, 1, 59, 50), start: 'start\n', steps: every(local(2026, 3, 29, 1, 59, 53), 7, 12) },
  { rotation: intervalRotation('M', 2, 2), mtime: local(2026, 10, 25, 2, 55), start: 'start\n', steps: every(local(2026, 10, 25, 2, 56), 50, 20) },
  { rotation: intervalRotation('H', 1, 0), mtime: local(2026, 3, 29, 0, 30), start: 'start\n', steps: every(local(2026, 3, 29, 0, 40), 1500, 8) },
  { rotation: intervalRotation('D', 1, 2), mtime: local(2026, 3, 27, 10), start: 'start\n', pre: { 'agent.log.2026-03-01': 'old\n', 'agent.log.2026-03-02.gz': 'old gz\n', 'agent.log.keep': 'keep\n' },
    steps: every(local(2026, 3, 27, 23), 7 * 3600, 14) },
  { rotation: intervalRotation('MIDNIGHT', 1, 3), mtime: local(2026, 3, 28, 10), start: 'start\n', steps: every(local(2026, 3, 28, 11), 5 * 3600, 20) },
  { rotation: intervalRotation('MIDNIGHT', 1, 3), mtime: local(2026, 10, 24, 22), start: 'start\n', steps: every(local(2026, 10, 24, 23, 30), 3 * 3600 + 17, 24) },
  // a quiet agent: the next line comes days later
  { rotation: intervalRotation('MIDNIGHT', 1, 2), mtime: local(2026, 6, 1, 12), start: 'start\n', steps: [[local(2026, 6, 1, 13), 'a'], [local(2026, 6, 5, 9), 'b'], [local(2026, 6, 5, 10), 'c'], [local(2026, 6, 9, 0), 'd']] },
  { rotation: intervalRotation(whenFromIntervalType('weekday', 6), 6, 2), mtime: local(2026, 3, 18, 12), start: 'start\n', steps: every(local(2026, 3, 19), 86400 + 3700, 30) },
  { rotation: intervalRotation(whenFromIntervalType('weekday', 0), 0, 2), mtime: local(2026, 10, 14, 12), start: 'start\n', steps: every(local(2026, 10, 15), 86400 - 1234, 30) },
  { rotation: intervalRotation('W3', 1, 3), mtime: local(2026, 10, 20, 23, 59, 59), start: 'start\n', steps: every(local(2026, 10, 21), 43200, 40) },
];

test('parity: the same writes through Python\'s RotatingFileHandler / TimedRotatingFileHandler leave the same files', (t) => {
  if (!existsSync(PYTHON)) {
    t.skip(`${PYTHON} not installed: no reference to compare with`);
    return;
  }
  const pyRoot = join(root, 'python');
  mkdirSync(pyRoot);
  const r = spawnSync(PYTHON, ['-c', PY_REPLAY, pyRoot], { input: JSON.stringify(SCENARIOS), env: { ...process.env, TZ: 'Europe/Berlin' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const python = JSON.parse(r.stdout) as Array<Record<string, string>>;
  SCENARIOS.forEach((s, i) => {
    const ours = replayHere(s);
    assert.deepEqual(ours, python[i], `scenario ${i}: ${JSON.stringify(s.rotation)}`);
    if (s.rotation.kind === 'interval' && s.rotation.when !== 'H') assert.ok(Object.keys(ours).length > 2, `scenario ${i} rotated`);
  });
});

test('parity: MIDNIGHT and W0 … W6 first rollover times equal Python\'s computeRollover, hour by hour over both DST weeks', (t) => {
  if (!existsSync(PYTHON)) {
    t.skip(`${PYTHON} not installed: no reference to compare with`);
    return;
  }
  const whens = ['MIDNIGHT', 'W0', 'W1', 'W2', 'W3', 'W4', 'W5', 'W6'];
  const times = [local(2026, 3, 24), local(2026, 10, 20)].flatMap((from) => Array.from({ length: 8 * 24 * 4 }, (_, i) => from + i * 900 + (i % 7)));
  const script = `
import json, logging.handlers, sys
whens, times, path = json.load(sys.stdin)
out = {}
for w in whens:
    h = logging.handlers.TimedRotatingFileHandler(path, when=w, delay=True)
    out[w] = [h.computeRollover(t) for t in times]
json.dump(out, sys.stdout)
`;
  const r = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify([whens, times, join(root, 'never-written.log')]), env: { ...process.env, TZ: 'Europe/Berlin' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const python = JSON.parse(r.stdout) as Record<string, number[]>;
  for (const w of whens) assert.deepEqual(times.map((x) => computeRollover(intervalRotation(w, 1, 0), x)), python[w], w);
});
