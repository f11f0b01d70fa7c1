// The main job, end to end, for a new user: a private Open vSwitch, a real neutron-server with
// RabbitMQ and MariaDB on loopback, this agent with the openvswitch firewall driver, two VMs
// (network namespaces) on one VXLAN tenant network, a QoS limit on one VM's egress, a trunk VM whose
// VLAN 101 subport reaches a VM on another network, two VMs routed by a distributed router (DVR,
// with Debian's neutron-l3-agent in dvr mode), and what security groups do to their traffic:
// ping, SSH allowed between members of a group, HTTP dropped, a rule deleted and ping stopping,
// then the flows the agent wrote for it, as `ovs-agent flows` shows them.
//   scripts/demo.sh   (sets up everything, then runs this in a private network namespace)
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AgentProcess } from '../lab/agent-process.js';
import { labAgentFiles } from '../lab/agent-config.js';
import { checkoutFile } from '../lab/checkout.js';
import { LAB_PROJECT, waitFor, type NeutronLab } from '../lab/neutron.js';
import type { PrivateOvs } from '../lab/ovs.js';
import { plugVm, ping, cleanupAllVms, type Vm } from '../lab/vm.js';
import { createSecurityGroup, deleteRule } from '../lab/security-groups.js';
import { Iperf3Server, Listener, iperf3, probeTcp, type TcpResult } from '../lab/traffic.js';
import { startLabAndOvs } from '../lab/host.js';
import { bindTrunkParent, createTrunk, getTrunk, vlanSubport, waitTrunkStatus } from '../lab/trunks.js';
import { plugTrunkVm } from '../lab/trunk-vm.js';
import { L3Agent, routerNamespacesGone } from '../lab/l3-agent.js';

const run = promisify(execFile);
const HOST = 'compute1';
const say = (s: string) => process.stdout.write(`${s}\n`);

/** Polls `probe` until it gives `want`; returns how long that took, or undefined at the deadline. */
async function until<T>(probe: () => Promise<T>, want: T, timeoutMs = 20000): Promise<number | undefined> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if ((await probe()) === want) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

const TCP_MEANING: Record<string, string> = {
  connected: 'connected',
  refused: 'refused by the VM (the firewall let it through)',
  timeout: 'no answer (dropped by the firewall)',
};
const tcpSays = (r: TcpResult) => TCP_MEANING[r] ?? r;

/** One table of a bridge as the operator CLI prints it (`ovs-agent flows BRIDGE`): its heading and its lines. */
async function cliTable(agent: AgentProcess, env: NodeJS.ProcessEnv, bridge: string, table: number): Promise<{ heading: string; lines: string[] }> {
  const cli = checkoutFile('bin/ovs-agent.js');
  const args = [cli, 'flows', ...Object.keys(agent.files).flatMap((f) => ['--config-file', agent.path(f)]), bridge];
  const { stdout } = await run(process.execPath, args, { env, maxBuffer: 16 << 20 }).catch((e: unknown) => {
    throw new Error(`ovs-agent flows ${bridge}: ${e instanceof Error ? e.message : String(e)}`);
  });
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^  table ${table}\\b`).test(l));
  if (start < 0) throw new Error(`ovs-agent flows ${bridge} printed no table ${table}`);
  const end = lines.findIndex((l, i) => i > start && /^  table /.test(l));
  return { heading: lines[start]!.trim(), lines: lines.slice(start + 1, end < 0 ? undefined : end) };
}

/** A flow line without what changes from run to run. */
const flowShown = (line: string): string => line.trim().replace(/cookie=0x[0-9a-f]+, /, '').replace(/table=\d+, /, '').replace(/ n_bytes=\d+,/, '');

/**
 * One table of br-int, cut down to the flows that concern one firewall port (reg5 = its ofport) or
 * its group's members (nw_src).
 */
async function firewallTable(agent: AgentProcess, env: NodeJS.ProcessEnv, table: number, ofport: number): Promise<string[]> {
  const { heading, lines: section } = await cliTable(agent, env, 'br-int', table);
  // A conjunction no conj_id flow completes belongs to a deleted rule: the reference keeps such
  // member flows until the group leaves the host, and so do we; say so rather than leave a puzzle.
  const used = new Set(section.flatMap((l) => [...l.matchAll(/conj_id=(\d+)/g)].map((m) => m[1])));
  const out = [heading];
  let keep = false;
  for (const line of section) {
    if (line.trim().startsWith('#')) {
      if (keep) out.push(`      ${line.trim()}`);
      continue;
    }
    keep = new RegExp(`reg5=0x${ofport.toString(16)}\\b|nw_src=`).test(line);
    if (!keep) continue;
    out.push(`    ${flowShown(line)}`);
    const conj = /conjunction\((\d+),/.exec(line)?.[1];
    if (conj && !used.has(conj)) out.push(`      # conjunction ${conj}: nothing completes it (left from a deleted rule, as the reference leaves it)`);
  }
  return out;
}

