// VM ports plugged as neutron's fullstack fake machines plug them (issue 19), across two hosts on
// a VLAN network, the way the fullstack rig builds hosts: ONE Open vSwitch, each host's agent with
// its own integration bridge and provider bridge, the provider bridges joined by patch ports to a
// shared central bridge (fail mode standalone, NORMAL). The fake machine's plug
// (net_helpers.OVSPortFixture.plug_port): ovs_lib's replace_port adds an internal port on the
// dead VLAN (tag 4095, vlan_mode trunk, trunks [4095]) with the interface's external_ids in one
// transaction, sets its MAC, moves it into the VM's namespace, and then clears tag, vlan_mode and
// trunks in three transactions of their own. The agent may wire the port before, between or
// after those clears. Whatever the order, the user's view must be the same: the two VMs ping each
// other, and each Port row ends with the agent's local VLAN as its tag and no vlan_mode or trunks.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import type { AgentProcess } from '../../../lab/agent-process.js';
import { waitFor, type NeutronLab, type NeutronPort } from '../../../lab/neutron.js';
import { createNamespace, deleteNamespace, ping } from '../../../lab/vm.js';
import { Pinger, agentConfig, startAgent, waitAgentAlive, note } from '../../helpers/resilience.js';
import { startLabAndOvs } from '../../../lab/host.js';

const run = promisify(execFile);
const PHYSNET = 'physnet1';
const CENTRAL = 'br-central';

interface RigHost {
  name: string;
  intBridge: string;
  physBridge: string;
  agent?: AgentProcess;
}

/** A fake machine: an internal OVS port moved into a namespace of its own. */
interface FakeVm {
  netns: string;
  port: string;
  bridge: string;
  ip: string;
}

let lab: NeutronLab;
let ovs: PrivateOvs;
const hosts: RigHost[] = [
  { name: 'fsplug-a', intBridge: 'br-int-fa', physBridge: 'br-eth-fa' },
  { name: 'fsplug-b', intBridge: 'br-int-fb', physBridge: 'br-eth-fb' },
];
const vms: FakeVm[] = [];

