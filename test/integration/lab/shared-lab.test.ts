// One neutron lab shared by the test files of a run (lab/host.ts, test/run.ts): a file that borrows
// it finds none of what earlier files made (a flat network on physnet1, say, can then be made
// again), cannot stop or restart its daemons, and letting go of it leaves it running for the next.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LAB_PROJECT, labSkipReason, type NeutronLab } from '../../../lab/neutron.js';
import { SHARED_LAB_ENV, startLab } from '../../../lab/host.js';
import { createSecurityGroup } from '../../../lab/security-groups.js';

const skip = labSkipReason();

describe('a neutron lab shared between test files', { skip, timeout: 300_000 }, () => {
  // The run's shared lab under `npm test`, else one of this file's own; offered below as the shared one.
  let lab: NeutronLab | undefined;
  const offered = process.env[SHARED_LAB_ENV];
  before(async () => {
    lab = await startLab();
    process.env[SHARED_LAB_ENV] = lab.dir;
  }, { timeout: 240_000 });
  after(async () => {
    if (offered === undefined) delete process.env[SHARED_LAB_ENV];
    else process.env[SHARED_LAB_ENV] = offered;
    await lab?.stop();
  }, { timeout: 60_000 });

  it('is borrowed empty of the ports, networks, groups, address groups and QoS policies an earlier file made', async () => {
    const l = lab!;
    const flat = await l.createNetwork({ name: 'earlier-flat', provider: { network_type: 'flat', physical_network: 'physnet1' } });
    await l.createSubnet(flat.id, '203.0.113.0/24');
    const { sg } = await createSecurityGroup(l, 'earlier-group', [{ direction: 'ingress', protocol: 'icmp' }]);
    await l.createPort(flat.id, { name: 'earlier-port', host: 'earlier-host' });
    await l.api('POST', '/v2.0/address-groups', { address_group: { name: 'earlier-ag', addresses: ['198.51.100.0/28'], tenant_id: LAB_PROJECT } });
    const policy = await l.createQosPolicy('earlier-policy');
    await l.createQosRule(policy.id, 'bandwidth_limit', { direction: 'egress', max_kbps: 1000 });
    await l.setNetworkQosPolicy(flat.id, policy.id);

    const borrowed = await startLab();
    assert.equal(borrowed.apiUrl, l.apiUrl, 'the same lab, not a new one');
    assert.deepEqual(await borrowed.listPorts(), []);
    assert.deepEqual(await borrowed.listNetworks(), []);
    assert.deepEqual(await borrowed.listSubnets(), []);
    const groups = await borrowed.api<{ security_groups: Array<{ id: string }> }>('GET', '/v2.0/security-groups');
    assert.ok(!groups.security_groups.some((g) => g.id === sg.id), 'the earlier group is gone');
    assert.deepEqual((await borrowed.api<{ address_groups: unknown[] }>('GET', '/v2.0/address-groups')).address_groups, []);
    assert.deepEqual(await borrowed.listQosPolicies(), [], 'QoS policies, even one a network used');
    // physnet1 takes one flat network: the earlier one is really gone.
    const again = await borrowed.createNetwork({ name: 'flat-again', provider: { network_type: 'flat', physical_network: 'physnet1' } });
    assert.equal(again['provider:physical_network'], 'physnet1');
    await borrowed.stop();
  });

  it('refuses to stop or restart its daemons, and keeps running when let go', async () => {
    const borrowed = await startLab();
    await assert.rejects(borrowed.stopRabbit(), /shared with other test files; a file that stops or restarts RabbitMQ or neutron-server must own its lab/);
    await assert.rejects(borrowed.restartServer(), /must own its lab/);
    await borrowed.stop();
    assert.deepEqual(await lab!.listNetworks(), [], 'the API still answers after a borrower let go');
  });
});
