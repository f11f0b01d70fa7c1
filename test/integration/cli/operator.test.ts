// `ovs-agent flows --port/--network` and `ovs-agent trace --port` on a live host: a real
// neutron-server, our agent with the openvswitch firewall, two VMs in a security group admitting
// ICMP and TCP 22 from its own members, a third VM on another network.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PrivateOvs } from '../../../lab/ovs.js';
import { AgentProcess } from '../../../lab/agent-process.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { NeutronLab, waitFor, type NeutronNetwork, type NeutronPort } from '../../../lab/neutron.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import { tearDownTestHost } from '../../helpers/teardown.js';
import { startLabAndOvs } from '../../../lab/host.js';
import { checkoutFile } from '../../../lab/checkout.js';
import { createFilteredPort, createSecurityGroup } from '../../../lab/security-groups.js';
import { DatagramReceiver } from '../../helpers/unix-datagram.js';

const run = promisify(execFile);
const HOST = 'compute1';
const CLI = checkoutFile('bin/ovs-agent.js');
let lab: NeutronLab;
let ovs: PrivateOvs;
let agent: AgentProcess;
let notify: DatagramReceiver;
let dir: string;
let net1: NeutronNetwork;
let net2: NeutronNetwork;
const vms: Record<'a' | 'b' | 'c', { port: NeutronPort; vm: Vm }> = {} as never;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ovs-agent-operator-'));
  notify = new DatagramReceiver(join(dir, 'notify.sock'));
  [lab, ovs] = await startLabAndOvs();
  await ovs.addBridge('br-phys');
  await notify.ready;
  agent = new AgentProcess(
    labAgentFiles({
      host: HOST, transportUrl: lab.transportUrl, ovsdbConnection: ovs.unixConnection, bridgeMappings: 'physnet1:br-phys',
      ofListenPort: 16637, reportIntervalSec: 5, firewallDriver: 'openvswitch',
    }),
    { ...ovs.env, NOTIFY_SOCKET: notify.path },
  ).start();
  await agent.waitForLog(/bridges set up/, 60000);
  net1 = await lab.createNetwork({ name: 'op-net1' });
  await lab.createSubnet(net1.id, '198.51.100.0/24');
  net2 = await lab.createNetwork({ name: 'op-net2' });
  await lab.createSubnet(net2.id, '203.0.113.0/24');
  const { sg } = await createSecurityGroup(lab, 'op-web', [
    { direction: 'ingress', protocol: 'icmp', remote_group_id: 'self' },
    { direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: 'self' },
    { direction: 'egress' },
  ]);
  const mk = async (key: 'a' | 'b' | 'c', network: string, ip: string) => {
    const port = await createFilteredPort(lab, network, { name: `op-${key}`, host: HOST, securityGroups: [sg.id], ip });
    vms[key] = { port, vm: await plugVm(ovs, port) };
  };
  await mk('a', net1.id, '198.51.100.10');
  await mk('b', net1.id, '198.51.100.11');
  await mk('c', net2.id, '203.0.113.10');
  for (const k of ['a', 'b', 'c'] as const) {
    await waitFor(async () => (await lab.getPort(vms[k].port.id)).status === 'ACTIVE', 60000, `port ${k} ACTIVE`, 100);
  }
  assert.ok((await ping(vms.a.vm, '198.51.100.11', { count: 3, timeoutMs: 10000 })) > 0, 'a pings b');
}, { timeout: 300000 });

after(async () => {
  await tearDownTestHost('operator CLI', { agent, ovs, lab, also: [['stopping the notify socket', () => notify?.stop()]] });
  if (dir) rmSync(dir, { recursive: true, force: true });
}, { timeout: 60000 });

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const cfg = ['--config-file', agent.path('neutron.conf'), '--config-file', agent.path('openvswitch_agent.ini')];
  return run(process.execPath, [CLI, args[0]!, ...cfg, ...args.slice(1)], { env: ovs.env, maxBuffer: 64 << 20 });
}

interface JsonFlow { bridge: string; table: number; tableName: string | null; flow: string; notes: string[]; reasons?: string[] }

async function ofportOf(vm: Vm): Promise<number> {
  return Number((await ovs.vsctl('get', 'Interface', vm.tap, 'ofport')).trim());
}

