// A provider bridge (bridge_mappings = physnet1:br-phys) changing under the running agent, as an
// operator changes it: deleted (`ovs-vsctl del-br br-phys`) and added again later with its uplink,
// or deleted and added again in one transaction with another datapath id. The reference never
// creates a provider bridge (it carries the uplink only the operator knows), so neither does the
// agent: it says once what it waits for, and sets the bridge up again once it is there. A VM on a
// VLAN network and one on a flat network of physnet1 reach hosts on the physical side (namespaces
// on br-phys, the VLAN one behind an access port of VID 150): their traffic crosses br-int, the
// int-br-phys/phy-br-phys patch pair and br-phys with its VLAN translation. After each change they
// must ping again without an agent restart, and the flows must be those a freshly started agent
// installs. Both OpenFlow backends; one neutron lab for the file, each run its own OVS and agent
// (and its own VLAN id: a VLAN, like the flat network of physnet1, exists once in neutron).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import type { AgentProcess } from '../../../lab/agent-process.js';
import { waitFor, type NeutronLab, type NeutronPort } from '../../../lab/neutron.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import { Pinger, agentConfig, labForFile, startAgent, stopAgentHost, waitAgentAlive, flowSet, missing, note } from '../../helpers/resilience.js';

/** From the add-br to the first ping reply across br-phys. */
const RECOVERY_BOUND_MS = 10_000;
const PHYS = 'br-phys';
/** The log line of a re-setup that set br-phys up (not one that left it out as missing). */
const SET_UP_WITH_PHYS = /bridges set up again in \d+ ms \(br-int=0x[0-9a-f]+, br-phys=0x/;
const BRIDGES = ['br-int', 'br-tun', PHYS] as const;

let lab: NeutronLab;
labForFile((l) => (lab = l));

/** A host on the physical network: a namespace whose port is on br-phys, not a Neutron port. */
interface Outside {
  vm: Vm;
  /** Access VLAN of its br-phys port (the physical switch's side of a trunk); none for flat. */
  tag: number | undefined;
}

const RUNS = [
  { ofInterface: 'native', host: 'rs-phys', vlanId: 150 },
  { ofInterface: 'ovs-ofctl', host: 'rs-phys-ofctl', vlanId: 151 },
] as const;

for (const { ofInterface, host: HOST, vlanId: VLAN_ID } of RUNS) describe(`of_interface = ${ofInterface}`, () => {
  let ovs: PrivateOvs;
  let agent: AgentProcess;
  let files: Record<string, string>;
  let vlanVm: Vm;
  let flatVm: Vm;
  let extVlan: Outside;
  let extFlat: Outside;
  const pingers: Pinger[] = [];
  /** What this run made in neutron, deleted at its end (ports before their networks). */
  const madePorts: string[] = [];
  const madeNetworks: string[] = [];

  async function bootVm(networkId: string, name: string): Promise<{ port: NeutronPort; vm: Vm }> {
    const port = await lab.createPort(networkId, { name, host: HOST });
    madePorts.push(port.id);
    return { port, vm: await plugVm(ovs, port) };
  }
  async function plugOutside(id: string, mac: string, ip: string, tag: number | undefined): Promise<Outside> {
    const vm = await plugVm(ovs, { id, mac_address: mac, fixed_ips: [{ ip_address: ip }] }, { bridge: PHYS, nova: false });
    if (tag !== undefined) await ovs.vsctl('set', 'Port', vm.tap, `tag=${tag}`);
    return { vm, tag };
  }
  /** ovs-vsctl arguments that put an outside host's veth back on br-phys (the operator's uplink). */
  const replugArgs = (o: Outside): string[] => ['--', 'add-port', PHYS, o.vm.tap, ...(o.tag !== undefined ? [`tag=${o.tag}`] : [])];
  async function bridgeExists(name: string): Promise<boolean> {
    return ovs.vsctl('br-exists', name).then(() => true, () => false);
  }
  const logLines = (level: string, re: RegExp): string[] => agent.output.split('\n').filter((l) => l.includes(` ${level} `) && re.test(l));
  async function bothReach(what: string): Promise<void> {
    assert.equal(await ping(vlanVm, extVlan.vm.ip, { count: 2, timeoutMs: 6000 }), 2, `${what}: the VLAN VM reaches the tagged host behind br-phys`);
    assert.equal(await ping(flatVm, extFlat.vm.ip, { count: 2, timeoutMs: 6000 }), 2, `${what}: the flat VM reaches the untagged host behind br-phys`);
  }

  /** The patch pair between br-int and br-phys is there, each end peered with the other. */
  async function assertPatchPair(): Promise<void> {
    assert.ok((await ovs.vsctl('list-ports', 'br-int')).split('\n').includes('int-br-phys'), 'int-br-phys on br-int');
    assert.ok((await ovs.vsctl('list-ports', PHYS)).split('\n').includes('phy-br-phys'), 'phy-br-phys on br-phys');
    assert.equal(await ovs.vsctl('get', 'Interface', 'int-br-phys', 'options:peer'), 'phy-br-phys');
    assert.equal(await ovs.vsctl('get', 'Interface', 'phy-br-phys', 'options:peer'), 'int-br-phys');
  }

  /**
   * The flows of every bridge equal those a freshly started agent installs on the same OVS and
   * ports: the agent is restarted and, once its first full sync has removed the previous run's
   * flows, both sets are compared (cookies left out).
   */
  async function assertFlowsAsFreshAgent(what: string): Promise<void> {
    let last = '';
    await waitFor(async () => {
      const now = JSON.stringify(await Promise.all(BRIDGES.map((b) => ovs.dumpFlows(b))));
      const settled = now === last;
      last = now;
      return settled;
    }, 20000, 'the flows settled', 1000);
    const recovered = new Map(await Promise.all(BRIDGES.map(async (b) => [b, await flowSet(ovs, b)] as const)));
    await agent.stop();
    agent.cleanup();
    if (process.env.RS_KEEP_LOG) writeFileSync(`${process.env.RS_KEEP_LOG}/${HOST}-${what.replace(/\W+/g, '-')}.log`, agent.output);
    agent = await startAgent(files, ovs);
    await agent.waitForLog(/first full sync done/, 60000);
    const oneCookie = async (br: string): Promise<boolean> => new Set((await ovs.dumpFlows(br, { keepCookies: true })).map((l) => /cookie=(0x[0-9a-f]+)/.exec(l)?.[1])).size === 1;
    await waitFor(async () => (await Promise.all(BRIDGES.map(oneCookie))).every(Boolean), 20000, 'only the fresh agent\'s cookie left');
    const diff: Record<string, string[]> = {};
    for (const b of BRIDGES) {
      const fresh = await flowSet(ovs, b);
      diff[`${b} missing`] = missing(fresh, recovered.get(b)!);
      diff[`${b} extra`] = missing(recovered.get(b)!, fresh);
    }
    assert.deepEqual(diff, Object.fromEntries(Object.keys(diff).map((k) => [k, []])), `${what}: flows of the recovered agent equal a freshly started agent's`);
  }

  before(async () => {
    ovs = await PrivateOvs.start();
    await ovs.addBridge(PHYS);
    files = agentConfig(lab, ovs, { host: HOST, ofListenPort: await freePort(), ofInterface, bridgeMappings: `physnet1:${PHYS}` });
    agent = await startAgent(files, ovs);
    await waitAgentAlive(lab, HOST);
    const vlanNet = await lab.createNetwork({ name: `rs-phys-vlan-${HOST}`, provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: VLAN_ID } });
    madeNetworks.push(vlanNet.id);
    await lab.createSubnet(vlanNet.id, '198.51.100.0/24', { gatewayIp: null });
    const flatNet = await lab.createNetwork({ name: `rs-phys-flat-${HOST}`, provider: { network_type: 'flat', physical_network: 'physnet1' } });
    madeNetworks.push(flatNet.id);
    await lab.createSubnet(flatNet.id, '203.0.113.0/24', { gatewayIp: null });
    const v = await bootVm(vlanNet.id, 'pv1');
    const f = await bootVm(flatNet.id, 'pf1');
    for (const p of [v.port, f.port]) await waitFor(async () => (await lab.getPort(p.id)).status === 'ACTIVE', 30000, `port ${p.id} ACTIVE`, 50);
    [vlanVm, flatVm] = [v.vm, f.vm];
    extVlan = await plugOutside('extvlan-0000', 'fa:16:3e:ee:01:01', '198.51.100.250', VLAN_ID);
    extFlat = await plugOutside('extflat-0000', 'fa:16:3e:ee:01:02', '203.0.113.250', undefined);
    await bothReach('before any change');
  }, { timeout: 240000 });

  after(async () => {
    await stopAgentHost({ host: HOST, agent, running: pingers });
    await ovs?.stop();
    for (const id of madePorts) await lab.deletePort(id);
    for (const id of madeNetworks) await lab.deleteNetwork(id);
  }, { timeout: 60000 });

  test('br-phys deleted: one WARNING naming what the agent waits for, not re-created; added again with its uplink: patch ports, flows and VLAN translation back, VMs reach the physical side', async () => {
    const pinger = await Pinger.startAnswered(vlanVm, extVlan.vm.ip, pingers, 'pinging across br-phys before it goes');
    await ovs.vsctl('del-br', PHYS);
    await agent.waitForLog(/Bridge br-phys for physical network physnet1 does not exist/, 15000);
    // The agent waits for the operator: it does not create a provider bridge, nor give up.
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(await bridgeExists(PHYS), false, 'the agent does not create the provider bridge');
    assert.equal(agent.exitCode, undefined, 'the agent runs on');
    // Something else makes the agent set its bridges up again meanwhile (br-int given another
    // datapath id): it still waits for br-phys, and does not say so again.
    await ovs.vsctl('set', 'Bridge', 'br-int', 'other-config:datapath-id=00000000000000ab');
    await agent.waitForLog(/br-int \(integration bridge\) changed datapath id[\s\S]*bridges set up again in \d+ ms \(br-int=0x00000000000000ab, br-phys missing/, 15000);

    // As an operator adds it back: the bridge (userspace datapath, as the host's others), then its uplink.
    await ovs.addBridge(PHYS);
    const tAdded = Date.now();
    await ovs.vsctl(...replugArgs(extVlan).slice(1), ...replugArgs(extFlat));
    const first = await pinger.waitReplyAfter(tAdded, 30000);
    const recoveryMs = first ? first.at - tAdded : Infinity;
    const summary = await pinger.stop();
    await agent.waitForLog(SET_UP_WITH_PHYS, 15000);

    const waits = logLines('WARNING', /br-phys/);
    assert.equal(waits.length, 1, `one WARNING about br-phys while it was missing, got:\n${waits.join('\n')}\n${agent.output.slice(-4000)}`);
    assert.match(waits[0]!, /ovs-vsctl add-br br-phys/, 'the WARNING says what the agent waits for');
    note(`[${ofInterface}] del-br br-phys, then add-br br-phys with its uplink: first ping reply across br-phys ${recoveryMs} ms after the add-br; ${summary.lostSeqs.length} of ${summary.transmitted} pings lost in all`);
    assert.ok(recoveryMs <= RECOVERY_BOUND_MS, `the VLAN VM reaches the physical side ${recoveryMs} ms after the add-br (want <= ${RECOVERY_BOUND_MS})\n${agent.output.slice(-4000)}`);
    assert.equal(await ovs.vsctl('get', 'Bridge', PHYS, 'fail_mode'), 'secure');
    await assertPatchPair();
    const phys = (await ovs.dumpFlows(PHYS)).join('\n');
    assert.match(phys, new RegExp(`in_port=\\d+,dl_vlan=\\d+ actions=set_field:${4096 + VLAN_ID}->vlan_vid,NORMAL`), `br-phys translates the local VLAN to VID ${VLAN_ID}:\n${phys}`);
    assert.match(phys, /in_port=\d+,dl_vlan=\d+ actions=pop_vlan,NORMAL/, `br-phys untags the flat network:\n${phys}`);
    await bothReach('after br-phys was added again');
    await assertFlowsAsFreshAgent('br-phys deleted and added again');
    await bothReach('after an agent restart');
  });

  test('br-phys deleted and added again in one transaction, with another datapath id: set up again at once, VMs reach the physical side', async () => {
    const pinger = await Pinger.startAnswered(vlanVm, extVlan.vm.ip, pingers, 'pinging across br-phys before the change');
    const oldDpid = await ovs.datapathId(PHYS);
    const newDpid = 0xcdn;
    const tChanged = Date.now();
    await ovs.vsctl(
      'del-br', PHYS,
      '--', 'add-br', PHYS,
      '--', 'set', 'Bridge', PHYS, 'datapath_type=netdev', `other-config:datapath-id=${newDpid.toString(16).padStart(16, '0')}`,
      ...replugArgs(extVlan), ...replugArgs(extFlat),
    );
    await waitFor(async () => (await ovs.datapathId(PHYS)) === newDpid, 10000, 'br-phys with its new datapath id');
    await agent.waitForLog(/br-phys \(provider bridge of physical network physnet1\) was re-created/, 10000);
    // This agent started in the previous test: its only re-setup with br-phys is this one.
    await agent.waitForLog(SET_UP_WITH_PHYS, 15000);
    assert.ok(await pinger.waitReplyAfter(Date.now(), 30000), 'pinging across br-phys once it is set up again');
    const summary = await pinger.stop();
    // The outage ends with the first reply to a request sent after the last unanswered one.
    const lastLost = Math.max(0, ...summary.lostSeqs);
    const back = pinger.replies.find((r) => r.seq > lastLost && r.at >= tChanged);
    const recoveryMs = summary.lostSeqs.length === 0 ? 0 : back ? back.at - tChanged : Infinity;
    note(`[${ofInterface}] br-phys deleted and added in one transaction, datapath id 0x${oldDpid.toString(16)} -> 0x${newDpid.toString(16)}: pings across br-phys answered again ${recoveryMs} ms after; ${summary.lostSeqs.length} of ${summary.transmitted} pings lost`);
    assert.ok(recoveryMs <= RECOVERY_BOUND_MS, `the VLAN VM reaches the physical side ${recoveryMs} ms after the change (want <= ${RECOVERY_BOUND_MS})\n${agent.output.slice(-4000)}`);
    // The bridge was there all along to the agent's eye: nothing to wait for, so no warning.
    assert.deepEqual(logLines('WARNING', /br-phys/), [], 'no WARNING about br-phys: it was never missing');
    await assertPatchPair();
    await bothReach('after br-phys was re-created');
    await assertFlowsAsFreshAgent('br-phys re-created with another datapath id');
  });
});
