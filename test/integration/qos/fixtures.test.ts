// The reference QoS fixtures (test/fixtures/reference/qos/) hold together: every meter a flow uses
// exists and is the one a Port's other_config stores, and no meter is left unowned. A re-capture
// that broke the normalisation (snapshot.ts) would fail here before any agent is compared with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkoutFile } from '../../../lab/checkout.js';
import type { QosSnapshot } from './snapshot.js';

const dir = checkoutFile(join('test', 'fixtures', 'reference', 'qos'));
const steps = readdirSync(dir).filter((f) => /^\d\d-.+\.json$/.test(f)).sort();

test('the QoS fixtures are there, one per scenario step', () => {
  assert.ok(steps.length >= 19, `only ${steps.length} step fixtures in ${dir}`);
});

for (const file of steps) {
  test(`${file}: flows, meters and other_config name the same meters`, () => {
    const snap = JSON.parse(readFileSync(join(dir, file), 'utf8')) as QosSnapshot;
    const inFlows = new Set(Object.values(snap.flows).flatMap((fl) => fl.flatMap((f) => [...f.matchAll(/meter:(\$\w+)/g)].map((m) => m[1]!))));
    const inTable = new Set(snap.meters.map((m) => /^meter=(\$\w+)/.exec(m)?.[1] ?? `unparsed: ${m}`));
    const stored = new Set(Object.values(snap.ports).flatMap((p) => Object.values(p.other_config).filter((v) => v.startsWith('$'))));
    assert.deepEqual([...inFlows].sort(), [...inTable].sort(), 'meters used by flows vs meters in the table');
    assert.deepEqual([...inTable].sort(), [...stored].sort(), 'meters in the table vs meter ids stored in Port other_config');
    assert.ok(![...inTable].some((m) => m.startsWith('$unnamed')), 'a meter no Port other_config names');
  });
}
