// The iptables_hybrid leftovers removed from a real kernel (a namespace the test makes, holding what
// the reference left in the remote-group capture), and the br-int mark kept in a real OVSDB.
// Run under scripts/netns-run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HybridIptablesLeftovers, bridgeCleanedMark } from '../../../../src/firewall/openvswitch/hybrid-leftovers.js';
import { execCommand, type Exec } from '../../../../src/firewall/iptables/apply.js';
import { OvsdbOps } from '../../../../src/ovsdb/ops.js';
import { PrivateOvs } from '../../../../lab/ovs.js';
import { saveFirewallState } from '../../../helpers/iptables.js';
import { createNamespace, deleteNamespace } from '../../../../lab/vm.js';

const FIXTURE = 'test/fixtures/reference/iptables/remote-group';
const NS = `oahl-${randomBytes(4).toString('hex')}`;
const inNs: Exec = (cmd, args, input) => execCommand('ip', ['netns', 'exec', NS, cmd, ...args], input);
const sh = (cmd: string, args: string[], input?: string): string =>
  execFileSync('ip', ['netns', 'exec', NS, cmd, ...args], { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });

before(async () => createNamespace(NS));
after(async () => deleteNamespace(NS));

test("what the reference's iptables_hybrid left is removed; other programs' rules stay", async () => {
  for (const family of ['inet', 'inet6']) {
    const name = `NIPv${family === 'inet' ? 4 : 6}90de1b8d-ff25-4453-bd25-`;
    sh('ipset', ['create', name, 'hash:net', 'family', family]);
  }
  sh('iptables-restore', [], readFileSync(`${FIXTURE}.iptables`, 'utf8'));
  sh('ip6tables-restore', [], readFileSync(`${FIXTURE}.ip6tables`, 'utf8'));
  sh('iptables', ['-A', 'FORWARD', '-s', '203.0.113.7/32', '-j', 'DROP']);
  sh('ipset', ['create', 'someone-else', 'hash:ip']);
  const removed = await new HybridIptablesLeftovers({ exec: inNs }).removeAll();
  assert.deepEqual(removed, { chains: 15 + 15, ipsets: 2 });
  const state = await saveFirewallState(NS);
  assert.doesNotMatch(state.iptables + state.ip6tables, /neutron/, `no neutron chain or jump left:\n${state.iptables}${state.ip6tables}`);
  assert.match(state.iptables, /^-A FORWARD -s 203\.0\.113\.7\/32 -j DROP$/m, "another program's rule stays");
  assert.deepEqual(sh('ipset', ['list', '-n']).trim().split('\n'), ['someone-else']);
  assert.deepEqual(await new HybridIptablesLeftovers({ exec: inNs }).removeAll(), { chains: 0, ipsets: 0 }, 'a second time: nothing');
});

test('the iptables_cleaned mark lives in br-int other_config, next to what is there', async () => {
  const ovs = await PrivateOvs.start();
  let ops: OvsdbOps | undefined;
  try {
    await ovs.addBridge('br-int');
    await ovs.vsctl('set', 'Bridge', 'br-int', 'other_config:mac-table-size=50000');
    ops = await OvsdbOps.connect({ endpoint: ovs.unixConnection, timeoutSec: 10 });
    const db = ops;
    const mark = bridgeCleanedMark('br-int', {
      otherConfig: (b) => db.replica.bridge(b)?.otherConfig,
      setBridgeOtherConfig: (b, kv) => db.setBridgeOtherConfig(b, kv),
    });
    assert.equal(await mark.isCleaned(), false);
    await mark.markCleaned();
    assert.equal((await ovs.vsctl('get', 'Bridge', 'br-int', 'other_config:iptables_cleaned')).trim(), '"true"');
    assert.equal((await ovs.vsctl('get', 'Bridge', 'br-int', 'other_config:mac-table-size')).trim(), '"50000"');
    assert.equal(await mark.isCleaned(), true);
    // as the reference writes it, and as the reference reads it: any case of "true"
    await ovs.vsctl('set', 'Bridge', 'br-int', 'other_config:iptables_cleaned=True');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await mark.isCleaned(), true);
  } finally {
    await ops?.close();
    await ovs.stop();
  }
});