/**
 * A distributed router (DVR) between two subnets, with Debian's neutron-l3-agent in dvr mode on this
 * host: vm5 and vm6 reach each other routed here, and the flows that make the router's MAC this
 * host's DVR MAC on the way out (br-tun table 1) and deliver routed packets with the gateway's MAC
 * (br-int table 1).
 */
async function dvrStep(lab: NeutronLab, ovs: PrivateOvs, agent: AgentProcess): Promise<void> {
  const l3 = L3Agent.start({ host: HOST, transportUrl: lab.transportUrl, ovs, mode: 'dvr' });
  let routerId: string | undefined;
  const interfaces: string[] = [];
  const vms: Vm[] = [];
  try {
    const subnets = [];
    for (const [name, cidr] of [['demo-r1', '203.0.113.0/25'], ['demo-r2', '203.0.113.128/25']] as const) {
      const net = await lab.createNetwork({ name });
      subnets.push({ net, subnet: await lab.createSubnet(net.id, cidr) });
    }
    const router = (await lab.api<{ router: { id: string } }>('POST', '/v2.0/routers', { router: { name: 'demo-dvr', tenant_id: LAB_PROJECT, distributed: true } })).router;
    routerId = router.id;
    for (const { subnet } of subnets) {
      await lab.api('PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: subnet.id });
      interfaces.push(subnet.id);
    }
    say(`
distributed router ${router.id} between 203.0.113.0/25 and 203.0.113.128/25 (neutron-l3-agent, agent_mode = dvr, on this host)`);
    for (const [i, { net, subnet }] of subnets.entries()) {
      const port = await lab.createPort(net.id, { name: `vm${i + 5}`, host: HOST });
      const vm = await plugVm(ovs, port, { prefixLen: 25 });
      await vm.exec('ip', ['route', 'add', 'default', 'via', subnet.gateway_ip!]);
      vms.push(vm);
      await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 30000, `vm${i + 5} ACTIVE`, 50);
    }
    const [a, b] = vms as [Vm, Vm];
    const t0 = Date.now();
    const routed = await until(async () => (await ping(a, b.ip, { count: 1, timeoutMs: 1000 })) > 0, true, 120000);
    say(`  routed ping vm5 (${a.ip}) -> vm6 (${b.ip}): first answer ${routed === undefined ? 'NOT within 120 s' : `${((Date.now() - t0) / 1000).toFixed(1)} s after both ports were ACTIVE (the L3 agent setting the router up)`}`);
    say(`  ping vm5 -> vm6: ${await ping(a, b.ip, { count: 3 })}/3 replies, vm6 -> vm5: ${await ping(b, a.ip, { count: 3 })}/3 replies`);
    for (const [bridge, table] of [['br-tun', 1], ['br-int', 1]] as const) {
      const { heading, lines } = await cliTable(agent, ovs.env, bridge, table);
      say(`  ${bridge} ${heading}`);
      // The router's flows, with what the CLI says of them; not the table's default (priority 0).
      let keep = false;
      for (const l of lines) {
        if (l.trim().startsWith('#')) {
          if (keep) say(`      ${l.trim()}`);
        } else if ((keep = l.trim() !== '' && !/priority=0\b/.test(l))) say(`    ${flowShown(l)}`);
      }
    }
  } finally {
    for (const vm of vms) await vm.unplug();
    if (routerId) {
      // Removed while the L3 agent runs, so that it takes its namespace down itself.
      for (const subnet of interfaces) await lab.api('PUT', `/v2.0/routers/${routerId}/remove_router_interface`, { subnet_id: subnet });
      await lab.api('DELETE', `/v2.0/routers/${routerId}`);
      await routerNamespacesGone(routerId, 'demo');
    }
    await l3.stop();
    l3.cleanup();
  }
  say('  router and its VMs removed');
}

