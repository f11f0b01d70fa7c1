// The main job, end to end, for a new user: a private Open vSwitch, a real neutron-server with
// RabbitMQ and MariaDB on loopback, this agent, two VMs (network namespaces) on one VXLAN tenant
// network pinging each other, and the port states neutron shows along the way.
//   scripts/demo.sh   (sets up everything, then runs this in a private network namespace)
import { PrivateOvs } from '../lab/ovs.js';
import { AgentProcess } from '../lab/agent-process.js';
import { labAgentFiles } from '../lab/agent-config.js';
import { NeutronLab, waitFor } from '../lab/neutron.js';
import { plugVm, ping, cleanupAllVms } from '../lab/vm.js';

const HOST = 'compute1';
const say = (s: string) => process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  say('starting neutron-server, RabbitMQ and MariaDB on 127.0.0.1, and a private Open vSwitch ...');
  const [lab, ovs] = await Promise.all([NeutronLab.start(), PrivateOvs.start()]);
  const agent = new AgentProcess(
    labAgentFiles({ host: HOST, transportUrl: lab.transportUrl, ovsdbConnection: ovs.unixConnection }),
    ovs.env,
  );
  try {
    const t0 = Date.now();
    agent.start();
    await agent.waitForLog(/bridges set up/);
    say(`agent: bridges set up ${Date.now() - t0} ms after start`);
    await waitFor(async () => (await lab.listAgents()).find((a) => a.host === HOST && a.alive), 60000, 'agent alive');
    say(`agent: alive in GET /v2.0/agents ${Date.now() - t0} ms after start`);

    const net = await lab.createNetwork({ name: 'demo-net' });
    await lab.createSubnet(net.id, '192.0.2.0/24', { gatewayIp: null });
    say(`network ${net.id}: ${net['provider:network_type']} ${net['provider:segmentation_id']}, subnet 192.0.2.0/24`);
    const vms = [];
    for (const name of ['vm1', 'vm2']) {
      const port = await lab.createPort(net.id, { name, host: HOST });
      say(`port ${name} ${port.id} ${port.fixed_ips[0]?.ip_address}: ${port.status} (binding ${port['binding:vif_type']})`);
      const plugged = Date.now();
      const vm = await plugVm(ovs, port);
      await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 20000, `${name} ACTIVE`, 20);
      say(`port ${name}: ACTIVE ${Date.now() - plugged} ms after plugging`);
      vms.push({ name, port, vm });
    }
    const [a, b] = vms as [(typeof vms)[0], (typeof vms)[0]];
    say(`ping ${a.name} -> ${b.name} (${b.vm.ip}): ${await ping(a.vm, b.vm.ip, { count: 3 })}/3 replies`);
    say(`ping ${b.name} -> ${a.name} (${a.vm.ip}): ${await ping(b.vm, a.vm.ip, { count: 3 })}/3 replies`);
    await b.vm.unplug();
    await waitFor(async () => (await lab.getPort(b.port.id)).status === 'DOWN', 20000, `${b.name} DOWN`, 50);
    for (const v of vms) say(`port ${v.name}: ${(await lab.getPort(v.port.id)).status}`);
    say(`ping ${a.name} -> ${b.name} after unplugging it: ${await ping(a.vm, b.vm.ip, { count: 1, timeoutMs: 2000 })}/1 replies`);
    say('\nthe pipeline the agent programmed on br-int (first lines):');
    say((await ovs.dumpFlows('br-int')).slice(0, 12).map((l) => `  ${l}`).join('\n'));
    if (process.env['DEMO_VERBOSE']) say(`\nagent log:\n${agent.output}`);
    say('\ndemo done: stopping everything');
  } finally {
    await cleanupAllVms();
    await agent.stop().catch(() => undefined);
    agent.cleanup();
    await Promise.allSettled([lab.stop(), ovs.stop()]);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
