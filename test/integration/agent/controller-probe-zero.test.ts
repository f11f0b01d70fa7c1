// Issue 19: with [ovs] of_inactivity_probe = 0 (neutron's fullstack tests set it) and bridges that
// exist before the agent in fail mode standalone (as the fullstack rig creates them), ovs-vswitchd
// may apply the agent's fail_mode=secure and its controller in one reconfiguration. Open vSwitch
// 3.1 then leaves its hidden fail-open flow (NORMAL at priority 0xf0f0f0, above every OpenFlow
// priority) in br-int for good, and br-int switches everything with NORMAL over the agent's
// flows: a VM on a VLAN network no longer gets the replies from the physical network (br-int's
// segment-to-local-VLAN translation is never reached). The test makes that one reconfiguration
// certain: ovs-vswitchd is stopped (SIGSTOP) while the agent writes its bridge set-up, and
// continued once the agent's controller is in the database.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import { AgentProcess } from '../../../lab/agent-process.js';
import { waitFor, type NeutronLab, type NeutronPort } from '../../../lab/neutron.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import { agentConfig, waitAgentAlive } from '../../helpers/resilience.js';
import { startLabAndOvs } from '../../../lab/host.js';

const run = promisify(execFile);
const HOST = 'probe-zero';
const PHYS = 'br-phys';
const VLAN_ID = 170;

let lab: NeutronLab;
let ovs: PrivateOvs;
let agent: AgentProcess | undefined;
let vswitchdPid = 0;
const vms: Vm[] = [];
const ports: NeutronPort[] = [];

async function appctl(...args: string[]): Promise<string> {
  return (await run('ovs-appctl', ['-t', 'ovs-vswitchd', ...args], { env: ovs.env })).stdout;
}

// The lab is started and stopped in this file's own hooks: node 20 does not make one top-level
// hook wait for another, and the after() below still deletes ports through the lab.
before(async () => {
  [lab, ovs] = await startLabAndOvs();
  vswitchdPid = Number(readFileSync(join(ovs.dir, 'ovs-vswitchd.pid'), 'utf8').trim());
  // As the rig: both bridges made beforehand, fail mode standalone, no controller.
  await ovs.addBridge('br-int');
  await ovs.addBridge(PHYS);
}, { timeout: 240000 });

after(async () => {
  if (vswitchdPid) process.kill(vswitchdPid, 'SIGCONT');
  for (const vm of vms) await vm.unplug().catch((e: unknown) => process.stderr.write(`unplugging ${vm.tap}: ${String(e)}\n`));
  for (const p of ports) await lab.api('DELETE', `/v2.0/ports/${p.id}`).catch((e: unknown) => process.stderr.write(`deleting port ${p.id}: ${String(e)}\n`));
  if (agent) {
    await agent.stop().catch((e: unknown) => process.stderr.write(`stopping the agent: ${String(e)}\n`));
    agent.cleanup();
  }
  await ovs?.stop();
  await lab?.stop();
}, { timeout: 60000 });

test('ovs-vswitchd applying secure mode and a controller with probe 0 at once leaves no fail-open flow; a VLAN VM reaches the physical network', async () => {
  const files = agentConfig(lab, ovs, { host: HOST, ofListenPort: await freePort(), bridgeMappings: `physnet1:${PHYS}`, ovs: ['of_inactivity_probe = 0'] });
  files['openvswitch_agent.ini'] = files['openvswitch_agent.ini'].replace(/^tunnel_types = .*$/m, 'tunnel_types =').replace(/^(l2_population|arp_responder) = .*\n/gm, '');
  process.kill(vswitchdPid, 'SIGSTOP');
  try {
    agent = new AgentProcess(files, ovs.env).start();
    // The agent's br-int set-up is in the database (secure, then its controller), not yet applied.
    await waitFor(async () => (await ovs.vsctl('get-controller', 'br-int')).includes('tcp:'), 30000, 'the agent\'s controller on br-int in OVSDB', 20);
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    process.kill(vswitchdPid, 'SIGCONT');
  }
  await agent.waitForLog(/bridges set up/, 60000);
  await waitAgentAlive(lab, HOST);

  const net = await lab.createNetwork({ name: 'probe-zero-vlan', provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: VLAN_ID } });
  await lab.createSubnet(net.id, '198.51.100.0/24', { gatewayIp: null });
  const port = await lab.createPort(net.id, { name: 'pz1', host: HOST });
  ports.push(port);
  const vm = await plugVm(ovs, port);
  vms.push(vm);
  // A host on the physical network: behind an access port of the segment's VLAN on br-phys.
  const outside = await plugVm(ovs, { id: 'pzoutside-000', mac_address: 'fa:16:3e:ee:02:01', fixed_ips: [{ ip_address: '198.51.100.250' }] }, { bridge: PHYS, nova: false });
  vms.push(outside);
  await ovs.vsctl('set', 'Port', outside.tap, `tag=${VLAN_ID}`);
  await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 30000, 'the VM port ACTIVE');
  const reached = await waitFor(async () => (await ping(vm, outside.ip, { count: 1, timeoutMs: 1000 })) === 1, 20000, 'the VLAN VM reaches the host behind br-phys').then(
    () => true,
    () => false,
  );
  assert.ok(reached, `the VLAN VM reaches the host behind br-phys\nbr-int flows (hidden ones too):\n${await appctl('bridge/dump-flows', 'br-int')}\nagent:\n${agent.output.slice(-3000)}`);
  // Why it would not: OVS's fail-open flow, which no OpenFlow request shows or deletes.
  const hidden = (await appctl('bridge/dump-flows', 'br-int')).split('\n').filter((l) => /priority=15790320\b/.test(l));
  assert.deepEqual(hidden, [], 'no fail-open flow (priority 0xf0f0f0) hidden in br-int');
  assert.equal(await ovs.vsctl('get', 'Controller', (await ovs.vsctl('get', 'Bridge', 'br-int', 'controller')).replace(/[[\]]/g, ''), 'inactivity_probe'), '0', 'the configured probe in the end');
});
