// The dhcp extension's DHCPv6 against the reference: our agent with `[agent] extensions = dhcp` and
// `[dhcp] enable_ipv6` at its default (True) runs the scenario the reference ran when
// test/fixtures/reference/dhcp/lab-v6.json was captured (scripts/capture-dhcp-reference.sh --v6),
// with no DHCP agent anywhere: VM A, plugged with no address, gets its IPv6 fixed IP by DHCPv6 from
// the agent (SOLICIT → ADVERTISE, REQUEST → REPLY) and pings VM B's IPv6 address with it; br-int's
// DHCP flows (tables 60, 77 and 78) with A wired and after A's port is deleted equal the
// reference's, and so do the ADVERTISE and the REPLY, byte for byte but for the time in the server
// DUID-LLT (the reference stamps each reply with the time it is built) and the UDP checksum over
// it; the metrics endpoint counts the replies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { labSkipReason } from '../../../lab/neutron.js';
import { dhcp6AgentIni, PORTS6, runDhcp6Scenario, type Dhcp6ScenarioResult } from './scenario6.js';
import { lease6, withoutDuidTime } from './replies.js';
import { dhcpFixture, dhcpParity } from './parity.js';

const fixture = (): Dhcp6ScenarioResult => dhcpFixture('lab-v6.json', 'scripts/capture-dhcp-reference.sh --v6');

describe('dhcp extension: a VM gets its IPv6 address by DHCPv6 from the agent, as from the reference', { skip: labSkipReason(), timeout: 600_000 }, () => {
  const run = dhcpParity({ what: 'dhcp6 parity', host: 'dhcp6-native', agentIni: dhcp6AgentIni, runScenario: runDhcp6Scenario, replyEvents: ['advertise', 'reply'] });

  it('VM A got its IPv6 fixed IP by DHCPv6 and reached VM B with it', () => {
    const l = lease6(run.result!.replies.reply);
    assert.equal(l.address, PORTS6.A.ip6);
    assert.deepEqual(l.dns, ['2001:db8::53']);
    assert.equal(l.fqdn, 'host-2001-db8-64--40.openstacklocal');
    assert.ok(run.result!.pings >= 2, `${run.result!.pings} echo replies`);
  });

  it('the ADVERTISE and the REPLY equal the reference\'s byte for byte but for the server DUID\'s time', () => {
    const want = fixture().replies;
    assert.equal(withoutDuidTime(run.result!.replies.advertise), withoutDuidTime(want.advertise));
    assert.equal(withoutDuidTime(run.result!.replies.reply), withoutDuidTime(want.reply));
  });

  it('br-int\'s DHCP flows (tables 60, 77, 78) equal the reference\'s, with A wired and after A is deleted', () => {
    const want = fixture();
    assert.deepEqual(run.result!.flowsWired, want.flowsWired);
    assert.deepEqual(run.result!.flowsDeleted, want.flowsDeleted);
  });
});
