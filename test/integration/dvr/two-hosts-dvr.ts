// Two simulated compute hosts for DVR traffic tests (traffic.test.ts): each a network namespace
// with its own OVS (TwoHosts), the OVS agent under test with enable_distributed_routing on and
// Debian's neutron-l3-agent in dvr mode next to it, both reaching the lab's RabbitMQ through a
// forward into the host; physnet1 is mapped to the bridge of the wire (br-phy), so VLAN networks and
// the tunnels share the wire.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { AgentProcess } from '../../../lab/agent-process.js';
import { labAgentFiles, type AgentFiles } from '../../../lab/agent-config.js';
import { L3Agent } from '../../../lab/l3-agent.js';
import { type NeutronLab, waitFor } from '../../../lab/neutron.js';
import { cleanupAllVms, ping, type Vm } from '../../../lab/vm.js';
import { TwoHosts, type SimHost } from '../../helpers/two-hosts.js';
import { NetnsForward } from '../../helpers/netns-forward.js';
import { assertCovers, FlowWatch, type Killable, type Pinger } from '../../helpers/resilience.js';

const BROKER_PORT_IN_HOST = 5672;

export interface DvrHost {
  sim: SimHost;
  files: AgentFiles;
  agent: AgentProcess;
  l3: L3Agent;
}