test('READY=1 goes to NOTIFY_SOCKET from the agent itself once the first full sync is done', () => {
  const ready = notify.messages.find((m) => /^READY=1$/m.test(m.text));
  assert.ok(ready, `READY=1 received: ${JSON.stringify(notify.messages)}`);
  assert.equal(ready.pid, agent.pid);
  assert.match(ready.text, /^STATUS=first full sync done/m);
  assert.ok(agent.output.indexOf('first full sync done') >= 0 && agent.output.indexOf('first full sync done') < agent.output.indexOf('told systemd the agent is ready'));
});

test('flows --port: only that port\'s flows, its firewall flows and its group\'s conjunctions, annotated', async () => {
  const [a, b, c] = [await ofportOf(vms.a.vm), await ofportOf(vms.b.vm), await ofportOf(vms.c.vm)];
  const doc = JSON.parse((await cli('flows', '--port', vms.a.port.id, '--json')).stdout) as JsonFlow[];
  assert.ok(doc.length > 10, `several flows: ${doc.length}`);
  const names = (n: number) => new RegExp(`\\bin_port=${n}\\b|\\breg5=0x${n.toString(16)}\\b|output:${n}\\b|set_field:0x${n.toString(16)}->reg5`);
  for (const f of doc) {
    assert.equal(f.bridge, 'br-int', f.flow);
    assert.doesNotMatch(f.flow, names(b), `no flow of port b: ${f.flow}`);
    assert.doesNotMatch(f.flow, names(c), `no flow of port c: ${f.flow}`);
    assert.doesNotMatch(f.flow, new RegExp(vms.b.port.mac_address), `not b's MAC: ${f.flow}`);
    assert.doesNotMatch(f.flow, /reg6=0x2\b/, `nothing of the other network's zone: ${f.flow}`);
  }
  const has = (table: number, re: RegExp) => doc.some((f) => f.table === table && re.test(f.flow));
  assert.ok(has(60, new RegExp(`in_port=${a}\\b.*set_field:0x${a.toString(16)}->reg5`)), 'its entry into the firewall (table 60)');
  assert.ok(has(71, new RegExp(`reg5=0x${a.toString(16)},.*nw_src=198\\.51\\.100\\.10`)), 'its egress anti-spoofing (table 71)');
  assert.ok(has(82, new RegExp(`conj_id=\\d+,.*reg5=0x${a.toString(16)}\\b`)), 'its ingress rules (table 82)');
  assert.ok(has(82, /reg6=0x1,nw_src=198\.51\.100\.11 actions=conjunction\(\d+,1\/2\)/), 'the remote group side: member b admitted by its rules');
  assert.ok(has(73, new RegExp(`dl_dst=${vms.a.port.mac_address}`)), 'traffic to its MAC (table 73)');
  const fw = doc.find((f) => f.table === 60 && new RegExp(`in_port=${a}\\b`).test(f.flow))!;
  assert.equal(fw.tableName, 'TRANSIENT_TABLE');
  assert.ok(fw.notes.includes(`in_port ${a} = ${vms.a.vm.tap} (port ${vms.a.port.id})`), JSON.stringify(fw.notes));
  const vlanA = Number((await ovs.vsctl('get', 'Port', vms.a.vm.tap, 'tag')).trim());
  assert.deepEqual(fw.reasons, [`ofport ${a}`, `local VLAN ${vlanA}`]);
  // the text form: header, tables named, annotations
  const text = (await cli('flows', '--port', vms.a.port.id)).stdout;
  assert.match(text, new RegExp(`^port ${vms.a.port.id}: ${vms.a.vm.tap}, ofport ${a}, MAC ${vms.a.port.mac_address}, local VLAN \\d+ = network ${net1.id} \\(vxlan \\d+\\)`));
  assert.match(text, /\n {2}table 82 RULES_INGRESS_TABLE\n/);
  assert.match(text, new RegExp(`# reg5 ${a} = ${vms.a.vm.tap} \\(port ${vms.a.port.id}\\)`));
});