interface DemoVm {
  name: string;
  portId: string;
  vm: Vm;
}

/** vm1 and vm2: a port each, bound to this host, plugged as Nova plugs it, ACTIVE. */
async function plugVms(lab: NeutronLab, ovs: PrivateOvs, networkId: string): Promise<[DemoVm, DemoVm]> {
  const vms: DemoVm[] = [];
  for (const name of ['vm1', 'vm2']) {
    const port = await lab.createPort(networkId, { name, host: HOST });
    say(`port ${name} ${port.id} ${port.fixed_ips[0]?.ip_address}: ${port.status} (binding ${port['binding:vif_type']})`);
    const plugged = Date.now();
    const vm = await plugVm(ovs, port);
    await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 20000, `${name} ACTIVE`, 20);
    say(`port ${name}: ACTIVE ${Date.now() - plugged} ms after plugging`);
    vms.push({ name, portId: port.id, vm });
  }
  return vms as [DemoVm, DemoVm];
}

/** A 10 Mbit/s egress limit on vm1's port: TCP from vm1 holds under it, the other way not; gone with its policy. */
async function qosSteps(lab: NeutronLab, ovs: PrivateOvs, vms: [DemoVm, DemoVm]): Promise<void> {
  const [a, b] = vms;
  const server = await Iperf3Server.start(b.vm);
  try {
    say(`\nQoS: TCP ${a.name} -> ${b.name} (iperf3): ${(await iperf3(a.vm, b.vm)).toFixed(0)} Mbit/s`);
    const policy = await lab.createQosPolicy('demo-10mbit');
    await lab.createQosRule(policy.id, 'bandwidth_limit', { max_kbps: 10000, direction: 'egress' });
    await lab.setPortQosPolicy(a.portId, policy.id);
    const applied = await until(async () => (await ovs.vsctl('get', 'Interface', a.vm.tap, 'ingress_policing_rate')).trim(), '10000');
    say(`policy "demo-10mbit" (bandwidth_limit egress 10000 kbit/s) on ${a.name}'s port: written ${applied === undefined ? 'NOT within 20 s' : `within ${applied} ms`}`);
    say(`  ${a.name} -> ${b.name}: ${(await iperf3(a.vm, b.vm)).toFixed(1)} Mbit/s; ${b.name} -> ${a.name}: ${(await iperf3(a.vm, b.vm, { reverse: true })).toFixed(0)} Mbit/s (not limited)`);
    await lab.setPortQosPolicy(a.portId, null);
    await until(async () => (await ovs.vsctl('get', 'Interface', a.vm.tap, 'ingress_policing_rate')).trim(), '0');
    say(`policy detached: ${a.name} -> ${b.name}: ${(await iperf3(a.vm, b.vm)).toFixed(0)} Mbit/s`);
    await lab.deleteQosPolicy(policy.id);
  } finally {
    server.stop();
  }
}

/**
 * A trunk VM (a VLAN-aware instance) on demo-net whose VLAN 101 subport is a port on demo-net2: as
 * Nova boots one (trunk on an unbound parent, parent bound, os-vif plugs the VM into `tbr-…`); the
 * guest's VLAN 101 interface pings vm3 on demo-net2, and the trunk is ACTIVE on the server; then
 * both VMs are deleted.
 */
