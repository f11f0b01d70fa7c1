// The dhcp extension against the reference: our agent with `[agent] extensions = dhcp` runs the
// scenario the reference ran when test/fixtures/reference/dhcp/lab.json was captured (scripts/
// capture-dhcp-reference.sh), with no DHCP agent anywhere: VM A, plugged with no address, gets its
// fixed IP by DHCP from the agent and pings VM B with it; br-int's DHCP flows (tables 60 and 77)
// with A wired and after A's port is deleted, and the OFFER and ACK A received, equal the
// reference's byte for byte (the reference sends each reply twice, its two os-ken apps sharing one
// class-level list of packet-in handlers; ours once); the metrics endpoint counts the replies.
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
import { dhcpAgentIni, PORTS, runDhcpScenario, type DhcpScenarioResult } from './scenario.js';
import { lease } from './replies.js';

function fixture(): DhcpScenarioResult {
  const path = join(checkoutFile(join('test', 'fixtures', 'reference', 'dhcp')), 'lab.json');
  if (!existsSync(path)) throw new Error(`no reference fixture ${path} (scripts/capture-dhcp-reference.sh writes it)`);
  return JSON.parse(readFileSync(path, 'utf8')) as DhcpScenarioResult;
}

describe('dhcp extension: a VM gets its address from the agent, as from the reference', { skip: labSkipReason(), timeout: 600_000 }, () => {
  let lab: NeutronLab | undefined;
  let ovs: PrivateOvs | undefined;
  let agent: RunningAgent | undefined;
  let result: DhcpScenarioResult | undefined;
  let metrics = '';
  let dhcpAgents = -1;

  before(async () => {
    lab = await startLab();
    ovs = await PrivateOvs.start({ tcp: true });
    await ovs.addBridge('br-phys');
    const metricsPort = await freePort();
    const host = 'dhcp-native';
    const a = (agent = await RunningAgent.start('ours', {
      host, transportUrl: lab.transportUrl, ovs, extraIni: `${dhcpAgentIni(ovs)}[agent]\nmetrics_bind = 127.0.0.1:${metricsPort}\n`,
    }));
    await until('bridges set up', a, 60000, async () => /bridges set up/.test(a.log(1_000_000)), 100);
    const l = lab;
    dhcpAgents = (await l.api<{ agents: unknown[] }>('GET', '/v2.0/agents?agent_type=DHCP%20agent')).agents.length;
    result = await runDhcpScenario({ lab, ovs, host, assertAgentRunning: () => a.assertRunning() });
    metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  }, { timeout: 600_000 });

  after(() => tearDownTestHost('dhcp parity', { agent, ovs, lab }), { timeout: 120_000 });

  it('no DHCP agent runs: the address can only come from the OVS agent', () => assert.equal(dhcpAgents, 0));

  it('VM A got its fixed IP by DHCP and reached VM B with it', () => {
    const l = lease(result!.replies.ack);
    assert.equal(l.address, PORTS.A.ip);
    assert.equal(l.prefixLen, 24);
    assert.equal(l.hostName, 'host-198-51-100-30.openstacklocal');
    assert.ok(result!.pings >= 2, `${result!.pings} echo replies`);
  });

  it('the OFFER and the ACK equal the reference\'s byte for byte', () => {
    const want = fixture().replies;
    assert.equal(result!.replies.offer, want.offer);
    assert.equal(result!.replies.ack, want.ack);
  });

  it('br-int\'s DHCP flows equal the reference\'s, with A wired and after A is deleted', () => {
    const want = fixture();
    assert.deepEqual(result!.flowsWired, want.flowsWired);
    assert.deepEqual(result!.flowsDeleted, want.flowsDeleted);
  });

  it('the metrics endpoint counts the replies', () => {
    const count = (event: string): number => Number(new RegExp(`^ovs_agent_extension_events_total\\{extension="dhcp",event="${event}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? NaN);
    assert.ok(count('offer') >= 1 && count('ack') >= 1, metrics.split('\n').filter((x) => x.includes('extension_events')).join('\n'));
  });

  it('no error logged by our agent', () => {
    const log = agent?.log(1_000_000) ?? '';
    assert.doesNotMatch(log, /\bERROR\b/, log.split('\n').filter((x) => /\bERROR\b/.test(x)).slice(0, 5).join('\n'));
  });
});
