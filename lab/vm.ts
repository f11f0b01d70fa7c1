// A "VM" for the demo and end-to-end tests: a network namespace holding one end of a veth pair (with the
// neutron port's MAC and IP), the other end plugged into an integration bridge of a PrivateOvs
// exactly as Nova/os-vif plugs an instance port: Interface external_ids iface-id, attached-mac,
// iface-status=active, vm-uuid. With the userspace datapath a plain veth is added as a "system"
// port (no type): ovs-vswitchd reads and writes it through a packet socket.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { PrivateOvs } from './ovs.js';

const run = promisify(execFile);

/** What plugging needs from a neutron port (NeutronPort fits). */
export interface VmPortInfo {
  id: string;
  mac_address: string;
  fixed_ips: { ip_address: string }[];
}

export interface PlugOptions {
  /** Bridge to plug into; default br-int. */
  bridge?: string;
  /** Prefix length of the VM's address; default 24. */
  prefixLen?: number;
  /** external_ids:vm-uuid; default a random UUID. */
  vmUuid?: string;
  /** Also set external_ids:iface-status=active etc.? default true (false: a bare tap, no iface-id). */
  nova?: boolean;
  /** Give eth0 the port's fixed IPs? default true (false: a VM that must get its address by DHCP). */
  address?: boolean;
}

// Everything created in this process, so a failed test cannot leak namespaces or links.
const liveNamespaces = new Set<string>();
const liveLinks = new Map<string, string | undefined>(); // link name -> netns it lives in (undefined: ours)
process.once('exit', () => {
  for (const [link, ns] of liveLinks) {
    spawnSync('ip', ns ? ['-n', ns, 'link', 'del', link] : ['link', 'del', link], { stdio: 'ignore' });
  }
  for (const ns of liveNamespaces) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
});

async function ip(args: string[], what: string): Promise<string> {
  try {
    return (await run('ip', args)).stdout;
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? '';
    throw new Error(`${what}: ip ${args.join(' ')}: ${stderr.trim() || String(e)}`);
  }
}

/** Creates a named network namespace with loopback up, tracked for cleanup. */
export async function createNamespace(name: string): Promise<void> {
  await ip(['netns', 'add', name], `namespace ${name}`);
  liveNamespaces.add(name);
  await ip(['-n', name, 'link', 'set', 'lo', 'up'], `namespace ${name}`);
}

/** Deletes a namespace created by createNamespace (missing is fine). */
export async function deleteNamespace(name: string): Promise<void> {
  liveNamespaces.delete(name);
  const r = spawnSync('ip', ['netns', 'del', name], { encoding: 'utf8' });
  if (r.status !== 0 && !/No such file|does not exist/.test(r.stderr)) {
    throw new Error(`deleting namespace ${name}: ${r.stderr.trim()}`);
  }
}

export class Vm {
  private gone = false;
  constructor(
    /** The VM's network namespace. */
    readonly netns: string,
    /** The host end of the veth, an OVS port on `bridge` (tap + first 11 chars of the port id). */
    readonly tap: string,
    readonly bridge: string,
    readonly portId: string,
    readonly mac: string,
    readonly ip: string,
    readonly vmUuid: string,
    private readonly ovs: PrivateOvs,
  ) {}

  /** Runs a command inside the VM. */
  async exec(cmd: string, args: string[]): Promise<string> {
    const { stdout } = await run('ip', ['netns', 'exec', this.netns, cmd, ...args]);
    return stdout;
  }

  /**
   * Plugs the VM's existing veth into its bridge again, with the same external_ids, as Nova/os-vif
   * does when it replugs an instance (after its port row was lost with a deleted bridge or database).
   */
  async replug(): Promise<void> {
    if (this.gone) throw new Error(`replugging VM ${this.netns} (port ${this.portId}): it was unplugged`);
    await this.ovs.vsctl(
      '--may-exist', 'add-port', this.bridge, this.tap,
      '--', 'set', 'Interface', this.tap,
      `external_ids:iface-id=${this.portId}`,
      `external_ids:attached-mac=${this.mac}`,
      'external_ids:iface-status=active',
      `external_ids:vm-uuid=${this.vmUuid}`,
    );
  }

  /** Unplugs from OVS and removes the namespace and the veth; idempotent. */
  async unplug(): Promise<void> {
    if (this.gone) return;
    this.gone = true;
    const errors: string[] = [];
    await this.ovs.vsctl('--if-exists', 'del-port', this.bridge, this.tap).catch((e: unknown) => {
      errors.push(`del-port ${this.tap} from ${this.bridge}: ${String(e)}`);
    });
    // Deleting the namespace deletes its veth end, and with it the peer.
    const where = this.ovs.opts.netns;
    liveLinks.delete(this.tap);
    spawnSync('ip', where ? ['-n', where, 'link', 'del', this.tap] : ['link', 'del', this.tap], { stdio: 'ignore' });
    await deleteNamespace(this.netns).catch((e: unknown) => errors.push(String(e)));
    if (errors.length) throw new Error(`unplugging VM ${this.netns} (port ${this.portId}): ${errors.join('; ')}`);
  }
}

