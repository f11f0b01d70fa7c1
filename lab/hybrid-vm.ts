// A "VM" plugged the way os-vif plugs it when the agent reports `ovs_hybrid_plug` (firewall_driver =
// iptables_hybrid): the VM's tap sits on a Linux bridge qbr<port id[:11]> together with qvb<id[:11]>,
// a veth whose peer qvo<id[:11]> is the port on br-int carrying Nova's external_ids. iptables filters
// the VM's traffic where it crosses the qbr bridge (physdev matches on the tap). A HybridVm is a Vm
// (lab/vm.ts) whose OVS port is the qvo, so tests written for Vm (the firewall behaviour
// suite's `plug` option) take it as is.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { PrivateOvs } from './ovs.js';
import { Vm, createNamespace, type VmPortInfo } from './vm.js';

const run = promisify(execFile);

/** The Linux device names os-vif derives from a port id (each 14 characters, the kernel allows 15). */
export function hybridDeviceNames(portId: string): { tap: string; qbr: string; qvb: string; qvo: string } {
  const s = portId.slice(0, 11);
  return { tap: `tap${s}`, qbr: `qbr${s}`, qvb: `qvb${s}`, qvo: `qvo${s}` };
}

// Links made by this process and not yet removed, so a failed run does not leave them behind.
const liveLinks = new Set<string>();
process.once('exit', () => {
  for (const l of liveLinks) spawnSync('ip', ['link', 'del', l], { stdio: 'ignore' });
});

async function ip(args: string[], what: string): Promise<void> {
  try {
    await run('ip', args);
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? '';
    throw new Error(`${what}: ip ${args.join(' ')}: ${stderr.trim() || String(e)}`);
  }
}

export class HybridVm extends Vm {
  get devices(): ReturnType<typeof hybridDeviceNames> {
    return hybridDeviceNames(this.portId);
  }

  /** Removes the br-int port (qvo, and with it qvb), the namespace (and with it the tap) and the qbr bridge; idempotent. */
  override async unplug(): Promise<void> {
    const { tap, qbr, qvo } = this.devices;
    let first: unknown;
    await super.unplug().catch((e: unknown) => (first = e));
    for (const link of [qvo, tap, qbr]) {
      liveLinks.delete(link);
      const r = spawnSync('ip', ['link', 'del', link], { encoding: 'utf8' });
      if (r.status !== 0 && !/Cannot find device/.test(r.stderr) && !first) first = new Error(`ip link del ${link}: ${r.stderr.trim()}`);
    }
    if (first) throw first instanceof Error ? first : new Error(String(first));
  }
}

/**
 * Plugs a hybrid VM for `port` into `ovs` (this process's network namespace): namespace with eth0
 * holding the port's MAC and every fixed IP, tap + qvb on a new qbr bridge, qvo on br-int with the
 * iface-id, attached-mac, iface-status and vm-uuid external_ids.
 */
export async function plugHybridVm(
  ovs: PrivateOvs,
  port: VmPortInfo,
  opts: { bridge?: string; prefixLen?: number; vmUuid?: string } = {},
): Promise<HybridVm> {
  if (ovs.opts.netns) throw new Error(`plugHybridVm: an OVS in namespace ${ovs.opts.netns} is not supported`);
  const bridge = opts.bridge ?? 'br-int';
  const addr = port.fixed_ips[0]?.ip_address;
  if (!addr) throw new Error(`port ${port.id} has no fixed IP to give its VM`);
  const { tap, qbr, qvb, qvo } = hybridDeviceNames(port.id);
  const netns = `oahv-${randomBytes(4).toString('hex')}`;
  const vmUuid = opts.vmUuid ?? randomUUID();
  const what = `hybrid-plugging port ${port.id} (${qvo}) into ${bridge}`;
  await createNamespace(netns);
  const vm = new HybridVm(netns, qvo, bridge, port.id, port.mac_address, addr, vmUuid, ovs);
  try {
    await ip(['link', 'add', tap, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns], what);
    liveLinks.add(tap);
    await ip(['-n', netns, 'link', 'set', 'eth0', 'address', port.mac_address], what);
    for (const f of port.fixed_ips) {
      const v6 = f.ip_address.includes(':');
      await ip(['-n', netns, 'addr', 'add', `${f.ip_address}/${v6 ? 64 : (opts.prefixLen ?? 24)}`, 'dev', 'eth0', ...(v6 ? ['nodad'] : [])], what);
    }
    await ip(['-n', netns, 'link', 'set', 'eth0', 'up'], what);
    // veth leaves checksums to the "NIC" and the userspace datapath forwards packets as they are:
    // without software checksums the receiver drops every TCP/UDP segment (ping still works)
    await run('ip', ['netns', 'exec', netns, 'ethtool', '-K', 'eth0', 'tx', 'off']).catch((e: unknown) => {
      throw new Error(`${what}: ethtool -K eth0 tx off (is ethtool installed?): ${String(e)}`);
    });
    await ip(['link', 'add', qbr, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0'], what);
    liveLinks.add(qbr);
    await ip(['link', 'add', qvb, 'type', 'veth', 'peer', 'name', qvo], what);
    liveLinks.add(qvo);
    await ip(['link', 'set', qvb, 'master', qbr], what);
    await ip(['link', 'set', tap, 'master', qbr], what);
    for (const l of [qbr, qvb, qvo, tap]) await ip(['link', 'set', l, 'up'], what);
    await ovs.vsctl(
      'add-port', bridge, qvo,
      '--', 'set', 'Interface', qvo,
      `external_ids:iface-id=${port.id}`,
      `external_ids:attached-mac=${port.mac_address}`,
      'external_ids:iface-status=active',
      `external_ids:vm-uuid=${vmUuid}`,
    );
    return vm;
  } catch (e) {
    await vm.unplug().catch((u: unknown) => process.stderr.write(`hybrid vm cleanup after failed plug: ${String(u)}\n`));
    throw e instanceof Error && e.message.includes(port.id) ? e : new Error(`${what}: ${String(e)}`);
  }
}
