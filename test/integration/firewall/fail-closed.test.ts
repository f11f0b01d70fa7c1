// Fail closed: a port the firewall cannot be told about is isolated, never tagged unfiltered. A Port
// object the firewall cannot parse (security_group_ids garbled in a push, which device details do
// not read) puts the port on the dead VLAN; the next good push brings it back, filtered. With
// security groups disabled no port is filtered, so such an object isolates nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { AgentProcess } from '../../../lab/agent-process.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { waitFor, type NeutronLab, type NeutronPort } from '../../../lab/neutron.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import { tearDownTestHost } from '../../helpers/teardown.js';
import { startLabAndOvs } from '../../../lab/host.js';
import { createFilteredPort, createSecurityGroup } from '../../../lab/security-groups.js';
import { AmqpConnection } from '../../../src/rpc/amqp-connection.js';
import { RpcClient } from '../../../src/rpc/client.js';
import { buildCastMessage, encodeEnvelope, adminContext, isJsonObject, type JsonObject, type JsonValue } from '../../../src/rpc/envelope.js';

const HOST = 'compute1';
let lab: NeutronLab;
let ovs: PrivateOvs;
let agent: AgentProcess;
let a: Vm;
let b: Vm;
let portB: NeutronPort;
let conn: AmqpConnection;
let client: RpcClient;
let raw: amqp.ChannelModel;

before(async () => {
  [lab, ovs] = await startLabAndOvs();
  agent = new AgentProcess(
    labAgentFiles({ host: HOST, transportUrl: lab.transportUrl, ovsdbConnection: ovs.unixConnection, ofListenPort: 16694, reportIntervalSec: 5, firewallDriver: 'openvswitch' }),
    ovs.env,
  ).start();
  await agent.waitForLog(/bridges set up/);
  await waitFor(async () => (await lab.listAgents()).find((x) => x.host === HOST && x.alive), 60000, 'the agent alive in the API');
  const net = await lab.createNetwork({ name: 'fail-closed' });
  await lab.createSubnet(net.id, '192.0.2.0/24', { gatewayIp: null });
  const { sg } = await createSecurityGroup(lab, 'ping', [
    { direction: 'egress', ethertype: 'IPv4' },
    { direction: 'ingress', protocol: 'icmp' },
  ]);
  const portA = await createFilteredPort(lab, net.id, { name: 'a', host: HOST, securityGroups: [sg.id], ip: '192.0.2.11' });
  portB = await createFilteredPort(lab, net.id, { name: 'b', host: HOST, securityGroups: [sg.id], ip: '192.0.2.12' });
  a = await plugVm(ovs, portA);
  b = await plugVm(ovs, portB);
  for (const p of [portA, portB]) await waitFor(async () => (await lab.getPort(p.id)).status === 'ACTIVE', 30000, `port ${p.name} ACTIVE`, 100);
  conn = new AmqpConnection({ transportUrl: lab.transportUrl, purpose: 'fail-closed test' });
  await conn.start();
  client = await RpcClient.create({ connection: conn });
  raw = await amqp.connect(lab.transportUrl.replace(/^rabbit:/, 'amqp:'));
}, { timeout: 240000 });

after(async () => {
  await client?.close().catch(() => undefined);
  await conn?.close().catch(() => undefined);
  await raw?.close().catch(() => undefined);
  await tearDownTestHost('fail-closed firewall', { agent, ovs, lab });
}, { timeout: 60000 });

async function tagOf(portName: string): Promise<string> {
  return (await ovs.vsctl('get', 'Port', portName, 'tag')).trim();
}

