// `[agent] metrics_bind`: HOST:PORT with IPv6 in brackets; unset (or empty) means no endpoint, and a
// bad value stops the agent with the file, line, section and option named like every option.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadConfig } from '../../../src/config/index.js';
import { formatListenAddress, parseListenAddress } from '../../../src/config/listen-address.js';
import { settingsFromConfig } from '../../../src/agent/settings.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metrics-bind-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function load(text: string) {
  const p = path.join(dir, `agent-${Math.random().toString(36).slice(2)}.ini`);
  fs.writeFileSync(p, text);
  return { file: p, cfg: () => loadConfig(['--config-file', p], { hostname: 'node-1', searchDirs: [] }) };
}

describe('parseListenAddress', () => {
  it('takes IPv4, bracketed IPv6 and host names', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:9792'), { host: '127.0.0.1', port: 9792 });
    assert.deepEqual(parseListenAddress('[::1]:9792'), { host: '::1', port: 9792 });
    assert.deepEqual(parseListenAddress('[2001:db8::5]:80'), { host: '2001:db8::5', port: 80 });
    assert.deepEqual(parseListenAddress('localhost:9792'), { host: 'localhost', port: 9792 });
    assert.deepEqual(parseListenAddress('0.0.0.0:1'), { host: '0.0.0.0', port: 1 });
  });

  it('refuses what it cannot listen on, saying why', () => {
    assert.throws(() => parseListenAddress('::1:9792'), /IPv6 address needs brackets/);
    assert.throws(() => parseListenAddress('127.0.0.1'), /expected HOST:PORT/);
    assert.throws(() => parseListenAddress('127.0.0.1:0'), /port '0' is not between 1 and 65535/);
    assert.throws(() => parseListenAddress('127.0.0.1:65536'), /not between 1 and 65535/);
    assert.throws(() => parseListenAddress('127.0.0.1:http'), /port 'http'/);
    assert.throws(() => parseListenAddress('[127.0.0.1]:80'), /not an IPv6 address/);
    assert.throws(() => parseListenAddress('[::1]80'), /expected HOST:PORT/);
    assert.throws(() => parseListenAddress(':9792'), /expected HOST:PORT/);
    assert.throws(() => parseListenAddress('bad_host!:9792'), /not an address or host name/);
  });

  it('formats back with brackets for IPv6', () => {
    assert.equal(formatListenAddress({ host: '::1', port: 9792 }), '[::1]:9792');
    assert.equal(formatListenAddress({ host: '127.0.0.1', port: 9792 }), '127.0.0.1:9792');
  });
});

describe('[agent] metrics_bind in the configuration', () => {
  it('is off when unset or empty', () => {
    assert.equal(settingsFromConfig(load('[agent]\n').cfg()).metricsBind, undefined);
    assert.equal(settingsFromConfig(load('[agent]\nmetrics_bind =\n').cfg()).metricsBind, undefined);
  });

  it('reaches the agent settings parsed', () => {
    assert.deepEqual(settingsFromConfig(load('[agent]\nmetrics_bind = [::1]:9792\n').cfg()).metricsBind, { host: '::1', port: 9792 });
  });

  it('a bad value is a configuration error naming file, line, section and option', () => {
    const { file, cfg } = load('[agent]\n# the endpoint\nmetrics_bind = 127.0.0.1:99999\n');
    let err: unknown;
    try {
      cfg();
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError, `ConfigError expected, got ${String(err)}`);
    assert.match(err.message, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: \\[agent\\] metrics_bind = '127\\.0\\.0\\.1:99999': expected HOST:PORT`));
  });
});
