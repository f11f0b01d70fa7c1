// Trunk ports (VLAN-aware VMs) behind the extension seam. The reference's agent always loads its
// trunk driver (it is no `[agent] extensions` name): so does this agent. It does nothing until
// os-vif plugs a VM into a trunk bridge.
import type { RowChange } from '../../ovsdb/replica.js';
import { isJsonObject, type JsonObject } from '../../util/json.js';
import { getLogger } from '../../util/log.js';
import type { AgentExtension, ExtensionAgentApi, ExtensionPort, ExtensionStatus } from '../seam.js';
import { REFERENCE_TIMINGS, TrunkHandler, type TrunkTimings } from './handler.js';
import { isTrunkBridge, isTrunkPatch } from './names.js';
import { TrunkRows } from './trunk-rows.js';
import { TrunkRpc, parseSubport, type Subport } from './trunk-rpc.js';

const LOG = getLogger('extensions.trunk');

export class TrunkAgentExtension implements AgentExtension {
  readonly name = 'trunk';
  private handler: TrunkHandler | undefined;
  private api: ExtensionAgentApi | undefined;
  private stopping = false;
  /** Server connected at least once: trunk bridges are handled as they come. */
  private serverUp = false;

  constructor(private readonly timings: TrunkTimings = REFERENCE_TIMINGS) {}

  async initialize(api: ExtensionAgentApi): Promise<void> {
    this.api = api;
    const rows = new TrunkRows(api.ops, () => api.intBridge().name);
    const rpc = new TrunkRpc(() => {
      const s = api.server();
      if (!s) throw new Error('neutron-server is not reachable yet');
      return s;
    });
    this.handler = new TrunkHandler({
      rows,
      rpc,
      timings: this.timings,
      waitFor: (probe, ms, describe) => api.ops.replica.waitFor(probe, ms, describe),
      portBoundHere: (portId, timeoutMs) => portBoundHere(api, portId, timeoutMs),
      firewallDriver: api.settings.firewallDriver,
      stopping: () => this.stopping,
    });
    api.ops.replica.on('update', (changes) => this.onOvsdbUpdate(changes));
    api.cache.on('pushed', (type, objects, event) => {
      if (type === 'SubPort') this.onSubportsPushed(objects, event);
    });
  }

  private onOvsdbUpdate(changes: readonly RowChange[]): void {
    const h = this.handler;
    if (!h || !this.serverUp || this.stopping) return;
    let repair = false;
    for (const c of changes) {
      if (c.table === 'Bridge') {
        if (c.new && !c.old && isTrunkBridge(c.new.name)) void h.trunkBridgeAdded(c.new.name);
        else if (c.old && !c.new && isTrunkBridge(c.old.name)) void h.trunkBridgeDeleted(c.old.name);
      } else if (c.table === 'Interface' && c.old && !c.new) {
        const bridge = c.old.externalIds.get('bridge_name');
        if (bridge && isTrunkBridge(bridge)) void h.vmInterfaceRemoved(bridge, c.old.externalIds);
        else if (isTrunkPatch(c.old.name)) repair = true;
      } else if ((c.table === 'Interface' || c.table === 'Port') && c.old && c.new && isTrunkPatch(c.new.name)) {
        repair = true;
      }
    }
    if (repair) void h.repairPatches();
  }

  private onSubportsPushed(objects: readonly JsonObject[], event: string): void {
    const subports: Subport[] = [];
    for (const o of objects) {
      const s = parseSubport(o);
      if (typeof s === 'string') LOG.warning(`SubPort push (${event}): ${s}; skipped`);
      else subports.push(s);
    }
    if (subports.length) void this.handler?.subportsPushed(subports, event);
  }

  /** First connection: every trunk bridge already there is wired (again); after a reconnection too. */
  async serverReady(): Promise<void> {
    this.serverUp = true;
    if (!this.handler || !this.api) return;
    await this.handler.resyncAll(this.api.ops.listBridges());
  }

  async handlePort(_port: ExtensionPort): Promise<void> {
    // Subports are wired by the agent like any port once their patch end is on br-int.
  }

  async deletePort(_portId: string): Promise<void> {}

  async bridgesReset(): Promise<void> {
    // Trunk bridges and patch ports are OVSDB rows: an OVS restart keeps them; no flows of ours there.
  }

  /** The patch pairs of every trunk wired here, in case an OVSDB event was missed (a reconnection). */
  async audit(): Promise<void> {
    await this.handler?.repairPatches();
  }

  async firstSyncDone(): Promise<void> {}

  status(): ExtensionStatus {
    const trunks = [...(this.handler?.trunks.values() ?? [])];
    const subports = trunks.reduce((n, t) => n + t.subports.size, 0);
    return {
      ports: trunks.length + subports,
      details: { trunks: trunks.length, subports, degraded: trunks.filter((t) => t.status !== 'ACTIVE').length },
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.handler?.stop();
  }
}

/** The cached Port has an ACTIVE binding to this host with a bound segment (what wiring it needs). */
function boundHere(port: JsonObject | undefined, host: string): boolean {
  if (!port) return false;
  const levels = port['binding_levels'];
  const bindings = port['bindings'];
  return Array.isArray(levels) && levels.length > 0 && Array.isArray(bindings) &&
    bindings.some((b) => isJsonObject(b) && b['status'] === 'ACTIVE' && b['host'] === host);
}

function portBoundHere(api: ExtensionAgentApi, portId: string, timeoutMs: number): Promise<void> {
  if (boundHere(api.cache.getCached('Port', portId), api.settings.host)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      api.cache.off('object-updated', onUpdate);
      resolve();
    };
    const onUpdate = (type: string, id: string, _old: JsonObject | undefined, now: JsonObject): void => {
      if (type === 'Port' && id === portId && boundHere(now, api.settings.host)) done();
    };
    // Plugged anyway after the wait: the port pass then wires it when the binding arrives.
    const timer = setTimeout(done, timeoutMs);
    api.cache.on('object-updated', onUpdate);
  });
}
