// The agent's main job on one host, against a real neutron-server, RabbitMQ and MariaDB:
// VMs (network namespaces plugged as Nova plugs them) on one tenant network reach each other,
// other networks are isolated, provider networks reach the physical network through br-phys,
// and port states follow plugging and unplugging.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateOvs } from '../../../lab/ovs.js';
import { AgentProcess } from '../../../lab/agent-process.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { NeutronLab, waitFor, type NeutronPort } from '../../../lab/neutron.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import { tearDownTestHost } from '../../helpers/teardown.js';
import { startLabAndOvs } from '../../../lab/host.js';

const HOST = 'compute1';
let lab: NeutronLab;
let ovs: PrivateOvs;
let agent: AgentProcess;

before(async () => {
  [lab, ovs] = await startLabAndOvs();
  await ovs.addBridge('br-phys');
  agent = new AgentProcess(
    labAgentFiles({ host: HOST, transportUrl: lab.transportUrl, ovsdbConnection: ovs.unixConnection, bridgeMappings: 'physnet1:br-phys', ofListenPort: 16635, reportIntervalSec: 5 }),
    ovs.env,
  ).start();
  await agent.waitForLog(/bridges set up/);
  await waitFor(async () => (await lab.listAgents()).find((a) => a.host === HOST && a.alive), 60000, 'the agent alive in the API');
}, { timeout: 180000 });

after(() => tearDownTestHost('single-host end to end', { agent, ovs, lab }), { timeout: 60000 });

async function bootVm(networkId: string, name: string): Promise<{ port: NeutronPort; vm: Vm }> {
  const port = await lab.createPort(networkId, { name, host: HOST });
  assert.equal(port['binding:vif_type'], 'ovs', `port ${name} bound by the openvswitch mechanism driver: ${JSON.stringify(port)}`);
  const vm = await plugVm(ovs, port);
  return { port, vm };
}

async function waitStatus(portId: string, status: string, ms = 20000): Promise<void> {
  try {
    await waitFor(async () => (await lab.getPort(portId)).status === status, ms, `port ${portId} ${status}`, 50);
  } catch (e) {
    throw new Error(`${String(e)}\nagent log (last lines):\n${agent.output.split('\n').slice(-40).join('\n')}`);
  }
}

test('the agent reports what the reference reports', async () => {
  const a = (await lab.listAgents()).find((x) => x.host === HOST)!;
  assert.equal(a.agent_type, 'Open vSwitch agent');
  assert.equal(a.binary, 'neutron-openvswitch-agent');
  const c = a.configurations;
  assert.deepEqual(c['bridge_mappings'], { physnet1: 'br-phys' });
  assert.deepEqual(c['tunnel_types'], ['vxlan']);
  assert.equal(c['tunneling_ip'], '127.0.0.1');
  assert.equal(c['l2_population'], true);
  assert.equal(c['arp_responder_enabled'], true);
  assert.equal(c['datapath_type'], 'netdev');
  assert.equal(c['integration_bridge'], 'br-int');
});

test('two VMs on a vxlan network ping each other; a VM of another network cannot reach them; ports follow plugging', async () => {
  const netA = await lab.createNetwork({ name: 'tenant-a' });
  await lab.createSubnet(netA.id, '192.0.2.0/25', { gatewayIp: null });
  const netB = await lab.createNetwork({ name: 'tenant-b' });
  await lab.createSubnet(netB.id, '192.0.2.128/25', { gatewayIp: null });

  const t0 = Date.now();
  const a1 = await bootVm(netA.id, 'a1');
  await waitStatus(a1.port.id, 'ACTIVE');
  const activeMs = Date.now() - t0;
  const a2 = await bootVm(netA.id, 'a2');
  const b1 = await bootVm(netB.id, 'b1');
  await waitStatus(a2.port.id, 'ACTIVE');
  await waitStatus(b1.port.id, 'ACTIVE');

  assert.equal(await ping(a1.vm, a2.vm.ip, { count: 3, timeoutMs: 8000 }), 3, 'a1 reaches a2');
  assert.equal(await ping(a2.vm, a1.vm.ip, { count: 3, timeoutMs: 8000 }), 3, 'a2 reaches a1');
  // Same /24 on the wire, other network: isolated at layer 2.
  assert.equal(await ping(b1.vm, a1.vm.ip, { count: 2, timeoutMs: 4000 }), 0, 'b1 cannot reach a1');

  // The two networks got different local VLANs; ports carry them and the reference's other_config.
  const tagOf = async (vm: Vm) => Number(await ovs.vsctl('get', 'Port', vm.tap, 'tag'));
  assert.equal(await tagOf(a1.vm), await tagOf(a2.vm));
  assert.notEqual(await tagOf(a1.vm), await tagOf(b1.vm));
  const oc = await ovs.vsctl('get', 'Port', a1.vm.tap, 'other_config');
  assert.match(oc, new RegExp(`net_uuid="?${netA.id}`));
  assert.match(oc, /network_type=vxlan/);

  await a2.vm.unplug();
  await waitStatus(a2.port.id, 'DOWN');
  assert.equal(await ping(a1.vm, a2.vm.ip, { count: 1, timeoutMs: 2000 }), 0);
  process.stdout.write(`# first port ACTIVE ${activeMs} ms after plugging (including API round trips)\n`);
});

