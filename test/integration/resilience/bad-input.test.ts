// Bad input never takes the agent down: malformed messages published straight onto its queues,
// OVSDB rows with missing or garbage external_ids, a port neutron does not know, flow mods the
// switch refuses. After each, the agent is still running, says what it dropped (once, with
// context), and good work still succeeds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import type { AgentProcess } from '../../../lab/agent-process.js';
import { NeutronLab, waitFor, type NeutronNetwork, type NeutronPort } from '../../../lab/neutron.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import { agentConfig, startAgent, flowSet, note, stopLabHost, waitAgentAlive } from '../../helpers/resilience.js';
import { buildCastMessage, encodeEnvelope, adminContext, type JsonObject, type JsonValue } from '../../../src/rpc/envelope.js';
import { startLabAndOvs } from '../../../lab/host.js';

const HOST = 'rs-badinput';
const DEAD = 4095;
let lab: NeutronLab;
let ovs: PrivateOvs;
let agent: AgentProcess;
let net: NeutronNetwork;
let v1: Vm;
let amqpConn: amqp.ChannelModel;
let ch: amqp.Channel;

async function waitStatus(portId: string, status: string, ms = 30000): Promise<void> {
  await waitFor(async () => (await lab.getPort(portId)).status === status, ms, `port ${portId} ${status}`, 100);
}
async function bootVm(name: string): Promise<{ port: NeutronPort; vm: Vm }> {
  const port = await lab.createPort(net.id, { name, host: HOST });
  return { port, vm: await plugVm(ovs, port) };
}
/** A well-formed and good port still works: plugged, ACTIVE, pings v1. */
async function goodWorkStillSucceeds(name: string): Promise<void> {
  const { port, vm } = await bootVm(name);
  await waitStatus(port.id, 'ACTIVE');
  assert.equal(await ping(vm, v1.ip, { count: 1, timeoutMs: 5000 }), 1, `${name} reaches v1`);
  await vm.unplug();
}
const logCount = (s: string) => agent.output.split('\n').filter((l) => l.includes(s)).length;
const cast = (method: string, args: JsonObject, version = '1.7'): string =>
  encodeEnvelope(buildCastMessage(method, args, { version, context: adminContext() }));

before(async () => {
  [lab, ovs] = await startLabAndOvs();
  agent = await startAgent(agentConfig(lab, ovs, { host: HOST, ofListenPort: await freePort() }), ovs);
  await waitAgentAlive(lab, HOST);
  net = await lab.createNetwork({ name: 'rs-bad' });
  await lab.createSubnet(net.id, '192.0.2.0/24', { gatewayIp: null });
  const a = await bootVm('good-1');
  await waitStatus(a.port.id, 'ACTIVE');
  v1 = a.vm;
  amqpConn = await amqp.connect(lab.transportUrl.replace(/^rabbit:/, 'amqp:'));
  ch = await amqpConn.createChannel();
}, { timeout: 240000 });

after(async () => {
  await amqpConn?.close().catch(() => undefined);
  await stopLabHost({ host: HOST, agent, ovs, lab });
}, { timeout: 60000 });

