// The reference trunk fixtures (test/fixtures/reference/trunk/) hold together: every OpenFlow port
// number was replaced by a name (a re-capture that broke snapshot.ts's normalisation would fail
// here before any agent is compared with it), every trunk port a flow names is in the rows, the
// patch pairs name each other, each spt- port carries its subport's VLAN id as the server lists
// it, and the parent tap's subport_ids are the trunk's subports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkoutFile } from '../../../lab/checkout.js';
import type { TrunkSnapshot } from './snapshot.js';

const dir = checkoutFile(join('test', 'fixtures', 'reference', 'trunk'));
const steps = readdirSync(dir).filter((f) => /^\d\d-.+\.json$/.test(f)).sort();

test('the trunk fixtures are there, one per scenario step', () => {
  assert.deepEqual(steps, ['01-trunk-active.json', '02-s2-removed.json', '03-s2-added-again.json', '04-agent-restarted.json', '05-vm-deleted.json']);
});

for (const file of steps) {
  test(`${file}: ports by name in flows, patch pairs and VLAN ids consistent`, () => {
    const snap = JSON.parse(readFileSync(join(dir, file), 'utf8')) as TrunkSnapshot;
    const flows = Object.values(snap.flows).flatMap((f) => f ?? []);
    const numbered = flows.filter((f) => /\bin_port=\d|\boutput:\d|\breg5=0x|set_field:0x[0-9a-f]+->reg5/.test(f));
    assert.deepEqual(numbered, [], 'flows naming a port by number');
    const named = new Set(flows.flatMap((f) => [...f.matchAll(/\b((?:tpi|spi)-<\w+>)/g)].map((m) => m[1]!)));
    for (const n of named) assert.ok(snap.ports[n], `${n} is in a flow but not in the rows`);
    for (const [name, row] of Object.entries(snap.ports)) {
      if (row.type !== 'patch') continue;
      const peer = row.options.peer ?? '';
      // A br-int patch port outlives its peer when the trunk bridge is deleted (05).
      if (snap.ports[peer] === undefined) assert.ok(snap.flows['tbr-<T>'] === null && /^(tpi|spi)-/.test(name), `${name}: peer ${peer} missing`);
      else assert.equal(snap.ports[peer]!.options.peer, name, `${peer} names ${name} as its peer`);
    }
    const vlans = new Map((snap.server.trunk?.sub_ports ?? []).map((s) => s.split(' vlan ') as [string, string]));
    for (const [name, row] of Object.entries(snap.ports).filter(([n]) => n.startsWith('spt-'))) {
      assert.equal(String(row.tag), vlans.get(name.slice(4)), `${name}: tag vs the server's segmentation id`);
    }
    const tap = snap.ports['tap<P>'];
    if (tap) assert.deepEqual(JSON.parse(tap.external_ids.subport_ids ?? '[]'), [...vlans.keys()].sort(), 'subport_ids vs the trunk\'s subports');
  });
}
