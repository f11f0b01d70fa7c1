// DVR start-up, the same for the reference (capture.ts) and ours (startup-parity.test.ts): a lab
// neutron-server that already knows another host's DVR MAC, a fresh private OVS with br-phys, one
// agent started with `[agent] enable_distributed_routing = True`; once its DVR MAC flows are in,
// the flows of br-int, br-tun and br-phys, with cookies dropped and the DVR MACs named.
import { readFileSync, writeFileSync } from 'node:fs';
import { AmqpConnection, RpcClient } from '../../../src/rpc/index.js';
import type { NeutronLab } from '../../../lab/neutron.js';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { RunningAgent, startOvs, until, type Side } from '../../../bench/agents.js';
import { isJsonObject, type JsonValue } from '../../../src/util/json.js';

export const DVR_FIXTURES = 'test/fixtures/reference/dvr';
export const OTHER_HOST = 'dvr-other-host';

export interface DvrStartupCase {
  name: string;
  /** After the lab's agent ini (vxlan, l2population, ARP responder, physnet1:br-phys). */
  extraIni: string;
  bridges: string[];
}

const DVR_INI = ['[agent]', 'enable_distributed_routing = True'];

export const DVR_STARTUP_CASES: DvrStartupCase[] = [
  { name: 'startup-vxlan', extraIni: [...DVR_INI, '[ovs]', 'bridge_mappings =', ''].join('\n'), bridges: ['br-int', 'br-tun', 'br-phys'] },
  { name: 'startup-vxlan-vlan', extraIni: [...DVR_INI, ''].join('\n'), bridges: ['br-int', 'br-tun', 'br-phys'] },
];

/** A call of neutron's DVR RPC (q-plugin, version 1.0) on a connection of our own. */
export async function dvrCall(lab: NeutronLab, method: string, args: Record<string, string>): Promise<JsonValue> {
  const conn = new AmqpConnection({ transportUrl: lab.transportUrl, purpose: 'dvr-test' });
  await conn.start();
  const rpc = await RpcClient.create({ connection: conn });
  try {
    return await rpc.call('q-plugin', method, args, { version: '1.0', timeoutSec: 60 });
  } finally {
    await rpc.close();
    await conn.close();
  }
}

/** The DVR MAC the server gives `host` (allocated on the first ask). */
export async function dvrMacOf(lab: NeutronLab, host: string): Promise<string> {
  const res = await dvrCall(lab, 'get_dvr_mac_address_by_host', { host });
  if (!isJsonObject(res) || typeof res['mac_address'] !== 'string') throw new Error(`get_dvr_mac_address_by_host(${host}): ${JSON.stringify(res)}`);
  return res['mac_address'].toLowerCase().replace(/-/g, ':');
}

/** Flows as the fixtures keep them: no cookie, the DVR MACs and the host-specific values named, sorted. */
export function normaliseFlows(lines: string[], names: ReadonlyMap<string, string>): string[] {
  return lines
    .map((l) => {
      let s = l.replace(/cookie=0x[0-9a-f]+, ?/g, '').replace(/^ +/, '');
      for (const [value, name] of names) s = s.split(value).join(name);
      return s;
    })
    .sort();
}

export async function dumpBridges(ovs: PrivateOvs, bridges: string[], names: ReadonlyMap<string, string>): Promise<string> {
  let out = '';
  for (const b of bridges) {
    const flows = await ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', '--no-stats', b);
    out += `== ${b}\n${normaliseFlows(flows.split('\n').filter((l) => l.trim() && !l.startsWith('OFPST')), names).join('\n')}\n`;
  }
  return out;
}

/**
 * Starts `side` on a fresh OVS for `c`, waits for its DVR start-up (this host's MAC as the ARP
 * destination on br-int, the other host's on br-tun), lets it settle, and returns the flows.
 */
export async function startupFlows(lab: NeutronLab, side: Side, c: DvrStartupCase, host: string, ofInterface?: 'native' | 'ovs-ofctl'): Promise<string> {
  const otherMac = await dvrMacOf(lab, OTHER_HOST);
  // Asked before the agent asks, so the two never race to allocate it.
  const ownMac = await dvrMacOf(lab, host);
  const ovs = await startOvs();
  let agent: RunningAgent | undefined;
  try {
    // The reference's ovs-ofctl calls reach the private OVS through its root helper.
    const extraIni = side === 'reference' ? `${c.extraIni}\n[agent]\nroot_helper = env OVS_RUNDIR=${ovs.dir}\n` : c.extraIni;
    agent = await RunningAgent.start(side, { host, transportUrl: lab.transportUrl, ovs, extraIni, ...(ofInterface ? { ofInterface } : {}) });
    await until('DVR MAC flows', agent, 120000, async () => {
      const int = await ovs.dumpFlows('br-int');
      const tun = await ovs.dumpFlows('br-tun');
      return int.some((f) => f.includes(`dl_dst=${ownMac}`)) && tun.some((f) => f.includes(`dl_src=${otherMac}`));
    }, 250).catch(async (e: unknown) => {
      const log = readFileSync(`${agent!.dir}/agent.log`, 'utf8').split('\n').filter((l) => /DVR|dvr|ERROR|Traceback/.test(l)).slice(0, 40).join('\n');
      const flows = `br-int:\n${(await ovs.dumpFlows('br-int')).join('\n')}\nbr-tun:\n${(await ovs.dumpFlows('br-tun')).join('\n')}`;
      throw new Error(`${e instanceof Error ? e.message.slice(0, 300) : String(e)}\n--- DVR lines of the log ---\n${log}\n--- flows (own ${ownMac}, other ${otherMac}) ---\n${flows}`);
    });
    await new Promise((r) => setTimeout(r, 3000));
    agent.assertRunning();
    return await dumpBridges(ovs, c.bridges, new Map([[ownMac, '<dvr-mac-this-host>'], [otherMac, '<dvr-mac-other-host>']]));
  } finally {
    if (agent) {
      await agent.stop(5000);
      agent.cleanup();
    }
    await ovs.stop();
    await forgetHost(lab, host);
  }
}

/**
 * The host's agent records deleted, which deletes its DVR MAC on the server: the next case's
 * agent sees the same hosts' MACs (this one's would otherwise be one more "other host").
 */
export async function forgetHost(lab: NeutronLab, host: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const agents = (await lab.listAgents()).filter((a) => a.host === host);
    if (agents.length) {
      for (const a of agents) await lab.api('DELETE', `/v2.0/agents/${a.id}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no agent record of ${host} to delete: its DVR MAC stays on the server`);
}

export function fixturePath(name: string): string {
  return `${DVR_FIXTURES}/${name}.flows`;
}

export function writeFixture(name: string, text: string): void {
  writeFileSync(fixturePath(name), text);
}

export function readFixture(name: string): string {
  return readFileSync(fixturePath(name), 'utf8');
}
