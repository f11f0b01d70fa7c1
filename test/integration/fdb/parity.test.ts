// fdb parity: our agent with `[agent] extensions = fdb` runs the scenario the reference ran when
// test/fixtures/reference/fdb/ was captured (scenario.ts: a VM, a DHCP port and an unowned port on
// physnet1, a VM on a VXLAN network, an owner change, deletions, an agent restart); after every step
// the shared NIC's FDB (`bridge fdb show dev fdbnic0`) must be the reference's, line for line.
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
import type { SettleTimes } from '../firewall/scenarios.js';
import { addSharedNic, fdbIni, runFdbScenario } from './scenario.js';

const FIXTURES = checkoutFile(join('test', 'fixtures', 'reference', 'fdb'));
const SETTLE_OURS: SettleTimes = { changeMs: 6000, quietMs: 1500, maxMs: 30000, pollMs: 100 };

function fixture(step: string): string[] {
  const path = join(FIXTURES, `${step}.txt`);
  if (!existsSync(path)) throw new Error(`no reference fixture ${path} (scripts/capture-fdb-reference.sh writes it)`);
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
}

describe('fdb parity with the reference: the shared NIC\'s FDB after every step', { skip: labSkipReason(), timeout: 600_000 }, () => {
  let lab: NeutronLab | undefined;
  let ovs: PrivateOvs | undefined;
  let agent: RunningAgent | undefined;
  let removeNic: (() => Promise<void>) | undefined;
  const steps: Array<{ step: string; fdb: string[] }> = [];

  before(async () => {
    lab = await startLab();
    ovs = await PrivateOvs.start({ tcp: true });
    await ovs.addBridge('br-phys');
    removeNic = await addSharedNic();
    const cfg: AgentConfig = { host: 'fdbpar', transportUrl: lab.transportUrl, ovs, extraIni: fdbIni() };
    const startOurs = async (dir?: string): Promise<RunningAgent> => {
      const a = await RunningAgent.start('ours', cfg, dir);
      await until('extension fdb loaded', a, 60000, async () => /extension fdb loaded/.test(a.log(1_000_000)), 100);
      return a;
    };
    agent = await startOurs();
    await runFdbScenario({
      lab, ovs, host: 'fdbpar', settle: SETTLE_OURS,
      assertAgentRunning: () => agent?.assertRunning(),
      restartAgent: async () => {
        const old = agent!;
        await old.stop(10000);
        agent = await startOurs(old.dir);
        await until('first full sync', agent, 60000, async () => /first full sync done/.test(agent!.log(1_000_000)), 100);
      },
      capture: async (step, fdb) => void steps.push({ step, fdb }),
    });
  }, { timeout: 600_000 });

  after(() => tearDownTestHost('fdb parity', { agent, ovs, lab, also: removeNic ? [['removing the shared NIC', removeNic]] : [] }), { timeout: 120_000 });

  it('every step leaves the reference\'s FDB entries on the shared NIC', () => {
    assert.equal(steps.length, 6, `the scenario ran ${steps.length} steps`);
    const failures = steps.flatMap(({ step, fdb }) => {
      try {
        assert.deepEqual(fdb, fixture(step));
        return [];
      } catch (e) {
        return [`${step}: ${e instanceof Error ? e.message : String(e)}`];
      }
    });
    assert.deepEqual(failures, [], failures.join('\n\n'));
  });

  it('the entries are the VM and DHCP ports\' MACs on physnet1, and go with their ports', () => {
    const macs = (step: string) => fixture(step).filter((l) => l.startsWith('fa:16:3e')).map((l) => l.split(' ')[0]);
    assert.deepEqual(macs('01-started'), ['fa:16:3e:fd:00:0a', 'fa:16:3e:fd:00:0b']);
    assert.deepEqual(macs('06-c-deleted'), []);
  });

  it('no error logged by our agent', () => {
    const log = agent?.log(1_000_000) ?? '';
    assert.doesNotMatch(log, /\bERROR\b/, log.split('\n').filter((l) => /\bERROR\b/.test(l)).slice(0, 5).join('\n'));
  });
});