test('malformed RPC messages on the agent queues are dropped with a log line each; the agent goes on', async () => {
  const l2pop = 'q-agent-notifier-l2population-update';
  const toHost = (body: string | Buffer) => ch.publish('neutron', `${l2pop}.${HOST}`, Buffer.from(body), { contentType: 'application/json' });
  const fanout = (topic: string, body: string | Buffer) => ch.publish(`${topic}_fanout`, topic, Buffer.from(body), { contentType: 'application/json' });
  const m = randomUUID().slice(0, 8); // marks this run's messages in the log
  const fdb = (entries: JsonValue) => cast('add_fdb_entries', { fdb_entries: entries });
  const vni = net['provider:segmentation_id']!;
  const k = (i: number) => `${m}x${i}`; // one marker per case
  const cases: Array<[string, () => boolean, string]> = [
    // [what, publish, a string the log line must contain]
    ['not JSON', () => toHost(`garbage ${k(1)} {{{`), k(1)],
    ['JSON without an envelope', () => toHost(JSON.stringify({ hello: k(2) })), k(2)],
    ['envelope whose message is not JSON', () => toHost(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': `{bad ${k(3)}` })), k(3)],
    ['envelope of an unknown version', () => toHost(JSON.stringify({ 'oslo.version': '9.9', 'oslo.message': `{"method":"${k(4)}"}` })), k(4)],
    ['request without a method', () => toHost(encodeEnvelope({ args: { marker: k(5) }, _unique_id: k(5) })), k(5)],
    ['args that are not an object', () => toHost(encodeEnvelope({ method: `args_${k(6)}`, args: [1, 2] })), `args_${k(6)}`],
    ['unknown method', () => toHost(cast(`no_such_method_${k(7)}`, {})), `no_such_method_${k(7)}`],
    ['unsupported version', () => toHost(cast(`add_fdb_entries`, { fdb_entries: {}, marker: k(8) }, '9.7')), 'RPC version 9.7'],
  ];
  for (const [, publish] of cases) publish();
  // Huge: 8 MB of fdb entries for a network this host does not have.
  const huge = fdb({ [`huge-${m}`]: { network_type: 'vxlan', segment_id: 1, ports: { '192.0.2.250': Array.from({ length: 200000 }, (_, i) => [`fa:16:3e:00:${(i >> 8) & 0xff}:${i & 0xff}`, `10.${i >> 16}.${(i >> 8) & 0xff}.${i & 0xff}`]) } } });
  toHost(huge);
  // fdb entries of every wrong shape, some for the network this host does have.
  const shapes: JsonValue[] = [
    'a string',
    [1, 2, 3],
    { [net.id]: 'not an object' },
    { [net.id]: { network_type: 'vxlan', segment_id: vni, ports: 'not an object' } },
    { [net.id]: { network_type: 'vxlan', segment_id: vni, ports: { '192.0.2.251': 'not a list' } } },
    { [net.id]: { network_type: 'vxlan', segment_id: vni, ports: { '192.0.2.251': [['only-a-mac'], 7, null, [1, 2]] } } },
    { [net.id]: { network_type: 'vxlan', segment_id: vni, ports: { 'not-an-ip': [['fa:16:3e:00:00:01', '192.0.2.9']] } } },
    { [net.id]: { network_type: 'vxlan', segment_id: vni, ports: { '192.0.2.252': [['zz:zz:zz:zz:zz:zz', '192.0.2.9'], ['fa:16:3e:00:00:02', 'not-an-ip'], ['fa:16:3e:00:00:03', '192.0.2.77']] } } },
    { [net.id]: { network_type: 'ethernet-over-carrier-pigeon', segment_id: vni, ports: {} } },
    { [net.id]: { network_type: 'vxlan', segment_id: 'seven', ports: {} } },
  ];
  for (const s of shapes) toHost(fdb(s));
  toHost(cast('remove_fdb_entries', { fdb_entries: { [net.id]: { network_type: 'vxlan', segment_id: vni, ports: { '192.0.2.253': [['zz', 'zz']] } } } }));
  toHost(cast('update_fdb_entries', { fdb_entries: { chg_ip: { [net.id]: { '192.0.2.254': { before: 'x', after: [[1, 2]] } } }, bogus_action: {} } }));
  toHost(cast('tunnel_update', { tunnel_ip: 'not-an-ip', tunnel_type: 'vxlan' }));
  toHost(cast('tunnel_delete', { tunnel_ip: 42, tunnel_type: null }));
  // The resource push fanouts: garbage lists and objects.
  const push = (list: JsonValue, ev: JsonValue) => fanout('neutron-vo-Port-1.7', cast('push', { resource_list: list, event_type: ev }, '1.1'));
  push('garbage', 'updated');
  push([1, 'two', null], 'updated');
  push([{ 'versioned_object.name': 'Port', 'versioned_object.data': { no_id: true } }], 'updated');
  push([{ 'versioned_object.name': 'Port', 'versioned_object.data': { id: randomUUID(), network_id: 5, binding_levels: 'x' } }], 'created');
  push([{ 'versioned_object.name': 'Port', 'versioned_object.data': { id: randomUUID() } }], 'exploded');
  push([{ 'versioned_object.name': 'Port', 'versioned_object.data': { id: 7 } }], 'deleted');
  fanout('neutron-vo-Network-1.1', cast('push', { resource_list: [{ 'versioned_object.name': 'Network', 'versioned_object.data': { id: net.id, segments: 'garbage' } }], event_type: 'updated' }, '1.1'));

  // Each malformed message leaves exactly one log line naming it.
  await waitFor(() => cases.every(([, , s]) => logCount(s) >= 1), 20000, 'a log line for every malformed message').catch((e: unknown) => {
    throw new Error(`${String(e)}: missing ${cases.filter(([, , s]) => logCount(s) === 0).map(([w]) => w).join(', ')}\n${agent.output.slice(-4000)}`);
  });
  await new Promise((r) => setTimeout(r, 2000));
  for (const [what, , s] of cases) assert.equal(logCount(s), 1, `${what}: logged once (${s})`);
  assert.equal(agent.exitCode, undefined, `the agent is still running:\n${agent.output.slice(-3000)}`);
  // Nothing got wired from garbage: no tunnel port to "not-an-ip" or any fdb address above. The
  // good entry's tunnel port may still be on its way (messages are handled in turn): wait for it.
  const tunnelPorts = async () => (await ovs.vsctl('list-ports', 'br-tun')).split('\n').filter((p) => p.startsWith('vxlan-'));
  await waitFor(async () => (await tunnelPorts()).includes('vxlan-c00002fc'), 20000, 'the tunnel port of the good fdb entry').catch(async (e: unknown) => {
    throw new Error(`${String(e)}: ${(await tunnelPorts()).join(',')}\n${agent.output.slice(-3000)}`);
  });
  const tunPorts = await tunnelPorts();
  // 192.0.2.250 (a network not on this host), .253 (a remove), .254 (an update) never get one.
  assert.deepEqual(tunPorts.filter((p) => ['c00002fa', 'c00002fd', 'c00002fe'].some((h) => p.endsWith(h))), [], `no tunnel port from malformed fdb entries: ${tunPorts.join(',')}`);
  // The good entry that came with two malformed ones in the same message is installed.
  // (fdb messages are handled one after another, each maybe creating a tunnel port: give it time)
  await waitFor(async () => [...(await flowSet(ovs, 'br-tun'))].some((f) => f.includes('dl_dst=fa:16:3e:00:00:03')), 20000, 'the unicast flow of the good fdb entry').catch(async (e: unknown) => {
    throw new Error(`${String(e)}:\n${[...(await flowSet(ovs, 'br-tun'))].join('\n')}\n${agent.output.slice(-3000)}`);
  });
  await goodWorkStillSucceeds('good-after-rpc');
  note(`${cases.length + shapes.length + 11} malformed RPC messages (one of ${Math.round(huge.length / 1e6)} MB): agent running, each malformed envelope logged once, a new port ACTIVE and pinging afterwards`);
});

test('OVSDB rows with missing or garbage external_ids, and a port neutron does not know, end on the dead VLAN or are ignored', async () => {
  const unknownId = randomUUID();
  const rows: Array<[string, string[]]> = [
    ['bad-unknown', [`external_ids:iface-id=${unknownId}`, 'external_ids:attached-mac=fa:16:3e:aa:bb:01', 'external_ids:iface-status=active']],
    ['bad-emptyid', ['external_ids:iface-id=""', 'external_ids:attached-mac=fa:16:3e:aa:bb:02']],
    ['bad-garbage', ['external_ids:iface-id="\\u00ff{}[] \\" ; drop table"', 'external_ids:attached-mac=not-a-mac']],
    ['bad-hugeid', [`external_ids:iface-id=${'x'.repeat(20000)}`, 'external_ids:attached-mac=fa:16:3e:aa:bb:04']],
    ['bad-nomac', [`external_ids:iface-id=${randomUUID()}`]],
    ['bad-noids', []],
  ];
  for (const [name, ids] of rows) {
    await ovs.vsctl('add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=internal', ...(ids.length ? ['--', 'set', 'Interface', name, ...ids] : []));
  }
  // A device that does not exist: ofport -1, must be skipped quietly.
  await ovs.vsctl('add-port', 'br-int', 'bad-nodev', '--', 'set', 'Interface', 'bad-nodev', `external_ids:iface-id=${randomUUID()}`, 'external_ids:attached-mac=fa:16:3e:aa:bb:05');

  const tagOf = async (p: string) => await ovs.vsctl('get', 'Port', p, 'tag');
  await waitFor(async () => (await tagOf('bad-unknown')) === String(DEAD), 20000, 'the unknown port on the dead VLAN');
  const ofportUnknown = Number(await ovs.vsctl('get', 'Interface', 'bad-unknown', 'ofport'));
  const flows = await flowSet(ovs, 'br-int');
  assert.ok(flows.has(`priority=2,in_port=${ofportUnknown} actions=drop`), `drop flow for the unknown port:\n${[...flows].join('\n')}`);
  // Ports with an iface-id (even an empty or odd one) are VIFs neutron does not know: dead VLAN.
  for (const p of ['bad-emptyid', 'bad-garbage', 'bad-hugeid']) {
    await waitFor(async () => (await tagOf(p)) === String(DEAD), 20000, `${p} on the dead VLAN`);
  }
  // Without attached-mac or iface-id it is not a VIF (as for the reference): left alone.
  assert.equal(await tagOf('bad-nomac'), '[]');
  assert.equal(await tagOf('bad-noids'), '[]');
  assert.equal(agent.exitCode, undefined, 'the agent is still running');
  await goodWorkStillSucceeds('good-after-ovsdb');
  for (const [name] of rows) await ovs.vsctl('del-port', 'br-int', name);
  await ovs.vsctl('del-port', 'br-int', 'bad-nodev');
});

test('a flow mod the switch refuses is logged with bridge and flow, and the port is wired once the switch accepts it', async () => {
  // br-int's MAC anti-spoofing table (25) full: the switch answers the next add with OFPFMFC_TABLE_FULL.
  const t25 = (await ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', 'br-int', 'table=25')).split('\n').filter((l) => l.includes('table=25')).length;
  await ovs.vsctl('--', '--id=@ft', 'create', 'Flow_Table', `flow_limit=${t25}`, 'overflow_policy=refuse', 'name=full', '--', 'set', 'Bridge', 'br-int', 'flow_tables:25=@ft');
  const errorsBefore = logCount('OFPFMFC_TABLE_FULL');
  const { port, vm } = await bootVm('refused');
  await waitFor(() => logCount('OFPFMFC_TABLE_FULL') > errorsBefore, 20000, 'the refusal in the log');
  const line = agent.output.split('\n').find((l, i, all) => l.includes('OFPFMFC_TABLE_FULL') && all.slice(0, i).filter((x) => x.includes('OFPFMFC_TABLE_FULL')).length === errorsBefore)!;
  assert.match(line, /br-int/, 'names the bridge');
  assert.match(line, /table=25/, 'names the refused flow');
  assert.equal((await lab.getPort(port.id)).status, 'DOWN', 'not reported up while its flows are refused');
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(agent.exitCode, undefined, 'the agent is still running');

  const tFixed = Date.now();
  await ovs.vsctl('remove', 'Bridge', 'br-int', 'flow_tables', '25');
  await waitStatus(port.id, 'ACTIVE', 30000);
  const fixedMs = Date.now() - tFixed;
  assert.equal(await ping(vm, v1.ip, { count: 1, timeoutMs: 5000 }), 1, 'the port works once its flows are in');
  note(`flow mods refused (table full): ${logCount('OFPFMFC_TABLE_FULL') - errorsBefore} log lines while refused; port ACTIVE ${fixedMs} ms after the table had room again`);
  await vm.unplug();
});
