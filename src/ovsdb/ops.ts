// The agent's OVSDB writes (ovs-vsctl equivalents) and derived reads. Every write method is ONE
// transaction built from the replica and guarded against concurrent writers: preconditions are
// "wait" operations or where-clauses, map columns are merged with delete-keys+insert mutations
// (never replaced), set columns are mutated. If a guard fails because someone else changed the
// database meanwhile, the replica is brought up to date and the method is retried.
// After a successful write the replica reflects it (client.sync()), so reads right after a write
// see it.
import { OvsdbClient, OvsdbTransactionError, type OvsdbClientOptions } from './client.js';
import { OvsdbReplica, type BridgeRow, type ControllerRow, type InterfaceRow, type PortRow } from './replica.js';
import { type Condition, type Operation, type OperationResult, NamedUuid, Uuid, cond } from './protocol.js';
import { BRIDGE, CONTROLLER, INTERFACE, MANAGER, OPEN_VSWITCH, PORT, type WriteOf } from './schema.js';
import { getLogger } from '../util/log.js';

const LOG = getLogger('ovsdb.ops');

/** An interface with both external_ids:iface-id and external_ids:attached-mac (a VIF). */
export interface VifPort {
  portName: string;
  ifaceName: string;
  /** undefined: not assigned yet; -1: failed. */
  ofport: number | undefined;
  ifaceId: string;
  mac: string;
  tag: number | undefined;
  otherConfig: Map<string, string>;
  externalIds: Map<string, string>;
}

export interface EnsureBridgeOptions {
  datapathType: string;
  /** Added to Bridge.protocols (set union). */
  protocols?: string[];
  /** Merged into Bridge.other_config. */
  otherConfig?: Record<string, string>;
  failMode?: 'secure' | 'standalone';
  /**
   * false: a missing bridge is an error, not created (a bridge deleted under a running agent is
   * the operator's to add again). Default true, as `--may-exist add-br`.
   */
  createIfMissing?: boolean;
}

/** The bridge a set-up step needs is not in the database. */
export class BridgeMissingError extends Error {
  override name = 'BridgeMissingError';
  constructor(readonly bridge: string, what: string) {
    super(`${what}: bridge ${bridge} does not exist`);
  }
}

export interface ControllerOptions {
  connectionMode: 'out-of-band' | 'in-band';
  /** Undefined: new rows leave inactivity_probe empty (OVS's default), existing rows keep theirs. */
  inactivityProbeMs?: number;
}

export interface PortSettings {
  port: string;
  /** number: set; null: clear; undefined: leave alone. */
  tag?: number | null;
  /** Merged into Port.other_config. */
  otherConfig?: Record<string, string>;
  clearVlanModeAndTrunks?: boolean;
}

/** A guard failed: the replica was stale. Retried after resynchronising. */
class Conflict extends Error {}

const MAX_ATTEMPTS = 4;