async function sh(what: string, cmd: string, args: string[]): Promise<void> {
  try {
    await run(cmd, args);
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? '';
    throw new Error(`${what}: ${cmd} ${args.join(' ')}: ${stderr.trim() || String(e)}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The Port row's tag, vlan_mode and trunks as ovs-vsctl prints them. */
async function portColumns(port: string): Promise<{ tag: string; vlanMode: string; trunks: string }> {
  const [tag, vlanMode, trunks] = (await ovs.vsctl('--', 'get', 'Port', port, 'tag', '--', 'get', 'Port', port, 'vlan_mode', '--', 'get', 'Port', port, 'trunks')).split('\n');
  return { tag: tag ?? '', vlanMode: vlanMode ?? '', trunks: trunks ?? '' };
}

/** The fake machine's plug, up to (not including) the three clears. */
async function plugDead(h: RigHost, p: NeutronPort): Promise<FakeVm> {
  const ip = p.fixed_ips[0]?.ip_address;
  if (!ip) throw new Error(`port ${p.id} has no fixed IP`);
  const vm: FakeVm = { netns: `fsvm-${randomBytes(4).toString('hex')}`, port: `port${randomBytes(3).toString('hex')}`, bridge: h.intBridge, ip };
  await createNamespace(vm.netns);
  vms.push(vm);
  // replace_port: del_port, then one transaction (add_port, the dead VLAN, the interface's columns).
  await ovs.vsctl('--no-wait', '--if-exists', 'del-port', vm.port);
  await ovs.vsctl(
    '--no-wait', 'add-port', h.intBridge, vm.port,
    '--', 'set', 'Port', vm.port, 'tag=4095',
    '--', 'set', 'Port', vm.port, 'vlan_mode=trunk',
    '--', 'set', 'Port', vm.port, 'trunks=4095',
    '--', 'set', 'Interface', vm.port, 'type=internal',
    `external_ids:iface-id=${p.id}`, 'external_ids:iface-status=active', `external_ids:attached-mac=${p.mac_address}`,
  );
  const what = `plugging port ${p.id} (${vm.port}) into ${h.intBridge}`;
  // ovs-vswitchd creates the internal device when it reconfigures, a moment after the transaction.
  await waitFor(async () => run('ip', ['link', 'show', vm.port]).then(() => true, () => false), 10000, `${vm.port} created by ovs-vswitchd`, 20);
  await sh(what, 'ip', ['link', 'set', vm.port, 'address', p.mac_address]);
  await sh(what, 'ip', ['link', 'set', vm.port, 'netns', vm.netns]);
  await sh(what, 'ip', ['-n', vm.netns, 'addr', 'add', `${ip}/24`, 'dev', vm.port]);
  await sh(what, 'ip', ['-n', vm.netns, 'link', 'set', vm.port, 'up']);
  return vm;
}

/** The fake machine's three clears, each its own transaction, `gapMs` apart. */
async function clearDeadVlan(vm: FakeVm, gapMs: number): Promise<void> {
  for (const column of ['tag', 'vlan_mode', 'trunks']) {
    await ovs.vsctl('--no-wait', 'clear', 'Port', vm.port, column);
    if (gapMs) await sleep(gapMs);
  }
}

/** What a failing ping met: the frames VM a receives while it pings b, the MAC tables, a trace. */
async function dataplaneDetail(a: FakeVm, b: FakeVm): Promise<string> {
  const out = async (cmd: string, args: string[]): Promise<string> =>
    run(cmd, args, { env: ovs.env }).then((r) => r.stdout, (e: unknown) => `${cmd} ${args.join(' ')}: ${String(e)}`);
  const capture = out('ip', ['netns', 'exec', a.netns, 'timeout', '3', 'tcpdump', '-nn', '-e', '-c', '8', '-i', a.port]);
  await sleep(300);
  await ping(a, b.ip, { count: 2, timeoutMs: 2000 });
  const parts = [`frames on ${a.port} (VM a) while it pings:\n${await capture}`];
  for (const br of [CENTRAL, ...hosts.flatMap((h) => [h.intBridge, h.physBridge])]) {
    parts.push(`${br} fdb:\n${await out('ovs-appctl', ['-t', 'ovs-vswitchd', 'fdb/show', br])}`);
    parts.push(`${br} flows:\n${await out('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-flows', br])}`);
  }
  const ofport = (await ovs.vsctl('get', 'Interface', a.port, 'ofport')).trim();
  const mac = (await ovs.vsctl('get', 'Interface', a.port, 'external_ids:attached-mac')).replace(/"/g, '');
  parts.push(`trace of an ARP request from VM a:\n${await out('ovs-appctl', ['-t', 'ovs-vswitchd', 'ofproto/trace', a.bridge, `in_port=${ofport},dl_src=${mac},dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_tpa=${b.ip}`])}`);
  return parts.join('\n');
}

async function unplug(vm: FakeVm): Promise<void> {
  await ovs.vsctl('--no-wait', '--if-exists', 'del-port', vm.port);
  await deleteNamespace(vm.netns);
  vms.splice(vms.indexOf(vm), 1);
}

// The lab is started in this hook, not by labForFile's: node 20 starts a file's top-level before
// hooks without waiting for the one before to finish (seen in CI: no lab yet when the agents were
// configured).
before(async () => {
  [lab, ovs] = await startLabAndOvs();
  await ovs.addBridge(CENTRAL);
  for (const h of hosts) {
    await ovs.addBridge(h.physBridge);
    // As the rig's connect_to_central_network_via_vlans: a patch pair provider bridge <-> central bridge.
    const [toCentral, toPhys] = [`pc-${h.name.slice(-2)}`, `pp-${h.name.slice(-2)}`];
    await ovs.vsctl(
      'add-port', h.physBridge, toCentral, '--', 'set', 'Interface', toCentral, 'type=patch', `options:peer=${toPhys}`,
      '--', 'add-port', CENTRAL, toPhys, '--', 'set', 'Interface', toPhys, 'type=patch', `options:peer=${toCentral}`,
    );
    const files = agentConfig(lab, ovs, { host: h.name, ofListenPort: await freePort(), bridgeMappings: `${PHYSNET}:${h.physBridge}`, ovs: [`integration_bridge = ${h.intBridge}`] });
    // VLAN only, as the rig's VLAN scenario: no tunnel bridge (the two agents would share one).
    files['openvswitch_agent.ini'] = files['openvswitch_agent.ini'].replace(/^tunnel_types = .*$/m, 'tunnel_types =').replace(/^(l2_population|arp_responder) = .*\n/gm, '');
    h.agent = await startAgent(files, ovs);
  }
  for (const h of hosts) await waitAgentAlive(lab, h.name);
}, { timeout: 240000 });

after(async () => {
  for (const vm of [...vms]) await unplug(vm).catch((e: unknown) => process.stderr.write(`unplugging ${vm.port}: ${String(e)}\n`));
  for (const h of hosts) {
    if (!h.agent) continue;
    await h.agent.stop().catch((e: unknown) => process.stderr.write(`stopping the agent of ${h.name}: ${String(e)}\n`));
    h.agent.cleanup();
  }
  await ovs?.stop();
  await lab?.stop();
}, { timeout: 60000 });

/** When the fake machine's clears come, relative to the agent's wiring. */
const SCENARIOS = [
  { name: 'clears at once after the plug (as the fake machine does)', vlan: 160, gapMs: 0, afterWiring: false, lateClear: false },
  { name: 'clears 100 ms apart', vlan: 161, gapMs: 100, afterWiring: false, lateClear: false },
  { name: 'clears right after the agent wired the port', vlan: 162, gapMs: 0, afterWiring: true, lateClear: false },
  { name: 'clears 30 ms apart, right after the agent wired the port', vlan: 163, gapMs: 30, afterWiring: true, lateClear: false },
  { name: 'clears at once, then again while the VMs ping each other', vlan: 164, gapMs: 0, afterWiring: false, lateClear: true },
] as const;

describe('fake machines plugged on the dead VLAN, then its columns cleared, on two hosts of one OVS', () => {
  for (const s of SCENARIOS) {
    test(s.name, async () => {
      const net = await lab.createNetwork({ name: `fsplug-${s.vlan}`, provider: { network_type: 'vlan', physical_network: PHYSNET, segmentation_id: s.vlan } });
      await lab.createSubnet(net.id, '203.0.113.0/24', { gatewayIp: null });
      const ports = await Promise.all(hosts.map((h, i) => lab.createPort(net.id, { name: `fsplug-${s.vlan}-${i}`, host: h.name })));
      const fake = await Promise.all(hosts.map((h, i) => plugDead(h, ports[i]!)));
      await Promise.all(fake.map(async (vm) => {
        if (s.afterWiring) {
          await waitFor(async () => {
            const t = (await portColumns(vm.port)).tag;
            return /^\d+$/.test(t) && t !== '4095';
          }, 30000, `${vm.port} wired by the agent (tag off the dead VLAN)`, 5);
        }
        await clearDeadVlan(vm, s.gapMs);
      }));
      // As the fullstack test: the ports ACTIVE, then the first VM pings the other.
      for (const p of ports) await waitFor(async () => (await lab.getPort(p.id)).status === 'ACTIVE', 30000, `port ${p.id} ACTIVE`, 100);
      const t0 = Date.now();
      const [a, b] = fake as [FakeVm, FakeVm];
      const detail = async (): Promise<string> => {
        const rows = await Promise.all(fake.map(async (vm) => `${vm.port}: ${JSON.stringify(await portColumns(vm.port))}`));
        return `${rows.join('; ')}\n${await dataplaneDetail(a, b)}\nagent a:\n${hosts[0]!.agent!.output.slice(-2000)}\nagent b:\n${hosts[1]!.agent!.output.slice(-2000)}`;
      };
      await waitFor(async () => (await ping(a, b.ip, { count: 1, timeoutMs: 1000 })) === 1, 20000, 'the VM on host a reaches the VM on host b').catch(async (e: unknown) => {
        throw new Error(`${String(e)}\n${await detail()}`);
      });
      const firstMs = Date.now() - t0;
      assert.equal(await ping(b, a.ip, { count: 2, timeoutMs: 4000 }), 2, `the VM on host b reaches the VM on host a\n${await detail()}`);
      for (const [i, vm] of fake.entries()) {
        const agentTag = (await ovs.vsctl('get', 'Port', vm.port, 'other_config:tag')).replace(/"/g, '');
        assert.match(agentTag, /^\d+$/, `${vm.port}: the agent's local VLAN in other_config`);
        assert.deepEqual(await portColumns(vm.port), { tag: agentTag, vlanMode: '[]', trunks: '[]' }, `${vm.port} of ${hosts[i]!.name}: the agent's tag, no vlan_mode, no trunks`);
      }
      note(`${s.name}: first reply ${firstMs} ms after both ports were ACTIVE`);
      if (s.lateClear) {
        // The clears arriving late, while the VMs talk: each port is a trunk for a moment.
        const pinger = Pinger.start(a, b.ip, 0.1);
        try {
          assert.ok(await pinger.waitReplyAfter(Date.now(), 5000), 'pinging before the late clears');
          for (const vm of fake) await clearDeadVlan(vm, 0);
          const t1 = Date.now();
          for (const vm of fake) await waitFor(async () => (await portColumns(vm.port)).tag !== '[]', 10000, `${vm.port} tagged again`, 10);
          const back = await pinger.waitReplyAfter(Date.now() + 200, 10000);
          if (!back) assert.fail(`no reply in 10 s after the late clears were repaired\n${await detail()}`);
          note(`${s.name}: late clears; replies again ${back.at - t1} ms after them`);
        } finally {
          await pinger.stop();
        }
      }
      for (const vm of fake) await unplug(vm);
      for (const p of ports) await lab.api('DELETE', `/v2.0/ports/${p.id}`);
      await lab.api('DELETE', `/v2.0/networks/${net.id}`);
    });
  }
});
