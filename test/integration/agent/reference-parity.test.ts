// Swap agents on a live host: the reference neutron-openvswitch-agent wires a scenario (vxlan,
// VLAN and flat networks) against a real neutron-server; it is stopped and ours started on the
// same OVS. Ours must leave exactly the reference's flows on every bridge (cookies, statistics
// aside), keep the ports' local VLANs, and never interrupt traffic between the VMs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, symlinkSync, lstatSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrivateOvs } from '../../../lab/ovs.js';
import { AgentProcess } from '../../../lab/agent-process.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { NeutronLab, waitFor } from '../../../lab/neutron.js';
import { plugVm, cleanupAllVms, type Vm } from '../../../lab/vm.js';
import { startLabAndOvs } from '../../../lab/host.js';

const HOST = 'parity-host';
const BRIDGES = ['br-int', 'br-tun', 'br-phys'];

let lab: NeutronLab;
let ovs: PrivateOvs;
let refDir: string;
let ref: ChildProcess | undefined;
let ours: AgentProcess | undefined;

function haveReference(): boolean {
  return spawnSync('sh', ['-c', 'command -v neutron-openvswitch-agent'], { stdio: 'ignore' }).status === 0;
}

before(async () => {
  [lab, ovs] = await startLabAndOvs({ tcp: true });
  await ovs.addBridge('br-phys');
  refDir = mkdtempSync(join(tmpdir(), 'ovs-agent-ref-'));
}, { timeout: 120000 });

after(async () => {
  ref?.kill('SIGKILL');
  spawnSync('pkill', ['-9', '-f', `[p]rivsep-helper.*${refDir}`]);
  await cleanupAllVms();
  await ours?.stop().catch(() => undefined);
  ours?.cleanup();
  await Promise.allSettled([lab?.stop(), ovs?.stop()]);
  rmSync(refDir, { recursive: true, force: true });
}, { timeout: 60000 });

/** A continuous ping (every 50 ms) from one VM to another; returns sent/received when stopped. */
function pingFlood(from: Vm, to: string): { stop: () => Promise<{ sent: number; received: number }> } {
  const child = spawn('ip', ['netns', 'exec', from.netns, 'ping', '-i', '0.05', '-W', '1', to], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  return {
    stop: async () => {
      child.kill('SIGINT');
      await new Promise((r) => child.on('exit', r));
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
      return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0) };
    },
  };
}

test('an operator swaps the reference agent for ours without touching the dataplane', { timeout: 300000 }, async (t) => {
  if (!haveReference()) {
    if (process.env['OVS_AGENT_ALLOW_SKIP'] === '1') return t.skip('reference agent not installed');
    assert.fail('neutron-openvswitch-agent (the reference) is not installed: run scripts/lab/install.sh');
  }
  // The reference: OVSDB over TCP, its ovs-ofctl calls through the compiled-in run directory.
  // One set of files for both agents, as on a host where the operator only swaps the binary
  // (OVSDB over TCP: the reference cannot use a unix socket path of our choosing).
  const files = labAgentFiles({ host: HOST, transportUrl: lab.transportUrl, ovsdbConnection: ovs.tcpConnection, bridgeMappings: 'physnet1:br-phys' });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(refDir, name), text);
  try {
    if (lstatSync('/var/run/openvswitch').isSymbolicLink()) unlinkSync('/var/run/openvswitch');
  } catch {
    // absent
  }
  try {
    symlinkSync(ovs.dir, '/var/run/openvswitch');
  } catch {
    // a real directory exists; the reference's own ovs-ofctl use is not needed with the noop firewall
  }
  ref = spawn('neutron-openvswitch-agent', ['--config-file', join(refDir, 'neutron.conf'), '--config-file', join(refDir, 'openvswitch_agent.ini'), '--log-file', join(refDir, 'agent.log')], {
    env: ovs.env,
    stdio: 'ignore',
  });
  await waitFor(async () => (await lab.listAgents()).find((a) => a.host === HOST && a.alive), 120000, 'reference agent alive');

  const vx = await lab.createNetwork({ name: 'parity-vx' });
  await lab.createSubnet(vx.id, '192.0.2.0/24', { gatewayIp: null });
  const vl = await lab.createNetwork({ name: 'parity-vlan', provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: 120 } });
  await lab.createSubnet(vl.id, '198.51.100.0/24', { gatewayIp: null });
  const fl = await lab.createNetwork({ name: 'parity-flat', provider: { network_type: 'flat', physical_network: 'physnet1' } });
  await lab.createSubnet(fl.id, '203.0.113.0/24', { gatewayIp: null });
  const vms: Vm[] = [];
  const ports = [];
  for (const [net, name] of [[vx, 'vx1'], [vx, 'vx2'], [vl, 'vl1'], [fl, 'fl1']] as const) {
    const port = await lab.createPort(net.id, { name, host: HOST });
    ports.push(port);
    vms.push(await plugVm(ovs, port));
    await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 60000, `${name} ACTIVE with the reference`, 200);
  }
  // Let the reference finish its loop iteration (it polls every 2 s).
  await new Promise((r) => setTimeout(r, 4000));
  const refFlows = new Map<string, string[]>();
  for (const b of BRIDGES) refFlows.set(b, await ovs.dumpFlows(b));
  const tags = await Promise.all(vms.map((v) => ovs.vsctl('get', 'Port', v.tap, 'tag')));

  // Swap, with traffic flowing between the two vxlan VMs.
  const flood = pingFlood(vms[0]!, vms[1]!.ip);
  await new Promise((r) => setTimeout(r, 1000));
  ref.kill('SIGTERM');
  await new Promise((r) => ref!.on('exit', r));
  spawnSync('pkill', ['-f', `[p]rivsep-helper.*${refDir}`]);
  ref = undefined;
  ours = new AgentProcess(files, ovs.env).start();
  await ours.waitForLog(/first full sync done: 4 ports/, 60000);
  await new Promise((r) => setTimeout(r, 1000));
  const { sent, received } = await flood.stop();
  process.stdout.write(`# agent swap under a 50 ms ping: ${sent} sent, ${received} received\n`);
  assert.ok(sent > 20, `pinged throughout (${sent})`);
  assert.equal(received, sent, 'no ping lost while the agents were swapped');

  for (const b of BRIDGES) {
    const mine = await ovs.dumpFlows(b);
    // Learned MAC flows (table 20, hard_timeout) come from traffic, not from either agent.
    const strip = (fs: string[]) => fs.filter((f) => !f.includes('hard_timeout=300'));
    assert.deepEqual(strip(mine), strip(refFlows.get(b)!), `${b}: our flows equal the reference's`);
    const cookies = new Set((await ovs.dumpFlows(b, { keepCookies: true })).filter((l) => !l.includes('hard_timeout')).map((l) => /cookie=(0x[0-9a-f]+)/.exec(l)?.[1]));
    assert.equal(cookies.size, 1, `${b}: the reference's flows were replaced by ours, stale ones removed`);
  }
  assert.deepEqual(await Promise.all(vms.map((v) => ovs.vsctl('get', 'Port', v.tap, 'tag'))), tags, 'local VLANs kept');
  for (const p of ports) assert.equal((await lab.getPort(p.id)).status, 'ACTIVE');
});