function controllerColumns(opts: ControllerOptions): WriteOf<'Controller'> {
  return { connectionMode: opts.connectionMode, ...(opts.inactivityProbeMs !== undefined ? { inactivityProbe: opts.inactivityProbeMs } : {}) };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

// Bridge, Port and Interface rows are found by their (unique) name.
const bridgeNamed = (name: string): Condition[] => [BRIDGE.eq('name', name)];
const portNamed = (name: string): Condition[] => [PORT.eq('name', name)];
const interfaceNamed = (name: string): Condition[] => [INTERFACE.eq('name', name)];

export class OvsdbOps {
  constructor(readonly client: OvsdbClient, readonly replica: OvsdbReplica) {}

  /** Creates client + replica, connects (rejects naming the endpoint if OVSDB is unreachable). */
  static async connect(opts: Omit<OvsdbClientOptions, 'monitor'>): Promise<OvsdbOps> {
    const replica = new OvsdbReplica();
    const client = new OvsdbClient({ ...opts, monitor: replica });
    await client.connect();
    return new OvsdbOps(client, replica);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  // ---- transaction runner --------------------------------------------------------------------

  /**
   * Builds operations from the replica and runs them; `build` returns undefined when nothing
   * needs writing. `check` inspects results and throws Conflict if the replica was stale.
   */
  private async run(
    label: string,
    build: () => Operation[] | undefined,
    check?: (results: OperationResult[]) => void,
  ): Promise<OperationResult[] | undefined> {
    for (let attempt = 1; ; attempt++) {
      const ops = build();
      if (!ops || ops.length === 0) return undefined;
      try {
        const results = await this.client.transact(ops, { comment: `ovs-agent: ${label}` });
        check?.(results);
        await this.client.sync();
        return results;
      } catch (err) {
        // "timed out" is what a failed wait operation with timeout 0 reports.
        const conflict = err instanceof Conflict || (err instanceof OvsdbTransactionError && err.error === 'timed out' && ops[err.operationIndex]?.op === 'wait');
        if (!conflict || attempt >= MAX_ATTEMPTS) {
          if (err instanceof Conflict) throw new Error(`OVSDB ${label}: ${err.message}`);
          throw err;
        }
        LOG.debug(`OVSDB ${label}: concurrent change (${(err as Error).message}), retrying`);
        await this.client.sync();
      }
    }
  }

  /**
   * Operations built from the replica, run as one transaction (rebuilt and retried when the replica
   * was stale): for writers outside this file, such as the extensions' own tables.
   */
  transaction(label: string, build: () => Operation[] | undefined, check?: (results: OperationResult[]) => void): Promise<OperationResult[] | undefined> {
    return this.run(label, build, check);
  }

  private requireBridge(name: string, what: string): BridgeRow {
    const b = this.replica.bridge(name);
    if (!b) throw new Error(`${what}: bridge ${name} does not exist`);
    return b;
  }

  private ovsRootWhere(): Condition[] {
    const root = this.replica.openVSwitch();
    return root ? [cond.uuid(root.uuid)] : [];
  }

  // ---- bridges ------------------------------------------------------------------------------

  bridgeExists(name: string): boolean {
    return this.replica.bridge(name) !== undefined;
  }

  listBridges(): string[] {
    return this.replica.bridgeNames();
  }

  /**
   * `ovs-vsctl --may-exist add-br NAME -- set Bridge NAME datapath_type=… ` plus protocols (added),
   * other_config (merged) and fail_mode, in one transaction. A new bridge gets its internal port
   * and interface named like the bridge.
   */
  async ensureBridge(name: string, opts: EnsureBridgeOptions): Promise<void> {
    const label = `ensure bridge ${name}`;
    const protocols = opts.protocols ?? [];
    const otherConfig = opts.otherConfig ?? {};
    await this.run(
      label,
      () => {
        const b = this.replica.bridge(name);
        if (b) {
          const where = [cond.uuid(b.uuid)];
          const row: WriteOf<'Bridge'> = { datapathType: opts.datapathType };
          if (opts.failMode) row.failMode = opts.failMode;
          const muts = [...(protocols.length ? [BRIDGE.insertInto('protocols', protocols)] : []), ...BRIDGE.mergeMap('otherConfig', otherConfig)];
          return [BRIDGE.update(where, row), ...(muts.length ? [BRIDGE.mutate(where, muts)] : [])];
        }
        if (opts.createIfMissing === false) throw new BridgeMissingError(name, label);
        const row: WriteOf<'Bridge'> = {
          name,
          datapathType: opts.datapathType,
          ports: [new NamedUuid('port')],
          protocols,
          otherConfig,
        };
        if (opts.failMode) row.failMode = opts.failMode;
        return [
          BRIDGE.wait(bridgeNamed(name), ['name'], '==', []),
          INTERFACE.insert({ name, type: 'internal' }, 'iface'),
          PORT.insert({ name, interfaces: [new NamedUuid('iface')] }, 'port'),
          BRIDGE.insert(row, 'bridge'),
          OPEN_VSWITCH.mutate(this.ovsRootWhere(), [OPEN_VSWITCH.insertInto('bridges', [new NamedUuid('bridge')])]),
        ];
      },
      (results) => {
        if (results.length === 5) {
          if (results[4].count === 0) throw new Error(`${label}: the Open_vSwitch table has no row (database not initialised?)`);
        } else if (results[0].count === 0) {
          throw new Conflict(`bridge ${name} disappeared`);
        }
      },
    );
  }

  /** Merges keys into Bridge.other_config. */
  async setBridgeOtherConfig(bridge: string, kv: Record<string, string>): Promise<void> {
    const label = `set other_config on bridge ${bridge}`;
    if (Object.keys(kv).length === 0) return;
    await this.run(label, () => [BRIDGE.mutate(bridgeNamed(bridge), BRIDGE.mergeMap('otherConfig', kv))], (r) => {
      if (r[0].count === 0) throw new Error(`${label}: bridge ${bridge} does not exist`);
    });
  }

  /**
   * Bridge.datapath_id as a number, waiting until ovs-vswitchd has filled it in. With `rowUuid`,
   * the wait fails at once should that row be deleted or replaced meanwhile (a bridge re-created
   * under us gets a datapath id of its own: waiting for this one's would be in vain).
   */
  waitDatapathId(name: string, timeoutMs: number, rowUuid?: string, signal?: AbortSignal): Promise<bigint> {
    return this.replica.waitFor(
      () => {
        const b = this.replica.bridge(name);
        if (rowUuid !== undefined && b?.uuid !== rowUuid) {
          throw new Error(`bridge ${name} ${b ? 'was re-created' : 'was deleted'} while waiting for its datapath_id`);
        }
        const id = b?.datapathId;
        return id ? BigInt(`0x${id}`) : undefined;
      },
      timeoutMs,
      () => `bridge ${name} has no datapath_id after ${timeoutMs} ms (${this.bridgeExists(name) ? 'is ovs-vswitchd running?' : 'bridge does not exist'})`,
      signal,
    );
  }

  async setBridgeMcastSnooping(bridge: string, enable: boolean, otherConfig: Record<string, string>): Promise<void> {
    const label = `set mcast snooping on bridge ${bridge}`;
    await this.run(
      label,
      () => [
        BRIDGE.update(bridgeNamed(bridge), { mcastSnoopingEnable: enable }),
        ...(Object.keys(otherConfig).length ? [BRIDGE.mutate(bridgeNamed(bridge), BRIDGE.mergeMap('otherConfig', otherConfig))] : []),
      ],
      (r) => {
        if (r[0].count === 0) throw new Error(`${label}: bridge ${bridge} does not exist`);
      },
    );
  }

  // ---- controllers --------------------------------------------------------------------------

  /**
   * Replaces the bridge's controllers if their targets differ from `targets`, then sets
   * connection_mode and inactivity_probe on every Controller of the bridge. Returns true if the
   * controller list was replaced.
   */
  async setControllers(bridge: string, targets: string[], opts: ControllerOptions): Promise<boolean> {
    const label = `set controllers of bridge ${bridge}`;
    let replaced = false;
    await this.run(label, () => {
      const b = this.requireBridge(bridge, label);
      const current = this.replica.controllersOfBridge(b);
      // Guard: the controller column is what we based the decision on.
      const guard = BRIDGE.wait([cond.uuid(b.uuid)], ['controller'], '==', [{ controller: ['set', b.controller.map((u) => ['uuid', u])] }]);
      if (!sameSet(current.map((c) => c.target), targets) || current.length !== b.controller.length) {
        replaced = true;
        const inserts = targets.map((t, i) => CONTROLLER.insert({ target: t, ...controllerColumns(opts) }, `ctl${i}`));
        return [guard, ...inserts, BRIDGE.update([cond.uuid(b.uuid)], { controller: targets.map((_, i) => new NamedUuid(`ctl${i}`)) })];
      }
      replaced = false;
      const stale = current.filter(
        (c: ControllerRow) => c.connectionMode !== opts.connectionMode || (opts.inactivityProbeMs !== undefined && c.inactivityProbe !== opts.inactivityProbeMs),
      );
      if (stale.length === 0) return undefined;
      return [guard, ...stale.map((c) => CONTROLLER.update([cond.uuid(c.uuid)], controllerColumns(opts)))];
    });
    return replaced;
  }

  /** controller_rate_limit and controller_burst_limit on every Controller of the bridge (ovs-vsctl set controller). */
  async setControllerLimits(bridge: string, rate: number, burst: number): Promise<void> {
    const label = `set controller rate and burst limits of bridge ${bridge}`;
    await this.run(label, () => {
      const stale = this.replica.controllersOfBridge(this.requireBridge(bridge, label))
        .filter((c) => c.controllerRateLimit !== rate || c.controllerBurstLimit !== burst);
      if (stale.length === 0) return undefined;
      return stale.map((c) => CONTROLLER.update([cond.uuid(c.uuid)], { controllerRateLimit: rate, controllerBurstLimit: burst }));
    });
  }

  async clearControllers(bridge: string): Promise<void> {
    const label = `clear controllers of bridge ${bridge}`;
    await this.run(label, () => {
      const b = this.replica.bridge(bridge);
      if (b && b.controller.length === 0) return undefined;
      return [BRIDGE.update(bridgeNamed(bridge), { controller: [] })];
    }, (r) => {
      if (r[0].count === 0) throw new Error(`${label}: bridge ${bridge} does not exist`);
    });
  }

  // ---- managers -----------------------------------------------------------------------------

  /** Adds a Manager with `target` to Open_vSwitch.manager_options unless one exists. */
  async ensureManager(target: string): Promise<void> {
    await this.run(`ensure manager ${target}`, () => {
      for (const m of this.replica.rows('Manager').values()) if (m.target === target) return undefined;
      return [
        MANAGER.wait([MANAGER.eq('target', target)], ['target'], '==', []),
        MANAGER.insert({ target }, 'mgr'),
        OPEN_VSWITCH.mutate(this.ovsRootWhere(), [OPEN_VSWITCH.insertInto('managerOptions', [new NamedUuid('mgr')])]),
      ];
    });
  }

  // ---- ports --------------------------------------------------------------------------------

  /**
   * `ovs-vsctl --may-exist add-port BRIDGE NAME -- set Interface NAME type=… options:…`: a new
   * port is created with the interface; an existing one gets type set and options merged.
   */
  private async addPortWithInterface(bridge: string, name: string, type: string, options: Record<string, string>): Promise<void> {
    const label = `add ${type} port ${name} to bridge ${bridge}`;
    await this.run(label, () => {
      const b = this.requireBridge(bridge, label);
      const p = this.replica.port(name);
      if (p) {
        const owner = this.replica.bridgeOfPortRow(p);
        if (owner && owner.uuid !== b.uuid) throw new Error(`${label}: port ${name} already exists on bridge ${owner.name}`);
        const iface = this.replica.interfacesOfPort(p).find((i) => i.name === name);
        if (!iface) throw new Error(`${label}: port ${name} exists without an interface named ${name}`);
        const where = [cond.uuid(iface.uuid)];
        return [
          INTERFACE.update(where, { type }),
          ...(Object.keys(options).length ? [INTERFACE.mutate(where, INTERFACE.mergeMap('options', options))] : []),
        ];
      }
      return [
        PORT.wait(portNamed(name), ['name'], '==', []),
        INTERFACE.insert({ name, type, options }, 'iface'),
        PORT.insert({ name, interfaces: [new NamedUuid('iface')] }, 'port'),
        BRIDGE.mutate([cond.uuid(b.uuid)], [BRIDGE.insertInto('ports', [new NamedUuid('port')])]),
      ];
    }, (r) => {
      if (r[0].count === 0 || (r.length === 4 && r[3].count === 0)) throw new Conflict(`bridge or interface changed meanwhile`);
    });
  }

  /** A patch port (may-exist: an existing one just gets options:peer). */
  async addPatchPort(bridge: string, name: string, peer: string): Promise<void> {
    await this.addPortWithInterface(bridge, name, 'patch', { peer });
  }

  async setPatchPeer(iface: string, peer: string): Promise<void> {
    const label = `set peer of patch interface ${iface}`;
    await this.run(label, () => [INTERFACE.mutate(interfaceNamed(iface), INTERFACE.mergeMap('options', { peer }))], (r) => {
      if (r[0].count === 0) throw new Error(`${label}: interface ${iface} does not exist`);
    });
  }

  /** A tunnel port (vxlan, gre, ip6gre, geneve); may-exist: type set and options merged. */
  async addTunnelPort(bridge: string, name: string, type: string, options: Record<string, string>): Promise<void> {
    await this.addPortWithInterface(bridge, name, type, options);
  }

  /** `ovs-vsctl --if-exists del-port BRIDGE NAME`. Returns whether a port was removed. */
  async deletePort(bridge: string, name: string): Promise<boolean> {
    let removed = false;
    await this.run(`delete port ${name} from bridge ${bridge}`, () => {
      const b = this.replica.bridge(bridge);
      const p = this.replica.port(name);
      if (!b || !p || !b.ports.includes(p.uuid)) {
        removed = false;
        return undefined;
      }
      removed = true;
      // Port and Interface are not root tables: dropping the reference deletes them.
      return [BRIDGE.mutate([cond.uuid(b.uuid)], [BRIDGE.deleteFrom('ports', [new Uuid(p.uuid)])])];
    });
    return removed;
  }

  async setPortOtherConfig(port: string, kv: Record<string, string>): Promise<void> {
    const label = `set other_config on port ${port}`;
    if (Object.keys(kv).length === 0) return;
    await this.run(label, () => [PORT.mutate(portNamed(port), PORT.mergeMap('otherConfig', kv))], (r) => {
      if (r[0].count === 0) throw new Error(`${label}: port ${port} does not exist`);
    });
  }

  async setPortTag(port: string, tag: number | null, opts: { clearVlanModeAndTrunks?: boolean } = {}): Promise<void> {
    const missing = await this.setPortsTagAndOtherConfig([{ port, tag, clearVlanModeAndTrunks: opts.clearVlanModeAndTrunks }]);
    if (missing.length) throw new Error(`set tag on port ${port}: port ${port} does not exist`);
  }

  /**
   * Tags and other_config of several ports in one transaction. Ports that do not exist are
   * skipped (returned), the others are still written.
   */
  async setPortsTagAndOtherConfig(settings: PortSettings[]): Promise<string[]> {
    const owners: string[] = []; // which port each operation belongs to
    const results = await this.run(`set tag/other_config on ${settings.length} port(s)`, () => {
      owners.length = 0;
      const ops: Operation[] = [];
      for (const s of settings) {
        const row: WriteOf<'Port'> = {};
        if (s.tag !== undefined) row.tag = s.tag;
        if (s.clearVlanModeAndTrunks) {
          row.vlanMode = null;
          row.trunks = [];
        }
        if (Object.keys(row).length) {
          ops.push(PORT.update(portNamed(s.port), row));
          owners.push(s.port);
        }
        if (s.otherConfig && Object.keys(s.otherConfig).length) {
          ops.push(PORT.mutate(portNamed(s.port), PORT.mergeMap('otherConfig', s.otherConfig)));
          owners.push(s.port);
        }
      }
      return ops;
    });
    if (!results) return [];
    const missing = new Set<string>();
    results.forEach((r, i) => {
      if (r.count === 0) missing.add(owners[i]);
    });
    return [...missing];
  }

  /** The interface's ofport once assigned; rejects on -1 (naming the interface), timeout or abort. */
  waitOfport(ifaceName: string, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.replica.waitFor(
      () => {
        const i = this.replica.iface(ifaceName);
        if (!i || i.ofport === undefined) return undefined;
        if (i.ofport === -1) throw new Error(`interface ${ifaceName} has ofport -1${i.error ? ` (${i.error})` : ''}`);
        return i.ofport > 0 ? i.ofport : undefined;
      },
      timeoutMs,
      () => `interface ${ifaceName} ${this.replica.iface(ifaceName) ? 'got no ofport' : 'does not exist'} after ${timeoutMs} ms`,
      signal,
    );
  }

  // ---- reads ---------------------------------------------------------------------------------

  /** VIFs on a bridge: interfaces with both external_ids iface-id and attached-mac. */
  vifPorts(bridge: string): VifPort[] {
    const out: VifPort[] = [];
    for (const p of this.replica.portsOfBridge(bridge)) {
      for (const i of this.replica.interfacesOfPort(p)) {
        const v = toVif(p, i);
        if (v) out.push(v);
      }
    }
    return out;
  }

  openVSwitch(): { datapathTypes: string[]; ifaceTypes: string[]; otherConfig: Map<string, string> } {
    const r = this.replica.openVSwitch();
    return { datapathTypes: r?.datapathTypes ?? [], ifaceTypes: r?.ifaceTypes ?? [], otherConfig: r?.otherConfig ?? new Map() };
  }
}

export function toVif(p: PortRow, i: InterfaceRow): VifPort | undefined {
  const ifaceId = i.externalIds.get('iface-id');
  const mac = i.externalIds.get('attached-mac');
  if (ifaceId === undefined || mac === undefined) return undefined;
  return { portName: p.name, ifaceName: i.name, ofport: i.ofport, ifaceId, mac, tag: p.tag, otherConfig: p.otherConfig, externalIds: i.externalIds };
}
