// A trunk "VM" (a VLAN-aware instance) plugged the way Nova and os-vif plug one: the trunk bridge
// `tbr-<trunk id>` (neutron's name, cut to 14 characters) made with br-int's datapath_type, and
// the VM's tap in it with the usual external_ids (iface-id = the parent port, attached-mac,
// iface-status=active, vm-uuid). The agent then connects that bridge to br-int (tpi-/tpt- for the
// parent, spi-/spt- with the VLAN id for each subport).
//
// The guest's VLAN interfaces: this kernel has no 802.1q module (`ip link add … type vlan`
// fails), so an Open vSwitch bridge of the VM's own (`gbr-…`, same OVS) stands in for the
// guest's VLAN stack. The far end of the tap's veth is its trunk port; an untagged internal port
// (the parent's interface) and one internal port per subport with `tag=<VLAN id>` are moved into
// the VM's namespace with the ports' MACs and addresses. What the VM sends on a subport's
// interface leaves the tap tagged with that VLAN id, as from a guest's `eth0.<id>`.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { PrivateOvs } from './ovs.js';
import { createNamespace, deleteNamespace, type VmPortInfo } from './vm.js';
import { trunkBridgeName } from './trunks.js';

const run = promisify(execFile);

/** One interface inside the trunk VM: the parent's (vlan null, untagged) or a subport's. */
export interface GuestInterface {
  /** Its name inside the VM's namespace (for `ping -I`, `ip -n`). */
  name: string;
  /** The VLAN id the guest tags it with; null for the parent's untagged interface. */
  vlan: number | null;
  portId: string;
  mac: string;
  ip: string;
}

export interface TrunkVmSpec {
  trunkId: string;
  /** The trunk's parent port: the VM's untagged interface. */
  parent: VmPortInfo;
  /** Subports the guest configures at boot: a VLAN interface each. */
  subports?: Array<{ port: VmPortInfo; vlan: number }>;
  /** external_ids:vm-uuid of the tap; default a random UUID. */
  vmUuid?: string;
  /** Prefix length of every interface's address; default 24. */
  prefixLen?: number;
}

// Links and bridges made in this process, so a failed test leaves none behind.
const liveVeths = new Map<string, string | undefined>(); // host end -> netns it lives in
process.once('exit', () => {
  for (const [link, ns] of liveVeths) spawnSync('ip', ns ? ['-n', ns, 'link', 'del', link] : ['link', 'del', link], { stdio: 'ignore' });
});

/** `ip` arguments run where `ovs` runs (its netns option, or this process's namespace). */
function whereOvs(ovs: PrivateOvs, args: string[]): string[] {
  return ovs.opts.netns ? ['-n', ovs.opts.netns, ...args] : args;
}

/** A command run where `ovs` runs. */
function inOvsNamespace(ovs: PrivateOvs, cmd: string, args: string[]): [string, string[]] {
  return ovs.opts.netns ? ['ip', ['netns', 'exec', ovs.opts.netns, cmd, ...args]] : [cmd, args];
}

async function ipCmd(args: string[], what: string): Promise<void> {
  try {
    await run('ip', args);
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? '';
    throw new Error(`${what}: ip ${args.join(' ')}: ${stderr.trim() || String(e)}`);
  }
}

export class TrunkVm {
  private gone = false;
  private readonly vlans = new Map<number, GuestInterface>();

  constructor(
    private readonly ovs: PrivateOvs,
    readonly trunkId: string,
    /** The VM's network namespace. */
    readonly netns: string,
    /** tbr-…: what os-vif creates and the agent watches for. */
    readonly trunkBridge: string,
    /** The VM's tap in the trunk bridge (tap + 11 characters of the parent port id). */
    readonly tap: string,
    /** The bridge standing in for the guest's VLAN stack. */
    readonly guestBridge: string,
    /** The guest end of the tap's veth: the guest bridge's trunk port. */
    readonly guestLink: string,
    readonly vmUuid: string,
    /** br-int's datapath_type, which the trunk bridge was made with. */
    readonly datapathType: string,
    readonly parent: GuestInterface,
    private readonly prefixLen: number,
    /** A short random tag naming this VM's links. */
    private readonly tag: string,
  ) {}

  /**
   * The trunk bridge (made if missing, with br-int's datapath_type) and the tap in it with Nova's
   * external_ids, as os-vif and libvirt plug the VM; after a trunk bridge deleted by hand, this is
   * the VM plugged again (its guest side never left).
   */
  async replug(): Promise<void> {
    if (this.gone) throw new Error(`replugging trunk VM ${this.netns} (trunk ${this.trunkId}): it was unplugged`);
    await this.ovs.vsctl('--may-exist', 'add-br', this.trunkBridge, '--', 'set', 'Bridge', this.trunkBridge, `datapath_type=${this.datapathType}`);
    await this.ovs.vsctl(
      '--may-exist', 'add-port', this.trunkBridge, this.tap,
      '--', 'set', 'Interface', this.tap,
      `external_ids:iface-id=${this.parent.portId}`,
      'external_ids:iface-status=active',
      `external_ids:attached-mac=${this.parent.mac}`,
      `external_ids:vm-uuid=${this.vmUuid}`,
    );
  }

