// `[securitygroup] enable_security_group = False` with firewall_driver openvswitch and
// iptables_hybrid: our agent runs the scenario of nosg-scenario.ts against the real lab
// neutron-server, as the reference did when test/fixtures/reference/nosg/ was captured
// (nosg-capture.ts), and must leave what the reference left at every step: the flows of br-int,
// br-tun and br-phys (the openvswitch driver's base flows, no anti-spoofing flows with it,
// the agent's own with iptables_hybrid), iptables, ip6tables and ipsets, `ovs_hybrid_plug` and the
// port's binding. Two VMs in a group that admits nothing ping each other, as on the reference.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NeutronLab, labSkipReason } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import { cleanupAllVms } from '../../../lab/vm.js';
import { canonicalSave } from '../../../src/firewall/iptables/save.js';
import { diffFlows } from './compare.js';
import { NOSG_VARIANTS, NOSG_VARIANT_NAMES, NOSG_STEPS, runNosgScenario, type NosgFacts } from './nosg-scenario.js';

const FIXTURES = 'test/fixtures/reference/nosg';

function fixture(file: string): string {
  const path = join(FIXTURES, file);
  if (!existsSync(path)) throw new Error(`no reference fixture ${path} (nosg-capture.ts writes it)`);
  return readFileSync(path, 'utf8');
}

/** `== bridge` sections of a `.flows` capture. */
function byBridge(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const l of text.split('\n')) {
    const head = /^== (\S+)$/.exec(l);
    if (head) out.set(head[1]!, (cur = []));
    else if (l.trim() !== '') cur?.push(l);
  }
  return out;
}

/**
 * iptables-save in canonical order without tables that hold nothing but built-in chains accepting
 * everything: an earlier test in the same namespace leaves such tables behind, and to the host they
 * are the same as no table (the reference was captured in a namespace that never had them).
 */
function comparableSave(text: string): string {
  const EMPTY_TABLE = /^\*\w+\n(?::[A-Z]+ ACCEPT \[0:0\]\n)*COMMIT\n$/;
  return canonicalSave(text).split(/(?<=COMMIT\n)/).filter((t) => t.trim() !== '' && !EMPTY_TABLE.test(t)).join('');
}

describe('enable_security_group = False: our agent leaves what the reference leaves', { skip: labSkipReason(), timeout: 900_000 }, () => {
  let lab: NeutronLab | undefined;

  before(async () => {
    lab = await startLab();
    await lab.waitRpcConsumers();
  }, { timeout: 180_000 });

  after(async () => {
    await cleanupAllVms();
    await lab?.stop();
  }, { timeout: 60_000 });

  for (const variant of NOSG_VARIANT_NAMES) {
    const { driver, explicitlyEgressDirect } = NOSG_VARIANTS[variant];
    it(`firewall_driver = ${driver}${explicitlyEgressDirect ? ', explicitly_egress_direct = True' : ''}: flows of every bridge, iptables, binding and traffic as the reference's`, { timeout: 300_000 }, async (t) => {
      const ovs = await PrivateOvs.start({ tcp: true });
      const lockDir = mkdtempSync(join(tmpdir(), 'nosg-lock-'));
      try {
        await ovs.addBridge('br-phys');
        const r = await runNosgScenario('ours', variant, { lab: lab!, ovs, host: `nosg-ours-${variant.replace('_', '-')}-${process.pid}`, lockDir, log: (l) => t.diagnostic(l) });
        const reports: string[] = [];
        for (const step of NOSG_STEPS) {
          const expected = byBridge(fixture(`${variant}.${step}.flows`));
          const actual = byBridge(r.snapshots[step].flows);
          assert.deepEqual([...actual.keys()], [...expected.keys()], `${step}: bridges`);
          for (const [bridge, flows] of expected) {
            const d = diffFlows(flows, actual.get(bridge)!, `${variant}.${step}.flows ${bridge}`);
            if (!d.equal) reports.push(d.report);
          }
          const ipt = r.snapshots[step].iptables;
          if (driver === 'iptables_hybrid') {
            assert.ok(ipt, 'iptables state captured');
            for (const kind of ['iptables', 'ip6tables'] as const) {
              if (comparableSave(ipt[kind]) !== comparableSave(fixture(`${variant}.${step}.${kind}`))) {
                reports.push(`${variant}.${step}.${kind} differs:\n--- reference\n${comparableSave(fixture(`${variant}.${step}.${kind}`))}\n--- ours\n${comparableSave(ipt[kind])}`);
              }
            }
            if (ipt.ipset !== fixture(`${variant}.${step}.ipset`)) reports.push(`${variant}.${step}.ipset differs:\n${ipt.ipset}`);
          }
        }
        assert.equal(reports.length, 0, reports.join('\n\n'));
        const reference = JSON.parse(fixture(`${variant}.json`)) as NosgFacts;
        assert.equal(r.facts.ovs_hybrid_plug, reference.ovs_hybrid_plug, 'ovs_hybrid_plug in the state report');
        assert.deepEqual(r.facts.vif_details, reference.vif_details, "port a's binding:vif_details");
        // The reference's VMs reached each other; ours must, through a group that admits nothing.
        assert.ok(reference.ping_a_to_b >= 4, `the reference's capture had ${reference.ping_a_to_b}/5 replies`);
        assert.ok(r.facts.ping_a_to_b >= 4, `a -> b: ${r.facts.ping_a_to_b}/5 replies`);
        // The operator is told once, at start-up, that nothing is filtered.
        const told = r.log.split('\n').filter((l) => /security groups are disabled/.test(l));
        assert.equal(told.length, 1, `one start-up line saying security groups are disabled; found:\n${told.join('\n')}`);
        assert.match(told[0]!, /INFO.*enable_security_group = False.*ports are not filtered/);
        if (driver === 'openvswitch') {
          // The reference's OVS firewall driver, built even with security groups off, adds OpenFlow 1.1 and 1.2 to br-int.
          assert.equal(await ovs.vsctl('get', 'Bridge', 'br-int', 'protocols'), '[OpenFlow10, OpenFlow11, OpenFlow12, OpenFlow13, OpenFlow14]');
        }
      } finally {
        await cleanupAllVms();
        await ovs.stop();
        rmSync(lockDir, { recursive: true, force: true });
      }
    });
  }
});
