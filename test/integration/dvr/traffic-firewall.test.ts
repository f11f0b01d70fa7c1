// DVR traffic with the openvswitch firewall, over GRE, Geneve and VLAN, IPv4 and IPv6, and through a
// dvr_snat host's SNAT: the two simulated hosts of traffic.test.ts, both OVS agents with
// `tunnel_types = gre,geneve` and `firewall_driver = openvswitch`, host 1's with
// `explicitly_egress_direct = True` and host 2's without; host 2's L3 agent in dvr_snat mode. One
// distributed router joins network G (GRE: 198.51.100.0/26 and 2001:db8:1::/64), network N
// (Geneve: 198.51.100.64/26 and 2001:db8:2::/64) and network V (VLAN 170 of physnet1, the bridge of
// the wire: 198.51.100.128/26 and 2001:db8:3::/64). VMs g1 (G), n1 (N) and v1 (V) on host 1, g2
// (G), n2 (N) and v2 (V) on host 2, all in one security group allowing ICMP, ICMPv6 and TCP 22 in,
// anything out.
// Both OVS agents restart under pings and an open TCP connection. Then a third host's agent comes
// and goes: the running agents learn and forget its DVR MAC.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LAB_PROJECT, type NeutronLab, type NeutronSubnet, labSkipReason, waitFor } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { ping, type Vm } from '../../../lab/vm.js';
import { createFilteredPort, createSecurityGroup } from '../../../lab/security-groups.js';
import { Listener, probeTcp, TcpStream } from '../../../lab/traffic.js';
import { Pinger, type Killable } from '../../helpers/resilience.js';
import { RunningAgent, agentRecord, startOvs, until } from '../../../bench/agents.js';
import { dvrMacOf, forgetHost } from './startup-scenario.js';
import type { SimHost } from '../../helpers/two-hosts.js';
import { DvrTwoHosts, stopDvrTrafficFile, WireCapture, type DvrHostSettings, type Encapsulation, type WireFrame } from './two-hosts-dvr.js';

const skip = labSkipReason();
const FIREWALL: DvrHostSettings = { tunnelTypes: 'gre,geneve', firewallDriver: 'openvswitch' };
/** Host 1 sends what its firewall accepted straight out (table 94); host 2 leaves it to NORMAL. */
const SETTINGS: readonly [DvrHostSettings, DvrHostSettings] = [{ ...FIREWALL, agent: ['explicitly_egress_direct = True'] }, { ...FIREWALL, l3Mode: 'dvr_snat' }];
/** The "outside": physnet1's flat network, the router's gateway network; its upstream address is a namespace on host 1's bridge of the wire. */
const EXTERNAL_CIDR = '203.0.113.0/24';
const UPSTREAM_IP = '203.0.113.1';

type VmName = 'g1' | 'n1' | 'v1' | 'g2' | 'n2' | 'v2';
const VLAN_V = 170;
interface RoutedVm {
  vm: Vm;
  ip6: string;
}

