// Bridges and the OVS database changing under the running agent, as an operator or a deployment
// tool changes them: br-int and br-tun deleted and added again by hand (the VM ports go with them
// and are replugged, as Nova/os-vif replugs), br-int given another datapath id, and the whole
// Open vSwitch database wiped and created anew (a containerised OVS without a persistent volume).
// Each time the VMs must ping again without restarting the agent, and the flows must be those a
// freshly started agent installs (the openvswitch firewall's included, in the third run). One
// neutron lab for the file; each run gets its own private OVS and agent.
import { describe, test, before, after } from 'node:test';
import { writeFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import type { AgentProcess } from '../../../lab/agent-process.js';
import { NeutronLab, waitFor, type NeutronNetwork, type NeutronPort } from '../../../lab/neutron.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { createFilteredPort, createSecurityGroup } from '../../../lab/security-groups.js';
import { Pinger, startAgent, stopAgentHost, flowSet, missing, note } from '../../helpers/resilience.js';

/** From the last add-br (or ovs-vswitchd back) to the first ping reply, VM ports replugged meanwhile. */
const RECOVERY_BOUND_MS = 10_000;

let lab: NeutronLab;
before(async () => {
  lab = await NeutronLab.start();
}, { timeout: 240000 });
after(async () => {
  await lab?.stop();
}, { timeout: 60000 });

/**
 * Conjunction ids renumbered by rank: a restarted agent numbers its conjunctions above the previous
 * run's (so the two never mix), which is the only way its firewall flows may differ.
 */
function rankConjIds(flows: Set<string>): Set<string> {
  const ids = new Set<number>();
  for (const f of flows) for (const m of f.matchAll(/conj_id=(\d+)|conjunction\((\d+),/g)) ids.add(Number(m[1] ?? m[2]));
  const rank = new Map([...ids].sort((a, b) => a - b).map((id, i) => [id, i + 1]));
  const ranked = (id: number): string => (rank.has(id) ? `#${rank.get(id)}` : String(id));
  return new Set([...flows].map((f) => f
    .replace(/conj_id=(\d+)/g, (_, id: string) => `conj_id=${ranked(Number(id))}`)
    .replace(/conjunction\((\d+),/g, (_, id: string) => `conjunction(${ranked(Number(id))},`)
    .replace(/set_field:0x([0-9a-f]+)->reg7/g, (all, hex: string) => (rank.has(parseInt(hex, 16)) ? `set_field:${ranked(parseInt(hex, 16))}->reg7` : all))));
}

const RUNS = [
  { ofInterface: 'native', host: 'rs-bridges' },
  { ofInterface: 'ovs-ofctl', host: 'rs-bridges-ofctl' },
  { ofInterface: 'native', firewallDriver: 'openvswitch', host: 'rs-bridges-ovsfw' },
] as const;

for (const run of RUNS) describe(`of_interface = ${run.ofInterface}${'firewallDriver' in run ? `, firewall_driver = ${run.firewallDriver}` : ''}`, () => {
  const { ofInterface, host: HOST } = run;
  const firewallDriver = 'firewallDriver' in run ? run.firewallDriver : undefined;
  const tag = `[${ofInterface}${firewallDriver ? ` + ${firewallDriver} firewall` : ''}]`;
  let sgId: string | undefined;
  let ovs: PrivateOvs;
  let agent: AgentProcess;
  let files: Record<string, string>;
  let net: NeutronNetwork;
  let v1: Vm;
  let v2: Vm;
  const pingers: Pinger[] = [];

  async function bootVm(name: string): Promise<{ port: NeutronPort; vm: Vm }> {
    const port = sgId
      ? await createFilteredPort(lab, net.id, { name, host: HOST, securityGroups: [sgId] })
      : await lab.createPort(net.id, { name, host: HOST });
    const vm = await plugVm(ovs, port);
    return { port, vm };
  }
  async function waitStatus(portId: string, status: string, ms = 30000): Promise<void> {
    await waitFor(async () => (await lab.getPort(portId)).status === status, ms, `port ${portId} ${status}`, 50);
  }
  async function bridgeExists(name: string): Promise<boolean> {
    return ovs.vsctl('br-exists', name).then(() => true, () => false);
  }
  const warnings = (re: RegExp): string[] => agent.output.split('\n').filter((l) => /WARNING/.test(l) && re.test(l));

  /**
   * The flows of br-int and br-tun equal those a freshly started agent installs on the same OVS and
   * ports: the agent is restarted and, once its first full sync has removed the previous run's
   * flows, both sets are compared (cookies left out).
   */
  async function assertFlowsAsFreshAgent(what: string): Promise<void> {
    // The pass that rewires the replugged ports after the re-setup, then nothing changing for a second.
    await agent.waitForLog(/bridges set up again[\s\S]*pass: /, 20000);
    let last = '';
    await waitFor(async () => {
      const now = JSON.stringify([...(await ovs.dumpFlows('br-int')), ...(await ovs.dumpFlows('br-tun'))]);
      const settled = now === last;
      last = now;
      return settled;
    }, 20000, 'the flows settled', 1000);
    const recovered = { int: rankConjIds(await flowSet(ovs, 'br-int')), tun: await flowSet(ovs, 'br-tun') };
    await agent.stop();
    agent.cleanup();
    if (process.env.RS_KEEP_LOG) writeFileSync(`${process.env.RS_KEEP_LOG}/${HOST}-${what.replace(/\W+/g, '-')}.log`, agent.output);
    agent = await startAgent(files, ovs);
    await agent.waitForLog(/first full sync done/, 60000);
    const oneCookie = async (br: string) => new Set((await ovs.dumpFlows(br, { keepCookies: true })).map((l) => /cookie=(0x[0-9a-f]+)/.exec(l)?.[1])).size === 1;
    await waitFor(async () => (await oneCookie('br-int')) && (await oneCookie('br-tun')), 20000, 'only the fresh agent\'s cookie left');
    const fresh = { int: rankConjIds(await flowSet(ovs, 'br-int')), tun: await flowSet(ovs, 'br-tun') };
    assert.deepEqual(
      { intMissing: missing(fresh.int, recovered.int), intExtra: missing(recovered.int, fresh.int), tunMissing: missing(fresh.tun, recovered.tun), tunExtra: missing(recovered.tun, fresh.tun) },
      { intMissing: [], intExtra: [], tunMissing: [], tunExtra: [] },
      `${what}: flows of the recovered agent equal a freshly started agent's`,
    );
  }

  before(async () => {
    ovs = await PrivateOvs.start();
    files = labAgentFiles({
      host: HOST, ofListenPort: await freePort(), ofInterface, transportUrl: lab.transportUrl, ovsdbConnection: ovs.unixConnection, reportIntervalSec: 2,
      ...(firewallDriver ? { firewallDriver } : {}),
    });
    agent = await startAgent(files, ovs);
    await waitFor(async () => (await lab.listAgents()).find((a) => a.host === HOST && a.alive), 60000, 'the agent alive in the API');
    if (firewallDriver) {
      // ICMP between members only (and any egress): the VMs ping only through their filters.
      const { sg } = await createSecurityGroup(lab, `rs-br-${HOST}`, [
        { direction: 'ingress', protocol: 'icmp', remote_group_id: 'self' },
        { direction: 'egress' },
      ]);
      sgId = sg.id;
    }
    net = await lab.createNetwork({ name: `rs-br-${HOST}` });
    await lab.createSubnet(net.id, '192.0.2.0/25', { gatewayIp: null });
    const a1 = await bootVm('br1');
    const a2 = await bootVm('br2');
    await Promise.all([waitStatus(a1.port.id, 'ACTIVE'), waitStatus(a2.port.id, 'ACTIVE')]);
    [v1, v2] = [a1.vm, a2.vm];
    assert.equal(await ping(v1, v2.ip, { count: 2, timeoutMs: 5000 }), 2, 'v1 reaches v2 before any fault');
  }, { timeout: 240000 });

  after(async () => {
    await stopAgentHost({ host: HOST, agent, running: pingers });
    await ovs?.stop();
  }, { timeout: 60000 });

  test('br-int and br-tun deleted and added again by hand: one WARNING while missing, then set up again; replugged VMs ping', async () => {
    const pinger = Pinger.start(v1, v2.ip, 0.05);
    pingers.push(pinger);
    assert.ok(await pinger.waitReplyAfter(Date.now(), 5000), 'pinging before the bridges go');

    // One command per step, as an operator types them.
    await ovs.vsctl('del-br', 'br-int');
    await ovs.vsctl('del-br', 'br-tun');
    await agent.waitForLog(/br-tun \(tunnel bridge\) was deleted while the agent ran/, 10000);
    // The agent waits for the operator: it neither re-creates them (which would race their add-br) nor gives up.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await bridgeExists('br-int'), false, 'the agent does not re-create a bridge the operator deleted');
    assert.equal(agent.exitCode, undefined, 'the agent runs on');
    await ovs.addBridge('br-int');
    await ovs.addBridge('br-tun');
    const tAdded = Date.now();
    await v1.replug();
    await v2.replug();
    const first = await pinger.waitReplyAfter(tAdded, 30000);
    const recoveryMs = first ? first.at - tAdded : Infinity;
    await agent.waitForLog(/bridges set up again/, 10000);
    const summary = await pinger.stop();

    assert.equal(warnings(/br-int \(integration bridge\) was deleted/).length, 1, `one WARNING for br-int:\n${agent.output.slice(-4000)}`);
    assert.equal(warnings(/br-tun \(tunnel bridge\) was deleted/).length, 1, 'one WARNING for br-tun');
    assert.equal(await ovs.vsctl('get', 'Bridge', 'br-int', 'fail_mode'), 'secure');
    assert.match(await ovs.vsctl('get', 'Bridge', 'br-int', 'protocols'), /OpenFlow13/);
    assert.ok((await ovs.vsctl('list-ports', 'br-int')).split('\n').includes('patch-tun'), 'patch-tun is back on br-int');
    if (ofInterface === 'native') assert.match(await ovs.vsctl('get-controller', 'br-int'), /^tcp:127\.0\.0\.1:/);
    note(`${tag} del-br br-int, del-br br-tun, add-br both, VM ports replugged: first ping reply ${recoveryMs} ms after the add-br; ${summary.lostSeqs.length} of ${summary.transmitted} pings lost in all`);
    assert.ok(recoveryMs <= RECOVERY_BOUND_MS, `VMs ping again ${recoveryMs} ms after the bridges were added (want <= ${RECOVERY_BOUND_MS})\n${agent.output.slice(-4000)}`);
    assert.equal(await ping(v1, v2.ip, { count: 2, timeoutMs: 5000 }), 2);
    await assertFlowsAsFreshAgent('bridges re-created');
  });

  test('br-int given another datapath id: the agent follows it, and a port plugged afterwards is wired', async () => {
    const before = { int: await flowSet(ovs, 'br-int'), tun: await flowSet(ovs, 'br-tun') };
    const old = await ovs.vsctl('get', 'Bridge', 'br-int', 'datapath_id');
    const tSet = Date.now();
    await ovs.vsctl('set', 'Bridge', 'br-int', 'other-config:datapath-id=00000000000000ab');
    await waitFor(async () => (await ovs.vsctl('get', 'Bridge', 'br-int', 'datapath_id')) === '"00000000000000ab"', 10000, 'the new datapath id in OVSDB');
    await agent.waitForLog(/br-int \(integration bridge\) changed datapath id/, 10000);
    await agent.waitForLog(/bridges set up again/, 15000);
    const resetupMs = Date.now() - tSet;
    // New flows reach the bridge under its new datapath id: a third VM is wired and answers.
    const { port, vm } = await bootVm('br3');
    await waitStatus(port.id, 'ACTIVE');
    assert.equal(await ping(vm, v1.ip, { count: 2, timeoutMs: 5000 }), 2, 'a VM plugged after the change reaches v1');
    const after = { int: await flowSet(ovs, 'br-int'), tun: await flowSet(ovs, 'br-tun') };
    assert.deepEqual(missing(before.int, after.int), [], 'every br-int flow from before is there');
    assert.deepEqual(missing(before.tun, after.tun), [], 'every br-tun flow from before is there');
    note(`${tag} br-int datapath id ${old} -> 00000000000000ab: bridges set up again ${resetupMs} ms after the change; a port plugged afterwards wired and pinging`);
    assert.ok(resetupMs <= RECOVERY_BOUND_MS, `bridges set up again ${resetupMs} ms after the change (want <= ${RECOVERY_BOUND_MS})`);
    await vm.unplug();
  });

  test('the OVS database wiped and created anew: br-int and br-tun created again, the agent ready again without a restart, replugged VMs ping', async () => {
    const pid = agent.pid;
    await ovs.kill('ovs-vswitchd', 'SIGTERM');
    await ovs.kill('ovsdb-server', 'SIGTERM');
    await ovs.startDb(true); // rm conf.db, ovsdb-tool create, ovsdb-server, ovs-vsctl init
    await ovs.startVswitchd();
    const tBack = Date.now();
    // Nova replugs once the integration bridge is there again.
    await waitFor(() => bridgeExists('br-int'), 30000, 'br-int created again by the agent', 50);
    await v1.replug();
    await v2.replug();
    const pinger = Pinger.start(v1, v2.ip, 0.05);
    pingers.push(pinger);
    const first = await pinger.waitReplyAfter(tBack, 30000);
    const recoveryMs = first ? first.at - tBack : Infinity;
    await pinger.stop();
    await agent.waitForLog(/bridges set up again in the new database/, 10000);
    assert.equal(agent.pid, pid, 'the same agent process');
    assert.equal(agent.exitCode, undefined, 'the agent runs on');
    assert.equal(await bridgeExists('br-tun'), true, 'br-tun created again');
    assert.equal(await ovs.vsctl('get', 'Bridge', 'br-int', 'fail_mode'), 'secure');
    await waitFor(async () => (await lab.listAgents()).find((a) => a.host === HOST && a.alive), 30000, 'the agent alive in the API');
    note(`${tag} database wiped and created anew, ovs-vswitchd restarted: br-int and br-tun created again; first ping reply ${recoveryMs} ms after ovs-vswitchd was back (VM ports replugged once br-int was there)`);
    assert.ok(recoveryMs <= RECOVERY_BOUND_MS, `VMs ping again ${recoveryMs} ms after OVS was back (want <= ${RECOVERY_BOUND_MS})\n${agent.output.slice(-4000)}`);
    await assertFlowsAsFreshAgent('database created anew');
  });
});
