// grafana/ovs-agent.json is valid JSON, its panels sit on the grid without overlapping, and every
// metric a panel queries is one the agent registers (a renamed metric fails here, not on a
// dashboard that silently shows "No data").
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { checkoutFile } from '../../../lab/checkout.js';
import { PromRecorder } from '../../../src/metrics/recorder.js';

interface Panel {
  id: number;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets: Array<{ expr: string }>;
}

const dashboard = JSON.parse(readFileSync(checkoutFile('grafana/ovs-agent.json'), 'utf8')) as { uid: string; panels: Panel[]; templating: { list: Array<{ query?: unknown }> } };

async function registered(): Promise<Map<string, string>> {
  const r = new PromRecorder({ integration: 'br-int', tunnel: 'br-tun', physical: ['br-ex'] }, () => undefined);
  return new Map((await r.registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
}

/** The metric a series name in a query belongs to (histograms expose _bucket, _sum, _count). */
function family(series: string, known: Map<string, string>): string | undefined {
  if (known.has(series)) return series;
  const m = /^(.*)_(bucket|sum|count)$/.exec(series);
  return m && known.get(m[1]!) === 'histogram' ? m[1] : undefined;
}

describe('grafana/ovs-agent.json', () => {
  it('every metric a panel or variable queries is registered by the agent', async () => {
    const known = await registered();
    const queries = [
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel '${p.title}'`, expr: t.expr }))),
      ...dashboard.templating.list.map((v) => ({ where: 'variable', expr: JSON.stringify(v.query ?? '') })),
    ];
    let used = 0;
    for (const q of queries) {
      for (const [name] of q.expr.matchAll(/\bovs_agent_[a-z0-9_]+/g)) {
        used++;
        assert.ok(family(name, known), `${q.where} queries ${name}, which the agent does not register`);
      }
    }
    assert.ok(used > 20, `the panels query the agent's metrics (${used} references)`);
  });

  it('shows each metric the agent exports about itself (process metrics of prom-client aside)', async () => {
    const known = await registered();
    const text = JSON.stringify(dashboard.panels);
    const own = [...known.keys()].filter((n) => !/^ovs_agent_(process_|nodejs_)/.test(n));
    const missing = own.filter((n) => !text.includes(n));
    assert.deepEqual(missing, [], 'metrics no panel shows');
  });

  it('panels have unique ids and do not overlap on the 24-column grid', () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      const g = p.gridPos;
      assert.ok(g.x >= 0 && g.x + g.w <= 24, `panel '${p.title}' inside the grid`);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          assert.ok(!cells.has(`${x},${y}`), `panel '${p.title}' overlaps another at ${x},${y}`);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});