/** The lab's RabbitMQ as a process in a simulated host reaches it (NetnsForward). */
function brokerUrl(lab: NeutronLab): string {
  return lab.transportUrl.replace(/:(\d+)\//, `:${BROKER_PORT_IN_HOST}/`);
}

/** What one simulated host runs besides DVR in the OVS agent (default: vxlan, noop firewall, an L3 agent in dvr mode). */
export interface DvrHostSettings {
  /** The OVS agent's [agent] tunnel_types. */
  tunnelTypes?: string;
  /** The OVS agent's [securitygroup] firewall_driver. */
  firewallDriver?: string;
  /** More lines of the OVS agent's [agent]. */
  agent?: readonly string[];
  /** The L3 agent's agent_mode. */
  l3Mode?: 'dvr' | 'dvr_snat';
}

export function dvrAgentFiles(lab: NeutronLab, h: SimHost, s: DvrHostSettings = {}): AgentFiles {
  return labAgentFiles({
    host: h.name, transportUrl: brokerUrl(lab), ovsdbConnection: h.ovs.unixConnection, localIp: h.tunnelIp, reportIntervalSec: 5,
    // VLAN networks of physnet1 leave through the bridge of the wire, as the tunnels do.
    bridgeMappings: `physnet1:${h.phyBridge}`,
    agent: ['enable_distributed_routing = True', ...(s.agent ?? [])],
    ...(s.tunnelTypes ? { tunnelTypes: s.tunnelTypes } : {}),
    ...(s.firewallDriver ? { firewallDriver: s.firewallDriver } : {}),
  });
}

/** Starts (another run of) the OVS agent of a host; resolves once its first full sync is done. */
export async function startOvsAgent(h: SimHost, files: AgentFiles): Promise<AgentProcess> {
  const a = new AgentProcess(files, h.ovs.env, h.netns).start();
  try {
    await a.waitForLog(/first full sync done/, 60000);
  } catch (e) {
    a.cleanup();
    throw e;
  }
  return a;
}

/** A DVR traffic file's teardown: the hosts first (their namespaces are among those cleanupAllVms would delete), the VMs, the lab. */
export async function stopDvrTrafficFile(dvr: DvrTwoHosts | undefined, lab: NeutronLab | undefined): Promise<void> {
  await dvr?.stop();
  await cleanupAllVms();
  await lab?.stop();
}

export class DvrTwoHosts {
  readonly hosts: DvrHost[] = [];
  private readonly forwards: NetnsForward[] = [];
  private constructor(readonly lab: NeutronLab, readonly sims: TwoHosts) {}

  /** Both hosts with both agents alive as the server sees them; `settings` by host. */
  static async start(lab: NeutronLab, settings: readonly [DvrHostSettings, DvrHostSettings] = [{}, {}]): Promise<DvrTwoHosts> {
    const t = new DvrTwoHosts(lab, await TwoHosts.start());
    try {
      for (const [i, sim] of t.sims.hosts.entries()) {
        t.forwards.push(await NetnsForward.start(sim.netns, BROKER_PORT_IN_HOST, lab.rabbitPort));
        const files = dvrAgentFiles(lab, sim, settings[i]);
        const agent = await startOvsAgent(sim, files);
        const l3 = L3Agent.start({ host: sim.name, transportUrl: brokerUrl(lab), ovs: sim.ovs, mode: settings[i]?.l3Mode ?? 'dvr', netns: sim.netns });
        t.hosts.push({ sim, files, agent, l3 });
      }
      for (const h of t.hosts) {
        await waitFor(async () => {
          h.l3.assertRunning();
          const agents = (await lab.listAgents()).filter((a) => a.host === h.sim.name && a.alive);
          return agents.some((a) => a.agent_type === 'L3 agent') && agents.some((a) => a.agent_type === 'Open vSwitch agent');
        }, 120000, `both agents of ${h.sim.name} alive`, 500);
      }
      return t;
    } catch (e) {
      await t.stop().catch((s: unknown) => process.stderr.write(`stopping the DVR hosts after a failed start: ${String(s)}\n`));
      throw e;
    }
  }

  /**
   * Restarts both hosts' OVS agents at once (SIGTERM, started again, first full sync) while
   * `pingers` (50 ms pings, each named) run, and goes on 5 s past it: asserts that no ping was lost
   * and none went 1 s without a reply. `running` gets what the caller's teardown must kill.
   */
  async assertRestartLosesNoPing(pingers: ReadonlyArray<readonly [string, Pinger]>, running: Killable[]): Promise<void> {
    const watches = await Promise.all(this.sims.hosts.map(async (h) => FlowWatch.start(h.ovs, ['br-int', 'br-tun'])));
    running.push(...watches);
    const from = Date.now();
    await Promise.all(this.hosts.map(async (h) => {
      await h.agent.stop();
      h.agent.cleanup();
      h.agent = await startOvsAgent(h.sim, h.files);
    }));
    // Pings on past the restarted agents' first full sync and the stale-flow clean-up after it.
    await new Promise((r) => setTimeout(r, 5000));
    const to = Date.now();
    const gone = (await Promise.all(watches.map(async (w) => w.stop()))).map((r, i) => `host ${i + 1}: ${r.worst.gone.length ? `at +${r.worst.at - from} ms without ${r.worst.gone.join('\n  ')}` : 'no flow missing'}`).join('\n');
    for (const [what, p] of pingers) {
      const summary = await p.stop();
      assert.deepEqual(summary.lostSeqs, [], `${what}: pings lost across the restart (${summary.received} of ${summary.transmitted} answered); flows missing for a while:\n${gone}\n${this.logs()}`);
      assertCovers(p.replies.map((r) => r.at), { from, to }, 1000, `${what} across the restart`);
    }
  }

  /** Waits until a routed ping from `from` to `to` is answered (the routers are in place). */
  async waitRouted(from: Vm, to: string): Promise<void> {
    await waitFor(async () => (await ping(from, to, { count: 1, timeoutMs: 1000 })) === 1, 120000, `a routed ping from ${from.ip} to ${to}\n${this.logs()}`, 200);
  }

  /** No MAC was ever learned on one port of a bridge and then on another, on either host (while some were learned). */
  async assertNoMacMoved(): Promise<void> {
    for (const h of this.sims.hosts) {
      const coverage = await this.sims.appctl(h, 'coverage/show');
      // (MACs were learned at all: the bridges' NORMAL actions did learn from this traffic.)
      assert.match(coverage, /mac_learning_learned .*total: [1-9]/, `${h.name}: no MAC learned at all`);
      const moved = /mac_learning_moved .*total: (\d+)/.exec(coverage);
      assert.equal(moved?.[1] ?? '0', '0', `${h.name}: MACs moved between ports (ovs-appctl coverage/show mac_learning_moved)`);
    }
  }

  /** The log tails of every agent, for a failure's message. */
  logs(): string {
    return this.hosts.map((h) => `--- ${h.sim.name} ovs-agent ---\n${h.agent.output.slice(-2500)}\n--- ${h.sim.name} l3-agent ---\n${h.l3.log(2500)}`).join('\n');
  }

  async stop(): Promise<void> {
    const errors: string[] = [];
    for (const h of this.hosts) {
      await h.l3.stop().catch((e: unknown) => errors.push(`l3 agent of ${h.sim.name}: ${String(e)}`));
      h.l3.cleanup();
      await h.agent.stop().catch((e: unknown) => errors.push(`ovs agent of ${h.sim.name}: ${String(e)}`));
      h.agent.cleanup();
    }
    for (const f of this.forwards) await f.stop().catch((e: unknown) => errors.push(`forward: ${String(e)}`));
    await this.sims.stop().catch((e: unknown) => errors.push(String(e)));
    if (errors.length) throw new Error(`stopping the DVR hosts: ${errors.join('; ')}`);
  }
}

/** The tunnel a frame on the wire was carried in, as tcpdump names it; none: tagged or as it is. */
export type Encapsulation = 'VXLAN' | 'GREv0' | 'Geneve' | undefined;

/** An ICMP or ICMPv6 echo seen on the wire: inside a tunnel, tagged with a VLAN, or as it is (a flat network). */
export interface WireFrame {
  src: string;
  dst: string;
  /** The VLAN tag; undefined inside a tunnel. */
  vlan: number | undefined;
  encap: Encapsulation;
  from: string;
  to: string;
  kind: string;
}

function encapsulation(packet: string): Encapsulation {
  return (['VXLAN', 'GREv0', 'Geneve'] as const).find((e) => packet.includes(e));
}

/** tcpdump of the tunnelled (VXLAN, GRE, Geneve), VLAN and untagged ICMP and ICMPv6 packets on a host's end of the wire, until stop(). */
export class WireCapture {
  private out = '';
  private err = '';
  private constructor(private readonly child: ReturnType<typeof spawn>, private readonly exited: Promise<void>) {
    child.stdout!.on('data', (b: Buffer) => (this.out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (this.err += b.toString()));
  }

  static async start(h: SimHost): Promise<WireCapture> {
    const child = spawn('ip', ['netns', 'exec', h.netns, 'tcpdump', '-i', h.wire, '-n', '-e', '-l', '-U', 'icmp or icmp6 or udp port 4789 or udp port 6081 or ip proto 47 or vlan'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const c = new WireCapture(child, new Promise((r) => child.once('exit', () => r())));
    const end = Date.now() + 10000;
    while (!/listening on/.test(c.err)) {
      if (child.exitCode !== null || Date.now() > end) {
        c.kill();
        throw new Error(`tcpdump on ${h.wire} in ${h.netns} did not start: ${c.err}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return c;
  }

  /** The Ethernet frames of ICMP and ICMPv6 echoes (inside a tunnel, VLAN-tagged or not): MACs, tag, tunnel, addresses, kind. */
  async stop(): Promise<WireFrame[]> {
    await new Promise((r) => setTimeout(r, 300));
    this.child.kill('SIGINT');
    await this.exited;
    // One packet per timestamp; a tunnelled packet's inner frame is printed after its outer headers.
    const packets = this.out.split(/^(?=\d\d:\d\d:\d\d\.\d+ )/m);
    const re = /([0-9a-f:]{17}) > ([0-9a-f:]{17}), ethertype (?:802\.1Q \(0x8100\), length \d+: vlan (\d+), p \d+, ethertype IPv[46](?: \(0x(?:0800|86dd)\))?,|IPv4 \(0x0800\), length \d+:|IPv6 \(0x86dd\), length \d+:) ([\d.]+|[0-9a-f:]+) > ([\d.]+|[0-9a-f:]+): ICMP6?,? echo,? (request|reply)/g;
    return packets.flatMap((p) => [...p.matchAll(re)].map((m) => ({
      src: m[1]!, dst: m[2]!, vlan: m[3] === undefined ? undefined : Number(m[3]), encap: encapsulation(p), from: m[4]!, to: m[5]!, kind: m[6]!,
    })));
  }

  get text(): string {
    return this.out;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
