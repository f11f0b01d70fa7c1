// OVS firewall parity (issue 10 item 3): our agent with `[securitygroup] firewall_driver =
// openvswitch` runs every scenario of scenarios.ts against the real lab neutron-server, as the
// reference did when test/fixtures/reference/firewall/ was captured (capture.ts): one lab for the
// file, per scenario a fresh private OVS (br-int, br-tun, br-phys for physnet1) and a fresh agent
// with its own host name. At each capture point the whole of br-int, firewall tables and the rest,
// must equal the reference's fixture (compare.ts: cookies and statistics aside, conjunction ids
// renumbered on both sides). A second pass runs a few scenarios with `of_interface = ovs-ofctl`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type NeutronLab, labSkipReason, waitFor } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import { AgentProcess } from '../../../lab/agent-process.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { cleanupAllVms } from '../../../lab/vm.js';
import { SCENARIOS, runScenario, type Scenario, type SettleTimes } from './scenarios.js';
import { diffFlows } from './compare.js';

const FIXTURES = 'test/fixtures/reference/firewall';

/**
 * Our agent wires a port and applies a group change in one pass of a few ms, and the server's
 * pushes (members of a group, address groups) arrive well within a second: far shorter waits than
 * the reference's 2 s polling loop needs. A step that changes nothing costs `changeMs`.
 */
const SETTLE_OURS: SettleTimes = { changeMs: 5000, quietMs: 1000, maxMs: 30000, pollMs: 100 };

/** Scenarios run a second time with the ovs-ofctl backend: conjunctions, members, deletions. */
const OFCTL_SCENARIOS = ['remote-group', 'rule-change', 'port-deleted'];

type OfInterface = 'native' | 'ovs-ofctl';

const skip = labSkipReason();

function fixture(file: string): string {
  const path = join(FIXTURES, file);
  if (!existsSync(path)) throw new Error(`no reference fixture ${path} (scripts/capture-firewall-reference.sh writes it)`);
  return readFileSync(path, 'utf8');
}

/**
 * Neutron resources a scenario made in an earlier pass: its ports and networks go (the vlan and
 * flat provider networks of a scenario can exist only once per physical network); its groups stay,
 * since a new pass makes its own.
 */
async function removeScenarioNetworks(lab: NeutronLab, scenario: Scenario): Promise<void> {
  for (const net of await lab.listNetworks()) {
    if (!net.name.startsWith(`${scenario.name}-`)) continue;
    for (const port of await lab.listPorts(`network_id=${net.id}`)) await lab.deletePort(port.id);
    await lab.deleteNetwork(net.id);
  }
}

describe('OVS firewall: our agent leaves the reference\'s br-int flows', { skip, timeout: 1_800_000 }, () => {
  let lab: NeutronLab | undefined;

  before(async () => {
    lab = await startLab();
    await lab.waitRpcConsumers();
  }, { timeout: 180_000 });

  after(async () => {
    await cleanupAllVms();
    await lab?.stop();
  }, { timeout: 60_000 });

  async function runWithOurAgent(scenario: Scenario, ofInterface: OfInterface, diagnostic: (m: string) => void): Promise<string[]> {
    const l = lab!;
    await removeScenarioNetworks(l, scenario);
    const ovs = await PrivateOvs.start();
    let agent: AgentProcess | undefined;
    const reports: string[] = [];
    try {
      await ovs.addBridge('br-phys');
      const host = `fwparity-${scenario.name}-${ofInterface}-${process.pid}`;
      const files = labAgentFiles({
        host,
        transportUrl: l.transportUrl,
        ovsdbConnection: ovs.unixConnection,
        bridgeMappings: 'physnet1:br-phys',
        ofListenPort: await freePort(),
        ofInterface,
        firewallDriver: 'openvswitch',
      });
      const a = new AgentProcess(files, ovs.env).start();
      agent = a;
      const t0 = Date.now();
      await a.waitForLog(/first full sync done/, 60_000);
      await waitFor(
        async () => (await l.listAgents()).some((r) => r.host === host && r.alive),
        60_000,
        `agent ${host} alive in the API`,
        100,
      );
      diagnostic(`${scenario.name} (${ofInterface}): agent ready in ${Date.now() - t0} ms`);
      const captured = new Set<string>();
      await runScenario(scenario, {
        lab: l,
        ovs,
        host,
        settle: SETTLE_OURS,
        log: (line) => diagnostic(`${line} (${ofInterface}) at ${Date.now() - t0} ms`),
        assertAgentRunning: () => {
          if (a.exitCode !== undefined) throw new Error(`our agent exited (${String(a.exitCode)}); its output:\n${a.output.slice(-4000)}`);
        },
        capture: async (step) => {
          const file = `${scenario.name}${step === undefined ? '' : `.${step}`}.flows`;
          if (captured.has(file)) throw new Error(`scenario ${scenario.name}: step ${String(step)} captured twice`);
          captured.add(file);
          const diff = diffFlows(fixture(file), await ovs.dumpFlows('br-int'), `${file} (${ofInterface})`);
          diagnostic(`${scenario.name} (${ofInterface}): ${file} ${diff.equal ? 'equal' : `${diff.missing.length} missing, ${diff.extra.length} extra`} at ${Date.now() - t0} ms`);
          if (!diff.equal) reports.push(diff.report);
        },
      });
      // Every fixture of the scenario was compared: a step renamed on one side cannot pass unseen
      // (scenario names hold no dot, so `<name>.` prefixes only this scenario's files).
      assert.ok(captured.size > 0, `scenario ${scenario.name} captured nothing`);
      const uncompared = readdirSync(FIXTURES).filter((f) => f.startsWith(`${scenario.name}.`) && f.endsWith('.flows') && !captured.has(f));
      return reports.concat(uncompared.map((f) => `${f}: fixture never compared (the scenario has no such capture step)`));
    } catch (e) {
      const tail = agent ? `\n--- our agent's output (tail) ---\n${agent.output.slice(-4000)}` : '';
      throw new Error(`scenario ${scenario.name} (${ofInterface}): ${e instanceof Error ? e.message : String(e)}${tail}`);
    } finally {
      await cleanupAllVms();
      if (agent) {
        await agent.stop().catch(() => agent?.stop('SIGKILL'));
        agent.cleanup();
      }
      await ovs.stop();
    }
  }

  const passes: [OfInterface, readonly Scenario[]][] = [
    ['native', SCENARIOS],
    ['ovs-ofctl', SCENARIOS.filter((s) => OFCTL_SCENARIOS.includes(s.name))],
  ];
  for (const [ofInterface, scenarios] of passes) {
    for (const scenario of scenarios) {
      it(`${scenario.name} (${ofInterface}): ${scenario.summary}`, { timeout: 240_000 }, async (t) => {
        const reports = await runWithOurAgent(scenario, ofInterface, (m) => t.diagnostic(m));
        assert.equal(reports.length, 0, `br-int differs from the reference's:\n${reports.join('\n\n')}`);
      });
    }
  }
});

