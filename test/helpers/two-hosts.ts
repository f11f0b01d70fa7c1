// Two simulated hypervisors for multi-host tests. Each host is a network namespace running its
// own PrivateOvs (ovsdb-server + ovs-vswitchd started inside it, userspace datapath); a veth
// "wire" joins them. The wire belongs to the host's br-phy, whose internal port carries the
// tunnel endpoint address (192.0.2.1 / 192.0.2.2), and `ovs-appctl ovs/route/add` gives the
// userspace datapath its route to the other endpoint: tunnels then leave through br-phy.
//
// Reaching a host's OVS: the database and the bridges' management sockets are unix sockets in
// host.ovs.dir, usable from any namespace. TCP on 127.0.0.1 inside a host namespace is that
// host's own loopback: a process that must use it (an OpenFlow controller OVS connects to, say)
// runs in the namespace (host.exec / `ip netns exec <host.netns>`), and then cannot reach a
// RabbitMQ on the test's loopback.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { PrivateOvs } from '../../lab/ovs.js';
import { createNamespace, deleteNamespace, plugVm, type PlugOptions, type Vm, type VmPortInfo } from '../../lab/vm.js';

const run = promisify(execFile);

export const TUNNEL_NET = '192.0.2.0/24';

export interface SimHost {
  /** Neutron host name to use for this host's agent and port bindings. */
  readonly name: string;
  readonly netns: string;
  readonly ovs: PrivateOvs;
  /** Tunnel endpoint address (the agent's [ovs] local_ip). */
  readonly tunnelIp: string;
  /** The bridge that owns the wire and the tunnel address. */
  readonly phyBridge: string;
  /** This host's end of the wire (a port of phyBridge). */
  readonly wire: string;
}

export interface TwoHostsOptions {
  /** Neutron host names; default host-a / host-b with a random suffix. */
  names?: [string, string];
  /** Name of the bridge that carries the tunnel address; default br-phy. */
  phyBridge?: string;
}

async function sh(cmd: string, args: string[], what: string, env?: NodeJS.ProcessEnv): Promise<string> {
  try {
    return (await run(cmd, args, env ? { env } : {})).stdout;
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? '';
    throw new Error(`${what}: ${cmd} ${args.join(' ')}: ${stderr.trim() || String(e)}`);
  }
}

export class TwoHosts {
  private readonly vms: Vm[] = [];
  private constructor(
    readonly hosts: [SimHost, SimHost],
    private readonly namespaces: string[],
  ) {}

  static async start(opts: TwoHostsOptions = {}): Promise<TwoHosts> {
    const tag = randomBytes(3).toString('hex');
    const names = opts.names ?? [`host-a-${tag}`, `host-b-${tag}`];
    const phyBridge = opts.phyBridge ?? 'br-phy';
    const ns: [string, string] = [`oah${tag}a`, `oah${tag}b`];
    const wires: [string, string] = [`wa${tag}`, `wb${tag}`];
    const started: PrivateOvs[] = [];
    const created: string[] = [];
    try {
      for (const n of ns) {
        await createNamespace(n);
        created.push(n);
      }
      const what = `wiring ${ns[0]} to ${ns[1]}`;
      await sh('ip', ['link', 'add', wires[0], 'type', 'veth', 'peer', 'name', wires[1]], what);
      const hosts: SimHost[] = [];
      for (let i = 0; i < 2; i++) {
        const netns = ns[i]!;
        const wire = wires[i]!;
        const tunnelIp = `192.0.2.${i + 1}`;
        await sh('ip', ['link', 'set', wire, 'netns', netns], what);
        await sh('ip', ['-n', netns, 'link', 'set', wire, 'up'], what);
        const ovs = await PrivateOvs.start({ netns });
        started.push(ovs);
        await ovs.vsctl(
          'add-br', phyBridge, '--', 'set', 'bridge', phyBridge, 'datapath_type=netdev',
          '--', 'add-port', phyBridge, wire,
        );
        const hw = `setting up ${phyBridge} of ${netns}`;
        await sh('ip', ['-n', netns, 'addr', 'add', `${tunnelIp}/24`, 'dev', phyBridge], hw);
        await sh('ip', ['-n', netns, 'link', 'set', phyBridge, 'up'], hw);
        // The userspace datapath routes tunnel packets with its own table, not the kernel's.
        // ovs-vswitchd learns the bridge's new address from a netlink notification, a moment after
        // `ip addr add` returns; until then it refuses the route ("Error while inserting route").
        for (let attempt = 1; ; attempt++) {
          try {
            await sh('ovs-appctl', ['-t', 'ovs-vswitchd', 'ovs/route/add', TUNNEL_NET, phyBridge], hw, ovs.env);
            break;
          } catch (e) {
            if (attempt >= 50) throw e;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        hosts.push({ name: names[i]!, netns, ovs, tunnelIp, phyBridge, wire });
      }
      return new TwoHosts([hosts[0]!, hosts[1]!], created);
    } catch (e) {
      for (const o of started) await o.stop().catch(() => undefined);
      for (const n of created) await deleteNamespace(n).catch(() => undefined);
      // A wire not yet moved into a namespace is still here (gone already otherwise: ignore).
      await run('ip', ['link', 'del', wires[0]]).catch(() => undefined);
      throw e;
    }
  }

  /** Runs a command inside a host's namespace. */
  async exec(host: SimHost, cmd: string, args: string[]): Promise<string> {
    return sh('ip', ['netns', 'exec', host.netns, cmd, ...args], `in ${host.netns}`);
  }

  /** ovs-appctl against a host's ovs-vswitchd. */
  async appctl(host: SimHost, ...args: string[]): Promise<string> {
    return sh('ovs-appctl', ['-t', 'ovs-vswitchd', ...args], `ovs-appctl on ${host.netns}`, host.ovs.env);
  }

  /** Plugs a VM for `port` into a host's integration bridge (default br-int; it must exist). */
  async plug(host: SimHost, port: VmPortInfo, opts: PlugOptions = {}): Promise<Vm> {
    const vm = await plugVm(host.ovs, port, opts);
    this.vms.push(vm);
    return vm;
  }

  /** Unplugs every VM, stops both OVS and deletes the namespaces (the wire goes with them). */
  async stop(): Promise<void> {
    const errors: string[] = [];
    for (const vm of this.vms.splice(0)) await vm.unplug().catch((e: unknown) => errors.push(String(e)));
    for (const h of this.hosts) await h.ovs.stop().catch((e: unknown) => errors.push(`stopping OVS of ${h.netns}: ${String(e)}`));
    for (const n of this.namespaces) await deleteNamespace(n).catch((e: unknown) => errors.push(String(e)));
    if (errors.length) throw new Error(`two-hosts cleanup: ${errors.join('; ')}`);
  }
}