async function trunkStep(lab: NeutronLab, ovs: PrivateOvs, networkId: string): Promise<void> {
  const net2 = await lab.createNetwork({ name: 'demo-net2' });
  await lab.createSubnet(net2.id, '198.51.100.0/24', { gatewayIp: null });
  const vm3Port = await lab.createPort(net2.id, { name: 'vm3', host: HOST });
  const vm3 = await plugVm(ovs, vm3Port);
  const parent = await lab.createPort(networkId, { name: 'trunk-parent', deviceOwner: '', deviceId: '' });
  const sub = await lab.createPort(net2.id, { name: 'trunk-sub101', deviceOwner: '', deviceId: '' });
  const trunk = await createTrunk(lab, parent.id, { name: 'demo-trunk', subports: [vlanSubport(sub.id, 101)] });
  say(`\ntrunk ${trunk.id}: parent on demo-net (${parent.fixed_ips[0]?.ip_address}), subport VLAN 101 on demo-net2 (${sub.fixed_ips[0]?.ip_address}); vm3 on demo-net2 (${vm3.ip})`);
  await bindTrunkParent(lab, parent.id, HOST, crypto.randomUUID());
  const plugged = Date.now();
  const vm = await plugTrunkVm(ovs, { trunkId: trunk.id, parent, subports: [{ port: sub, vlan: 101 }] });
  await waitTrunkStatus(lab, trunk.id, 'ACTIVE', 30000);
  say(`trunk VM plugged into ${vm.trunkBridge}: trunk ${(await getTrunk(lab, trunk.id)).status} ${Date.now() - plugged} ms later`);
  await waitFor(async () => (await lab.getPort(vm3Port.id)).status === 'ACTIVE', 20000, 'vm3 ACTIVE', 50);
  const vlan = vm.iface(101);
  // The first packets may race the last flows of the subport: a few tries before saying what is seen.
  await until(async () => (await ping(vm, vm3.ip, { count: 1, timeoutMs: 1000, source: vlan.name })) > 0, true, 15000);
  say(`  ping trunk VM (VLAN 101 interface ${vlan.ip}) -> vm3: ${await ping(vm, vm3.ip, { count: 3, source: vlan.name })}/3 replies`);
  // Deleted again (os-vif removes the trunk bridge), so that the firewall flows shown at the end are vm1's and vm2's only.
  await vm.unplug();
  await vm3.unplug();
  say('  trunk VM and vm3 deleted');
}

/** Both ports moved to a group admitting ICMP and SSH from its members, then its ICMP rule deleted. */
async function securityGroupSteps(lab: NeutronLab, vms: [DemoVm, DemoVm]): Promise<void> {
  const [a, b] = vms;
  say('\nsecurity group "demo-sg": ingress ICMP and TCP 22 from members of demo-sg, egress any');
  const { sg, rules } = await createSecurityGroup(lab, 'demo-sg', [
    { direction: 'ingress', protocol: 'icmp', remote_group_id: 'self' },
    { direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: 'self' },
    { direction: 'egress' },
  ]);
  const [icmpRule] = rules;
  if (!icmpRule) throw new Error('demo-sg was created without its ICMP rule');
  for (const v of vms) await lab.updatePort(v.portId, { security_groups: [sg.id] });
  const applied = await until(() => probeTcp(a.vm, b.vm.ip, 80, { timeoutMs: 500 }), 'timeout');
  say(`ports of ${a.name} and ${b.name} moved to demo-sg: enforced ${applied === undefined ? 'NOT within 20 s' : `within ${applied} ms`}`);
  say(`  ping ${a.name} -> ${b.name}: ${await ping(a.vm, b.vm.ip, { count: 3 })}/3 replies`);
  say(`  ${a.name} -> ${b.name}:22: ${tcpSays(await probeTcp(a.vm, b.vm.ip, 22))}`);
  say(`  ${a.name} -> ${b.name}:80: ${tcpSays(await probeTcp(a.vm, b.vm.ip, 80))}`);

  await deleteRule(lab, icmpRule.id);
  const stopped = await until(async () => ping(a.vm, b.vm.ip, { count: 1, timeoutMs: 500 }), 0);
  say(`\nICMP rule deleted: ping stopped ${stopped === undefined ? 'NOT within 20 s' : `within ${stopped} ms`}`);
  say(`  ping ${a.name} -> ${b.name}: ${await ping(a.vm, b.vm.ip, { count: 3, timeoutMs: 2000 })}/3 replies`);
  say(`  ${a.name} -> ${b.name}:22: ${tcpSays(await probeTcp(a.vm, b.vm.ip, 22))}`);
}

