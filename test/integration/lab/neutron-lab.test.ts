// The real neutron-server lab: the API answers, resources made through it are listed, and the
// agents list is empty until an agent reports. One lab for the whole file: under `npm test` the
// shared one (lab/host.ts), emptied of what earlier files made, which these tests also check.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NeutronApiError, type NeutronLab, inDocumentationRange, labSkipReason } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { addSubports, bindTrunkParent, createTrunk, deleteTrunk, getTrunk, listTrunks, removeSubports, vlanSubport, type NeutronTrunk } from '../../../lab/trunks.js';

const skip = labSkipReason();

describe('neutron lab', { skip, timeout: 240_000 }, () => {
  let lab: NeutronLab | undefined;
  before(async () => {
    const t0 = Date.now();
    lab = await startLab();
    process.stderr.write(`neutron lab up in ${Date.now() - t0} ms\n${lab.startLog}`);
  });
  after(async () => {
    await lab?.stop();
  });

  it('lists no agents before any agent reports', async () => {
    assert.deepEqual(await lab!.listAgents(), []);
  });

  it('creates a vxlan tenant network, a subnet and a Nova-style port, and lists them', async () => {
    const net = await lab!.createNetwork({ name: 'lab-net' });
    assert.equal(net['provider:network_type'], 'vxlan');
    const seg = net['provider:segmentation_id'];
    assert.ok(seg !== null && seg >= 1 && seg <= 1000, `VNI ${String(seg)} outside 1:1000`);
    const subnet = await lab!.createSubnet(net.id, '198.51.100.0/24');
    const port = await lab!.createPort(net.id, { name: 'vm1', host: 'nohost-here' });
    assert.equal(port.fixed_ips[0]?.subnet_id, subnet.id);
    assert.match(port.fixed_ips[0]!.ip_address, /^198\.51\.100\.\d+$/);
    assert.match(port.mac_address, /^fa:16:3e(:[0-9a-f]{2}){3}$/);
    assert.equal(port.device_owner, 'compute:nova');
    // No alive OVS agent on that host: ML2 cannot bind the port.
    assert.equal(port['binding:vif_type'], 'binding_failed');
    assert.equal(port.status, 'DOWN');

    assert.ok((await lab!.listNetworks()).some((n) => n.id === net.id && n.subnets.includes(subnet.id)));
    assert.ok((await lab!.listPorts(`network_id=${net.id}`)).some((p) => p.id === port.id));
    assert.equal((await lab!.getPort(port.id)).name, 'vm1');
  });

  it('creates provider networks on the configured ranges and refuses others', async () => {
    const vlan = await lab!.createNetwork({
      name: 'lab-vlan',
      provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: 150 },
    });
    assert.equal(vlan['provider:segmentation_id'], 150);
    const flat = await lab!.createNetwork({ name: 'lab-flat', provider: { network_type: 'flat', physical_network: 'physnet2' } });
    assert.equal(flat['provider:network_type'], 'flat');
    await assert.rejects(
      lab!.createNetwork({ name: 'bad', provider: { network_type: 'vlan', physical_network: 'physnet9', segmentation_id: 150 } }),
      (e: unknown) => e instanceof NeutronApiError && e.status === 400,
    );
  });

  it('runs QoS: policies with every rule type, updated and deleted, on ports and networks', async () => {
    const l = lab!;
    assert.equal(l.qos, true, 'QoS is the lab default');
    const net = await l.createNetwork({ name: 'qos-vlan', provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: 151 } });
    await l.createSubnet(net.id, '203.0.113.0/24');
    const port = await l.createPort(net.id, { name: 'qos-vm', deviceOwner: '' });
    const policy = await l.createQosPolicy('qos-all');
    const bw = await l.createQosRule(policy.id, 'bandwidth_limit', { direction: 'ingress', max_kbps: 5000 });
    assert.equal(bw.max_burst_kbps, 0, "neutron's default burst");
    assert.equal(bw.direction, 'ingress');
    const dscp = await l.createQosRule(policy.id, 'dscp_marking', { dscp_mark: 26 });
    await l.createQosRule(policy.id, 'minimum_bandwidth', { direction: 'egress', min_kbps: 1000 });
    const pps = await l.createQosRule(policy.id, 'packet_rate_limit', { direction: 'egress', max_kpps: 1, max_burst_kpps: 1 });
    await l.createQosRule(policy.id, 'minimum_packet_rate', { direction: 'any', min_kpps: 1 });
    assert.equal((await l.updateQosRule(policy.id, 'bandwidth_limit', bw.id, { max_kbps: 7000 })).max_kbps, 7000);
    assert.equal((await l.updateQosRule(policy.id, 'packet_rate_limit', pps.id, { max_kpps: 3 })).max_kpps, 3);
    await l.deleteQosRule(policy.id, 'dscp_marking', dscp.id);
    const types = (await l.getQosPolicy(policy.id)).rules.map((r) => r.type).sort();
    assert.deepEqual(types, ['bandwidth_limit', 'minimum_bandwidth', 'minimum_packet_rate', 'packet_rate_limit']);

    assert.equal((await l.setPortQosPolicy(port.id, policy.id)).qos_policy_id, policy.id);
    assert.equal((await l.setNetworkQosPolicy(net.id, policy.id)).qos_policy_id, policy.id);
    assert.equal((await l.getPort(port.id)).qos_network_policy_id, policy.id);
    // In use: neutron refuses, and the error names the call.
    await assert.rejects(l.deleteQosPolicy(policy.id), (e: unknown) => e instanceof NeutronApiError && e.status === 409 && e.message.includes(`DELETE /v2.0/qos/policies/${policy.id}`));
    assert.equal((await l.setPortQosPolicy(port.id, null)).qos_policy_id, null);
    assert.equal((await l.setNetworkQosPolicy(net.id, null)).qos_policy_id, null);
    await l.deleteQosPolicy(policy.id);
    assert.ok(!(await l.listQosPolicies()).some((p) => p.id === policy.id));
    await assert.rejects(l.createQosRule(policy.id, 'dscp_marking', { dscp_mark: 10 }), (e: unknown) => e instanceof NeutronApiError && e.status === 404 && e.path.endsWith('/dscp_marking_rules'));
  });

  it('runs trunks: on an unbound parent, subports added and removed by VLAN id, deleted once its parent is unbound', async () => {
    const l = lab!;
    assert.equal(l.trunk, true, 'trunks are the lab default');
    const net = await l.createNetwork({ name: 'trunk-parent-net' });
    await l.createSubnet(net.id, '192.0.2.0/24');
    const subNet = await l.createNetwork({ name: 'trunk-sub-net' });
    await l.createSubnet(subNet.id, '198.51.100.0/24');
    const parent = await l.createPort(net.id, { name: 'trunk-parent', deviceOwner: '' });
    // A subport must have no device_id (neutron: PortInUse).
    const [s1, s2] = [await l.createPort(subNet.id, { name: 's1', deviceOwner: '', deviceId: '' }), await l.createPort(subNet.id, { name: 's2', deviceOwner: '', deviceId: '' })];
    const trunk = await createTrunk(l, parent.id, { name: 'trunk', subports: [vlanSubport(s1!.id, 101)] });
    assert.equal(trunk.port_id, parent.id);
    assert.equal(trunk.status, 'DOWN', 'no agent has wired it');
    const vlans = (t: NeutronTrunk): number[] => t.sub_ports.map((s) => s.segmentation_id).sort();
    assert.deepEqual(vlans(await addSubports(l, trunk.id, [vlanSubport(s2!.id, 102)])), [101, 102]);
    assert.deepEqual(vlans(await removeSubports(l, trunk.id, [s1!.id])), [102]);
    assert.deepEqual(vlans(await getTrunk(l, trunk.id)), [102]);
    // Bound as Nova binds it: neutron then refuses to delete the trunk, deleteTrunk unbinds first.
    await bindTrunkParent(l, parent.id, 'nohost-here', 'a-vm');
    await assert.rejects(l.api('DELETE', `/v2.0/trunks/${trunk.id}`), (e: unknown) => e instanceof NeutronApiError && e.status === 409);
    await deleteTrunk(l, trunk.id);
    assert.ok(!(await listTrunks(l)).some((t) => t.id === trunk.id));
  });

  it('exposes a transport URL on a loopback port of its own', () => {
    assert.equal(lab!.transportUrl, `rabbit://guest:guest@127.0.0.1:${lab!.rabbitPort}/`);
    assert.notEqual(lab!.rabbitPort, 5672);
  });
});

describe('documentation ranges', () => {
  it('accepts only RFC 5737 subnets', () => {
    assert.ok(inDocumentationRange('192.0.2.0/24'));
    assert.ok(inDocumentationRange('203.0.113.128/25'));
    assert.ok(!inDocumentationRange('10.0.0.0/24'));
    assert.ok(!inDocumentationRange('198.51.0.0/16'));
  });
});
