// What the DHCPv4 and DHCPv6 parity tests (agent.test.ts, agent6.test.ts) share: the reference's
// fixture read, our agent started on a private OVS with the borrowed lab and a metrics endpoint,
// the scenario run with it, and the checks that do not depend on the family (no DHCP agent, the
// metrics counted the two replies, no error logged), with the teardown.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NeutronLab } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import { checkoutFile } from '../../../lab/checkout.js';
import { RunningAgent, until } from '../../../bench/agents.js';
import { tearDownTestHost } from '../../helpers/teardown.js';
import type { DhcpScenarioContext } from './scenario.js';

/** The reference's run of a scenario, test/fixtures/reference/dhcp/`file`, written by `capture` (the command). */
export function dhcpFixture<R>(file: string, capture: string): R {
  const path = join(checkoutFile(join('test', 'fixtures', 'reference', 'dhcp')), file);
  if (!existsSync(path)) throw new Error(`no reference fixture ${path} (${capture} writes it)`);
  return JSON.parse(readFileSync(path, 'utf8')) as R;
}

export interface DhcpParityOptions<R> {
  /** Names the test in teardown failures. */
  what: string;
  host: string;
  /** Our agent's configuration beyond the lab's (the metrics endpoint is added). */
  agentIni(ovs: PrivateOvs): string;
  runScenario(ctx: DhcpScenarioContext): Promise<R>;
  /** The extension's event names for the two replies, counted by the metrics endpoint. */
  replyEvents: readonly [string, string];
}

/** What a parity run left for the family's own checks; `result` once the scenario has run. */
export interface DhcpParityRun<R> {
  result: R | undefined;
}

/**
 * Registers, in the calling describe(), the run (before), the teardown (after) and the checks the
 * families share; returns the run for the family's own checks.
 */
export function dhcpParity<R>(o: DhcpParityOptions<R>): DhcpParityRun<R> {
  const run: DhcpParityRun<R> = { result: undefined };
  let lab: NeutronLab | undefined;
  let ovs: PrivateOvs | undefined;
  let agent: RunningAgent | undefined;
  let metrics = '';
  let dhcpAgents = -1;

  before(async () => {
    lab = await startLab();
    ovs = await PrivateOvs.start({ tcp: true });
    await ovs.addBridge('br-phys');
    const metricsPort = await freePort();
    const a = (agent = await RunningAgent.start('ours', {
      host: o.host, transportUrl: lab.transportUrl, ovs, extraIni: `${o.agentIni(ovs)}[agent]\nmetrics_bind = 127.0.0.1:${metricsPort}\n`,
    }));
    await until('bridges set up', a, 60000, async () => /bridges set up/.test(a.log(1_000_000)), 100);
    dhcpAgents = (await lab.api<{ agents: unknown[] }>('GET', '/v2.0/agents?agent_type=DHCP%20agent')).agents.length;
    run.result = await o.runScenario({ lab, ovs, host: o.host, assertAgentRunning: () => a.assertRunning() });
    metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  }, { timeout: 600_000 });

  after(() => tearDownTestHost(o.what, { agent, ovs, lab }), { timeout: 120_000 });

  it('no DHCP agent runs: the address can only come from the OVS agent', () => assert.equal(dhcpAgents, 0));

  it('the metrics endpoint counts the replies', () => {
    const count = (event: string): number => Number(new RegExp(`^ovs_agent_extension_events_total\\{extension="dhcp",event="${event}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? NaN);
    assert.ok(o.replyEvents.every((e) => count(e) >= 1), metrics.split('\n').filter((x) => x.includes('extension_events')).join('\n'));
  });

  it('no error logged by our agent', () => {
    const log = agent?.log(1_000_000) ?? '';
    assert.doesNotMatch(log, /\bERROR\b/, log.split('\n').filter((x) => /\bERROR\b/.test(x)).slice(0, 5).join('\n'));
  });

  return run;
}
