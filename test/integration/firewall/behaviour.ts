// What a security-group firewall must do, seen from the VMs: the traffic cases neutron's own
// functional firewall tests check (neutron/tests/functional/agent/test_firewall.py), run against
// the agent with a real neutron-server, real OVS and namespace VMs. One list for every driver:
// the openvswitch and iptables_hybrid test files call firewallBehaviour() with their driver and plug.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateOvs } from '../../../lab/ovs.js';
import { AgentProcess } from '../../../lab/agent-process.js';
import { labAgentFiles, type LabAgentOptions } from '../../../lab/agent-config.js';
import { LAB_PROJECT, NeutronLab, waitFor, waitForValue, type NeutronPort } from '../../../lab/neutron.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import { tearDownTestHost } from '../../helpers/teardown.js';
import { Pinger } from '../../helpers/resilience.js';
import { Listener, TcpStream, ping6, probeTcp, probeUdp } from '../../../lab/traffic.js';
import { createFilteredPort, createRule, createSecurityGroup, deleteRule, type NeutronRule, type RuleSpec } from '../../../lab/security-groups.js';
import { startLabAndOvs } from '../../../lab/host.js';

const HOST = 'compute1';
const V6_CIDR = '2001:db8:0:1::/64';

export interface BehaviourOptions {
  firewallDriver: string;
  ofInterface?: LabAgentOptions['ofInterface'];
  ofListenPort: number;
  /** How a VM port is plugged (default: a tap straight on br-int, as for the openvswitch driver). */
  plug?: (ovs: PrivateOvs, port: NeutronPort) => Promise<Vm>;
}

/** Polls until `probe` gives `want` (the firewall may take a pass to apply a change). */
const eventually = <T>(what: string, probe: () => Promise<T>, want: T, timeoutMs = 15000): Promise<void> =>
  waitForValue(what, probe, want, timeoutMs);

