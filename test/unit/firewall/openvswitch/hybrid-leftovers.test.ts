import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HybridIptablesLeftovers, bridgeCleanedMark, planLeftoverRemoval } from '../../../../src/firewall/openvswitch/hybrid-leftovers.js';
import type { Exec } from '../../../../src/firewall/iptables/apply.js';

const REFERENCE = readFileSync('test/fixtures/reference/iptables/remote-group.iptables', 'utf8');

test('what the reference iptables_hybrid left: every jump to its chains deleted, then its chains and neutron-filter-top', () => {
  const plan = planLeftoverRemoval(REFERENCE).split('\n');
  assert.deepEqual(plan.filter((l) => l.startsWith('-D ')), [
    '-D PREROUTING -j neutron-openvswi-PREROUTING',
    '-D OUTPUT -j neutron-openvswi-OUTPUT',
    '-D INPUT -j neutron-openvswi-INPUT',
    '-D FORWARD -j neutron-filter-top',
    '-D FORWARD -j neutron-openvswi-FORWARD',
    '-D OUTPUT -j neutron-filter-top',
    '-D OUTPUT -j neutron-openvswi-OUTPUT',
  ]);
  const deleted = plan.filter((l) => l.startsWith('-X ')).map((l) => l.slice(3));
  assert.ok(deleted.includes('neutron-filter-top') && deleted.includes('neutron-openvswi-sg-chain') && deleted.includes('neutron-openvswi-i2e809f6c-e'));
  assert.equal(deleted.length, 2 + 13, 'raw: 2 chains; filter: 12 of the driver and neutron-filter-top');
  // per table, every chain is flushed before any is deleted: a chain still jumped to cannot go
  for (const block of planLeftoverRemoval(REFERENCE).split('COMMIT')) {
    const lines = block.split('\n');
    const lastFlush = lines.map((l) => l.startsWith('-F ')).lastIndexOf(true);
    assert.ok(lastFlush < lines.findIndex((l) => l.startsWith('-X ')) || lastFlush < 0, block);
  }
});

test('neutron-filter-top used by another neutron agent stays, with its jumps; only the driver\'s rule in it goes', () => {
  const save = [
    '*filter',
    ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]',
    ':neutron-filter-top - [0:0]', ':neutron-openvswi-local - [0:0]', ':neutron-l3-agent-local - [0:0]',
    '-A FORWARD -j neutron-filter-top', '-A FORWARD -s 203.0.113.7/32 -j DROP',
    '-A neutron-filter-top -j neutron-openvswi-local', '-A neutron-filter-top -j neutron-l3-agent-local',
    'COMMIT', '',
  ].join('\n');
  assert.equal(planLeftoverRemoval(save), ['*filter', '-D neutron-filter-top -j neutron-openvswi-local', '-F neutron-openvswi-local', '-X neutron-openvswi-local', 'COMMIT', ''].join('\n'));
});

test('nothing of the driver: nothing to do', () => {
  assert.equal(planLeftoverRemoval('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -j DROP\nCOMMIT\n'), '');
});

/** Records commands; iptables-save gives the reference's dump, ipset its two sets. */
function recorder(): { exec: Exec; calls: string[] } {
  const calls: string[] = [];
  const exec: Exec = async (cmd, args) => {
    calls.push([cmd, ...args].join(' '));
    if (cmd === 'iptables-save') return REFERENCE;
    if (cmd === 'ip6tables-save') return '';
    if (cmd === 'ipset' && args[0] === 'list') return 'NIPv490de1b8d-ff25-4453-bd25-\nNIPv690de1b8d-ff25-4453-bd25-\nother-set\n';
    return '';
  };
  return { exec, calls };
}

test('removed once, the first time a hybrid (qvo) port is filtered; sets after rules; the bridge marked', async () => {
  const { exec, calls } = recorder();
  const other = new Map<string, string>();
  const mark = bridgeCleanedMark('br-int', {
    otherConfig: () => other,
    setBridgeOtherConfig: async (_b, kv) => {
      for (const [k, v] of Object.entries(kv)) other.set(k, v);
    },
  });
  const leftovers = new HybridIptablesLeftovers({ exec, mark });
  await leftovers.portsFiltered(['tap1234', 'vm-port']);
  assert.deepEqual(calls, [], 'no hybrid port: iptables not even read');
  await leftovers.portsFiltered(['qvo2e809f6c-e8']);
  assert.deepEqual(calls, [
    'iptables-save',
    'iptables-restore --noflush',
    'ip6tables-save',
    'ipset list -n',
    'ipset destroy NIPv490de1b8d-ff25-4453-bd25-',
    'ipset destroy NIPv690de1b8d-ff25-4453-bd25-',
  ]);
  assert.equal(other.get('iptables_cleaned'), 'true');
  await leftovers.portsFiltered(['qvo8cb76d5c-81']);
  assert.equal(calls.length, 6, 'once per run');
  const next = recorder();
  await new HybridIptablesLeftovers({ exec: next.exec, mark }).portsFiltered(['qvo2e809f6c-e8']);
  assert.deepEqual(next.calls, [], 'a bridge marked cleaned is not looked at again');
});

test('a failing iptables-restore is reported with its input, and the next pass tries again', async () => {
  let fail = true;
  const exec: Exec = async (cmd) => {
    if (cmd === 'iptables-save') return REFERENCE;
    if (cmd === 'iptables-restore' && fail) throw new Error('iptables-restore: line 3 failed');
    return '';
  };
  const leftovers = new HybridIptablesLeftovers({ exec });
  await assert.rejects(leftovers.portsFiltered(['qvo2e809f6c-e8']), /removing the iptables_hybrid leftovers \(iptables-restore --noflush\):\n\*raw[\s\S]*line 3 failed/);
  fail = false;
  await leftovers.portsFiltered(['qvo2e809f6c-e8']);
});
