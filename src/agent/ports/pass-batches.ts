// The flow mods of one pass, one batch per bridge, committed in the order that keeps traffic safe:
// a port tagged with a local VLAN must find that VLAN's provisioning flows already in place.
import type { FlowBatch } from '../../bridges/ovs-bridge.js';
import type { Bridges } from '../bridges/bridge-setup.js';

export class PassBatches {
  readonly int: FlowBatch;
  readonly tun: FlowBatch | undefined;
  /** One batch per provider bridge, by physical network. */
  readonly phys: ReadonlyMap<string, FlowBatch>;

  constructor(bridges: Bridges) {
    this.int = bridges.int.batch();
    this.tun = bridges.tun?.batch();
    this.phys = new Map([...bridges.phys.values()].map((p) => [p.physnet, p.bridge.batch()]));
  }

  physOf(physnet: string): FlowBatch {
    const b = this.phys.get(physnet);
    if (!b) throw new Error(`no provider bridge batch for physical network ${physnet}`);
    return b;
  }

  /** br-tun and the provider bridges first, together: they carry the networks' provisioning flows. */
  async commitProvisioning(): Promise<void> {
    await Promise.all([this.tun?.commit(), ...[...this.phys.values()].map((b) => b.commit())]);
  }
}