/**
 * Plugs a VM for `port` into `ovs` (the host end goes where that OVS runs: its netns option or
 * this process's namespace). Returns once the namespace end is up with the port's MAC and IP.
 */
export async function plugVm(ovs: PrivateOvs, port: VmPortInfo, opts: PlugOptions = {}): Promise<Vm> {
  const bridge = opts.bridge ?? 'br-int';
  const addr = port.fixed_ips[0]?.ip_address;
  if (!addr) throw new Error(`port ${port.id} has no fixed IP to give its VM`);
  const netns = `oavm-${randomBytes(4).toString('hex')}`;
  const tap = `tap${port.id.slice(0, 11)}`;
  const hostNs = ovs.opts.netns;
  const vmUuid = opts.vmUuid ?? randomUUID();
  const what = `plugging port ${port.id} (${tap}) into ${bridge}`;
  await createNamespace(netns);
  const vm = new Vm(netns, tap, bridge, port.id, port.mac_address, addr, vmUuid, ovs);
  try {
    await ip(['link', 'add', tap, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns], what);
    liveLinks.set(tap, undefined);
    if (hostNs) {
      await ip(['link', 'set', tap, 'netns', hostNs], what);
      liveLinks.set(tap, hostNs);
    }
    await ip(['-n', netns, 'link', 'set', 'eth0', 'address', port.mac_address], what);
    if (opts.address !== false) await ip(['-n', netns, 'addr', 'add', `${addr}/${opts.prefixLen ?? 24}`, 'dev', 'eth0'], what);
    for (const extra of opts.address === false ? [] : port.fixed_ips.slice(1)) {
      const v6 = extra.ip_address.includes(':');
      await ip(['-n', netns, 'addr', 'add', `${extra.ip_address}/${v6 ? 64 : (opts.prefixLen ?? 24)}`, 'dev', 'eth0', ...(v6 ? ['nodad'] : [])], what);
    }
    await ip(['-n', netns, 'link', 'set', 'eth0', 'up'], what);
    // veth leaves checksums to the "NIC"; the userspace datapath forwards the packet as it is, and
    // the receiver would drop every TCP/UDP segment (ping still works). Checksum in software.
    await run('ip', ['netns', 'exec', netns, 'ethtool', '-K', 'eth0', 'tx', 'off']).catch((e: unknown) => {
      throw new Error(`${what}: ethtool -K eth0 tx off (is ethtool installed?): ${String(e)}`);
    });
    await ip(hostNs ? ['-n', hostNs, 'link', 'set', tap, 'up'] : ['link', 'set', tap, 'up'], what);
    const ids =
      opts.nova === false
        ? []
        : [
            '--',
            'set',
            'Interface',
            tap,
            `external_ids:iface-id=${port.id}`,
            `external_ids:attached-mac=${port.mac_address}`,
            'external_ids:iface-status=active',
            `external_ids:vm-uuid=${vmUuid}`,
          ];
    await ovs.vsctl('add-port', bridge, tap, ...ids);
    return vm;
  } catch (e) {
    await vm.unplug().catch((u: unknown) => process.stderr.write(`vm cleanup after failed plug: ${String(u)}\n`));
    throw e instanceof Error && e.message.includes(port.id) ? e : new Error(`${what}: ${String(e)}`);
  }
}

/** Pings `toIp` from the VM (any namespace: a trunk VM too); resolves to the number of replies received (0 on total loss). */
export async function ping(from: Pick<Vm, 'netns'>, toIp: string, opts: { count?: number; timeoutMs?: number; source?: string } = {}): Promise<number> {
  const count = opts.count ?? 3;
  const deadline = Math.max(1, Math.ceil((opts.timeoutMs ?? 5000) / 1000));
  const src = opts.source ? ['-I', opts.source] : [];
  const args = ['netns', 'exec', from.netns, 'ping', '-n', '-q', ...src, '-c', String(count), '-i', '0.2', '-w', String(deadline), toIp];
  // Asynchronous on purpose: an agent under test may run in this very process.
  let stdout: string;
  let detail = '';
  try {
    stdout = (await run('ip', args, { timeout: (deadline + 5) * 1000 })).stdout;
  } catch (e) {
    // ping exits 1 when replies are missing: that is an answer, not an error
    const err = e as { stdout?: string; stderr?: string; code?: unknown };
    stdout = err.stdout ?? '';
    detail = `exit ${String(err.code)}: ${err.stderr ?? String(e)}`;
  }
  const m = /(\d+) (?:packets )?received/.exec(stdout);
  if (!m) throw new Error(`ping ${toIp} from ${from.netns}: no summary (${detail}): ${stdout}`);
  return Number(m[1]);
}

/** Removes every namespace and link this process created and has not removed yet. */
export async function cleanupAllVms(): Promise<void> {
  for (const [link, ns] of liveLinks) {
    spawnSync('ip', ns ? ['-n', ns, 'link', 'del', link] : ['link', 'del', link], { stdio: 'ignore' });
  }
  liveLinks.clear();
  for (const ns of [...liveNamespaces]) await deleteNamespace(ns);
}
