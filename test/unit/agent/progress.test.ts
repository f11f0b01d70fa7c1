// Progress lines of long passes: `progress: N/M ports, R ports/s, ETA S s`, every interval at INFO.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Progress, formatProgress } from '../../../src/agent/ports/progress.js';
import { configureLogging, getLogger } from '../../../src/util/log.js';

describe('progress', () => {
  it('says done/total, the rate and the time left', () => {
    assert.equal(formatProgress(250, 1000, 5, 'fetching port details'), 'progress: 250/1000 ports, 50.0 ports/s, ETA 15 s (fetching port details)');
    assert.equal(formatProgress(0, 1000, 5, 'x'), 'progress: 0/1000 ports, 0.0 ports/s, ETA ? s (x)');
    assert.equal(formatProgress(1000, 1000, 4, 'writing OVSDB and flows'), 'progress: 1000/1000 ports, 250.0 ports/s, ETA 0 s (writing OVSDB and flows)');
  });

  it('logs at INFO every interval until finished, and not at all for work that ends sooner', async () => {
    const lines: string[] = [];
    configureLogging({ sink: { write: (l) => lines.push(l) } });
    try {
      const quick = new Progress(getLogger('agent'), 10, 'quick', 50);
      quick.advance(10);
      quick.finish();
      const p = new Progress(getLogger('agent'), 100, 'fetching port details', 50);
      p.advance(40);
      // Two lines, however loaded the machine (bounded).
      for (const end = Date.now() + 5000; lines.length < 2 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
      p.finish();
      const n = lines.length;
      assert.ok(n >= 2, `a line every 50 ms (${n} within 5 s)`);
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(lines.length, n, 'nothing after finish()');
      assert.ok(lines.every((l) => / INFO ovs_agent\.agent \[-\] progress: 40\/100 ports, [\d.]+ ports\/s, ETA \d+ s \(fetching port details\)\n$/.test(l)), lines.join(''));
    } finally {
      configureLogging({ sink: { write: (l) => process.stderr.write(l) } });
    }
  });
});