describe('DVR: routed traffic with the openvswitch firewall, over GRE, Geneve and VLAN, IPv4 and IPv6, and SNAT', { skip }, () => {
  let lab: NeutronLab;
  let dvr: DvrTwoHosts;
  let routerId = '';
  let netGId = '';
  const vm = {} as Record<VmName, RoutedVm>;
  const routerMacs: string[] = [];
  const dvrMacs: string[] = [];

  async function createIpv6Subnet(networkId: string, cidr: string): Promise<NeutronSubnet> {
    return (await lab.api<{ subnet: NeutronSubnet }>('POST', '/v2.0/subnets', {
      subnet: { network_id: networkId, tenant_id: LAB_PROJECT, ip_version: 6, cidr, ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac', enable_dhcp: true },
    })).subnet;
  }

  before(async () => {
    lab = await startLab({ dvr: true });
    dvr = await DvrTwoHosts.start(lab, SETTINGS);
    const [h1, h2] = dvr.sims.hosts;
    for (const h of [h1, h2]) dvrMacs.push(await dvrMacOf(lab, h.name));
    const netG = await lab.createNetwork({ name: 'dvr-g', provider: { network_type: 'gre' } });
    netGId = netG.id;
    const netN = await lab.createNetwork({ name: 'dvr-n', provider: { network_type: 'geneve' } });
    const netV = await lab.createNetwork({ name: 'dvr-v', provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: VLAN_V } });
    const subG = await lab.createSubnet(netG.id, '198.51.100.0/26');
    const subN = await lab.createSubnet(netN.id, '198.51.100.64/26');
    const subV = await lab.createSubnet(netV.id, '198.51.100.128/26');
    const subG6 = await createIpv6Subnet(netG.id, '2001:db8:1::/64');
    const subN6 = await createIpv6Subnet(netN.id, '2001:db8:2::/64');
    const subV6 = await createIpv6Subnet(netV.id, '2001:db8:3::/64');
    const router = await lab.createRouter({ name: 'dvr-r', distributed: true });
    routerId = router.id;
    for (const sub of [subG, subN, subV, subG6, subN6, subV6]) {
      const itf = await lab.addRouterInterface(router.id, sub.id);
      routerMacs.push((await lab.getPort(itf.port_id)).mac_address);
    }
    const { sg } = await createSecurityGroup(lab, 'dvr-icmp-ssh', [
      { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' },
      { direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp' },
      { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22 },
      { direction: 'egress', ethertype: 'IPv4' },
      { direction: 'egress', ethertype: 'IPv6' },
    ]);
    const vms = [
      ['g1', netG, h1, subG, subG6], ['n1', netN, h1, subN, subN6], ['v1', netV, h1, subV, subV6],
      ['g2', netG, h2, subG, subG6], ['n2', netN, h2, subN, subN6], ['v2', netV, h2, subV, subV6],
    ] as const;
    for (const [name, net, host, sub, sub6] of vms) {
      const port = await createFilteredPort(lab, net.id, { name, host: host.name, securityGroups: [sg.id] });
      // The IPv4 address first: plugVm gives it the subnet's prefix, the SLAAC one /64.
      const fixed = [...port.fixed_ips].sort((a, b) => Number(a.ip_address.includes(':')) - Number(b.ip_address.includes(':')));
      const ip6 = fixed.find((f) => f.ip_address.includes(':'))?.ip_address;
      if (!ip6) throw new Error(`port of ${name} has no address of ${sub6.cidr}: ${JSON.stringify(port.fixed_ips)}`);
      const v = await dvr.sims.plug(host, { ...port, fixed_ips: fixed }, { prefixLen: 26 });
      await v.exec('ip', ['route', 'add', 'default', 'via', sub.gateway_ip!]);
      await v.exec('ip', ['-6', 'route', 'add', 'default', 'via', sub6.gateway_ip!]);
      vm[name] = { vm: v, ip6 };
      await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 60000, `port of ${name} ACTIVE`, 200);
    }
    for (const h of dvr.hosts) await h.l3.waitRouterSettled(router.id, 180000);
  }, { timeout: 540000 });

  after(async () => stopDvrTrafficFile(dvr, lab), { timeout: 120000 });

  it('VMs behind the openvswitch firewall reach each other through the router, with and without explicitly_egress_direct, IPv4 and IPv6; across hosts inside GRE and Geneve and on a VLAN with the DVR MACs', async () => {
    const addr = (n: VmName, family: 4 | 6): string => (family === 4 ? vm[n].vm.ip : vm[n].ip6);
    // On one host: host 1 (egress direct) and host 2 (without).
    for (const family of [4, 6] as const) {
      for (const [a, b] of [['g1', 'n1'], ['n1', 'g1'], ['v1', 'g1'], ['g1', 'v1'], ['g2', 'n2'], ['n2', 'g2'], ['v2', 'n2'], ['n2', 'v2']] as const) {
        await dvr.waitRouted(vm[a].vm, addr(b, family));
        assert.equal(await ping(vm[a].vm, addr(b, family), { count: 3 }), 3, `${a} reaches ${b} over IPv${family} on its host through the router`);
      }
    }
    // Across hosts each echo is routed by its sender's host onto the destination's network: onto N
    // inside Geneve, onto G inside GRE, onto V tagged with its VLAN.
    const across = [
      { from: 'g1', to: 'n2', by: 0, encap: 'Geneve', vlan: undefined },
      { from: 'n2', to: 'g1', by: 1, encap: 'GREv0', vlan: undefined },
      { from: 'n1', to: 'g2', by: 0, encap: 'GREv0', vlan: undefined },
      { from: 'g2', to: 'n1', by: 1, encap: 'Geneve', vlan: undefined },
      { from: 'g1', to: 'v2', by: 0, encap: undefined, vlan: VLAN_V },
      { from: 'v2', to: 'g1', by: 1, encap: 'GREv0', vlan: undefined },
      { from: 'v1', to: 'n2', by: 0, encap: 'Geneve', vlan: undefined },
      { from: 'n2', to: 'v1', by: 1, encap: undefined, vlan: VLAN_V },
    ] as const satisfies ReadonlyArray<{ from: VmName; to: VmName; by: number; encap: Encapsulation; vlan: number | undefined }>;
    for (const family of [4, 6] as const) for (const c of across) await dvr.waitRouted(vm[c.from].vm, addr(c.to, family));

    const wire = await WireCapture.start(dvr.sims.hosts[0]);
    let frames: WireFrame[] = [];
    try {
      for (const family of [4, 6] as const) {
        for (const c of across) assert.equal(await ping(vm[c.from].vm, addr(c.to, family), { count: 3 }), 3, `${c.from} reaches ${c.to} over IPv${family} across the hosts through the router`);
      }
    } finally {
      frames = await wire.stop();
    }
    for (const family of [4, 6] as const) {
      for (const c of across) {
        // Three requests of one ping and three replies of the other.
        const seen = frames.filter((f) => f.from === addr(c.from, family) && f.to === addr(c.to, family));
        assert.ok(seen.length >= 6, `${c.from} -> ${c.to} (IPv${family}): routed echoes on the wire:\n${wire.text.slice(-3000)}`);
        for (const f of seen) {
          assert.deepEqual([f.src, f.dst, f.vlan, f.encap], [dvrMacs[c.by], vm[c.to].vm.mac, c.vlan, c.encap], `${c.from} -> ${c.to} (IPv${family}) on the wire, routed by host ${c.by + 1}: ${JSON.stringify(f)}`);
        }
      }
    }
    assert.deepEqual(frames.filter((f) => routerMacs.includes(f.src)), [], 'no frame on the wire has a router interface\'s MAC as its source');
    // Host 1's firewall sent what it accepted for the router straight out of the router's ports
    // (table 94, explicitly_egress_direct); host 2's has no such flows and left it to NORMAL.
    const toRouter = async (h: SimHost): Promise<string[]> => (await h.ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', 'br-int', 'table=94')).split('\n').filter((l) => routerMacs.some((m) => l.includes(`dl_dst=${m}`)));
    const [h1, h2] = dvr.sims.hosts;
    const direct1 = await toRouter(h1);
    assert.ok(direct1.some((l) => /n_packets=[1-9]/.test(l)), `host 1: no packet sent straight to a router port by table 94:\n${direct1.join('\n')}`);
    assert.deepEqual(await toRouter(h2), [], 'host 2 (explicitly_egress_direct off): no table 94 flow to a router port');
    await dvr.assertNoMacMoved();
  });

  it('a TCP port the security group does not allow gets no answer through the router, on one host or across hosts; the allowed one does', async () => {
    const listeners: Listener[] = [];
    try {
      for (const n of ['g1', 'n2', 'g2', 'v2'] as const) listeners.push(await Listener.start(vm[n].vm, { tcp: [22, 80] }));
      // [client, server]: one host with and without egress direct, across hosts both ways.
      const pairs = [['n1', 'g1'], ['n2', 'g2'], ['g1', 'n2'], ['n2', 'g1'], ['g1', 'v2'], ['v2', 'g1']] as const;
      for (const [c, s] of pairs) {
        assert.equal(await probeTcp(vm[c].vm, vm[s].vm.ip, 22, { timeoutMs: 3000 }), 'connected', `${c} -> ${s}:22 (allowed) through the router`);
        assert.equal(await probeTcp(vm[c].vm, vm[s].vm.ip, 80, { timeoutMs: 3000 }), 'timeout', `${c} -> ${s}:80 (not allowed) through the router: dropped by ${s}'s firewall`);
      }
    } finally {
      for (const l of listeners) l.stop();
    }
  });

  it('restarting both ovs-agents loses no routed packet through the openvswitch firewall, IPv4 and IPv6, and keeps an established TCP connection across the hosts', async () => {
    const running: Killable[] = [];
    const listener = await Listener.start(vm.n2.vm, { tcp: [22] });
    const stream = TcpStream.open(vm.g1.vm, vm.n2.vm.ip, 22);
    try {
      const pingers = [
        ['g1 to n1 (host 1, egress direct)', await Pinger.startAnswered(vm.g1.vm, vm.n1.vm.ip, running)],
        ['g2 to n2 (host 2)', await Pinger.startAnswered(vm.g2.vm, vm.n2.vm.ip, running)],
        ['g1 to n2 (host 1 to host 2, Geneve one way)', await Pinger.startAnswered(vm.g1.vm, vm.n2.vm.ip, running)],
        ['n2 to g1 (host 2 to host 1, GRE one way)', await Pinger.startAnswered(vm.n2.vm, vm.g1.vm.ip, running)],
        ['g1 to v2 (host 1 to host 2, VLAN one way)', await Pinger.startAnswered(vm.g1.vm, vm.v2.vm.ip, running)],
        ['g1 to n2 over IPv6', await Pinger.startAnswered(vm.g1.vm, vm.n2.ip6, running)],
      ] as const;
      await waitFor(() => stream.echoes > 0, 10000, 'the TCP connection g1 -> n2:22 echoing', 100);
      await dvr.assertRestartLosesNoPing(pingers, running);
      // Accepted once, by the conntrack entries of both firewalls: the restarted agents' flows must still let it through.
      const echoed = stream.echoes;
      await waitFor(() => stream.echoes > echoed, 5000, `the TCP connection g1 -> n2:22 echoing after the restart (ended: ${String(stream.ended)})`, 100);
      assert.ok(!stream.ended, 'the TCP connection g1 -> n2:22 was not cut by the restart');
    } finally {
      stream.close();
      listener.stop();
      for (const r of running) r.kill();
    }
  });

  it('a VM on either host reaches the outside through host 2\'s SNAT (dvr_snat)', async () => {
    const ext = await lab.createNetwork({ name: 'dvr-ext', provider: { network_type: 'flat', physical_network: 'physnet1' }, external: true });
    await lab.createSubnet(ext.id, EXTERNAL_CIDR, { gatewayIp: UPSTREAM_IP });
    // The upstream router: a namespace on host 1's bridge of the wire (so physnet1), with no route
    // to the VMs' subnets: it can answer only what comes from the router's gateway address.
    const [h1] = dvr.sims.hosts;
    const upstream = await dvr.sims.plug(h1, { id: 'upstream-203-0-113-1', mac_address: '02:00:cb:00:71:01', fixed_ips: [{ ip_address: UPSTREAM_IP }] }, { bridge: h1.phyBridge, nova: false });
    await lab.api('PUT', `/v2.0/routers/${routerId}`, { router: { external_gateway_info: { network_id: ext.id } } });
    const [gw] = await lab.listPorts(`device_id=${routerId}&device_owner=${encodeURIComponent('network:router_gateway')}`);
    assert.ok(gw, 'the router has a gateway port');
    const gwIp = gw.fixed_ips[0]!.ip_address;
    for (const n of ['g1', 'n2'] as const) await dvr.waitRouted(vm[n].vm, UPSTREAM_IP);
    const wire = await WireCapture.start(h1);
    let frames: WireFrame[] = [];
    try {
      for (const n of ['g1', 'n2'] as const) assert.equal(await ping(vm[n].vm, UPSTREAM_IP, { count: 3 }), 3, `${n} reaches ${UPSTREAM_IP} through the SNAT of host 2`);
    } finally {
      frames = await wire.stop();
    }
    // g1's echoes cross to host 2 inside GRE, routed by host 1 to network G's SNAT port (its DVR MAC as the source) ...
    const [snatG] = await lab.listPorts(`device_id=${routerId}&network_id=${netGId}&device_owner=${encodeURIComponent('network:router_centralized_snat')}`);
    assert.ok(snatG, 'network G has a centralized SNAT port');
    const toSnat = frames.filter((f) => f.from === vm.g1.vm.ip && f.to === UPSTREAM_IP);
    assert.ok(toSnat.length >= 3, `g1's echo requests to host 2's SNAT on the wire:\n${wire.text.slice(-3000)}`);
    for (const f of toSnat) assert.deepEqual([f.src, f.dst, f.encap], [dvrMacs[0], snatG.mac_address, 'GREv0'], `g1's echo to the outside, on its way to the SNAT port: ${JSON.stringify(f)}`);
    // ... and both VMs' echoes leave host 2 on the flat network from the gateway's address and MAC, none from a VM's own.
    const out = frames.filter((f) => f.to === UPSTREAM_IP && f.encap === undefined);
    assert.ok(out.length >= 6, `echo requests to ${UPSTREAM_IP} on the flat network:\n${wire.text.slice(-3000)}`);
    for (const f of out) assert.deepEqual([f.from, f.src, f.dst, f.vlan, f.kind], [gwIp, gw.mac_address, upstream.mac, undefined, 'request'], `an echo to the outside on the wire: ${JSON.stringify(f)}`);
  });

  it('a third host\'s DVR MAC is added to the running agents\' flows when its agent appears, and removed when it is deleted', async () => {
    const third = `dvr-third-${Date.now().toString(36)}`;
    const ovs = await startOvs();
    let agent: RunningAgent | undefined;
    const macFlows = async (mac: string): Promise<string[]> => {
      const out: string[] = [];
      for (const h of dvr.sims.hosts) {
        for (const b of ['br-int', 'br-tun', h.phyBridge]) out.push(...(await h.ovs.dumpFlows(b)).filter((f) => f.includes(`dl_src=${mac}`)).map((f) => `${h.name} ${b}: ${f}`));
      }
      return out;
    };
    const pids = dvr.hosts.map((h) => h.agent.pid);
    try {
      agent = await RunningAgent.start('ours', { host: third, transportUrl: lab.transportUrl, ovs, extraIni: '[agent]\nenable_distributed_routing = True\nreport_interval = 5\n[ovs]\nbridge_mappings =\n' });
      const a = agent;
      // The agent reports in_distributed_mode once its own ask has allocated its DVR MAC (the server then tells every agent).
      await until(`${third}'s agent in distributed mode`, a, 60000, async () => (await agentRecord(lab, third))?.configurations['in_distributed_mode'] === true, 250);
      const mac = await dvrMacOf(lab, third);
      // br-int table 0 (from the tunnels, from physnet1) and br-tun table 9 / br-phy table 3 on each host.
      const everyBridge = dvr.sims.hosts.flatMap((h) => ['br-int', 'br-tun', h.phyBridge].map((b) => `${h.name} ${b}: `));
      /** Waits until the flows with `mac` as their source are as wanted; on time-out, says which there are. */
      const flowsBecome = async (want: (flows: string[]) => boolean, what: string): Promise<void> => {
        try {
          await waitFor(async () => want(await macFlows(mac)), 30000, what, 250);
        } catch (e) {
          throw new Error(`${e instanceof Error ? e.message : String(e)}\nflows with ${third}'s DVR MAC ${mac} as source:\n${(await macFlows(mac)).join('\n')}`);
        }
      };
      await flowsBecome((flows) => everyBridge.every((where) => flows.some((f) => f.startsWith(where))), `flows for ${third}'s DVR MAC on every bridge of both hosts`);
      await agent.stop(5000);
      await forgetHost(lab, third);
      await flowsBecome((flows) => flows.length === 0, `no flow left for ${third}'s DVR MAC`);
      assert.deepEqual(dvr.hosts.map((h) => h.agent.pid), pids, 'the agents of hosts 1 and 2 ran throughout');
    } finally {
      if (agent) {
        await agent.stop(5000);
        agent.cleanup();
      }
      await ovs.stop();
    }
  });
});
