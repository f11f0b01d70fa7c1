// The qos extension as a tenant sees it, with the real neutron-server (QoS service on), on this
// machine's userspace datapath: a bandwidth limit holds in its direction and not in the other, and
// is lifted when its rule goes; DSCP marks are on the wire and gone with their rule; a packet rate
// limit caps packets per second; a port that goes takes its QoS rows and meters with it. The same
// tests run once per OpenFlow backend ([ovs] of_interface), each with its own OVS and agent.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import type { AgentProcess } from '../../../lab/agent-process.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { type NeutronLab, type NeutronPort, waitFor } from '../../../lab/neutron.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import { labForFile, note, startAgent, stopLabHost, waitAgentAlive } from '../../helpers/resilience.js';
import { Iperf3Server, iperf3 as iperf } from '../../../lab/traffic.js';

/** The IP TOS byte of the first ICMP echo requests `vm` receives while `sender` pings it. */
async function tosSeen(sender: Vm, vm: Vm): Promise<string> {
  const dump = spawn('ip', ['netns', 'exec', vm.netns, 'tcpdump', '-l', '-n', '-v', '-c', '2', '-i', 'eth0', 'icmp[icmptype] == icmp-echo'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  dump.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const done = new Promise<void>((r) => dump.once('exit', () => r()));
  await new Promise((r) => setTimeout(r, 1000));
  await ping(sender, vm.ip, { count: 3, timeoutMs: 3000 });
  await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
  dump.kill();
  const m = /tos (0x[0-9a-f]+)/.exec(out);
  if (!m) throw new Error(`no ICMP echo seen by tcpdump in ${vm.netns}: ${out}`);
  return m[1]!;
}

let lab: NeutronLab;
labForFile((l) => (lab = l));

for (const ofInterface of ['native', 'ovs-ofctl'] as const) describe(`[agent] extensions = qos, of_interface = ${ofInterface}`, () => {
  const HOST = ofInterface === 'native' ? 'qos-native' : 'qos-ofctl';
  const tag = `[${ofInterface}]`;
  let ovs: PrivateOvs;
  let agent: AgentProcess;
  let ports: NeutronPort[];
  let a: Vm;
  let b: Vm;
  let server: Iperf3Server | undefined;
  let files: Record<string, string>;

  const iface = async (vm: Vm, col: string): Promise<string> => (await ovs.vsctl('get', 'Interface', vm.tap, col)).trim();
  const meters = async (): Promise<string> => ovs.ofctl('-O', 'OpenFlow13', 'dump-meters', 'br-int');

  before(async () => {
    ovs = await PrivateOvs.start();
    files = labAgentFiles({
      host: HOST, transportUrl: lab.transportUrl, ovsdbConnection: ovs.unixConnection, ofListenPort: await freePort(), ofInterface, reportIntervalSec: 2,
      // A short audit interval: a meter deleted by hand is put back within seconds here.
      agent: ['extensions = qos', 'flow_audit_interval = 2'],
    });
    agent = await startAgent(files, ovs);
    await waitAgentAlive(lab, HOST);
    const net = await lab.createNetwork({ name: `qos-${ofInterface}` });
    await lab.createSubnet(net.id, '192.0.2.0/24', { gatewayIp: null });
    ports = [await lab.createPort(net.id, { name: 'a', host: HOST }), await lab.createPort(net.id, { name: 'b', host: HOST })];
    [a, b] = [await plugVm(ovs, ports[0]!), await plugVm(ovs, ports[1]!)];
    for (const p of ports) await waitFor(async () => (await lab.getPort(p.id)).status === 'ACTIVE', 30000, `port ${p.name} ACTIVE`, 100);
    server = await Iperf3Server.start(b);
    await waitFor(async () => ping(a, b.ip, { count: 1, timeoutMs: 1000 }).then((n) => n === 1), 10000, 'a pings b');
    await new Promise((r) => setTimeout(r, 500));
  }, { timeout: 240000 });

  after(() => stopLabHost({ host: HOST, agent, ovs, running: [{ kill: () => server?.stop() }] }), { timeout: 60000 });

  test('a 10 Mbit/s egress limit holds from the VM and not towards it, and goes with its rule', async () => {
    const unlimited = await iperf(a, b);
    const policy = await lab.createQosPolicy(`egress-${ofInterface}`);
    const rule = await lab.createQosRule(policy.id, 'bandwidth_limit', { max_kbps: 10000, direction: 'egress' });
    await lab.setPortQosPolicy(a.portId, policy.id);
    // The reference's row, and what enforces it on this datapath.
    await waitFor(async () => (await iface(a, 'ingress_policing_rate')) === '10000', 15000, 'ingress_policing_rate 10000 on a');
    await waitFor(async () => /kbps/.test(await meters()), 10000, 'a kbps meter on br-int');
    const limited = await iperf(a, b);
    const reverse = await iperf(a, b, { reverse: true });
    note(`${tag} egress limit 10 Mbit/s: a->b ${limited.toFixed(1)} Mbit/s (unlimited before: ${unlimited.toFixed(0)}), b->a ${reverse.toFixed(0)} Mbit/s`);
    assert.ok(limited <= 10.5 && limited > 5, `a->b ${limited.toFixed(2)} Mbit/s under a 10 Mbit/s egress limit`);
    assert.ok(reverse > 30, `b->a ${reverse.toFixed(1)} Mbit/s: the other direction is not limited`);
    // Changed under the agent: put back as the policy says.
    await ovs.vsctl('set', 'Interface', a.tap, 'ingress_policing_rate=0');
    await waitFor(async () => (await iface(a, 'ingress_policing_rate')) === '10000', 10000, 'the policing rate put back after it was cleared by hand');
    await lab.deleteQosRule(policy.id, 'bandwidth_limit', rule.id);
    await waitFor(async () => (await iface(a, 'ingress_policing_rate')) === '0', 15000, 'ingress_policing_rate back to 0');
    await waitFor(async () => !/kbps/.test(await meters()), 10000, 'the kbps meter gone');
    const lifted = await iperf(a, b);
    assert.ok(lifted > 30, `a->b ${lifted.toFixed(1)} Mbit/s once the rule is deleted`);
    await lab.setPortQosPolicy(a.portId, null);
    await lab.deleteQosPolicy(policy.id);
  });

  test('a 5 Mbit/s ingress limit holds towards the VM (linux-htb queue on its port) and not from it', async () => {
    const policy = await lab.createQosPolicy(`ingress-${ofInterface}`);
    await lab.createQosRule(policy.id, 'bandwidth_limit', { max_kbps: 5000, max_burst_kbps: 500, direction: 'ingress' });
    await lab.setPortQosPolicy(b.portId, policy.id);
    await waitFor(async () => (await ovs.vsctl('get', 'Port', b.tap, 'qos')).trim() !== '[]', 15000, 'a QoS on b\'s port');
    const qos = await ovs.vsctl('--columns=type,external_ids,other_config', 'list', 'QoS');
    assert.match(qos, /type\s+: linux-htb/);
    assert.match(qos, new RegExp(`id=${b.tap}`));
    const queue = await ovs.vsctl('--columns=other_config,external_ids', 'list', 'Queue');
    assert.match(queue, /max-rate="5000000"/);
    // An agent restart keeps the rows that are right: the same QoS row, never cleared meanwhile.
    const qosUuid = (await ovs.vsctl('get', 'Port', b.tap, 'qos')).trim();
    await agent.stop();
    agent.cleanup();
    agent = await startAgent(files, ovs);
    await agent.waitForLog(/first full sync done/, 30000);
    assert.equal((await ovs.vsctl('get', 'Port', b.tap, 'qos')).trim(), qosUuid, 'the same QoS row on b\'s port after a restart');
    const limited = await iperf(a, b);
    const reverse = await iperf(a, b, { reverse: true });
    note(`${tag} ingress limit 5 Mbit/s on b: a->b ${limited.toFixed(1)} Mbit/s, b->a ${reverse.toFixed(0)} Mbit/s`);
    assert.ok(limited <= 5.5 && limited > 2.5, `a->b ${limited.toFixed(2)} Mbit/s under b's 5 Mbit/s ingress limit`);
    assert.ok(reverse > 30, `b->a ${reverse.toFixed(1)} Mbit/s: b's egress is not limited`);
    await lab.setPortQosPolicy(b.portId, null);
    await waitFor(async () => (await ovs.vsctl('get', 'Port', b.tap, 'qos')).trim() === '[]', 15000, 'b\'s port QoS cleared');
    await waitFor(async () => (await ovs.vsctl('--columns=_uuid', 'list', 'QoS')).trim() === '', 10000, 'no QoS row left');
    await waitFor(async () => (await ovs.vsctl('--columns=_uuid', 'list', 'Queue')).trim() === '', 10000, 'no Queue row left');
    await lab.deleteQosPolicy(policy.id);
  });

  test('DSCP marking: a\'s packets carry DSCP 26 on the wire, and not once the rule is deleted', async () => {
    assert.equal(await tosSeen(a, b), '0x0');
    const policy = await lab.createQosPolicy(`dscp-${ofInterface}`);
    const rule = await lab.createQosRule(policy.id, 'dscp_marking', { dscp_mark: 26 });
    await lab.setPortQosPolicy(a.portId, policy.id);
    await waitFor(async () => (await ovs.dumpFlows('br-int')).some((f) => /ip_dscp|mod_nw_tos/.test(f)), 15000, 'the DSCP flows on br-int');
    assert.equal(await tosSeen(a, b), '0x68', 'DSCP 26 is TOS 0x68');
    await lab.deleteQosRule(policy.id, 'dscp_marking', rule.id);
    await waitFor(async () => !(await ovs.dumpFlows('br-int')).some((f) => /ip_dscp|mod_nw_tos/.test(f)), 15000, 'the DSCP flows gone');
    assert.equal(await tosSeen(a, b), '0x0');
    await lab.setPortQosPolicy(a.portId, null);
    await lab.deleteQosPolicy(policy.id);
  });

  test('a packet rate limit of 1 kpps caps what a sends; the port deleted takes its meter, flows and rows with it', async () => {
    const free = await iperf(a, b, { udpPps: true, seconds: 2 });
    const policy = await lab.createQosPolicy(`pps-${ofInterface}`);
    await lab.createQosRule(policy.id, 'packet_rate_limit', { max_kpps: 1, max_burst_kpps: 1, direction: 'egress' });
    await lab.setPortQosPolicy(a.portId, policy.id);
    await waitFor(async () => /pktps/.test(await meters()), 15000, 'a pktps meter on br-int');
    await waitFor(async () => (await ovs.dumpFlows('br-int')).some((f) => /table=59.*meter:/.test(f)), 10000, 'the meter flow in table 59');
    const capped = await iperf(a, b, { udpPps: true, seconds: 3 });
    note(`${tag} packet rate limit 1 kpps (burst 1 kp): a sends ${capped.toFixed(0)} pps (${free.toFixed(0)} without)`);
    assert.ok(capped < 1500 && capped > 500, `a->b ${capped.toFixed(0)} packets/s under a 1 kpps limit`);
    assert.ok(free > 3000, `without the limit a sends ${free.toFixed(0)} packets/s`);
    // A meter deleted by hand (its flow goes with it) is put back by the audit, flow and all.
    await ovs.ofctl('-O', 'OpenFlow13', 'del-meters', 'br-int');
    await waitFor(async () => /pktps/.test(await meters()) && (await ovs.dumpFlows('br-int')).some((f) => /table=59.*meter:/.test(f)), 15000, 'the meter and its flow put back');
    const stored = (await ovs.vsctl('get', 'Port', a.tap, 'other_config')).trim();
    assert.match(stored, new RegExp(`"?${a.portId}_egress"?="\\d+"`), 'the meter id kept in other_config as the reference keeps it');
    // The port goes: its rows, meter and flows go.
    await lab.deletePort(a.portId);
    await waitFor(async () => !/pktps/.test(await meters()), 15000, 'the meter gone with the port');
    assert.ok(!(await ovs.dumpFlows('br-int')).some((f) => /meter:/.test(f)), 'no meter flow left');
    await lab.deleteQosPolicy(policy.id);
    assert.match(agent.output, /extension qos loaded/);
    assert.doesNotMatch(agent.output, /ERROR/, 'no error logged');
  });

  test('a limited port unplugged while the agent was down: its QoS and Queue rows go once the restarted agent has synced', async () => {
    const net = (await lab.getPort(b.portId)).network_id;
    const port = await lab.createPort(net, { name: 'c', host: HOST });
    const c = await plugVm(ovs, port);
    const policy = await lab.createQosPolicy(`orphan-${ofInterface}`);
    await lab.createQosRule(policy.id, 'bandwidth_limit', { max_kbps: 3000, direction: 'ingress' });
    await lab.setPortQosPolicy(port.id, policy.id);
    const rows = async (table: string): Promise<string> => ovs.vsctl('--columns=external_ids', 'list', table);
    await waitFor(async () => (await rows('QoS')).includes(c.tap), 15000, 'c\'s ingress QoS row');
    await agent.stop();
    agent.cleanup();
    await c.unplug();
    assert.ok((await rows('QoS')).includes(c.tap), 'the QoS row outlives the port (QoS is a root table)');
    agent = await startAgent(files, ovs);
    await agent.waitForLog(/first full sync done/, 30000);
    await waitFor(async () => !(await rows('QoS')).includes(c.tap) && !(await rows('Queue')).includes(c.tap), 10000, 'c\'s QoS and Queue rows removed');
    assert.match(agent.output, /removed 1 QoS row\(s\) of ports no longer on br-int/);
    await lab.deletePort(port.id);
    await lab.deleteQosPolicy(policy.id);
  });
});
