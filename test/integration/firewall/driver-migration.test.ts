// Changing firewall_driver on a live host, as operators do it: the agent restarted with the other
// driver, VMs not re-plugged. iptables_hybrid -> openvswitch: the qvo ports stay on br-int, their
// filtering moves to flows and the old driver's chains and ipsets go (src/firewall/openvswitch/
// hybrid-leftovers.ts). openvswitch -> iptables_hybrid: the OVS driver's flows go with the previous
// run's cookie and iptables filters the ports again. Run under scripts/netns-run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import { AgentProcess } from '../../../lab/agent-process.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { NeutronLab, waitFor, waitForValue, type NeutronPort } from '../../../lab/neutron.js';
import { ping } from '../../../lab/vm.js';
import { plugHybridVm, type HybridVm } from '../../../lab/hybrid-vm.js';
import { Listener, probeTcp } from '../../../lab/traffic.js';
import { Pinger } from '../../helpers/resilience.js';
import { createFilteredPort, createSecurityGroup } from '../../../lab/security-groups.js';
import { resetFirewallState, saveFirewallState } from '../../helpers/iptables.js';
import { startLabAndOvs } from '../../../lab/host.js';

const HOST = 'migrating';
let lab: NeutronLab;
let ovs: PrivateOvs;
let agent: AgentProcess | undefined;
let ofPort = 0;
const vms: Record<string, HybridVm> = {};
const ports: Record<string, NeutronPort> = {};
let listener: Listener | undefined;

async function startAgent(firewallDriver: string): Promise<AgentProcess> {
  const a = new AgentProcess(
    labAgentFiles({ host: HOST, transportUrl: lab.transportUrl, ovsdbConnection: ovs.unixConnection, ofListenPort: ofPort, reportIntervalSec: 5, firewallDriver }),
    ovs.env,
  ).start();
  agent = a;
  await a.waitForLog(/first full sync done/, 90000);
  return a;
}

async function stopAgent(): Promise<void> {
  await agent?.stop();
  agent?.cleanup();
  agent = undefined;
}

const log = (): string => `\nagent log (last lines):\n${(agent?.output ?? '').split('\n').slice(-30).join('\n')}`;

/** Polls until `probe` gives `want`; the last value and the agent's log are in the failure. */
const eventually = <T>(what: string, probe: () => Promise<T>, want: T, timeoutMs = 20000): Promise<void> =>
  waitForValue(what, probe, want, timeoutMs, log, 250);

/** br-int's flows as [table, cookie] pairs. */
async function flowCookies(): Promise<Array<{ table: number; cookie: string }>> {
  return (await ovs.dumpFlows('br-int', { keepCookies: true })).map((l) => ({
    table: Number(/table=(\d+)/.exec(l)?.[1] ?? 0),
    cookie: /cookie=(0x[0-9a-f]+)/.exec(l)?.[1] ?? '0x0',
  }));
}

/** What a user sees of the firewall: an allowed ping answered, a TCP port without a rule dropped. */
async function assertFiltered(when: string): Promise<void> {
  await eventually(`${when}: client pings server (icmp allowed)`, () => ping(vms.client!, '192.0.2.10', { count: 1, timeoutMs: 1000 }), 1);
  assert.equal(await probeTcp(vms.client!, '192.0.2.10', 8001), 'timeout', `${when}: tcp/8001 has no rule and stays dropped${log()}`);
  assert.equal(await ping(vms.server!, '192.0.2.20', { count: 2, timeoutMs: 2000 }), 0, `${when}: the client allows no ingress`);
}

before(async () => {
  [lab, ovs] = await startLabAndOvs();
  await resetFirewallState();
  ofPort = await freePort();
  await startAgent('iptables_hybrid');
  await waitFor(async () => (await lab.listAgents()).some((a) => a.host === HOST && a.alive), 60000, 'the agent alive in the API');
  const net = await lab.createNetwork({ name: 'migration-net' });
  await lab.createSubnet(net.id, '192.0.2.0/24', { gatewayIp: null });
  const anyOut = [{ direction: 'egress' as const, ethertype: 'IPv4' as const }];
  const web = await createSecurityGroup(lab, 'web', [...anyOut, { direction: 'ingress', protocol: 'icmp' }]);
  const client = await createSecurityGroup(lab, 'client', anyOut);
  ports.server = await createFilteredPort(lab, net.id, { name: 'server', host: HOST, securityGroups: [web.sg.id], ip: '192.0.2.10' });
  ports.client = await createFilteredPort(lab, net.id, { name: 'client', host: HOST, securityGroups: [client.sg.id], ip: '192.0.2.20' });
  for (const [name, port] of Object.entries(ports)) {
    assert.equal(port['binding:vif_details']['ovs_hybrid_plug'], true, `port ${name} bound for hybrid plugging`);
    vms[name] = await plugHybridVm(ovs, port);
  }
  for (const [name, port] of Object.entries(ports)) {
    await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 60000, `port ${name} ACTIVE`).catch((e: unknown) => {
      throw new Error(`${String(e)}${log()}`);
    });
  }
  listener = await Listener.start(vms.server!, { tcp: [8001] });
}, { timeout: 300000 });