export function firewallBehaviour(o: BehaviourOptions): void {
  let lab: NeutronLab;
  let ovs: PrivateOvs;
  let agent: AgentProcess;
  const vms: Record<string, Vm> = {};
  const ports: Record<string, NeutronPort> = {};
  const listeners: Listener[] = [];
  let webRules: Record<string, NeutronRule> = {};
  let peersSg = '';
  let serverSg = '';
  let clientSg = '';
  const files = () =>
    labAgentFiles({
      host: HOST,
      transportUrl: lab.transportUrl,
      ovsdbConnection: ovs.unixConnection,
      ofListenPort: o.ofListenPort,
      ofInterface: o.ofInterface,
      reportIntervalSec: 5,
      firewallDriver: o.firewallDriver,
    });
  const agentLog = () => `\nagent log (last lines):\n${agent.output.split('\n').slice(-40).join('\n')}`;

  before(async () => {
    [lab, ovs] = await startLabAndOvs();
    agent = new AgentProcess(files(), ovs.env).start();
    await agent.waitForLog(/bridges set up/);
    await waitFor(async () => (await lab.listAgents()).find((a) => a.host === HOST && a.alive), 60000, 'the agent alive in the API');

    const net = await lab.createNetwork({ name: 'fw-net' });
    await lab.createSubnet(net.id, '192.0.2.0/24', { gatewayIp: null });
    await lab.api('POST', '/v2.0/subnets', {
      subnet: { network_id: net.id, cidr: V6_CIDR, ip_version: 6, tenant_id: LAB_PROJECT, enable_dhcp: false, gateway_ip: null },
    });

    const anyOut: RuleSpec[] = [{ direction: 'egress', ethertype: 'IPv4' }, { direction: 'egress', ethertype: 'IPv6' }];
    const web = await createSecurityGroup(lab, 'web', [
      ...anyOut,
      { direction: 'ingress', protocol: 'icmp', remote_ip_prefix: '0.0.0.0/0' },
      { direction: 'ingress', protocol: 'tcp', port_range_min: 8000, port_range_max: 8000 },
      { direction: 'ingress', protocol: 'tcp', port_range_min: 9000, port_range_max: 9010 },
      { direction: 'ingress', protocol: 'udp', port_range_min: 7000, port_range_max: 7000 },
      { direction: 'ingress', protocol: 'udp', port_range_min: 7002, port_range_max: 7002 },
      { direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp' },
      { direction: 'ingress', ethertype: 'IPv6', protocol: 'tcp', port_range_min: 8000, port_range_max: 8000 },
    ]);
    serverSg = web.sg.id;
    const [, , icmp, tcp8000, tcpRange, udp7000] = web.rules;
    webRules = { icmp: icmp!, tcp8000: tcp8000!, tcpRange: tcpRange!, udp7000: udp7000! };
    clientSg = (await createSecurityGroup(lab, 'client', anyOut)).sg.id;
    peersSg = (await createSecurityGroup(lab, 'peers', [...anyOut, { direction: 'ingress', remote_group_id: 'self' }])).sg.id;
    const restricted = (await createSecurityGroup(lab, 'egress-8000', [{ direction: 'egress', protocol: 'tcp', port_range_min: 8000, port_range_max: 8000 }])).sg.id;

    const specs: Array<[string, Parameters<typeof createFilteredPort>[2]]> = [
      ['server', { name: 'server', host: HOST, securityGroups: [web.sg.id], ip: '192.0.2.10', ip6: '2001:db8:0:1::10' }],
      ['client', { name: 'client', host: HOST, securityGroups: [clientSg], ip: '192.0.2.20', ip6: '2001:db8:0:1::20' }],
      ['p1', { name: 'p1', host: HOST, securityGroups: [peersSg], ip: '192.0.2.31' }],
      ['p2', { name: 'p2', host: HOST, securityGroups: [peersSg], ip: '192.0.2.32' }],
      ['restricted', { name: 'restricted', host: HOST, securityGroups: [restricted], ip: '192.0.2.40' }],
      ['nosec', { name: 'nosec', host: HOST, portSecurity: false, ip: '192.0.2.50' }],
      ['pair', { name: 'pair', host: HOST, securityGroups: [clientSg], ip: '192.0.2.60', allowedAddressPairs: [{ ip_address: '192.0.2.99' }] }],
    ];
    for (const [name, spec] of specs) {
      const port = await createFilteredPort(lab, net.id, spec);
      ports[name] = port;
      vms[name] = await (o.plug ?? plugVm)(ovs, port);
    }
    for (const [name, port] of Object.entries(ports)) {
      await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 30000, `port ${name} ACTIVE`, 100).catch((e: unknown) => {
        throw new Error(`${String(e)}${agentLog()}`);
      });
    }
    listeners.push(await Listener.start(vms.server!, { tcp: [8000, 8001, 8999, 9000, 9010, 9011], udp: [7000, 7001] }));
    listeners.push(await Listener.start(vms.server!, { tcp: [8000], family: 6 }));
    listeners.push(await Listener.start(vms.nosec!, { tcp: [8000], udp: [67, 68] }));
  }, { timeout: 240000 });

  after(async () => {
    for (const l of listeners) l.stop();
    await tearDownTestHost(`firewall behaviour (${o.firewallDriver}${o.ofInterface ? `, ${o.ofInterface}` : ''})`, { agent, ovs, lab });
  }, { timeout: 60000 });

  const v6 = (name: string) => ports[name]!.fixed_ips.find((f) => f.ip_address.includes(':'))!.ip_address;

  test('ingress ICMP: allowed by a rule, denied without one (ARP passes either way)', async () => {
    assert.equal(await ping(vms.client!, '192.0.2.10'), 3, `client pings server (icmp rule)${agentLog()}`);
    assert.equal(await ping(vms.server!, '192.0.2.20', { count: 2, timeoutMs: 2000 }), 0, 'server cannot ping client (client has no ingress rule)');
  });

  test('TCP and UDP by port and port range: the allowed ports open, the next ones closed', async () => {
    const c = vms.client!;
    assert.equal(await probeTcp(c, '192.0.2.10', 8000), 'connected');
    assert.equal(await probeTcp(c, '192.0.2.10', 8001), 'timeout', 'the next port is dropped, not refused');
    assert.equal(await probeTcp(c, '192.0.2.10', 9000), 'connected');
    assert.equal(await probeTcp(c, '192.0.2.10', 9010), 'connected');
    assert.equal(await probeTcp(c, '192.0.2.10', 8999), 'timeout');
    assert.equal(await probeTcp(c, '192.0.2.10', 9011), 'timeout');
    assert.equal(await probeUdp(c, '192.0.2.10', 7000), 'reply');
    assert.equal(await probeUdp(c, '192.0.2.10', 7001), 'timeout');
  });

  test('related ICMP passes: port unreachable for an allowed UDP port with no listener', async () => {
    assert.equal(await probeUdp(vms.client!, '192.0.2.10', 7002), 'error:ECONNREFUSED');
  });

  test('egress rules: only the allowed egress leaves the VM', async () => {
    const r = vms.restricted!;
    assert.equal(await probeTcp(r, '192.0.2.10', 8000), 'connected', 'egress tcp/8000 allowed');
    assert.equal(await ping(r, '192.0.2.10', { count: 2, timeoutMs: 2000 }), 0, 'egress icmp not allowed');
    assert.equal(await probeTcp(r, '192.0.2.50', 8000), 'connected', 'to an unfiltered port too');
  });

  test('remote group: members reach each other, others do not; membership follows port updates', async () => {
    assert.equal(await ping(vms.p1!, '192.0.2.32'), 3, 'p1 -> p2');
    assert.equal(await ping(vms.p2!, '192.0.2.31'), 3, 'p2 -> p1');
    assert.equal(await ping(vms.client!, '192.0.2.31', { count: 2, timeoutMs: 2000 }), 0, 'client is no member');
    await lab.updatePort(ports.client!.id, { security_groups: [clientSg, peersSg] });
    await eventually('client in peers pings p1', () => ping(vms.client!, '192.0.2.31', { count: 1, timeoutMs: 1000 }), 1);
    await lab.updatePort(ports.client!.id, { security_groups: [clientSg] });
    await eventually('client out of peers', () => ping(vms.client!, '192.0.2.31', { count: 1, timeoutMs: 1000 }), 0);
  });

  test('MAC and IP spoofing are dropped; an allowed address pair is not', async () => {
    const c = vms.client!;
    await c.exec('ip', ['addr', 'add', '192.0.2.77/24', 'dev', 'eth0']);
    try {
      assert.equal(await ping(c, '192.0.2.10', { count: 2, timeoutMs: 2000, source: '192.0.2.77' }), 0, 'spoofed source IP dropped');
    } finally {
      await c.exec('ip', ['addr', 'del', '192.0.2.77/24', 'dev', 'eth0']);
    }
    await c.exec('ip', ['link', 'set', 'eth0', 'address', 'fa:16:3e:66:66:66']);
    try {
      assert.equal(await ping(c, '192.0.2.10', { count: 2, timeoutMs: 2000 }), 0, 'spoofed source MAC dropped');
    } finally {
      await c.exec('ip', ['link', 'set', 'eth0', 'address', ports.client!.mac_address]);
    }
    assert.equal(await ping(c, '192.0.2.10'), 3, 'the real MAC and IP pass again');
    const p = vms.pair!;
    await p.exec('ip', ['addr', 'add', '192.0.2.99/24', 'dev', 'eth0']);
    assert.equal(await ping(p, '192.0.2.10', { count: 3, source: '192.0.2.99' }), 3, 'allowed address pair passes');
  });

  test('port security off: no filtering, no anti-spoofing', async () => {
    const n = vms.nosec!;
    assert.equal(await probeTcp(vms.server!, '192.0.2.50', 8000), 'connected', 'ingress to the unfiltered port');
    await n.exec('ip', ['addr', 'add', '192.0.2.88/24', 'dev', 'eth0']);
    assert.equal(await ping(n, '192.0.2.10', { count: 3, source: '192.0.2.88' }), 3, 'any source address leaves it');
  });

  test('DHCP: a VM may be a DHCP client, never a DHCP server', async () => {
    assert.equal(await probeUdp(vms.restricted!, '192.0.2.50', 67, { srcPort: 68 }), 'reply', 'DHCP client traffic passes a restrictive group');
    assert.equal(await probeUdp(vms.client!, '192.0.2.50', 68, { srcPort: 67 }), 'timeout', 'DHCP server traffic from a VM is dropped');
    assert.equal(await probeUdp(vms.client!, '192.0.2.50', 68, { srcPort: 1067 }), 'reply', 'the same from another port passes');
  });

  test('IPv6: ICMPv6 and TCP by rule, denied without', async () => {
    assert.equal(await ping6(vms.client!, v6('server')), 3, 'ping6 client -> server');
    assert.equal(await ping6(vms.server!, v6('client'), 2, 2), 0, 'ping6 server -> client denied');
    assert.equal(await probeTcp(vms.client!, v6('server'), 8000), 'connected');
  });

  test('no blink: allowed traffic is never dropped while other rules are removed and re-added', async () => {
    const pinger = Pinger.start(vms.client!, '192.0.2.10', 0.05);
    const stream = TcpStream.open(vms.client!, '192.0.2.10', 9000);
    let streamEnded = true;
    try {
      for (let i = 0; i < 4; i++) {
        await deleteRule(lab, webRules.udp7000!.id);
        await eventually('udp 7000 closed', () => probeUdp(vms.client!, '192.0.2.10', 7000, { timeoutMs: 500 }), 'timeout');
        webRules.udp7000 = await createRule(lab, serverSg, { direction: 'ingress', protocol: 'udp', port_range_min: 7000, port_range_max: 7000 });
        await eventually('udp 7000 open', () => probeUdp(vms.client!, '192.0.2.10', 7000, { timeoutMs: 500 }), 'reply');
      }
      streamEnded = stream.ended;
    } finally {
      stream.close();
    }
    const s = await pinger.stop();
    assert.ok(s.received > 20, `pings answered: ${s.received}`);
    assert.deepEqual(s.lostSeqs, [], `no ping lost while rules changed (lost: ${s.lostSeqs.join(',')})`);
    assert.ok(stream.echoes > 10 && !streamEnded, `the TCP connection on 9000 kept flowing (${stream.echoes} echoes, ended ${streamEnded})`);
  });

  test('an established connection is cut when the rule that allowed it is deleted', async () => {
    const stream = TcpStream.open(vms.client!, '192.0.2.10', 8000);
    try {
      await waitFor(async () => stream.echoes >= 3, 5000, 'stream to 8000 flowing');
      const t = Date.now();
      const logFrom = agent.output.length;
      await deleteRule(lab, webRules.tcp8000!.id);
      await waitFor(async () => stream.lastEchoAt < Date.now() - 1500 && stream.lastEchoAt > 0, 15000, 'stream to 8000 stopped');
      assert.ok(stream.lastEchoAt - t < 15000, 'cut within the next passes');
      // The operator sees the rule change land: a pass that wired nothing else says what it refiltered.
      await agent.waitForLog(/pass: [1-9]\d* ports refiltered \(their security groups changed\) in \d+ ms/, 5000, logFrom);
      assert.equal(await probeTcp(vms.client!, '192.0.2.10', 8000), 'timeout', 'new connections denied');
    } finally {
      stream.close();
      webRules.tcp8000 = await createRule(lab, serverSg, { direction: 'ingress', protocol: 'tcp', port_range_min: 8000, port_range_max: 8000 });
    }
    await eventually('tcp 8000 open again', () => probeTcp(vms.client!, '192.0.2.10', 8000), 'connected');
  });

  test('agent restart: allowed traffic keeps flowing, denied traffic stays denied', async () => {
    const pinger = Pinger.start(vms.client!, '192.0.2.10', 0.05);
    await agent.stop('SIGKILL');
    agent.cleanup();
    assert.equal(await probeTcp(vms.client!, '192.0.2.10', 8001, { timeoutMs: 1000 }), 'timeout', 'denied while the agent is down');
    agent = new AgentProcess(files(), ovs.env).start();
    await agent.waitForLog(/first full sync done/, 60000);
    assert.equal(await probeTcp(vms.client!, '192.0.2.10', 8001, { timeoutMs: 1000 }), 'timeout', 'denied after the restart');
    assert.equal(await probeTcp(vms.client!, '192.0.2.10', 8000), 'connected', 'allowed after the restart');
    const s = await pinger.stop();
    assert.deepEqual(s.lostSeqs, [], `no ping lost across the restart (lost: ${s.lostSeqs.join(',')})`);
  });
}
