// The control plane going away and coming back: RabbitMQ stopped for 30 s, neutron-server
// restarted. The dataplane must not notice; the agent reconnects, resyncs and reports again, and a
// port plugged meanwhile becomes ACTIVE once the server can be told.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import type { AgentProcess } from '../../../lab/agent-process.js';
import { NeutronLab, waitFor, type NeutronNetwork, type NeutronPort } from '../../../lab/neutron.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import { Pinger, agentConfig, flowSet, missing, note, startAgent, stopLabHost, waitAgentAlive, type Killable } from '../../helpers/resilience.js';
import { startLabAndOvs } from '../../../lab/host.js';

const HOST = 'rs-control';
let lab: NeutronLab;
let ovs: PrivateOvs;
let agent: AgentProcess;
let netA: NeutronNetwork;
let v1: Vm;
let v2: Vm;
const running: Killable[] = [];

async function waitStatus(portId: string, status: string, ms = 30000): Promise<number> {
  const t0 = Date.now();
  await waitFor(async () => (await lab.getPort(portId)).status === status, ms, `port ${portId} ${status}`, 100);
  return Date.now() - t0;
}
/** The agent's last heartbeat as the server recorded it (ms since the epoch, UTC). */
async function heartbeat(): Promise<number> {
  const a = (await lab.listAgents()).find((x) => x.host === HOST);
  assert.ok(a, `agent of ${HOST} registered`);
  return Date.parse(`${String(a['heartbeat_timestamp']).replace(' ', 'T')}Z`);
}
async function bootVm(name: string): Promise<{ port: NeutronPort; vm: Vm }> {
  const port = await lab.createPort(netA.id, { name, host: HOST });
  return { port, vm: await plugVm(ovs, port) };
}

before(async () => {
  // Stops RabbitMQ and neutron-server: a lab of its own, never the one other files share.
  [lab, ovs] = await startLabAndOvs({}, { own: true });
  agent = await startAgent(agentConfig(lab, ovs, { host: HOST, ofListenPort: await freePort() }), ovs);
  await waitAgentAlive(lab, HOST);
  netA = await lab.createNetwork({ name: 'rs-ctl' });
  await lab.createSubnet(netA.id, '198.51.100.0/24', { gatewayIp: null });
  const a1 = await bootVm('c1');
  const a2 = await bootVm('c2');
  await Promise.all([waitStatus(a1.port.id, 'ACTIVE'), waitStatus(a2.port.id, 'ACTIVE')]);
  [v1, v2] = [a1.vm, a2.vm];
}, { timeout: 240000 });

after(() => stopLabHost({ host: HOST, agent, ovs, lab, running }), { timeout: 60000 });

test('RabbitMQ stopped for 30 s: pings go on, the agent reconnects, reports and wires the port plugged meanwhile', async () => {
  // Created while the API can still notify; plugged while the broker is gone.
  const port3 = await lab.createPort(netA.id, { name: 'c3', host: HOST });
  const flowsBefore = await flowSet(ovs, 'br-int');
  const pinger = await Pinger.startAnswered(v1, v2.ip, running, 'pinging before the broker stops');

  const reconnectsBefore = (agent.output.match(/reconnected to/g) ?? []).length;
  await lab.stopRabbit();
  const tStopped = Date.now();
  const v3 = await plugVm(ovs, port3);
  await new Promise((r) => setTimeout(r, 30000 - (Date.now() - tStopped)));
  assert.equal(agent.exitCode, undefined, 'the agent survives 30 s without a broker');
  assert.equal((await lab.getPort(port3.id)).status, 'DOWN', 'nobody could tell the server yet');
  await lab.startRabbit();
  const tBack = Date.now();

  await waitFor(() => (agent.output.match(/reconnected to/g) ?? []).length > reconnectsBefore, 60000, 'the agent to log its reconnection');
  const reconnectMs = Date.now() - tBack;
  await waitStatus(port3.id, 'ACTIVE', 60000).catch((e: unknown) => {
    // What the agent did meanwhile tells whether it or the server was slow.
    throw new Error(`${e instanceof Error ? e.message : String(e)}; the agent's last lines:\n${agent.output.split('\n').slice(-40).join('\n')}`);
  });
  const activeMs = Date.now() - tBack;
  await waitFor(async () => (await heartbeat()) >= tBack - 1000, 30000, 'a state report after the broker is back');
  const reportMs = Date.now() - tBack;
  assert.ok((await lab.listAgents()).find((a) => a.host === HOST)?.alive, 'agent alive in the API');
  assert.equal(await ping(v3, v1.ip, { count: 2, timeoutMs: 5000 }), 2, 'the port plugged meanwhile reaches v1');
  const summary = await pinger.stop();
  assert.deepEqual(missing(flowsBefore, await flowSet(ovs, 'br-int')), [], 'no flow lost');
  note(`RabbitMQ down 30 s: ${summary.lostSeqs.length} of ${summary.transmitted} pings lost; after it was back: reconnected in ${reconnectMs} ms, port plugged meanwhile ACTIVE in ${activeMs} ms, state reported again within ${reportMs} ms`);
  assert.deepEqual(summary.lostSeqs, [], 'no ping lost');
});

test('neutron-server restarted: pings go on, the agent keeps reporting, a port plugged meanwhile becomes ACTIVE', async () => {
  const port4 = await lab.createPort(netA.id, { name: 'c4', host: HOST });
  const pinger = await Pinger.startAnswered(v1, v2.ip, running, 'pinging before the restart');

  await lab.stopServer();
  const tStopped = Date.now();
  const v4 = await plugVm(ovs, port4);
  await new Promise((r) => setTimeout(r, 5000));
  assert.equal(agent.exitCode, undefined, 'the agent survives the server going away');
  await lab.startMissing();
  const tBack = Date.now();
  await waitStatus(port4.id, 'ACTIVE', 90000);
  const activeMs = Date.now() - tBack;
  await waitFor(async () => (await heartbeat()) >= tBack - 1000, 30000, 'a state report after the server is back');
  const reportMs = Date.now() - tBack;
  assert.ok((await lab.listAgents()).find((a) => a.host === HOST)?.alive, 'agent alive in the API');
  assert.equal(await ping(v4, v1.ip, { count: 2, timeoutMs: 5000 }), 2, 'the port plugged meanwhile reaches v1');
  const summary = await pinger.stop();
  note(`neutron-server restart (down ${tBack - tStopped} ms incl. its start-up): ${summary.lostSeqs.length} of ${summary.transmitted} pings lost; port plugged meanwhile ACTIVE ${activeMs} ms after the API answered again, state reported within ${reportMs} ms`);
  assert.deepEqual(summary.lostSeqs, [], 'no ping lost');
});
