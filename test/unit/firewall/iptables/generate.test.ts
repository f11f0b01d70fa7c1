// The generated iptables_hybrid rules equal what the reference agent left for the same ports and
// groups (fixtures captured by test/integration/firewall/iptables-capture.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateFirewall } from '../../../../src/firewall/iptables/generate.js';
import { canonicalSave, renderTable } from '../../../../src/firewall/iptables/save.js';
import { iptablesScenarios, sortMemberRuns, stateOf } from '../../../helpers/iptables-fixtures.js';
import { normalizeIptablesSave } from '../../../helpers/iptables.js';

const scenarios = iptablesScenarios();

test('there are captured scenarios to compare with', () => {
  assert.ok(scenarios.length >= 1, 'no fixtures in test/fixtures/reference/iptables');
});

for (const sc of scenarios) {
  test(`${sc.name}: iptables and ip6tables rules equal the reference's`, () => {
    const { tables } = generateFirewall(stateOf(sc.input));
    for (const [v, fixture] of [[4, sc.iptables], [6, sc.ip6tables]] as const) {
      const ours = renderTable(tables[v].raw) + renderTable(tables[v].filter);
      assert.equal(sortMemberRuns(canonicalSave(ours)), sortMemberRuns(canonicalSave(normalizeIptablesSave(fixture))), `IPv${v} rules of ${sc.name}`);
    }
  });

  test(`${sc.name}: ipsets equal the reference's`, () => {
    const { ipsets } = generateFirewall(stateOf(sc.input));
    const theirs = new Map<string, { family: string; members: string[] }>();
    for (const block of sc.ipset.split('\n\n').filter((b) => b.trim())) {
      const name = /^Name: (\S+)/m.exec(block)?.[1];
      const family = /^Header: family (\S+)/m.exec(block)?.[1];
      const members = block.split('Members:\n')[1]?.split('\n').filter((l) => l) ?? [];
      assert.ok(name && family, `unreadable ipset block in ${sc.name}.ipset: ${block}`);
      theirs.set(name, { family, members: members.sort() });
    }
    // ipset list prints host entries without their /32 or /128
    const ours = new Map(
      [...ipsets].map(([n, s]) => [n, { family: s.family, members: s.members.map((m) => m.replace(/\/(32|128)$/, '')).sort() }]),
    );
    assert.deepEqual(Object.fromEntries(ours), Object.fromEntries(theirs));
  });
}
