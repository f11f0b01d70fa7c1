// The README's swap procedure, the way back: our agent wires a host (vxlan, VLAN and flat networks)
// against a real neutron-server, then it is stopped and the reference neutron-openvswitch-agent
// started on the same OVS. The reference must keep the ports' local VLANs, replace our flows by
// its own (the same flows, its cookie) and never interrupt traffic between the VMs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, symlinkSync, lstatSync, unlinkSync, readFileSync, readlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrivateOvs } from '../../../lab/ovs.js';
import { AgentProcess } from '../../../lab/agent-process.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { NeutronLab, waitFor } from '../../../lab/neutron.js';
import { plugVm, cleanupAllVms, type Vm } from '../../../lab/vm.js';
import { startLabAndOvs } from '../../../lab/host.js';

const HOST = 'swap-back-host';
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
  refDir = mkdtempSync(join(tmpdir(), 'ovs-agent-swapback-'));
}, { timeout: 120000 });

after(async () => {
  if (ref?.pid !== undefined && ref.exitCode === null) ref.kill('SIGKILL');
  // The reference's privsep helpers run with our config directory on their command line.
  spawnSync('pkill', ['-9', '-f', `[p]rivsep-helper.*${refDir}`]);
  await cleanupAllVms();
  await ours?.stop().catch(() => undefined);
  ours?.cleanup();
  // The run-directory link this test made would point at a removed directory.
  try {
    if (ovs && readlinkSync('/var/run/openvswitch') === ovs.dir) unlinkSync('/var/run/openvswitch');
  } catch {
    // not a link, or not ours
  }
  await Promise.allSettled([lab?.stop(), ovs?.stop()]);
  rmSync(refDir, { recursive: true, force: true });
}, { timeout: 60000 });

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

/** Cookies of a bridge's flows, learned flows (table 20, hard_timeout) aside. */
async function cookies(bridge: string): Promise<Set<string>> {
  const lines = (await ovs.dumpFlows(bridge, { keepCookies: true })).filter((l) => !l.includes('hard_timeout'));
  return new Set(lines.map((l) => /cookie=(0x[0-9a-f]+)/.exec(l)?.[1] ?? '?'));
}

test('swapping back from ours to the reference leaves the dataplane untouched', { timeout: 420000 }, async (t) => {
  if (!haveReference()) {
    if (process.env['OVS_AGENT_ALLOW_SKIP'] === '1') return t.skip('reference agent not installed');
    assert.fail('neutron-openvswitch-agent (the reference) is not installed: run scripts/lab/install.sh');
  }
  // One set of files for both agents (OVSDB over TCP: the reference takes nothing else).
  const files = labAgentFiles({ host: HOST, transportUrl: lab.transportUrl, ovsdbConnection: ovs.tcpConnection, bridgeMappings: 'physnet1:br-phys' });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(refDir, name), text);
  ours = new AgentProcess(files, ovs.env).start();
  await ours.waitForLog(/bridges set up/, 60000);

  const vx = await lab.createNetwork({ name: 'swapback-vx' });
  await lab.createSubnet(vx.id, '192.0.2.0/24', { gatewayIp: null });
  const vl = await lab.createNetwork({ name: 'swapback-vlan', provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: 121 } });
  await lab.createSubnet(vl.id, '198.51.100.0/24', { gatewayIp: null });
  const fl = await lab.createNetwork({ name: 'swapback-flat', provider: { network_type: 'flat', physical_network: 'physnet1' } });
  await lab.createSubnet(fl.id, '203.0.113.0/24', { gatewayIp: null });
  const vms: Vm[] = [];
  const ports = [];
  for (const [net, name] of [[vx, 'vx1'], [vx, 'vx2'], [vl, 'vl1'], [fl, 'fl1']] as const) {
    const port = await lab.createPort(net.id, { name, host: HOST });
    ports.push(port);
    vms.push(await plugVm(ovs, port));
    await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 60000, `${name} ACTIVE with our agent`, 200);
  }
  const ourFlows = new Map<string, string[]>();
  const ourCookies = new Set<string>();
  for (const b of BRIDGES) {
    ourFlows.set(b, await ovs.dumpFlows(b));
    for (const c of await cookies(b)) ourCookies.add(c);
  }
  const tags = await Promise.all(vms.map((v) => ovs.vsctl('get', 'Port', v.tap, 'tag')));

  // The reference calls ovs-ofctl through its compiled-in run directory.
  try {
    if (lstatSync('/var/run/openvswitch').isSymbolicLink()) unlinkSync('/var/run/openvswitch');
  } catch {
    // absent
  }
  try {
    symlinkSync(ovs.dir, '/var/run/openvswitch');
  } catch {
    // a real directory exists; with the noop firewall the reference does not need it
  }

  const flood = pingFlood(vms[0]!, vms[1]!.ip);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(await ours.stop(), 0, 'ours stops cleanly (SIGTERM), flows in place');
  const log = join(refDir, 'agent.log');
  ref = spawn('neutron-openvswitch-agent', ['--config-file', join(refDir, 'neutron.conf'), '--config-file', join(refDir, 'openvswitch_agent.ini'), '--log-file', log], {
    env: ovs.env,
    stdio: 'ignore',
  });
  // Done once every bridge carries the reference's cookie only: it re-added what it needs, then
  // removed our flows as stale.
  try {
    await waitFor(async () => {
      for (const b of BRIDGES) {
        const c = await cookies(b);
        if (c.size !== 1 || ourCookies.has([...c][0]!)) return false;
      }
      return true;
    }, 240000, 'the reference\'s flows replacing ours on every bridge', 500);
  } catch (e) {
    throw new Error(`${String(e)}\nreference log (end):\n${existsSync(log) ? readFileSync(log, 'utf8').slice(-3000) : '(none)'}`);
  }
  await new Promise((r) => setTimeout(r, 1000));
  const { sent, received } = await flood.stop();
  process.stdout.write(`# swap back to the reference under a 50 ms ping: ${sent} sent, ${received} received\n`);
  assert.ok(sent > 20, `pinged throughout (${sent})`);
  assert.equal(received, sent, 'no ping lost while the agents were swapped');

  for (const b of BRIDGES) {
    const strip = (fs: string[]) => fs.filter((f) => !f.includes('hard_timeout=300'));
    assert.deepEqual(strip(await ovs.dumpFlows(b)), strip(ourFlows.get(b)!), `${b}: the reference's flows equal ours`);
  }
  assert.deepEqual(await Promise.all(vms.map((v) => ovs.vsctl('get', 'Port', v.tap, 'tag'))), tags, 'local VLANs kept');
  for (const p of ports) assert.equal((await lab.getPort(p.id)).status, 'ACTIVE');
});
