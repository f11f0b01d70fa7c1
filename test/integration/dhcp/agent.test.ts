// The dhcp extension against the reference: our agent with `[agent] extensions = dhcp` runs the
// scenario the reference ran when test/fixtures/reference/dhcp/lab.json was captured (scripts/
// capture-dhcp-reference.sh), with no DHCP agent anywhere: VM A, plugged with no address, gets its
// fixed IP by DHCP from the agent and pings VM B with it; br-int's DHCP flows (tables 60 and 77)
// with A wired and after A's port is deleted, and the OFFER and ACK A received, equal the
// reference's byte for byte (the reference sends each reply twice, its two os-ken apps sharing one
// class-level list of packet-in handlers; ours once); the metrics endpoint counts the replies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { labSkipReason } from '../../../lab/neutron.js';
import { dhcpAgentIni, PORTS, runDhcpScenario, type DhcpScenarioResult } from './scenario.js';
import { lease } from './replies.js';
import { dhcpFixture, dhcpParity } from './parity.js';

const fixture = (): DhcpScenarioResult => dhcpFixture('lab.json', 'scripts/capture-dhcp-reference.sh');

describe('dhcp extension: a VM gets its address from the agent, as from the reference', { skip: labSkipReason(), timeout: 600_000 }, () => {
  const run = dhcpParity({ what: 'dhcp parity', host: 'dhcp-native', agentIni: dhcpAgentIni, runScenario: runDhcpScenario, replyEvents: ['offer', 'ack'] });

  it('VM A got its fixed IP by DHCP and reached VM B with it', () => {
    const result = run.result!;
    const l = lease(result.replies.ack);
    assert.equal(l.address, PORTS.A.ip);
    assert.equal(l.prefixLen, 24);
    assert.equal(l.hostName, 'host-198-51-100-30.openstacklocal');
    assert.ok(result.pings >= 2, `${result.pings} echo replies`);
  });

  it('the OFFER and the ACK equal the reference\'s byte for byte', () => {
    const want = fixture().replies;
    assert.equal(run.result!.replies.offer, want.offer);
    assert.equal(run.result!.replies.ack, want.ack);
  });

  it('br-int\'s DHCP flows equal the reference\'s, with A wired and after A is deleted', () => {
    const want = fixture();
    assert.deepEqual(run.result!.flowsWired, want.flowsWired);
    assert.deepEqual(run.result!.flowsDeleted, want.flowsDeleted);
  });
});
