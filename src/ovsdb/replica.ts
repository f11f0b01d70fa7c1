// In-memory replica of the Open_vSwitch database rows the agent reads, fed by the client's
// monitor. Rows are typed; indexes (by name, port→bridge, interface→port) are kept up to date
// per row change so lookups stay O(1) with thousands of ports.
import { EventEmitter } from 'node:events';
import type { MonitorRequests, Row, TableUpdates } from './protocol.js';
import { MONITOR_REQUESTS, TABLE_NAMES, isTableName, parseRow, type RowOf, type TableName } from './schema.js';
import { getLogger } from '../util/log.js';

const LOG = getLogger('ovsdb.replica');

// The row types are the schema's (schema.ts declares each column once).
export type OpenVSwitchRow = RowOf<'Open_vSwitch'>;
export type BridgeRow = RowOf<'Bridge'>;
export type PortRow = RowOf<'Port'>;
export type InterfaceRow = RowOf<'Interface'>;
export type ControllerRow = RowOf<'Controller'>;
export type ManagerRow = RowOf<'Manager'>;
export type TableRows = { [T in TableName]: RowOf<T> };

/** One row change; `old` absent = insert, `new` absent = delete, both = modify. */
export type RowChange = {
  [T in TableName]: { table: T; uuid: string; old?: TableRows[T]; new?: TableRows[T] };
}[TableName];

function valuesEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    // Sets: order is not meaningful. Same order is the common case and costs no allocation.
    if (a.every((x, i) => x === b[i])) return true;
    const sb = new Set(b);
    return sb.size === a.length && a.every((x) => sb.has(x));
  }
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (b.get(k) !== v) return false;
    return true;
  }
  return false;
}

export function rowsEqual<T extends object>(a: T, b: T): boolean {
  const ka = Object.keys(a) as Array<keyof T>;
  for (const k of ka) if (!valuesEqual(a[k], b[k])) return false;
  return Object.keys(b).length === ka.length;
}

export interface OvsdbReplicaEvents {
  update: [changes: RowChange[]];
}

/**
 * The replica. Implements the client's monitor sink: `resync()` replaces the whole content with
 * a fresh snapshot (reporting what changed meanwhile), `update()` applies one monitor update.
 * Each call emits exactly one 'update' event (if anything changed) with the changes in the order
 * the server sent them.
 */
export class OvsdbReplica extends EventEmitter<OvsdbReplicaEvents> {
  private readonly tables = Object.fromEntries(TABLE_NAMES.map((t) => [t, new Map()])) as { [T in TableName]: Map<string, TableRows[T]> };
  private readonly raw = Object.fromEntries(TABLE_NAMES.map((t) => [t, new Map()])) as { [T in TableName]: Map<string, Row> };
  private readonly bridgeByName = new Map<string, string>();
  private readonly portByName = new Map<string, string>();
  private readonly ifaceByName = new Map<string, string>();
  private readonly bridgeOfPort = new Map<string, string>();
  private readonly portOfIface = new Map<string, string>();
  private generation = 0;

  readonly monitorRequests: MonitorRequests = MONITOR_REQUESTS;

  /** Bumped on every applied update; lets callers notice change without listening. */
  get seq(): number {
    return this.generation;
  }

  rows<T extends TableName>(table: T): ReadonlyMap<string, TableRows[T]> {
    return this.tables[table] as Map<string, TableRows[T]>;
  }

  row<T extends TableName>(table: T, uuid: string): TableRows[T] | undefined {
    return (this.tables[table] as Map<string, TableRows[T]>).get(uuid);
  }

  // ---- lookups -----------------------------------------------------------------------------

  openVSwitch(): OpenVSwitchRow | undefined {
    for (const r of this.tables.Open_vSwitch.values()) return r;
    return undefined;
  }

  bridge(name: string): BridgeRow | undefined {
    const u = this.bridgeByName.get(name);
    return u === undefined ? undefined : this.tables.Bridge.get(u);
  }

  bridgeNames(): string[] {
    return [...this.bridgeByName.keys()];
  }

  port(name: string): PortRow | undefined {
    const u = this.portByName.get(name);
    return u === undefined ? undefined : this.tables.Port.get(u);
  }

  iface(name: string): InterfaceRow | undefined {
    const u = this.ifaceByName.get(name);
    return u === undefined ? undefined : this.tables.Interface.get(u);
  }

  portsOfBridge(bridge: BridgeRow | string): PortRow[] {
    const b = typeof bridge === 'string' ? this.bridge(bridge) : bridge;
    return b ? this.referenced('Port', b.ports) : [];
  }

  interfacesOfPort(port: PortRow | string): InterfaceRow[] {
    const p = typeof port === 'string' ? this.port(port) : port;
    return p ? this.referenced('Interface', p.interfaces) : [];
  }