  /** The subports' interfaces, by VLAN id order. */
  get subports(): GuestInterface[] {
    return [...this.vlans.values()].sort((a, b) => (a.vlan ?? 0) - (b.vlan ?? 0));
  }

  /** The guest interface tagged `vlan`, or the parent's for null. */
  iface(vlan: number | null): GuestInterface {
    if (vlan === null) return this.parent;
    const i = this.vlans.get(vlan);
    if (i === undefined) throw new Error(`trunk VM ${this.netns}: no interface for VLAN ${vlan}`);
    return i;
  }

  /** Runs a command inside the VM. */
  async exec(cmd: string, args: string[]): Promise<string> {
    return (await run('ip', ['netns', 'exec', this.netns, cmd, ...args])).stdout;
  }

  /**
   * The guest configures a VLAN interface for `port` tagged `vlan` (as `ip link add link eth0
   * name eth0.<vlan> type vlan id <vlan>` would), with the port's MAC and first address.
   */
  async addVlan(port: VmPortInfo, vlan: number): Promise<GuestInterface> {
    if (this.vlans.has(vlan)) throw new Error(`trunk VM ${this.netns}: VLAN ${vlan} is configured already`);
    const iface = await addGuestInterface(this.ovs, { guestBridge: this.guestBridge, netns: this.netns, name: `g${this.tag}v${vlan}`, vlan, port, prefixLen: this.prefixLen });
    this.vlans.set(vlan, iface);
    return iface;
  }

  /** The guest removes its VLAN interface (the internal port goes with its bridge port). */
  async removeVlan(vlan: number): Promise<void> {
    const iface = this.iface(vlan);
    await this.ovs.vsctl('--if-exists', 'del-port', this.guestBridge, iface.name);
    this.vlans.delete(vlan);
  }

  /**
   * The VM deleted, as os-vif unplugs it: the tap leaves the trunk bridge, then the trunk bridge
   * is deleted (the agent must clean up its patch ports). Then the guest's bridge, the veth and
   * the namespace go. Idempotent.
   */
  async unplug(): Promise<void> {
    if (this.gone) return;
    this.gone = true;
    const errors: string[] = [];
    const attempt = async (what: string, f: () => Promise<unknown>): Promise<void> => {
      await f().catch((e: unknown) => errors.push(`${what}: ${e instanceof Error ? e.message : String(e)}`));
    };
    await attempt(`del-port ${this.tap}`, () => this.ovs.vsctl('--if-exists', 'del-port', this.trunkBridge, this.tap));
    await attempt(`del-br ${this.trunkBridge}`, () => this.ovs.vsctl('--if-exists', 'del-br', this.trunkBridge));
    // The guest bridge's internal ports are taps ovs-vswitchd holds open: deleting the bridge
    // removes them even though they live in the VM's namespace (before it goes, so none is moved out).
    await attempt(`del-br ${this.guestBridge}`, () => this.ovs.vsctl('--if-exists', 'del-br', this.guestBridge));
    liveVeths.delete(this.tap);
    spawnSync('ip', whereOvs(this.ovs, ['link', 'del', this.tap]), { stdio: 'ignore' });
    await attempt(`namespace ${this.netns}`, () => deleteNamespace(this.netns));
    if (errors.length) throw new Error(`unplugging trunk VM ${this.netns} (trunk ${this.trunkId}): ${errors.join('; ')}`);
  }
}

interface GuestInterfaceSpec {
  guestBridge: string;
  netns: string;
  name: string;
  vlan: number | null;
  port: VmPortInfo;
  prefixLen: number;
}

