// local_ip parity: our agent with `[agent] extensions = local_ip` runs the scenario the reference ran
// when test/fixtures/reference/local_ip/ was captured (scenario.ts: VMs A and B on a VLAN network,
// a Local IP associated with A, an agent restart, the association deleted, one to B), for both
// `[local_ip] static_nat` values and both `[ovs] of_interface` values; after every step br-int's
// flows must be the reference's, line for line, but where README.md names a deliberate difference.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type NeutronLab, labSkipReason } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import { cleanupAllVms } from '../../../lab/vm.js';
import { checkoutFile } from '../../../lab/checkout.js';
import { tearDownTestHost } from '../../helpers/teardown.js';
import { RunningAgent, until, type AgentConfig } from '../../../bench/agents.js';
import type { SettleTimes } from '../firewall/scenarios.js';
import { LOCAL_IP_ADDRESS, LOCAL_IP_MODES, clearLocalIpScenario, localIpIni, runLocalIpScenario, type LocalIpMode } from './scenario.js';

const FIXTURES = checkoutFile(join('test', 'fixtures', 'reference', 'local_ip'));
const SETTLE_OURS: SettleTimes = { changeMs: 6000, quietMs: 1500, maxMs: 30000, pollMs: 100 };

/**
 * Deliberate differences (README.md, "The other L2 extensions"): after a restart the reference has
 * lost every association's flows (its handle_port drops the associations it pulled while the port
 * has no local VLAN yet, and its stale-cookie clean-up then removes the previous run's flows), so
 * Local IPs stop working until they are associated again. Ours keeps them: after the restart its
 * flows are the reference's before it (step 02).
 */
const DIFFERENCES: Record<string, { expect: string; why: string }> = {
  '03-restarted': { expect: '02-a-associated', why: 'the reference loses the association flows on restart (a reference bug); ours keeps them' },
};

function fixture(mode: LocalIpMode, step: string): string[] {
  const path = join(FIXTURES, mode, `${step}.flows`);
  if (!existsSync(path)) throw new Error(`no reference fixture ${path} (scripts/capture-local-ip-reference.sh writes it)`);
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
}

const hasAssociation = (flows: string[]): boolean => flows.some((l) => l.includes(`arp_tpa=${LOCAL_IP_ADDRESS}`));

describe('local_ip parity with the reference: br-int\'s flows after every step', { skip: labSkipReason(), timeout: 1_800_000 }, () => {
  let lab: NeutronLab | undefined;
  before(async () => {
    lab = await startLab({ localIp: true });
  }, { timeout: 240_000 });
  after(() => tearDownTestHost('local_ip parity', { lab }), { timeout: 120_000 });

  for (const ofInterface of ['native', 'ovs-ofctl'] as const) describe(`of_interface = ${ofInterface}`, () => {
    const runs = new Map<LocalIpMode, Array<{ step: string; flows: string[] }>>();
    const logs = new Map<LocalIpMode, string>();

    async function runMode(l: NeutronLab, mode: LocalIpMode): Promise<void> {
      const host = `lippar-${ofInterface === 'native' ? 'nat' : 'ofc'}-${mode}`;
      const ovs = await PrivateOvs.start({ tcp: true });
      let agent: RunningAgent | undefined;
      const steps: Array<{ step: string; flows: string[] }> = [];
      runs.set(mode, steps);
      try {
        await ovs.addBridge('br-phys');
        const cfg: AgentConfig = { host, transportUrl: l.transportUrl, ovs, ofInterface, extraIni: localIpIni(mode) };
        const startOurs = async (dir?: string): Promise<RunningAgent> => {
          const a = await RunningAgent.start('ours', cfg, dir);
          const from = dir ? a.log(10_000_000).length : 0;
          await until('first full sync', a, 60000, async () => /first full sync done/.test(a.log(10_000_000).slice(from)), 100);
          return a;
        };
        agent = await startOurs();
        await runLocalIpScenario({
          lab: l, ovs, host, mode, settle: SETTLE_OURS,
          assertAgentRunning: () => agent?.assertRunning(),
          restartAgent: async () => {
            const old = agent!;
            await old.stop(10000);
            agent = await startOurs(old.dir);
          },
          capture: async (step, flows) => void steps.push({ step, flows }),
        });
      } finally {
        await cleanupAllVms().catch((e: unknown) => process.stderr.write(`VM cleanup: ${String(e)}\n`));
        if (agent) {
          await agent.stop(5000);
          logs.set(mode, agent.log(10_000_000));
          agent.cleanup();
        }
        await ovs.stop();
        await clearLocalIpScenario(l);
      }
    }

    before(async () => {
      for (const mode of LOCAL_IP_MODES) await runMode(lab!, mode);
    }, { timeout: 900_000 });

    for (const mode of LOCAL_IP_MODES) {
      it(`static_nat = ${mode === 'static-nat'}: every step leaves the reference's flows on br-int (step 03: the reference's step 02, a deliberate difference)`, () => {
        const steps = runs.get(mode) ?? [];
        assert.deepEqual(steps.map((s) => s.step), ['01-started', '02-a-associated', '03-restarted', '04-a-dissociated', '05-b-associated']);
        const failures = steps.flatMap(({ step, flows }) => {
          const diff = DIFFERENCES[step];
          try {
            assert.deepEqual(flows, fixture(mode, diff?.expect ?? step));
            return [];
          } catch (e) {
            return [`${step}${diff ? ` (expected as ${diff.expect}: ${diff.why})` : ''}: ${e instanceof Error ? e.message : String(e)}`];
          }
        });
        assert.deepEqual(failures, [], failures.join('\n\n'));
      });

      it(`static_nat = ${mode === 'static-nat'}: the restart difference is the one named: the reference lost the association, ours kept it`, () => {
        assert.ok(hasAssociation(fixture(mode, '02-a-associated')), 'the reference had the association flows before its restart');
        assert.ok(!hasAssociation(fixture(mode, '03-restarted')), 'the reference has none after its restart (if it now has them, the difference is gone: remove it)');
        const ours = runs.get(mode)?.find((s) => s.step === '03-restarted')?.flows ?? [];
        assert.ok(hasAssociation(ours), 'ours still has them after the restart');
      });

      it(`static_nat = ${mode === 'static-nat'}: no error logged by our agent`, () => {
        const log = logs.get(mode) ?? '';
        assert.notEqual(log, '', 'the agent wrote a log');
        assert.doesNotMatch(log, /\bERROR\b/, log.split('\n').filter((l) => /\bERROR\b/.test(l)).slice(0, 5).join('\n'));
      });
    }
  });
});