async function main(): Promise<void> {
  const started = Date.now();
  say('starting neutron-server, RabbitMQ and MariaDB on 127.0.0.1, and a private Open vSwitch ...');
  const [lab, ovs] = await startLabAndOvs({ tcp: true }, { dvr: true });
  const agent = new AgentProcess(
    labAgentFiles({
      host: HOST,
      transportUrl: lab.transportUrl,
      ovsdbConnection: ovs.unixConnection,
      firewallDriver: 'openvswitch',
      agent: ['extensions = qos', 'enable_distributed_routing = True'],
    }),
    ovs.env,
  );
  let listener: Listener | undefined;
  try {
    const t0 = Date.now();
    say(`lab ready after ${((t0 - started) / 1000).toFixed(1)} s`);
    agent.start();
    await agent.waitForLog(/bridges set up/);
    say(`agent (firewall_driver = openvswitch, extensions = qos, enable_distributed_routing = True): bridges set up ${Date.now() - t0} ms after start`);
    await waitFor(async () => (await lab.listAgents()).find((a) => a.host === HOST && a.alive), 60000, 'agent alive');
    say(`agent: alive in GET /v2.0/agents ${Date.now() - t0} ms after start`);

    const net = await lab.createNetwork({ name: 'demo-net' });
    await lab.createSubnet(net.id, '192.0.2.0/24', { gatewayIp: null });
    say(`\nnetwork ${net.id}: ${net['provider:network_type']} ${net['provider:segmentation_id']}, subnet 192.0.2.0/24`);
    const vms = await plugVms(lab, ovs, net.id);
    const [a, b] = vms;
    say(`ping ${a.name} -> ${b.name} (${b.vm.ip}): ${await ping(a.vm, b.vm.ip, { count: 3 })}/3 replies (project's default security group)`);
    await qosSteps(lab, ovs, vms);
    await trunkStep(lab, ovs, net.id);
    await dvrStep(lab, ovs, agent);
    listener = await Listener.start(b.vm, { tcp: [22] });
    say(`${b.name} listens on TCP 22 only; ${a.name} -> ${b.name}:80: ${tcpSays(await probeTcp(a.vm, b.vm.ip, 80))}`);

    await securityGroupSteps(lab, vms);

    const ofport = Number(await ovs.vsctl('get', 'Interface', b.vm.tap, 'ofport'));
    say(`\nwhat enters ${b.name} (ofport ${ofport}, reg5=${ofport}) is decided in br-int's table 82 ('ovs-agent flows br-int', its flows only):`);
    say('  (reg5: the port a packet is for; reg6: its network\'s conntrack zone. A rule with a remote group is a');
    say('  conjunction: (N,1/2) the source is a member, (N,2/2) protocol and port match, conj_id=N both do.)');
    for (const l of await firewallTable(agent, ovs.env, 82, ofport)) say(`  ${l}`);

    await b.vm.unplug();
    await waitFor(async () => (await lab.getPort(b.portId)).status === 'DOWN', 20000, `${b.name} DOWN`, 50);
    say(`\n${b.name} unplugged: port ${(await lab.getPort(b.portId)).status}`);
    if (process.env['DEMO_VERBOSE']) say(`\nagent log:\n${agent.output}`);
    say(`\ndemo done ${((Date.now() - started) / 1000).toFixed(1)} s after start: stopping everything`);
  } finally {
    listener?.stop();
    await cleanupAllVms();
    await agent.stop().catch((e: unknown) => say(`agent did not stop cleanly: ${String(e)}`));
    agent.cleanup();
    await Promise.allSettled([lab.stop(), ovs.stop()]);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