  controllersOfBridge(bridge: BridgeRow | string): ControllerRow[] {
    const b = typeof bridge === 'string' ? this.bridge(bridge) : bridge;
    return b ? this.referenced('Controller', b.controller) : [];
  }

  /** The rows a uuid-set column refers to, those not (yet) in the replica left out. */
  private referenced<T extends TableName>(table: T, uuids: readonly string[]): TableRows[T][] {
    const rows = this.tables[table] as Map<string, TableRows[T]>;
    const out: TableRows[T][] = [];
    for (const u of uuids) {
      const r = rows.get(u);
      if (r) out.push(r);
    }
    return out;
  }

  /** The Port row holding an interface (by interface name or row). */
  portOfInterface(iface: InterfaceRow | string): PortRow | undefined {
    const i = typeof iface === 'string' ? this.iface(iface) : iface;
    if (!i) return undefined;
    const p = this.portOfIface.get(i.uuid);
    return p === undefined ? undefined : this.tables.Port.get(p);
  }

  bridgeOfPortRow(port: PortRow | string): BridgeRow | undefined {
    const p = typeof port === 'string' ? this.port(port) : port;
    if (!p) return undefined;
    const b = this.bridgeOfPort.get(p.uuid);
    return b === undefined ? undefined : this.tables.Bridge.get(b);
  }

  /** The bridge owning an interface (by interface name or row). */
  bridgeOfInterface(iface: InterfaceRow | string): BridgeRow | undefined {
    const p = this.portOfInterface(iface);
    return p ? this.bridgeOfPortRow(p) : undefined;
  }

  // ---- waiting -----------------------------------------------------------------------------

  /**
   * Resolves with the first non-undefined value of `probe`, checked now and after every update;
   * rejects after timeoutMs with `describeTimeout()`'s message. `probe` may throw to reject, and
   * `signal` abort the wait (rejecting with its reason).
   */
  waitFor<R>(probe: () => R | undefined, timeoutMs: number, describeTimeout: () => string, signal?: AbortSignal): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const check = (): boolean => {
        let r: R | undefined;
        try {
          r = probe();
        } catch (err) {
          finish();
          reject(err);
          return true;
        }
        if (r === undefined) return false;
        finish();
        resolve(r);
        return true;
      };
      const onUpdate = (): void => {
        check();
      };
      const onAbort = (): void => {
        finish();
        reject(abortReason(signal!));
      };
      const finish = (): void => {
        if (timer) clearTimeout(timer);
        this.off('update', onUpdate);
        signal?.removeEventListener('abort', onAbort);
      };
      if (check()) return;
      this.on('update', onUpdate);
      signal?.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => {
        finish();
        reject(new Error(describeTimeout()));
      }, timeoutMs);
    });
  }

  // ---- monitor sink ------------------------------------------------------------------------

  /** Replaces the content with a full snapshot (the monitor's initial reply). */
  resync(snapshot: TableUpdates): void {
    const changes: RowChange[] = [];
    const seen = new Map<TableName, Set<string>>();
    for (const t of TABLE_NAMES) seen.set(t, new Set());
    for (const { table, rows } of snapshot) {
      if (!isTableName(table)) continue;
      const s = seen.get(table)!;
      for (const { uuid, update } of rows) {
        if (!update.new) continue;
        s.add(uuid);
        let c: RowChange | undefined;
        try {
          c = this.put(table, uuid, update.new, false);
        } catch (err) {
          LOG.error(`ignoring malformed ${table} row ${uuid} from OVSDB`, err);
          continue;
        }
        if (c) changes.push(c);
      }
    }
    // Rows that vanished while we were not watching.
    for (const t of TABLE_NAMES) {
      const s = seen.get(t)!;
      for (const uuid of [...this.tables[t].keys()]) {
        if (!s.has(uuid)) {
          const c = this.remove(t, uuid);
          if (c) changes.push(c);
        }
      }
    }
    this.publish(changes);
  }

  /** Applies one monitor "update" notification. */
  update(updates: TableUpdates): void {
    const changes: RowChange[] = [];
    for (const { table, rows } of updates) {
      if (!isTableName(table)) continue;
      for (const { uuid, update } of rows) {
        let c: RowChange | undefined;
        try {
          if (!update.new) c = this.remove(table, uuid);
          // A modify carries only changed columns in "old" but all monitored columns in "new".
          else c = this.put(table, uuid, update.new, true);
        } catch (err) {
          LOG.error(`ignoring malformed ${table} row ${uuid} from OVSDB`, err);
          continue;
        }
        if (c) changes.push(c);
      }
    }
    this.publish(changes);
  }

  /** Forgets everything without emitting (the client was closed). */
  clear(): void {
    for (const t of TABLE_NAMES) {
      this.tables[t].clear();
      this.raw[t].clear();
    }
    this.bridgeByName.clear();
    this.portByName.clear();
    this.ifaceByName.clear();
    this.bridgeOfPort.clear();
    this.portOfIface.clear();
  }

  private publish(changes: RowChange[]): void {
    this.generation++;
    if (changes.length > 0) this.emit('update', changes);
  }

  private put<T extends TableName>(table: T, uuid: string, raw: Row, merge: boolean): RowChange | undefined {
    const map = this.tables[table] as Map<string, TableRows[T]>;
    const old = map.get(uuid);
    // ovsdb-server sends every monitored column in a modify's "new"; merging over the previous
    // wire row keeps us correct should a server send only the changed ones.
    const prevRaw = this.raw[table].get(uuid);
    const rawFull = merge && prevRaw ? { ...prevRaw, ...raw } : raw;
    const row: TableRows[T] = parseRow(table, uuid, rawFull) as TableRows[T];
    this.raw[table].set(uuid, rawFull);
    if (old && rowsEqual(old as object, row as object)) return undefined;
    map.set(uuid, row);
    this.index(table, old, row);
    const change = old ? { table, uuid, old, new: row } : { table, uuid, new: row };
    return change as RowChange;
  }

  private remove<T extends TableName>(table: T, uuid: string): RowChange | undefined {
    const map = this.tables[table] as Map<string, TableRows[T]>;
    const old = map.get(uuid);
    if (!old) return undefined;
    map.delete(uuid);
    this.raw[table].delete(uuid);
    this.index(table, old, undefined);
    return { table, uuid, old } as RowChange;
  }

  private index<T extends TableName>(table: T, oldRow: TableRows[T] | undefined, newRow: TableRows[T] | undefined): void {
    switch (table) {
      case 'Bridge': {
        const [o, n] = [oldRow as BridgeRow | undefined, newRow as BridgeRow | undefined];
        reindexNamed(this.bridgeByName, this.bridgeOfPort, o, n, o?.ports, n?.ports);
        break;
      }
      case 'Port': {
        const [o, n] = [oldRow as PortRow | undefined, newRow as PortRow | undefined];
        reindexNamed(this.portByName, this.portOfIface, o, n, o?.interfaces, n?.interfaces);
        break;
      }
      case 'Interface':
        reindexName(this.ifaceByName, oldRow as InterfaceRow | undefined, newRow as InterfaceRow | undefined);
        break;
      default:
        break;
    }
  }
}

