// The kernel's bridge forwarding database of a network device, through iproute2's `bridge fdb`:
// the same netlink requests the reference's pyroute2 calls make (`add` is NLM_F_CREATE|EXCL,
// family AF_BRIDGE, state NOARP|PERMANENT, flag SELF), so the entries read back identically.
import { execFile } from 'node:child_process';

/** What the fdb extension does to a device's FDB (a seam for unit tests of the tracker). */
export interface FdbDevices {
  /** The MAC addresses of every FDB entry of `device` (any flag), or an Error when it cannot be read. */
  macs(device: string): Promise<string[]>;
  add(mac: string, device: string): Promise<void>;
  delete(mac: string, device: string): Promise<void>;
}

function run(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bridge', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`bridge ${args.join(' ')}: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

interface FdbEntryJson {
  mac?: unknown;
}

/** `bridge -j fdb show dev D` read into its MAC addresses. */
export function macsOfFdbJson(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const parsed: unknown = JSON.parse(trimmed);
  if (!Array.isArray(parsed)) throw new Error(`bridge -j fdb show: not a list: ${trimmed.slice(0, 80)}`);
  return (parsed as FdbEntryJson[]).flatMap((e) => (typeof e.mac === 'string' ? [e.mac.toLowerCase()] : []));
}

export const kernelFdb: FdbDevices = {
  async macs(device) {
    return macsOfFdbJson(await run(['-j', 'fdb', 'show', 'dev', device]));
  },
  async add(mac, device) {
    await run(['fdb', 'add', mac, 'dev', device]);
  },
  async delete(mac, device) {
    await run(['fdb', 'del', mac, 'dev', device]);
  },
};