/** An internal port of the guest bridge (access port: `tag=vlan`, or untagged), moved into the VM. */
async function addGuestInterface(ovs: PrivateOvs, s: GuestInterfaceSpec): Promise<GuestInterface> {
  const ip = s.port.fixed_ips[0]?.ip_address;
  if (!ip) throw new Error(`port ${s.port.id} has no fixed IP to give the trunk VM's interface ${s.name}`);
  const what = `trunk VM ${s.netns}: interface ${s.name} for port ${s.port.id}`;
  const tagArgs = s.vlan === null ? ['vlan_mode=access'] : [`tag=${s.vlan}`];
  await ovs.vsctl('add-port', s.guestBridge, s.name, ...tagArgs, '--', 'set', 'Interface', s.name, 'type=internal');
  // ovs-vswitchd creates the tap right after the transaction; wait for it before moving it.
  for (let i = 0; spawnSync('ip', whereOvs(ovs, ['link', 'show', s.name]), { stdio: 'ignore' }).status !== 0; i++) {
    if (i > 100) throw new Error(`${what}: ovs-vswitchd did not create ${s.name} within 5 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await ipCmd(whereOvs(ovs, ['link', 'set', s.name, 'netns', s.netns]), what);
  await ipCmd(['-n', s.netns, 'link', 'set', s.name, 'address', s.port.mac_address], what);
  await ipCmd(['-n', s.netns, 'addr', 'add', `${ip}/${s.prefixLen}`, 'dev', s.name], what);
  await ipCmd(['-n', s.netns, 'link', 'set', s.name, 'up'], what);
  return { name: s.name, vlan: s.vlan, portId: s.port.id, mac: s.port.mac_address, ip };
}

/** br-int's datapath_type: os-vif makes the trunk bridge with the integration bridge's. */
async function integrationDatapath(ovs: PrivateOvs, what: string): Promise<string> {
  try {
    return (await ovs.vsctl('get', 'Bridge', 'br-int', 'datapath_type')).replace(/"/g, '') || 'system';
  } catch (e) {
    throw new Error(`${what}: reading br-int's datapath_type (the agent makes br-int; start it first): ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Plugs a trunk VM: the trunk bridge (may exist already), the VM's tap in it, and the guest side
 * (namespace, guest bridge, the parent's interface and one per subport given). Bind the parent
 * port to the host first (bindTrunkParent in lab/trunks.ts), as Nova does before plugging.
 */
export async function plugTrunkVm(ovs: PrivateOvs, spec: TrunkVmSpec): Promise<TrunkVm> {
  const parentIp = spec.parent.fixed_ips[0]?.ip_address;
  if (!parentIp) throw new Error(`trunk ${spec.trunkId}: parent port ${spec.parent.id} has no fixed IP`);
  const tag = randomBytes(3).toString('hex');
  const netns = `oatvm-${tag}`;
  const trunkBridge = trunkBridgeName(spec.trunkId);
  const tap = `tap${spec.parent.id.slice(0, 11)}`;
  const guestBridge = `gbr-${tag}`;
  const guestLink = `gtr-${tag}`;
  const vmUuid = spec.vmUuid ?? randomUUID();
  const prefixLen = spec.prefixLen ?? 24;
  const hostNs = ovs.opts.netns;
  const what = `plugging trunk VM for trunk ${spec.trunkId} (parent ${spec.parent.id}, ${tap}) into ${trunkBridge}`;
  const datapath = await integrationDatapath(ovs, what);
  await createNamespace(netns);
  const parent: GuestInterface = { name: `g${tag}p`, vlan: null, portId: spec.parent.id, mac: spec.parent.mac_address, ip: parentIp };
  const vm = new TrunkVm(ovs, spec.trunkId, netns, trunkBridge, tap, guestBridge, guestLink, vmUuid, datapath, parent, prefixLen, tag);
  try {
    await ipCmd(['link', 'add', tap, 'type', 'veth', 'peer', 'name', guestLink], what);
    liveVeths.set(tap, undefined);
    if (hostNs) {
      await ipCmd(['link', 'set', tap, 'netns', hostNs], what);
      await ipCmd(['link', 'set', guestLink, 'netns', hostNs], what);
      liveVeths.set(tap, hostNs);
    }
    for (const link of [tap, guestLink]) {
      // The userspace datapath forwards a veth's packets as they are: checksums in software (see
      // lab/vm.ts). No IPv6 of the host's own on either end: only the guest's packets cross.
      for (const [cmd, args] of [inOvsNamespace(ovs, 'ethtool', ['-K', link, 'tx', 'off']), inOvsNamespace(ovs, 'sysctl', ['-qw', `net.ipv6.conf.${link}.disable_ipv6=1`])]) {
        await run(cmd, args).catch((e: unknown) => {
          throw new Error(`${what}: ${cmd} ${args.join(' ')}: ${(e as { stderr?: string }).stderr?.trim() || String(e)}`);
        });
      }
      await ipCmd(whereOvs(ovs, ['link', 'set', link, 'up']), what);
    }
    await ovs.vsctl('--may-exist', 'add-br', guestBridge, '--', 'set', 'Bridge', guestBridge, 'datapath_type=netdev');
    await ovs.vsctl('add-port', guestBridge, guestLink);
    await addGuestInterface(ovs, { guestBridge, netns, name: parent.name, vlan: null, port: spec.parent, prefixLen });
    for (const s of spec.subports ?? []) await vm.addVlan(s.port, s.vlan);
    // Last, as os-vif and libvirt do: the trunk bridge, then the tap in it with Nova's external_ids.
    await vm.replug();
    return vm;
  } catch (e) {
    await vm.unplug().catch((u: unknown) => process.stderr.write(`trunk VM cleanup after a failed plug: ${String(u)}\n`));
    throw e instanceof Error && e.message.includes(spec.trunkId) ? e : new Error(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
