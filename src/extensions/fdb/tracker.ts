// Which port's MAC is in which shared device's FDB (the reference's FdbTableTracker). The entries
// already on a device at start-up count as present, so an agent restart re-adds nothing; a port
// handed again with another MAC has its old entry replaced. A failing `bridge fdb` call is logged
// as the reference logs it and leaves the tracker as it was, so the port's next update retries.
import { getLogger } from '../../util/log.js';
import type { FdbDevices } from './bridge-fdb.js';

const LOG = getLogger('extensions.fdb');

export class FdbTableTracker {
  /** Per device, the MAC addresses in its FDB as far as the agent knows. */
  private readonly deviceMacs = new Map<string, string[]>();
  /** The MAC each handled port has in the FDB. */
  private readonly portMacs = new Map<string, string>();

  private constructor(private readonly fdb: FdbDevices) {}

  /** Reads each device's FDB; a device that cannot be read starts empty (its adds then fail, logged). */
  static async load(fdb: FdbDevices, devices: readonly string[]): Promise<FdbTableTracker> {
    const t = new FdbTableTracker(fdb);
    for (const device of devices) {
      try {
        t.deviceMacs.set(device, await fdb.macs(device));
      } catch (e) {
        LOG.warning(`Unable to find FDB Interface ${device}. Exception: ${e instanceof Error ? e.message : String(e)}`);
        t.deviceMacs.set(device, []);
      }
    }
    return t;
  }

  get ports(): number {
    return this.portMacs.size;
  }

  macsOf(device: string): readonly string[] {
    return this.deviceMacs.get(device) ?? [];
  }

  /** The port's MAC in the device's FDB; as the reference, its entry is deleted and added anew. */
  async updatePort(device: string, portId: string, mac: string): Promise<void> {
    const wanted = mac.toLowerCase();
    await this.deletePort([device], portId);
    this.portMacs.set(portId, wanted);
    const macs = this.devicesMacs(device);
    if (macs.includes(wanted)) return;
    try {
      await this.fdb.add(wanted, device);
    } catch (e) {
      LOG.warning(`Unable to add mac ${wanted} to FDB Interface ${device}.`, e);
      return;
    }
    macs.push(wanted);
  }

  /** The port's MAC out of these devices' FDB; after a failed delete (logged) the port stays tracked. */
  async deletePort(devices: readonly string[], portId: string): Promise<void> {
    const mac = this.portMacs.get(portId);
    if (mac === undefined) {
      // The reference warns here, also for every port it sees first; that is no fault, so debug.
      LOG.debug(`port ${portId} has no entry in the FDB of ${devices.join(', ')}`);
      return;
    }
    for (const device of devices) {
      const macs = this.devicesMacs(device);
      if (!macs.includes(mac)) continue;
      try {
        await this.fdb.delete(mac, device);
      } catch (e) {
        LOG.warning(`Unable to delete mac ${mac} from FDB Interface ${device}.`, e);
        return;
      }
      macs.splice(macs.indexOf(mac), 1);
    }
    this.portMacs.delete(portId);
  }

  private devicesMacs(device: string): string[] {
    let macs = this.deviceMacs.get(device);
    if (!macs) this.deviceMacs.set(device, (macs = []));
    return macs;
  }
}
