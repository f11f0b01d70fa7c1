// Every start-up failure an operator meets ends with one clear line and exit code 1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import { AgentProcess } from '../../../lab/agent-process.js';

let ovs: PrivateOvs;
before(async () => {
  ovs = await PrivateOvs.start();
});
after(async () => {
  await ovs?.stop();
});

const base = () => `[DEFAULT]\nhost = compute1\ntransport_url = fake:/\n[ovs]\novsdb_connection = ${ovs.unixConnection}\ndatapath_type = netdev\nof_listen_port = 16634\n`;

async function runToExit(files: Record<string, string>, args?: string[]): Promise<AgentProcess> {
  const a = new AgentProcess(files, ovs.env);
  a.start(args);
  await a.waitExit(20000);
  a.cleanup();
  return a;
}

test('a bad option value exits 1 naming the file, section, option and what was expected', async () => {
  const a = await runToExit({ 'neutron.conf': base(), 'agent.ini': '[ovs]\nof_listen_port = abc\n' });
  assert.equal(a.exitCode, 1);
  const line = a.output.trim().split('\n').at(-1)!;
  assert.match(line, /agent\.ini:2: \[ovs\] of_listen_port = 'abc': expected an integer/);
});

test('a bool that oslo.config refuses is refused', async () => {
  const a = await runToExit({ 'neutron.conf': base(), 'agent.ini': '[agent]\nl2_population = y\n' });
  assert.equal(a.exitCode, 1);
  assert.match(a.output, /\[agent\] l2_population = 'y'/);
});

test('a firewall driver the agent does not implement exits 1: never run with ports unfiltered', async () => {
  const a = await runToExit({
    'neutron.conf': base(),
    'agent.ini': '[securitygroup]\nfirewall_driver = neutron.agent.linux.iptables_firewall.IptablesFirewallDriver\n',
  });
  assert.equal(a.exitCode, 1);
  const line = a.output.trim().split('\n').at(-1)!;
  assert.match(line, /agent\.ini:2: \[securitygroup\] firewall_driver = 'neutron\.agent\.linux\.iptables_firewall\.IptablesFirewallDriver': the iptables firewall driver is not implemented by this agent.*supported: noop/);
  const b = await runToExit({ 'neutron.conf': base(), 'agent.ini': '[securitygroup]\nfirewall_driver = no_such_driver\n' });
  assert.equal(b.exitCode, 1);
  assert.match(b.output, /\[securitygroup\] firewall_driver = 'no_such_driver': unknown firewall driver \(supported: noop/);
});

test('[agent] extensions = log where nothing would be logged exits 1 naming the option: ovs-ofctl, or no openvswitch firewall', async () => {
  const a = await runToExit({ 'neutron.conf': base(), 'agent.ini': '[agent]\nextensions = log\n[securitygroup]\nfirewall_driver = openvswitch\n[ovs]\nof_interface = ovs-ofctl\n' });
  assert.equal(a.exitCode, 1);
  assert.match(a.output.trim().split('\n').at(-1)!, /agent\.ini:6: \[ovs\] of_interface = 'ovs-ofctl': \[agent\] extensions = log needs the native OpenFlow interface/);
  const b = await runToExit({ 'neutron.conf': base(), 'agent.ini': '[agent]\nextensions = log\n[securitygroup]\nfirewall_driver = iptables_hybrid\n' });
  assert.equal(b.exitCode, 1);
  assert.match(b.output, /agent\.ini:4: \[securitygroup\] firewall_driver = 'iptables_hybrid': \[agent\] extensions = log logs what the openvswitch firewall accepts and drops/);
});

test('a missing config file exits 1 naming it', async () => {
  const a = new AgentProcess({}, ovs.env);
  a.start(['--config-file', '/nonexistent/neutron.conf']);
  assert.equal(await a.waitExit(), 1);
  assert.match(a.output, /\/nonexistent\/neutron\.conf/);
  a.cleanup();
});

test('a malformed file exits 1 with file and line', async () => {
  const a = await runToExit({ 'neutron.conf': base(), 'agent.ini': 'local_ip = 1.2.3.4\n[ovs]\n' });
  assert.equal(a.exitCode, 1);
  assert.match(a.output, /agent\.ini:1/);
});

test('tunnelling with a local_ip no interface has is refused as the reference refuses it', async () => {
  const a = await runToExit({ 'neutron.conf': base(), 'agent.ini': '[ovs]\nlocal_ip = 203.0.113.77\n[agent]\ntunnel_types = vxlan\n' });
  assert.equal(a.exitCode, 1);
  assert.match(a.output, /Tunneling can't be enabled with invalid local_ip '203\.0\.113\.77'/);
});

test('a bridge of bridge_mappings that does not exist stops the agent', async () => {
  const a = await runToExit({ 'neutron.conf': base(), 'agent.ini': '[ovs]\nbridge_mappings = physnet1:br-missing\n' });
  assert.equal(a.exitCode, 1);
  assert.match(a.output, /Bridge br-missing for physical network physnet1 does not exist\. Agent terminated!/);
});

test('OVS not running: the agent says where it looked', async () => {
  const conf = base().replace(ovs.unixConnection, 'unix:/nonexistent/db.sock').replace('[ovs]\n', '[ovs]\novsdb_timeout = 2\n');
  const a = await runToExit({ 'neutron.conf': conf });
  assert.equal(a.exitCode, 1);
  assert.match(a.output, /ovsdb_connection = unix:\/nonexistent\/db\.sock.*Is ovsdb-server running\?/);
});

test('the OpenFlow listen port taken by another process stops the agent, naming address and port', async () => {
  const port = await freePort();
  const squatter: Server = createServer();
  await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', r));
  try {
    const a = await runToExit({ 'neutron.conf': base().replace('of_listen_port = 16634', `of_listen_port = ${port}`) });
    assert.equal(a.exitCode, 1);
    assert.match(a.output, new RegExp(`127\\.0\\.0\\.1:${port}.*EADDRINUSE|EADDRINUSE.*127\\.0\\.0\\.1:${port}`));
  } finally {
    squatter.close();
  }
});

test('--help prints the options and exits 0', async () => {
  const a = new AgentProcess({}, ovs.env);
  a.start(['--help']);
  assert.equal(await a.waitExit(), 0);
  assert.match(a.output, /--config-file/);
  assert.match(a.output, /--config-dir/);
  a.cleanup();
});