after(async () => {
  listener?.stop();
  for (const vm of Object.values(vms)) await vm.unplug().catch((e: unknown) => process.stderr.write(`${String(e)}\n`));
  await stopAgent().catch((e: unknown) => process.stderr.write(`stopping the agent: ${String(e)}\n`));
  await Promise.allSettled([lab?.stop(), ovs?.stop()]);
}, { timeout: 60000 });

test('iptables_hybrid -> openvswitch -> iptables_hybrid without re-plugging: always filtered, no allowed ping lost, no leftovers of the other driver', { timeout: 300000 }, async (t) => {
  // 1. iptables_hybrid: rules and sets in the kernel, ports filtered by them
  await assertFiltered('iptables_hybrid');
  const hybrid = await saveFirewallState();
  for (const p of Object.values(ports)) assert.ok(hybrid.iptables.includes(`neutron-openvswi-i${p.id.slice(0, 10)}`), `chain of port ${p.id}`);
  const hybridTables = new Set((await flowCookies()).map((f) => f.table));

  // 2. openvswitch, the qvo ports left where they are; an allowed ping runs across the swap
  let pinger = Pinger.start(vms.client!, '192.0.2.10', 0.05);
  await stopAgent();
  await startAgent('openvswitch');
  await eventually('no neutron-openvswi chain left in iptables', async () => /neutron-openvswi/.test((await saveFirewallState()).iptables), false);
  const ovsState = await saveFirewallState();
  assert.doesNotMatch(ovsState.ip6tables, /neutron-openvswi|neutron-filter-top/, 'none in ip6tables');
  assert.doesNotMatch(ovsState.iptables, /neutron-filter-top/, 'the shared top chain went with the only user');
  assert.equal(ovsState.ipset, '', 'the driver\'s ipsets are destroyed');
  let pings = await pinger.stop();
  t.diagnostic(`iptables_hybrid -> openvswitch: ${pings.received}/${pings.transmitted} pings answered, lost ${pings.lostSeqs.join(',') || 'none'}`);
  assert.deepEqual(pings.lostSeqs, [], 'no allowed ping lost while the filtering moved from iptables to flows');
  await assertFiltered('openvswitch (flows only)');
  const ovsFlows = await flowCookies();
  const firewallCookies = new Set(ovsFlows.filter((f) => f.table >= 71 && f.table <= 82).map((f) => f.cookie));
  assert.equal(firewallCookies.size, 1, `the OVS firewall's flows carry this run's cookie: ${[...firewallCookies].join(',')}`);
  const ovsCookie = [...firewallCookies][0]!;

  // 3. back to iptables_hybrid
  pinger = Pinger.start(vms.client!, '192.0.2.10', 0.05);
  await stopAgent();
  await startAgent('iptables_hybrid');
  await waitFor(async () => !(await flowCookies()).some((f) => f.cookie === ovsCookie), 20000, 'the OVS driver\'s flows removed with its cookie').catch((e: unknown) => {
    throw new Error(`${String(e)}${log()}`);
  });
  const backTables = new Set((await flowCookies()).map((f) => f.table));
  const extra = [...backTables].filter((t) => !hybridTables.has(t));
  assert.deepEqual(extra, [], 'no table in use that the first iptables_hybrid run did not use (60-82 of the OVS driver gone)');
  pings = await pinger.stop();
  t.diagnostic(`openvswitch -> iptables_hybrid: ${pings.received}/${pings.transmitted} pings answered, lost ${pings.lostSeqs.join(',') || 'none'}`);
  assert.deepEqual(pings.lostSeqs, [], 'no allowed ping lost while the filtering moved back to iptables');
  await assertFiltered('iptables_hybrid again');
  const back = await saveFirewallState();
  for (const p of Object.values(ports)) assert.ok(back.iptables.includes(`neutron-openvswi-i${p.id.slice(0, 10)}`), `chain of port ${p.id} again`);
});