test('flows --network: that network\'s local VLAN and tunnel id on br-int and br-tun, nothing of the other', async () => {
  const doc = JSON.parse((await cli('flows', '--network', net2.id, '--json')).stdout) as JsonFlow[];
  const seg2 = net2['provider:segmentation_id']!;
  const seg1 = net1['provider:segmentation_id']!;
  const vlan2 = Number((await ovs.vsctl('get', 'Port', vms.c.vm.tap, 'tag')).trim());
  const vlan1 = Number((await ovs.vsctl('get', 'Port', vms.a.vm.tap, 'tag')).trim());
  assert.ok(doc.some((f) => f.bridge === 'br-tun' && f.table === 4 && new RegExp(`tun_id=0x${seg2.toString(16)}\\b`).test(f.flow) && f.flow.includes(`set_field:${4096 + vlan2}->vlan_vid`)), 'br-tun: its tunnel id to its local VLAN');
  assert.ok(doc.some((f) => f.bridge === 'br-int' && new RegExp(`reg6=0x${vlan2.toString(16)}\\b`).test(f.flow)), 'br-int: its firewall zone');
  for (const f of doc) {
    assert.doesNotMatch(f.flow, new RegExp(`tun_id=0x${seg1.toString(16)}\\b|dl_vlan=${vlan1}\\b|reg6=0x${vlan1.toString(16)}\\b`), `nothing of the other network: ${f.flow}`);
  }
  const tunFlow = doc.find((f) => f.bridge === 'br-tun' && f.table === 4)!;
  assert.equal(tunFlow.tableName, 'VXLAN_TUN_TO_LV');
  assert.ok(tunFlow.notes.includes(`vlan ${vlan2} = network ${net2.id} (vxlan ${seg2})`), JSON.stringify(tunFlow.notes));
  const unknown = await cli('flows', '--network', '00000000-0000-0000-0000-000000000000').then(() => undefined, (e: { code: number; stderr: string }) => e);
  assert.equal(unknown?.code, 1);
  assert.match(unknown!.stderr, /has no local VLAN on this host/);
});

test('trace --port: the security group decides, and the verdict says so in one line', async () => {
  const b = await ofportOf(vms.b.vm);
  const ssh = (await cli('trace', '--port', vms.a.port.id, '--to', '198.51.100.11:22')).stdout;
  assert.match(ssh, /^packet from port \S+ \(\S+, ofport \d+\): tcp 198\.51\.100\.10 -> 198\.51\.100\.11 port 22\n/);
  assert.match(ssh, new RegExp(`destination MAC ${vms.b.port.mac_address}: port ${vms.b.port.id}`));
  assert.match(ssh, /# table 82 RULES_INGRESS_TABLE/);
  assert.match(ssh, /# security-group conjunction \d+/);
  const lastLine = ssh.trim().split('\n').at(-1)!;
  assert.equal(lastLine, `verdict: delivered to ${vms.b.vm.tap} (port ${vms.b.port.id}) on br-int`);

  const http = (await cli('trace', '--port', vms.a.port.id, '--to', '198.51.100.11:80')).stdout;
  assert.match(http.trim().split('\n').at(-1)!, /^verdict: dropped in br-int table 93 DROPPED_TRAFFIC_TABLE by flow "priority 0", sent there by br-int table 82 RULES_INGRESS_TABLE flow "ct_state=-est,reg5=0x[0-9a-f]+, priority 40"$/);

  const icmp = JSON.parse((await cli('trace', '--port', vms.a.port.id, '--to', '198.51.100.11', '--json')).stdout) as {
    packet: { proto: string; dstMac: string }; verdict: { kind: string; outputs: Array<{ portId?: string; ofport: number }>; line: string }; steps: Array<{ table: number; tableName: string | null }>;
  };
  assert.equal(icmp.packet.proto, 'icmp');
  assert.equal(icmp.verdict.kind, 'delivered');
  assert.equal(icmp.verdict.outputs[0]!.portId, vms.b.port.id);
  assert.equal(icmp.verdict.outputs[0]!.ofport, b);
  assert.ok(icmp.steps.some((s) => s.table === 71 && s.tableName === 'BASE_EGRESS_TABLE'));

  const udp = (await cli('trace', '--port', vms.a.port.id, '--to', '198.51.100.11:53', '--proto', 'udp')).stdout;
  assert.match(udp.trim().split('\n').at(-1)!, /^verdict: dropped in br-int table 93 /, 'no rule admits UDP');

  const bad = await cli('trace', '--port', vms.a.port.id, '--to', 'nowhere').then(() => undefined, (e: { code: number; stderr: string }) => e);
  assert.equal(bad?.code, 2);
  assert.match(bad!.stderr, /--to nowhere: expected IP, IP:PORT/);
});

test('what trace says agrees with what the VMs see: a pings b, and the trace of that ping is delivered', async () => {
  assert.ok((await ping(vms.a.vm, '198.51.100.11', { count: 2, timeoutMs: 10000 })) > 0);
  assert.match((await cli('trace', '--port', vms.a.port.id, '--to', '198.51.100.11')).stdout, /verdict: delivered to /);
});