/** A named parent row (Bridge, Port): its name index and the child→parent index of its uuid-set column. */
function reindexNamed(
  byName: Map<string, string>,
  parentOf: Map<string, string>,
  o: { uuid: string; name: string } | undefined,
  n: { uuid: string; name: string } | undefined,
  oldKids: readonly string[] | undefined,
  newKids: readonly string[] | undefined,
): void {
  reindexName(byName, o, n);
  reindexChildren(parentOf, o?.uuid ?? n!.uuid, oldKids, newKids);
}

function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error(String(r));
}

function reindexName(index: Map<string, string>, o: { uuid: string; name: string } | undefined, n: { uuid: string; name: string } | undefined): void {
  if (o && (!n || n.name !== o.name) && index.get(o.name) === o.uuid) index.delete(o.name);
  if (n) index.set(n.name, n.uuid);
}

/** Maintains child→parent for a parent's uuid-set column; only the difference is touched. */
function reindexChildren(index: Map<string, string>, parent: string, oldKids: readonly string[] | undefined, newKids: readonly string[] | undefined): void {
  const olds = oldKids ?? [];
  const news = newKids ?? [];
  if (olds.length === 0) {
    for (const k of news) index.set(k, parent);
    return;
  }
  if (isSorted(olds) && isSorted(news)) {
    // ovsdb-server sends sets sorted: a merge walk finds the difference without hashing
    // thousands of uuids on every Bridge.ports change.
    let i = 0;
    let j = 0;
    while (i < olds.length || j < news.length) {
      if (j >= news.length || (i < olds.length && olds[i] < news[j])) {
        if (index.get(olds[i]) === parent) index.delete(olds[i]);
        i++;
      } else if (i >= olds.length || news[j] < olds[i]) {
        index.set(news[j], parent);
        j++;
      } else {
        i++;
        j++;
      }
    }
    return;
  }
  const oldSet = new Set(olds);
  let kept = 0;
  for (const k of news) {
    if (oldSet.has(k)) kept++;
    else index.set(k, parent);
  }
  if (kept === olds.length) return; // nothing removed: the common "port added" case
  const newSet = new Set(news);
  for (const k of olds) {
    if (!newSet.has(k) && index.get(k) === parent) index.delete(k);
  }
}

function isSorted(a: readonly string[]): boolean {
  for (let i = 1; i < a.length; i++) if (a[i - 1] >= a[i]) return false;
  return true;
}
