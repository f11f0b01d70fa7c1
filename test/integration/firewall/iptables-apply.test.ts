// Applying generated iptables_hybrid rules to the real iptables, ip6tables and ipset of a network
// namespace the test creates (run it under scripts/netns-run.sh as every OVS test): the kernel then holds exactly what the
// reference agent left for the same ports (captured fixtures), a second pass changes nothing, rules
// the reference left are taken over without duplicates, and chains of a removed port disappear.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { generateFirewall } from '../../../src/firewall/iptables/generate.js';
import { IptablesApplier, enableBridgeNetfilter, execCommand, type Exec } from '../../../src/firewall/iptables/apply.js';
import { canonicalSave } from '../../../src/firewall/iptables/save.js';
import { iptablesScenarios, sortMemberRuns, stateOf } from '../../helpers/iptables-fixtures.js';
import { resetFirewallState, saveFirewallState } from '../../helpers/iptables.js';
import { createNamespace, deleteNamespace } from '../../../lab/vm.js';

const scenarios = iptablesScenarios();
// iptables, ip6tables and ipset are per network namespace: the test's own one is all it touches
const NS = `oaipt-${randomBytes(4).toString('hex')}`;
const inNs: Exec = (cmd, args, input) => execCommand('ip', ['netns', 'exec', NS, cmd, ...args], input);
const sh = (cmd: string, args: string[], input?: string): string =>
  execFileSync('ip', ['netns', 'exec', NS, cmd, ...args], { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
const save = (): ReturnType<typeof saveFirewallState> => saveFirewallState(NS);

before(async () => createNamespace(NS));
after(async () => deleteNamespace(NS));
beforeEach(async () => resetFirewallState(NS));

/** Members of each set in `ipset list` text, set by set. */
function ipsetMembers(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const block of text.split('\n\n').filter((b) => b.trim())) {
    out[/^Name: (\S+)/m.exec(block)![1]!] = (block.split('Members:\n')[1] ?? '').split('\n').filter((l) => l).sort();
  }
  return out;
}

for (const sc of scenarios) {
  test(`${sc.name}: applied rules and ipsets equal the reference's, and a second pass changes nothing`, async () => {
    const applier = new IptablesApplier(inNs);
    const desired = generateFirewall(stateOf(sc.input));
    const first = await applier.apply(desired);
    assert.ok(first.processes <= 4, `one restore per family and ipset step, got ${first.processes}`);
    const state = await save();
    const same = (a: string, b: string): boolean => sortMemberRuns(canonicalSave(a)) === sortMemberRuns(canonicalSave(b));
    assert.ok(same(state.iptables, sc.iptables), `IPv4 rules differ:\n${canonicalSave(state.iptables)}`);
    assert.ok(same(state.ip6tables, sc.ip6tables), `IPv6 rules differ:\n${canonicalSave(state.ip6tables)}`);
    assert.deepEqual(ipsetMembers(state.ipset), ipsetMembers(sc.ipset));
    const second = await applier.apply(desired);
    assert.deepEqual(second, { processes: 0, tables: [], ipsetsChanged: [], ipsetsDestroyed: [] });
  });

  test(`${sc.name}: the reference's rules are taken over, not duplicated`, async () => {
    // what the reference left, restored as is (sets first: rules refer to them)
    for (const [name, members] of Object.entries(ipsetMembers(sc.ipset))) {
      const family = name.startsWith('NIPv6') ? 'inet6' : 'inet';
      sh('ipset', ['restore'], [`create ${name} hash:net family ${family}`, ...members.map((m) => `add ${name} ${m}`)].join('\n') + '\n');
    }
    sh('iptables-restore', [], sc.iptables);
    sh('ip6tables-restore', [], sc.ip6tables);
    const applier = new IptablesApplier(inNs);
    const zones = await applier.readZones();
    for (const p of sc.input.ports) if (p.zone !== undefined) assert.equal(zones.get(p.id), p.zone, `zone of port ${p.id} read back`);
    const desired = generateFirewall(stateOf(sc.input));
    const result = await applier.apply(desired);
    const state = await save();
    assert.equal(sortMemberRuns(canonicalSave(state.iptables)), sortMemberRuns(canonicalSave(sc.iptables)));
    if (sc.input.enableIpset === false) {
      // the reference's member order is its hash seed's: the chains holding member rules may be rewritten once
      assert.deepEqual(await applier.apply(desired), { processes: 0, tables: [], ipsetsChanged: [], ipsetsDestroyed: [] });
    } else {
      assert.deepEqual(result, { processes: 0, tables: [], ipsetsChanged: [], ipsetsDestroyed: [] });
    }
  });
}

test('chains and ipsets of removed ports go; rules of other programs stay', async () => {
  const sc = scenarios.find((s) => s.name === 'remote-group');
  assert.ok(sc, 'remote-group fixture');
  const applier = new IptablesApplier(inNs);
  sh('iptables', ['-A', 'FORWARD', '-s', '203.0.113.7/32', '-j', 'DROP']);
  await applier.apply(generateFirewall(stateOf(sc.input)));
  const [gone, kept] = sc.input.ports;
  assert.ok(gone && kept);
  const state = stateOf(sc.input);
  const after = generateFirewall({ ...state, filtered: state.filtered.filter((p) => p.id !== gone.id) });
  const result = await applier.apply(after);
  assert.deepEqual(result.tables.sort(), ['ip6tables filter', 'ip6tables raw', 'iptables filter', 'iptables raw']);
  const saved = await save();
  assert.ok(!saved.iptables.includes(gone.id.slice(0, 10)), `no rule or chain of ${gone.id} left:\n${saved.iptables}`);
  assert.ok(!saved.ip6tables.includes(gone.id.slice(0, 10)), `no IPv6 rule or chain of ${gone.id} left`);
  assert.ok(saved.iptables.includes(`-A neutron-openvswi-i${kept.id.slice(0, 10)}`), 'the other port keeps its chain');
  assert.match(saved.iptables, /-A FORWARD -s 203\.0\.113\.7\/32 -j DROP/, "another program's rule is still there");
  assert.match(saved.iptables, /^-A FORWARD -j neutron-filter-top\n-A FORWARD -j neutron-openvswi-FORWARD\n-A FORWARD -s 203/m, "the agent's jumps come first");
  // a rule another program inserted above the agent's: the agent's jumps go back on top, the other rule stays
  sh('iptables', ['-I', 'FORWARD', '1', '-s', '203.0.113.8/32', '-j', 'DROP']);
  const reorder = await applier.apply(after);
  assert.deepEqual(reorder.tables, ['iptables filter']);
  assert.match((await save()).iptables, /^-A FORWARD -j neutron-filter-top\n-A FORWARD -j neutron-openvswi-FORWARD\n-A FORWARD -s 203\.0\.113\.8\/32 -j DROP\n-A FORWARD -s 203\.0\.113\.7\/32 -j DROP$/m);
  // the remaining member: its set is refilled, not recreated with a gap
  assert.deepEqual(result.ipsetsChanged, []);
  // no port left at all: the sets go too
  const empty = await applier.apply(generateFirewall({ ...state, filtered: [] }));
  assert.deepEqual(empty.ipsetsDestroyed.sort(), Object.keys(ipsetMembers(sc.ipset)).sort());
  assert.equal((await save()).ipset, '');
});

test('bridged traffic is handed to iptables', async () => {
  sh('sysctl', ['-w', 'net.bridge.bridge-nf-call-iptables=0', 'net.bridge.bridge-nf-call-ip6tables=0']);
  await enableBridgeNetfilter(inNs);
  assert.equal(sh('sysctl', ['-n', 'net.bridge.bridge-nf-call-iptables']).trim(), '1');
  assert.equal(sh('sysctl', ['-n', 'net.bridge.bridge-nf-call-ip6tables']).trim(), '1');
});
