// QoS parity: our agent with `[agent] extensions = qos` runs the scenario the reference ran when
// test/fixtures/reference/qos/ was captured (scenario.ts: bandwidth limits both ways, DSCP, packet
// rates, a network policy, minimum bandwidth on a provider bridge port, rule deletions, detaching,
// a port deleted, an agent restart), with each OpenFlow backend. After every step br-int's and
// br-phys's flows, br-int's meters, the QoS and Queue rows and the ports' QoS columns must equal the
// reference's, but for one documented difference: on this userspace datapath our agent also meters
// an egress bandwidth limit (a kbps meter and its table-0 flow), which the reference does not.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type NeutronLab, labSkipReason } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import { tearDownTestHost } from '../../helpers/teardown.js';
import { checkoutFile } from '../../../lab/checkout.js';
import { RunningAgent, until, type AgentConfig } from '../../../bench/agents.js';
import { addPhysicalBridge, runQosScenario } from './scenario.js';
import { comparableSnapshot, type QosSnapshot } from './snapshot.js';
import type { SettleTimes } from '../firewall/scenarios.js';

const FIXTURES = checkoutFile(join('test', 'fixtures', 'reference', 'qos'));
/** Our agent applies a policy change within one push: far shorter waits than the reference's polling. */
const SETTLE_OURS: SettleTimes = { changeMs: 8000, quietMs: 1500, maxMs: 30000, pollMs: 100 };

/**
 * Our deliberate difference on the userspace datapath: an egress limit is also a kbps meter on
 * what the port sends (table 0, priority 65534). Taken out of our snapshot, with the kbps meters,
 * so that everything else must be the reference's.
 */
function withoutEgressMeters(s: QosSnapshot): { snapshot: QosSnapshot; metered: number } {
  const ours = (f: string) => /priority=65534\b/.test(f) && /meter:/.test(f);
  const metered = (s.flows['br-int'] ?? []).filter(ours).length;
  return {
    metered,
    snapshot: {
      ...s,
      flows: Object.fromEntries(Object.entries(s.flows).map(([b, fl]) => [b, fl.filter((f) => !ours(f))])),
      meters: s.meters.filter((m) => !/\bkbps\b/.test(m)),
      // A kbps meter is ours and no other_config names it: the snapshot calls it $unnamedN.
      ports: s.ports,
    },
  };
}

function fixture(step: string): QosSnapshot {
  const path = join(FIXTURES, `${step}.json`);
  if (!existsSync(path)) throw new Error(`no reference fixture ${path} (scripts/capture-qos-reference.sh writes it)`);
  return JSON.parse(readFileSync(path, 'utf8')) as QosSnapshot;
}

const egressLimitedPorts = (s: QosSnapshot): number => Object.values(s.ports).filter((p) => p.ingress_policing_rate > 0).length;

for (const ofInterface of ['native', 'ovs-ofctl'] as const) {
  describe(`QoS parity with the reference, of_interface = ${ofInterface}`, { skip: labSkipReason(), timeout: 900_000 }, () => {
    let lab: NeutronLab | undefined;
    let ovs: PrivateOvs | undefined;
    let agent: RunningAgent | undefined;
    let removeVeth: (() => Promise<void>) | undefined;
    const steps: Array<{ step: string; snapshot: QosSnapshot }> = [];

    before(async () => {
      lab = await startLab();
      ovs = await PrivateOvs.start({ tcp: true });
      removeVeth = await addPhysicalBridge(ovs);
      const host = `qospar-${ofInterface}`;
      const cfg: AgentConfig = { host, transportUrl: lab.transportUrl, ovs, ofInterface, extraIni: '[securitygroup]\nfirewall_driver = openvswitch\n[agent]\nextensions = qos\n' };
      const privateOvs = ovs;
      const startOurs = async (dir?: string): Promise<RunningAgent> => {
        const a = await RunningAgent.start('ours', cfg, dir);
        await until('bridges set up', a, 60000, async () => /bridges set up/.test(a.log(1_000_000)), 100);
        await until('qos set_queue flow', a, 30000, async () => (await privateOvs.dumpFlows('br-int')).some((f) => f.includes('set_queue:0')), 100);
        return a;
      };
      agent = await startOurs();
      await runQosScenario({
        lab,
        ovs,
        host,
        settle: SETTLE_OURS,
        assertAgentRunning: () => agent?.assertRunning(),
        restartAgent: async () => {
          const old = agent!;
          await old.stop(10000);
          agent = await startOurs(old.dir);
          await until('first full sync', agent, 60000, async () => /first full sync done/.test(agent!.log(1_000_000)), 100);
        },
        capture: async (step, snapshot) => {
          steps.push({ step, snapshot });
        },
      });
    }, { timeout: 900_000 });

    after(() => tearDownTestHost(`qos parity (${ofInterface})`, { agent, ovs, lab, also: removeVeth ? [['removing the physical port\'s veth', removeVeth]] : [] }), { timeout: 120_000 });

    it('every step leaves the reference\'s flows, meters and OVSDB rows (our egress meters aside, one per egress-limited port)', () => {
      assert.ok(steps.length >= 19, `the scenario ran ${steps.length} steps`);
      const failures: string[] = [];
      for (const { step, snapshot } of steps) {
        const { snapshot: ours, metered } = withoutEgressMeters(snapshot);
        const want = comparableSnapshot(fixture(step));
        try {
          assert.deepEqual(comparableSnapshot(ours), want);
          assert.equal(metered, egressLimitedPorts(want), 'one egress meter flow per port with an egress limit');
        } catch (e) {
          failures.push(`${step}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      assert.deepEqual(failures, [], failures.join('\n\n').slice(0, 20000));
    });

    it('no error logged by our agent', () => {
      const log = agent?.log(1_000_000) ?? '';
      assert.doesNotMatch(log, /\bERROR\b/, log.split('\n').filter((l) => /\bERROR\b/.test(l)).slice(0, 5).join('\n'));
    });
  });
}