/** Pushes of port b's Port object as the server sends them, from its own primitive, altered. */
async function portBPushes(): Promise<{ data: JsonObject; revision: number; push: (d: JsonObject) => void; close: () => Promise<void> }> {
  const pulled = await client.call('q-plugin', 'bulk_pull', { resource_type: 'Port', version: '1.7', filter_kwargs: { id: [portB.id] } }, { version: '1.1' });
  assert.ok(Array.isArray(pulled) && isJsonObject(pulled[0]), `bulk_pull of port b: ${JSON.stringify(pulled)}`);
  const primitive = pulled[0] as JsonObject;
  const data = primitive['versioned_object.data'] as JsonObject;
  const ch = await raw.createChannel();
  const push = (d: JsonObject) =>
    ch.publish(
      'neutron-vo-Port-1.7_fanout',
      'neutron-vo-Port-1.7',
      Buffer.from(encodeEnvelope(buildCastMessage('push', { resource_list: [{ ...primitive, 'versioned_object.data': d }] as JsonValue, event_type: 'updated' }, { version: '1.1', context: adminContext() }))),
      { contentType: 'application/json' },
    );
  return { data, revision: Number(data['revision_number'] ?? 0), push, close: () => ch.close() };
}

test('a port whose neutron object the firewall cannot parse goes to the dead VLAN, and comes back with a good one', async () => {
  assert.equal(await ping(a, '192.0.2.12'), 3, 'a pings b while b is filtered');
  const goodTag = await tagOf(b.tap);
  const { data, revision, push, close } = await portBPushes();

  push({ ...data, security_group_ids: 'garbage', description: 'garbled by the test', revision_number: revision + 1 });
  await waitFor(async () => (await tagOf(b.tap)) === '4095', 20000, 'port b on the dead VLAN').catch((e: unknown) => {
    throw new Error(`${String(e)}\n${agent.output.split('\n').slice(-30).join('\n')}`);
  });
  assert.match(agent.output, new RegExp(`port ${portB.id} \\(${b.tap}\\): cannot be filtered, isolated on the dead VLAN`));
  assert.equal(await ping(a, '192.0.2.12', { count: 2, timeoutMs: 2000 }), 0, 'nothing reaches the isolated port');

  push({ ...data, description: 'good again', revision_number: revision + 2 });
  await waitFor(async () => (await tagOf(b.tap)) === goodTag, 20000, 'port b back on its VLAN');
  assert.equal(await ping(a, '192.0.2.12'), 3, 'a pings b again, filtered');
  await close();
});

test('with security groups disabled nothing is filtered, so the same garbled object leaves the port wired', async () => {
  await agent.stop();
  agent.cleanup();
  agent = new AgentProcess(
    labAgentFiles({
      host: HOST, transportUrl: lab.transportUrl, ovsdbConnection: ovs.unixConnection, ofListenPort: 16694, reportIntervalSec: 5,
      firewallDriver: 'openvswitch', securitygroup: ['enable_security_group = False'],
    }),
    ovs.env,
  ).start();
  await agent.waitForLog(/bridges set up/);
  await waitFor(async () => (await ping(a, '192.0.2.12', { count: 1, timeoutMs: 1000 })) === 1, 60000, 'a pings b under the restarted agent');
  const tag = await tagOf(b.tap);
  assert.notEqual(tag, '4095');
  const { data, revision, push, close } = await portBPushes();
  const wiredBefore = wiredReports(portB.id);
  push({ ...data, security_group_ids: 'garbage', description: 'garbled by the test, no firewall to read it', revision_number: revision + 10 });
  // The push is handled as an update of port b: a pass wires it again and reports it up.
  await waitFor(async () => wiredReports(portB.id) > wiredBefore, 20000, 'port b handled again after the push');
  assert.equal(await tagOf(b.tap), tag, 'port b keeps its VLAN');
  assert.doesNotMatch(agent.output, /cannot be filtered/);
  assert.equal(await ping(a, '192.0.2.12'), 3, 'a pings b');
  await close();
});

/** How many times the agent has logged port `id` among the devices it configured up. */
function wiredReports(id: string): number {
  return agent.output.split('\n').filter((l) => l.includes('Configuration for devices up') && l.includes(id)).length;
}
