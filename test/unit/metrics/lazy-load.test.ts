// Start-up time matters: without `[agent] metrics_bind` the daemon must not load prom-client or the
// HTTP endpoint. Walks the static imports of the built daemon entry point; only the dynamic
// import() behind the option may reach src/metrics/server.js.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const entry = resolve(here, '../../../src/cli/neutron-openvswitch-agent.js');

function staticGraph(start: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [start];
  while (todo.length) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    const text = readFileSync(f, 'utf8');
    // `import ... from 'x'` and `export ... from 'x'`, not `import('x')`; type-only imports are erased by tsc.
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) todo.push(resolve(dirname(f), spec));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  }
  return { files, packages };
}

describe('the daemon loads the metrics endpoint lazily', () => {
  it('no static path from the entry point to prom-client or src/metrics', () => {
    const g = staticGraph(entry);
    assert.ok(g.files.size > 20, `the walk follows imports (${g.files.size} files)`);
    assert.ok(!g.packages.has('prom-client'), 'prom-client is imported statically');
    const metricsFiles = [...g.files].filter((f) => f.includes('/src/metrics/'));
    assert.deepEqual(metricsFiles, []);
    assert.match(readFileSync(entry, 'utf8'), /await import\('\.\.\/metrics\/server\.js'\)/, 'the endpoint is loaded by a dynamic import');
  });
});
