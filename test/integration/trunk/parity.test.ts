// Trunk parity: our agent runs the scenario the reference ran when test/fixtures/reference/trunk/
// was captured (scenario.ts: a trunk VM with its parent on A and subports on VLANs 101 and 102, a
// subport removed and added again, the agent restarted, the VM deleted), with each OpenFlow
// backend. After every step the bridges, the OVSDB rows of the trunk's ports (tap, tpi-/tpt-,
// spi-/spt-: tag, other_config, options, external_ids with the trunk metadata), the flows of
// br-int and of the trunk bridge, and the server's view (trunk status, the ports' status, owner
// and host) must equal the reference's.
//
// TRUNK_TEST_AGENT=reference runs the reference instead (once: Zed has no of_interface), to show
// that the test itself is right; the default, and CI, run ours.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type NeutronLab, labSkipReason } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import { checkoutFile } from '../../../lab/checkout.js';
import type { RunningAgent } from '../../../bench/agents.js';
import type { SettleTimes } from '../firewall/scenarios.js';
import { runTrunkScenario, TrunkFixture, TRUNK_PHYSICAL_BRIDGE } from './scenario.js';
import type { TrunkSnapshot } from './snapshot.js';
import { endTrunkHost, restartTrunkAgent, startTrunkAgent, trunkTestRuns } from './host.js';

const FIXTURES = checkoutFile(join('test', 'fixtures', 'reference', 'trunk'));
/** Our agent wires on OVSDB events: far shorter waits than the reference's polling loop. */
const SETTLE_OURS: SettleTimes = { changeMs: 10000, quietMs: 2000, maxMs: 45000, pollMs: 150 };


function referenceStep(step: string): TrunkSnapshot {
  const path = join(FIXTURES, `${step}.json`);
  if (!existsSync(path)) throw new Error(`no reference fixture ${path} (scripts/capture-trunk-reference.sh writes it)`);
  return JSON.parse(readFileSync(path, 'utf8')) as TrunkSnapshot;
}

/**
 * What ours must leave where it deliberately differs: once the trunk bridge is deleted with the VM,
 * the reference leaves br-int's ends of the patch pairs (`tpi-`, `spi-`) behind, peerless, for ever;
 * ours removes them (README, Trunk ports). Everything else is the reference's.
 */
function expectedOfOurs(step: string, ref: TrunkSnapshot): TrunkSnapshot {
  if (ref.bridges.some((b) => b.startsWith('tbr-'))) return ref;
  const ports = Object.fromEntries(Object.entries(ref.ports).filter(([name]) => !/^(tp|sp)i-/.test(name)));
  assert.ok(Object.keys(ports).length < Object.keys(ref.ports).length || !step.endsWith('-vm-deleted'), 'the fixture shows the ends the reference leaves');
  return { ...ref, ports };
}

for (const run of trunkTestRuns()) {
  describe(`trunk parity with the reference, ${run === 'reference' ? 'the reference itself' : `of_interface = ${run}`}`, { skip: labSkipReason(), timeout: 900_000 }, () => {
    let lab: NeutronLab | undefined;
    let ovs: PrivateOvs | undefined;
    let agent: RunningAgent | undefined;
    let fixture: TrunkFixture | undefined;
    const steps: Array<{ step: string; snapshot: TrunkSnapshot }> = [];

    before(async () => {
      lab = await startLab();
      ovs = await PrivateOvs.start({ tcp: true });
      await ovs.addBridge(TRUNK_PHYSICAL_BRIDGE);
      const host = `trunkpar-${run}`;
      agent = await startTrunkAgent(run, lab, ovs, host);
      fixture = new TrunkFixture(lab, ovs, host);
      await runTrunkScenario({
        lab,
        ovs,
        host,
        ...(run === 'reference' ? {} : { settle: SETTLE_OURS }),
        assertAgentRunning: () => agent?.assertRunning(),
        restartAgent: async () => {
          agent = await restartTrunkAgent(run, agent!, lab!, ovs!, host);
        },
        capture: async (step, snapshot) => {
          steps.push({ step, snapshot });
        },
      }, fixture);
    }, { timeout: 900_000 });

    after(() => endTrunkHost({ fixture, agent, ovs, lab }), { timeout: 120_000 });

    it('every step leaves the reference\'s bridges, OVSDB rows, flows (br-int and the trunk bridge) and server state', () => {
      const want = readdirSync(FIXTURES).filter((f) => /^\d\d-.+\.json$/.test(f)).map((f) => f.replace(/\.json$/, '')).sort();
      assert.deepEqual(steps.map((s) => s.step), want, 'the scenario ran the captured steps');
      const failures: string[] = [];
      for (const { step, snapshot } of steps) {
        try {
          const ref = referenceStep(step);
          assert.deepEqual(snapshot, run === 'reference' ? ref : expectedOfOurs(step, ref));
        } catch (e) {
          failures.push(`${step}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      assert.deepEqual(failures, [], failures.join('\n\n').slice(0, 20000));
    });

    // The reference logs ERRORs of its own when a trunk bridge goes (it reads the bridge it was told is gone).
    it('no error logged by the agent', { skip: run === 'reference' ? 'the reference logs errors when a trunk bridge is deleted' : false }, () => {
      const log = agent?.log(10_000_000) ?? '';
      assert.doesNotMatch(log, /\bERROR\b/, log.split('\n').filter((l) => /\bERROR\b/.test(l)).slice(0, 5).join('\n'));
    });
  });
}
