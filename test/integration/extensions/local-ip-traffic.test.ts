// The local_ip extension as a tenant sees it, with the real neutron-server (local_ip service plugin)
// on this machine's userspace datapath: VM C reaches Local IP L associated with VM A's port on the
// same network, and gets A's answer (ping, and a TCP connection to a port only A listens on, which
// also shows the reply comes back from L: C's socket would not take it from A's own address); a
// dissociation stops it; the same association made again works again. Once per `[local_ip]
// static_nat` value, with the firewall driver the reference allows with it (conntrack NAT: noop;
// static NAT: openvswitch, which the reference requires it with). `ovs-agent status` shows it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import type { AgentProcess } from '../../../lab/agent-process.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { type NeutronLab, labSkipReason, waitFor } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { checkoutFile } from '../../../lab/checkout.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import { Listener, probeTcp } from '../../../lab/traffic.js';
import { createFilteredPort, createSecurityGroup } from '../../../lab/security-groups.js';
import { note, startAgent, stopAgentHost, waitAgentAlive } from '../../helpers/resilience.js';
import { associateLocalIp, createLocalIp, dissociateLocalIp } from '../local-ip/scenario.js';

const run = promisify(execFile);
const CLI = checkoutFile('bin/ovs-agent.js');
const LOCAL_IP = '203.0.113.100';
const SERVICE_PORT = 8080;

const MODES = [
  { name: 'conntrack', staticNat: false, firewallDriver: 'noop' },
  { name: 'static-nat', staticNat: true, firewallDriver: 'openvswitch' },
] as const;

describe('local_ip: a Local IP reaches the VM it is associated with', { skip: labSkipReason(), timeout: 900_000 }, () => {
  let lab: NeutronLab;
  before(async () => {
    lab = await startLab({ localIp: true });
  }, { timeout: 240_000 });
  after(async () => lab?.stop(), { timeout: 60_000 });

  for (const mode of MODES) describe(`static_nat = ${mode.staticNat ? 'True' : 'False'}, firewall_driver = ${mode.firewallDriver}`, () => {
    const HOST = `lip-${mode.name}`;
    const tag = `[${mode.name}]`;
    let ovs: PrivateOvs;
    let agent: AgentProcess;
    let a: Vm;
    let c: Vm;
    let listener: Listener | undefined;
    let lipId = '';

    const brInt = async (): Promise<string[]> => ovs.dumpFlows('br-int');
    const associated = async (): Promise<boolean> => (await brInt()).some((f) => f.includes(`arp_tpa=${LOCAL_IP}`));
    const cli = async (...args: string[]): Promise<string> =>
      (await run(process.execPath, [CLI, args[0]!, '--config-file', agent.path('neutron.conf'), '--config-file', agent.path('openvswitch_agent.ini'), ...args.slice(1)], { env: ovs.env })).stdout;

    before(async () => {
      ovs = await PrivateOvs.start();
      const files = labAgentFiles({
        host: HOST, transportUrl: lab.transportUrl, ovsdbConnection: ovs.unixConnection, ofListenPort: await freePort(), reportIntervalSec: 2,
        agent: ['extensions = local_ip', `metrics_bind = 127.0.0.1:${await freePort()}`], firewallDriver: mode.firewallDriver,
      });
      files['openvswitch_agent.ini'] += `[local_ip]\nstatic_nat = ${mode.staticNat ? 'True' : 'False'}\n`;
      agent = await startAgent(files, ovs);
      await waitAgentAlive(lab, HOST);
      const net = await lab.createNetwork({ name: `lip-${mode.name}` });
      await lab.createSubnet(net.id, '203.0.113.0/24', { gatewayIp: null, dhcp: false });
      const { sg } = await createSecurityGroup(lab, `lip-${mode.name}`, [
        { direction: 'ingress', protocol: 'icmp', remote_group_id: 'self' },
        { direction: 'ingress', protocol: 'tcp', port_range_min: SERVICE_PORT, port_range_max: SERVICE_PORT, remote_group_id: 'self' },
        { direction: 'egress' },
      ]);
      const vm = async (name: string, ip: string): Promise<Vm> => {
        const port = await createFilteredPort(lab, net.id, { name, host: HOST, securityGroups: [sg.id], ip });
        const v = await plugVm(ovs, port);
        await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 60000, `port ${name} ACTIVE`, 100);
        return v;
      };
      a = await vm('a', '203.0.113.10');
      c = await vm('c', '203.0.113.20');
      listener = await Listener.start(a, { tcp: [SERVICE_PORT] });
      await waitFor(async () => (await ping(c, a.ip, { count: 1, timeoutMs: 1000 })) === 1, 15000, 'c pings a by its fixed IP');
      lipId = (await createLocalIp(lab, net.id, LOCAL_IP)).id;
    }, { timeout: 240_000 });

    after(() => stopAgentHost({ host: HOST, agent, running: [{ kill: () => listener?.stop() }] }).finally(() => ovs?.stop()), { timeout: 60_000 });

    test('not associated: nothing answers for the Local IP', async () => {
      assert.equal(await ping(c, LOCAL_IP, { count: 2, timeoutMs: 2000 }), 0);
      assert.notEqual(await probeTcp(c, LOCAL_IP, SERVICE_PORT), 'connected');
    });

    test('associated with a\'s port: c pings the Local IP and its TCP connection is answered by a, from the Local IP', async () => {
      await associateLocalIp(lab, lipId, await lab.getPort(a.portId));
      await waitFor(associated, 15000, 'the association\'s flows on br-int');
      const replies = await ping(c, LOCAL_IP, { count: 3, timeoutMs: 3000 });
      const tcp = await probeTcp(c, LOCAL_IP, SERVICE_PORT, { timeoutMs: 3000 });
      note(`${tag} associated: ${replies}/3 ping replies, TCP ${tcp}`);
      assert.ok(replies >= 2, `${replies}/3 ping replies from the Local IP`);
      assert.equal(tcp, 'connected', 'only a listens on the port: a answered, and the reply came from the Local IP');
      const status = await cli('status');
      assert.match(status, new RegExp(`^extension local_ip 1 port, 1 associations, ${mode.staticNat ? 'static' : 'conntrack'} NAT$`, 'm'), status);
    });

    test('dissociated: the Local IP answers no more', async () => {
      await dissociateLocalIp(lab, lipId, a.portId);
      await waitFor(async () => !(await associated()), 15000, 'the association\'s flows gone');
      assert.equal(await ping(c, LOCAL_IP, { count: 2, timeoutMs: 2000 }), 0);
      assert.notEqual(await probeTcp(c, LOCAL_IP, SERVICE_PORT, { timeoutMs: 2000 }), 'connected');
      assert.match(await cli('status'), /^extension local_ip 0 ports, 0 associations/m);
    });

    test('associated again with the same port: it answers again', async () => {
      await associateLocalIp(lab, lipId, await lab.getPort(a.portId));
      await waitFor(associated, 15000, 'the association\'s flows back on br-int');
      assert.ok((await ping(c, LOCAL_IP, { count: 3, timeoutMs: 3000 })) >= 2, 'ping replies from the Local IP again');
      assert.equal(await probeTcp(c, LOCAL_IP, SERVICE_PORT, { timeoutMs: 3000 }), 'connected');
      assert.match(agent.output, /extension local_ip loaded/);
      assert.doesNotMatch(agent.output, /\bERROR\b/, 'no error logged');
    });
  });
});
