// Trunk bridges (`tbr-<trunk id>`), into which Nova's os-vif plugs a VLAN-aware VM, are not wired by
// this agent yet: the reference's trunk driver connects them to br-int. Until that lands, a trunk
// bridge appearing is an ERROR naming it, once, so an operator sees why the VM's ports never come up
// instead of a boot that times out in silence.
import type { RowChange } from '../../ovsdb/replica.js';
import { getLogger } from '../../util/log.js';

const LOG = getLogger('agent.trunk');
const TRUNK_BRIDGE_PREFIX = 'tbr-';

export class TrunkBridgeWatch {
  private readonly seen = new Set<string>();

  /** Names of trunk bridges seen since start (for the status document). */
  get bridges(): string[] {
    return [...this.seen];
  }

  onUpdate(changes: readonly RowChange[]): void {
    for (const c of changes) {
      if (c.table !== 'Bridge') continue;
      const name = c.new?.name;
      if (name === undefined) {
        if (c.old) this.seen.delete(c.old.name);
        continue;
      }
      if (!name.startsWith(TRUNK_BRIDGE_PREFIX) || this.seen.has(name)) continue;
      this.seen.add(name);
      LOG.error(`trunk bridge ${name} appeared: trunk ports (VLAN-aware VMs) are not implemented by this agent, so the ports plugged into it are not wired to br-int and will not become ACTIVE; run the reference agent on hosts with trunk ports until they are`);
    }
  }
}
