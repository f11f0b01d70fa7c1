// The dhcp extension's DHCPv6 against the reference: our agent with `[agent] extensions = dhcp` and
// `[dhcp] enable_ipv6` at its default (True) runs the scenario the reference ran when
// test/fixtures/reference/dhcp/lab-v6.json was captured (scripts/capture-dhcp-reference.sh --v6),
// with no DHCP agent anywhere: VM A, plugged with no address, gets its IPv6 fixed IP by DHCPv6 from
// the agent (SOLICIT → ADVERTISE, REQUEST → REPLY) and pings VM B's IPv6 address with it; br-int's
// DHCP flows (tables 60, 77 and 78) with A wired and after A's port is deleted equal the
// reference's, and so do the ADVERTISE and the REPLY, byte for byte but for the time in the server
// DUID-LLT (the reference stamps each reply with the time it is built) and the UDP checksum over
// it; the metrics endpoint counts the replies.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type NeutronLab, labSkipReason } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import { tearDownTestHost } from '../../helpers/teardown.js';
import { checkoutFile } from '../../../lab/checkout.js';
import { RunningAgent, until } from '../../../bench/agents.js';
import { dhcp6AgentIni, PORTS6, runDhcp6Scenario, type Dhcp6ScenarioResult } from './scenario6.js';
import { lease6, withoutDuidTime } from './replies.js';

function fixture(): Dhcp6ScenarioResult {
  const path = join(checkoutFile(join('test', 'fixtures', 'reference', 'dhcp')), 'lab-v6.json');
  if (!existsSync(path)) throw new Error(`no reference fixture ${path} (scripts/capture-dhcp-reference.sh --v6 writes it)`);
  return JSON.parse(readFileSync(path, 'utf8')) as Dhcp6ScenarioResult;
}

describe('dhcp extension: a VM gets its IPv6 address by DHCPv6 from the agent, as from the reference', { skip: labSkipReason(), timeout: 600_000 }, () => {
  let lab: NeutronLab | undefined;
  let ovs: PrivateOvs | undefined;
  let agent: RunningAgent | undefined;
  let result: Dhcp6ScenarioResult | undefined;
  let metrics = '';
  let dhcpAgents = -1;

  before(async () => {
    lab = await startLab();
    ovs = await PrivateOvs.start({ tcp: true });
    await ovs.addBridge('br-phys');
    const metricsPort = await freePort();
    const host = 'dhcp6-native';
    const a = (agent = await RunningAgent.start('ours', {
      host, transportUrl: lab.transportUrl, ovs, extraIni: `${dhcp6AgentIni(ovs)}[agent]\nmetrics_bind = 127.0.0.1:${metricsPort}\n`,
    }));
    await until('bridges set up', a, 60000, async () => /bridges set up/.test(a.log(1_000_000)), 100);
    dhcpAgents = (await lab.api<{ agents: unknown[] }>('GET', '/v2.0/agents?agent_type=DHCP%20agent')).agents.length;
    result = await runDhcp6Scenario({ lab, ovs, host, assertAgentRunning: () => a.assertRunning() });
    metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  }, { timeout: 600_000 });

  after(() => tearDownTestHost('dhcp6 parity', { agent, ovs, lab }), { timeout: 120_000 });

  it('no DHCP agent runs: the address can only come from the OVS agent', () => assert.equal(dhcpAgents, 0));

  it('VM A got its IPv6 fixed IP by DHCPv6 and reached VM B with it', () => {
    const l = lease6(result!.replies.reply);
    assert.equal(l.address, PORTS6.A.ip6);
    assert.deepEqual(l.dns, ['2001:db8::53']);
    assert.equal(l.fqdn, 'host-2001-db8-64--40.openstacklocal');
    assert.ok(result!.pings >= 2, `${result!.pings} echo replies`);
  });

  it('the ADVERTISE and the REPLY equal the reference\'s byte for byte but for the server DUID\'s time', () => {
    const want = fixture().replies;
    assert.equal(withoutDuidTime(result!.replies.advertise), withoutDuidTime(want.advertise));
    assert.equal(withoutDuidTime(result!.replies.reply), withoutDuidTime(want.reply));
  });

  it('br-int\'s DHCP flows (tables 60, 77, 78) equal the reference\'s, with A wired and after A is deleted', () => {
    const want = fixture();
    assert.deepEqual(result!.flowsWired, want.flowsWired);
    assert.deepEqual(result!.flowsDeleted, want.flowsDeleted);
  });

  it('the metrics endpoint counts the replies', () => {
    const count = (event: string): number => Number(new RegExp(`^ovs_agent_extension_events_total\\{extension="dhcp",event="${event}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? NaN);
    assert.ok(count('advertise') >= 1 && count('reply') >= 1, metrics.split('\n').filter((x) => x.includes('extension_events')).join('\n'));
  });

  it('no error logged by our agent', () => {
    const log = agent?.log(1_000_000) ?? '';
    assert.doesNotMatch(log, /\bERROR\b/, log.split('\n').filter((x) => /\bERROR\b/.test(x)).slice(0, 5).join('\n'));
  });
});
