// The logger hands each output its own line: a JSON output gets the error logged apart (summary and
// stack, secrets masked), a text output the same message with the error folded in.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { configureLogging, getLogger, type LogSink } from '../../../src/util/log.js';
import { DEFAULT_LINE_FORMAT } from '../../../src/util/log-format.js';
import { registerSecret } from '../../../src/util/redact.js';

const stderr: LogSink = { write: (l) => void process.stderr.write(l) };
after(() => configureLogging({ sink: stderr, format: DEFAULT_LINE_FORMAT }));

test('one line per output in its own format and level; the JSON one carries error_summary and traceback', () => {
  const json: string[] = [];
  const text: string[] = [];
  configureLogging({
    level: 'DEBUG',
    outputs: [
      { sink: { write: (l) => void json.push(l) }, format: { ...DEFAULT_LINE_FORMAT, json: true } },
      { sink: { write: (l) => void text.push(l) }, level: 'WARNING' },
    ],
  });
  registerSecret('s3cret-pw');
  const log = getLogger('test');
  log.info('plain');
  log.warning('cannot connect', new Error('refused by amqp://guest:s3cret-pw@127.0.0.1'));
  assert.equal(json.length, 2);
  assert.equal(text.length, 1, 'the text output takes WARNING and worse');
  const info = JSON.parse(json[0]!) as Record<string, unknown>;
  assert.equal(info.error_summary, '');
  assert.equal(info.traceback, null);
  const warning = JSON.parse(json[1]!) as { error_summary: string; traceback: string[]; message: string };
  assert.match(warning.error_summary, /^Error: refused by amqp:\/\/guest:\*\*\*\*@127\.0\.0\.1$/);
  assert.match(warning.traceback[0]!, /^Error: refused by/);
  assert.ok(warning.traceback.length > 1, 'the stack follows');
  assert.doesNotMatch(json[1]!, /s3cret-pw/);
  assert.match(text[0]!, / WARNING ovs_agent\.test \[-\] cannot connect: refused by amqp:\/\/guest:\*\*\*\*@127\.0\.0\.1\n$/);
});