test('VMs on a VLAN and on a flat provider network reach the physical network through br-phys', async () => {
  const vlanNet = await lab.createNetwork({ name: 'prov-vlan', provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: 150 } });
  await lab.createSubnet(vlanNet.id, '198.51.100.0/24', { gatewayIp: null });
  const flatNet = await lab.createNetwork({ name: 'prov-flat', provider: { network_type: 'flat', physical_network: 'physnet1' } });
  await lab.createSubnet(flatNet.id, '203.0.113.0/24', { gatewayIp: null });
  const v = await bootVm(vlanNet.id, 'v1');
  const f = await bootVm(flatNet.id, 'f1');
  await waitStatus(v.port.id, 'ACTIVE');
  await waitStatus(f.port.id, 'ACTIVE');

  // Hosts "outside", on the physical network behind br-phys: one tagged with VLAN 150, one untagged.
  const extVlan = await plugVm(ovs, { id: 'ext-vlan-0000', mac_address: 'fa:16:3e:ee:00:01', fixed_ips: [{ ip_address: '198.51.100.250' }] }, { bridge: 'br-phys', nova: false });
  // An access port of VLAN 150 on br-phys: the physical switch side of a VLAN trunk.
  await ovs.vsctl('set', 'Port', extVlan.tap, 'tag=150');
  await plugVm(ovs, { id: 'ext-flat-0000', mac_address: 'fa:16:3e:ee:00:02', fixed_ips: [{ ip_address: '203.0.113.250' }] }, { bridge: 'br-phys', nova: false });

  assert.equal(await ping(v.vm, '198.51.100.250', { count: 3, timeoutMs: 8000 }), 3, 'VLAN VM reaches the tagged outside host');
  assert.equal(await ping(f.vm, '203.0.113.250', { count: 3, timeoutMs: 8000 }), 3, 'flat VM reaches the untagged outside host');

  const phys = (await ovs.dumpFlows('br-phys')).join('\n');
  assert.match(phys, /priority=4,in_port=\d+,dl_vlan=\d+ actions=set_field:4246->vlan_vid,NORMAL/, phys);
  assert.match(phys, /priority=4,in_port=\d+,dl_vlan=\d+ actions=pop_vlan,NORMAL/, phys);
});

test('a VLAN network whose segmentation id changes keeps working on the new VID, ports keeping their tags', async () => {
  const net = await lab.createNetwork({ name: 'reseg', provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: 160 } });
  await lab.createSubnet(net.id, '198.51.100.0/24', { gatewayIp: null });
  const v = await bootVm(net.id, 'rs1');
  await waitStatus(v.port.id, 'ACTIVE');
  const ext = await plugVm(ovs, { id: 'ext-reseg-000', mac_address: 'fa:16:3e:ee:00:03', fixed_ips: [{ ip_address: '198.51.100.251' }] }, { bridge: 'br-phys', nova: false });
  await ovs.vsctl('set', 'Port', ext.tap, 'tag=160');
  assert.equal(await ping(v.vm, '198.51.100.251', { count: 2, timeoutMs: 6000 }), 2, 'reachable on VID 160');
  const tag = await ovs.vsctl('get', 'Port', v.vm.tap, 'tag');

  await lab.api('PUT', `/v2.0/networks/${net.id}`, { network: { 'provider:segmentation_id': 161 } });
  await ovs.vsctl('set', 'Port', ext.tap, 'tag=161');
  await waitFor(async () => (await ovs.dumpFlows('br-phys')).some((l) => l.includes('set_field:4257->vlan_vid')), 15000, 'br-phys translating to VID 161');
  assert.equal(await ping(v.vm, '198.51.100.251', { count: 2, timeoutMs: 6000 }), 2, 'reachable on VID 161');
  assert.equal(await ovs.vsctl('get', 'Port', v.vm.tap, 'tag'), tag, 'the local VLAN stays');
  assert.ok(!(await ovs.dumpFlows('br-phys')).some((l) => l.includes('set_field:4256->vlan_vid')), 'no flow left for VID 160');
  assert.ok(!(await ovs.dumpFlows('br-int')).some((l) => l.includes('dl_vlan=160')), 'br-int no longer takes VID 160');
});
