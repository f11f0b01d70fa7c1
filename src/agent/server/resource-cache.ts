// The agent's cache of neutron objects (rpc.md §5-6). Filled by bulk_pull on a miss and kept current
// by the server's push fanouts on the neutron-vo-* topics; "port updated", "port deleted" and
// "network updated" are derived from it, as the Zed agent does, instead of legacy notifications.
import { EventEmitter } from 'node:events';
import { isJsonObject, type JsonObject, type JsonValue } from '../../util/json.js';
import { getLogger } from '../../util/log.js';
import { fromPrimitive } from '../../rpc/ovo.js';

const LOG = getLogger('agent.resource_cache');

// The project's JSON type under the names src/firewall and the tests still import from here.
export type { JsonValue as Json, JsonObject as JsonObj };
export { isJsonObject as isObj, fromPrimitive };

/** The object types the agent caches, with the versions it asks for and subscribes to. */
export const CACHED_RESOURCE_VERSIONS = {
  Port: '1.7',
  Network: '1.1',
  Subnet: '1.1',
  SecurityGroup: '1.5',
  SecurityGroupRule: '1.2',
  AddressGroup: '1.2',
} as const;
/**
 * Objects only an extension reads: cached, and their push topic subscribed, only when that
 * extension is loaded (the reference's extensions subscribe to them themselves).
 */
export const EXTENSION_RESOURCE_VERSIONS = {
  QosPolicy: { version: '1.10', extension: 'qos' },
  LocalIPAssociation: { version: '1.0', extension: 'local_ip' },
  Log: { version: '1.0', extension: 'log' },
} as const;
/**
 * Objects an extension only hears of as they are pushed (not cached: SubPort has no id of its own),
 * their push topic subscribed when that extension is loaded; handed on as 'pushed' events.
 */
export const EXTENSION_PUSH_TOPICS = {
  SubPort: { version: '1.0', extension: 'trunk' },
} as const;
export type CachedType = keyof typeof CACHED_RESOURCE_VERSIONS | keyof typeof EXTENSION_RESOURCE_VERSIONS;

/**
 * Types whose id is not a UUID minted per object but made of what the object binds, so the same id
 * comes back when the object is made again: a LocalIPAssociation's is `<local_ip_id>_<fixed_port_id>`,
 * and associating the same Local IP with the same port after a dissociation brings it back. The
 * reference never caches these (its local_ip extension keeps the pushed associations itself and
 * takes every CREATED push), so for them a `created` push lifts the id's deletion; an `updated`
 * push or a pull reply still cannot bring a deleted one back (they may be older than the delete).
 */
const REUSABLE_IDS: ReadonlySet<CachedType> = new Set<CachedType>(['LocalIPAssociation']);

/** The version of each type the cache asks for. */
const VERSIONS: Record<CachedType, string> = {
  ...CACHED_RESOURCE_VERSIONS,
  ...(Object.fromEntries(Object.entries(EXTENSION_RESOURCE_VERSIONS).map(([t, e]) => [t, e.version])) as Record<keyof typeof EXTENSION_RESOURCE_VERSIONS, string>),
};

/** The push topics to subscribe to, as type → version, with these extensions loaded. */
export function subscribedResourceVersions(extensions: readonly string[]): Array<[string, string]> {
  const ext = [...Object.entries(EXTENSION_RESOURCE_VERSIONS), ...Object.entries(EXTENSION_PUSH_TOPICS)]
    .filter(([, e]) => extensions.includes(e.extension))
    .map(([t, e]): [string, string] => [t, e.version]);
  return [...(Object.entries(CACHED_RESOURCE_VERSIONS) as Array<[string, string]>), ...ext];
}

/** What the agent reports in resource_versions (the reference's list, so the server pushes to all of them). */
export const RESOURCE_VERSIONS: Record<string, string> = {
  QosPolicy: '1.10',
  Trunk: '1.1',
  SubPort: '1.0',
  Port: '1.7',
  Subnet: '1.1',
  Network: '1.1',
  SecurityGroup: '1.5',
  SecurityGroupRule: '1.2',
  Log: '1.0',
  PortForwarding: '1.3',
  ConntrackHelper: '1.0',
  AddressGroup: '1.2',
  LocalIPAssociation: '1.0',
  NDPProxy: '1.0',
  Agent: '1.1',
};


export interface ResourceCacheEvents {
  'port-updated': [id: string, changed: string[]];
  'port-deleted': [id: string];
  'network-updated': [id: string, changed: string[]];
  /** Any cached object changed (not raised for an object first seen through a pull). */
  'object-updated': [type: CachedType, id: string, old: JsonObject | undefined, now: JsonObject, changed: string[]];
  /** Objects of a type pushed but not cached (EXTENSION_PUSH_TOPICS), as primitives, per push. */
  pushed: [type: string, objects: JsonObject[], eventType: string];
  /** Any object deleted by a push (or a rule dropped with its security group); `old` if it was cached. */
  'object-deleted': [type: CachedType, id: string, old: JsonObject | undefined];
}

/** Values of one field to look objects up by, as bulk_pull's filter_kwargs (multiple values are OR). */
export type FieldQuery = { field: string; values: readonly string[] };

/** Pull objects from the server: the bulk_pull RPC. */
export type BulkPull = (type: CachedType, version: string, filter: JsonObject) => Promise<JsonValue>;

/** Ids per bulk_pull: a Port primitive is 2-3 KB, so a reply stays well under a megabyte. */
export const PULL_BATCH = 200;

class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (v: T) => void;
  reject!: (e: Error) => void;
  constructor() {
    this.promise = new Promise<T>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
  }
}

const IGNORED_FOR_CHANGE = new Set(['revision_number', 'updated_at']);
/**
 * A Port whose only change is its status (DOWN → ACTIVE after we reported it up) needs no
 * rewiring; the reference processes it once more, which doubles the work of a big plug storm.
 */
const PORT_FIELDS_NOT_WIRED = new Set(['status']);

export class ResourceCache extends EventEmitter<ResourceCacheEvents> {
  private readonly objects = new Map<CachedType, Map<string, JsonObject>>();
  private readonly deleted = new Map<CachedType, Set<string>>();

  constructor(private readonly pull: BulkPull) {
    super();
    for (const t of Object.keys(VERSIONS) as CachedType[]) {
      this.misses.set(t, new Map());
      this.objects.set(t, new Map());
      this.deleted.set(t, new Set());
    }
  }

  /** How many objects of each type are cached. */
  counts(): Record<CachedType, number> {
    return Object.fromEntries([...this.objects].map(([t, m]) => [t, m.size])) as Record<CachedType, number>;
  }

  getCached(type: CachedType, id: string): JsonObject | undefined {
    return this.objects.get(type)!.get(id);
  }

  /**
   * The object, pulled from the server on a miss. Undefined if the server does not know it.
   * Misses of the same turn go out together, PULL_BATCH ids per bulk_pull: after a restart the
   * cache is empty and 500 ports cost 5 calls instead of 500 (8 s -> well under 1 s here, the
   * server's single RPC worker answering one call after the other). Concurrent misses of one id
   * share its pull.
   */
  get(type: CachedType, id: string): Promise<JsonObject | undefined> {
    const hit = this.getCached(type, id);
    if (hit || this.deleted.get(type)!.has(id)) return Promise.resolve(hit);
    let waiting = this.misses.get(type)!.get(id);
    if (!waiting) {
      waiting = new Deferred<JsonObject | undefined>();
      this.misses.get(type)!.set(id, waiting);
      if (!this.flushQueued) {
        this.flushQueued = true;
        setImmediate(() => this.flushMisses());
      }
    }
    return waiting.promise;
  }

  private readonly misses = new Map<CachedType, Map<string, Deferred<JsonObject | undefined>>>();
  private flushQueued = false;

  private flushMisses(): void {
    this.flushQueued = false;
    for (const [type, waiting] of this.misses) {
      if (waiting.size === 0) continue;
      const all = [...waiting];
      waiting.clear();
      for (let i = 0; i < all.length; i += PULL_BATCH) void this.pullBatch(type, all.slice(i, i + PULL_BATCH));
    }
  }

  private async pullBatch(type: CachedType, batch: [string, Deferred<JsonObject | undefined>][]): Promise<void> {
    const ids = batch.map(([id]) => id);
    try {
      const result = await this.pull(type, VERSIONS[type], { id: ids });
      if (!Array.isArray(result)) throw new Error(`expected a list, got ${typeof result}`);
      for (const p of result) this.record(type, p, 'pull');
      for (const [id, d] of batch) d.resolve(this.getCached(type, id));
    } catch (e) {
      const err = new Error(`bulk_pull of ${ids.length} ${type}${ids.length > 1 ? 's' : ''} (${ids[0]}${ids.length > 1 ? ', ...' : ''}): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      for (const [, d] of batch) d.reject(err);
    }
  }

  /** A `push(resource_list, event_type)` from the server. Bad entries are logged and skipped. */
  onPush(resourceList: JsonValue, eventType: string): void {
    if (!Array.isArray(resourceList)) {
      LOG.warning(`push: resource_list is not a list (${typeof resourceList}); dropped`);
      return;
    }
    const uncached = new Map<string, JsonObject[]>();
    for (const p of resourceList) {
      if (!isJsonObject(p) || typeof p['versioned_object.name'] !== 'string') {
        LOG.warning('push: entry is not a versioned object primitive; skipped');
        continue;
      }
      const type = p['versioned_object.name'] as string;
      if (!(type in VERSIONS)) {
        if (type in EXTENSION_PUSH_TOPICS) uncached.set(type, [...(uncached.get(type) ?? []), p]);
        continue;
      }
      if (eventType === 'deleted') this.remove(type as CachedType, p);
      else if (eventType === 'updated' || eventType === 'created') this.record(type as CachedType, p, eventType === 'created' ? 'created' : 'push');
      else LOG.warning(`push: unknown event_type '${eventType}' for ${type}; skipped`);
    }
    for (const [type, objects] of uncached) this.emit('pushed', type, objects, eventType);
  }

  private remove(type: CachedType, primitive: JsonObject): void {
    const data = fromPrimitive(primitive);
    const id = isJsonObject(data) ? data['id'] : undefined;
    if (typeof id !== 'string') {
      LOG.warning(`push deleted ${type}: no id; skipped`);
      return;
    }
    this.removeId(type, id);
  }

  private removeId(type: CachedType, id: string): void {
    this.deleted.get(type)!.add(id);
    const old = this.objects.get(type)!.get(id);
    this.objects.get(type)!.delete(id);
    if (type === 'Port') this.emit('port-deleted', id);
    // The server deletes a whole group without a push per rule: its cached rules go with it, each
    // as a rule deletion, as the reference's shim emulates.
    if (type === 'SecurityGroup') {
      const rules = [...this.objects.get('SecurityGroupRule')!].filter(([, r]) => r['security_group_id'] === id);
      for (const [rid] of rules) this.removeId('SecurityGroupRule', rid);
    }
    this.emit('object-deleted', type, id, old);
  }

  private readonly satisfiedQueries = new Set<string>();
  private readonly queriesInFlight = new Map<string, Promise<void>>();

  /**
   * Cached objects whose `field` holds one of `values` (a list field matches if it contains one).
   * Each (type, field, value) is asked of the server once per process, by bulk_pull with that
   * filter; afterwards pushes keep the answer current, as the reference's RemoteResourceCache does.
   * Rejects (naming type, filter and cause) if a needed bulk_pull fails; a later call asks again.
   */
  async query(type: CachedType, q: FieldQuery): Promise<JsonObject[]> {
    const wanted = [...new Set(q.values)];
    const key = (v: string) => JSON.stringify([type, q.field, v]);
    const waits: Promise<void>[] = [];
    const toPull: string[] = [];
    for (const v of wanted) {
      if (this.satisfiedQueries.has(key(v))) continue;
      const inFlight = this.queriesInFlight.get(key(v));
      if (inFlight) waits.push(inFlight);
      else toPull.push(v);
    }
    for (let i = 0; i < toPull.length; i += PULL_BATCH) {
      const batch = toPull.slice(i, i + PULL_BATCH);
      const pulling = this.pullQuery(type, q.field, batch).finally(() => {
        for (const v of batch) this.queriesInFlight.delete(key(v));
      });
      for (const v of batch) this.queriesInFlight.set(key(v), pulling);
      waits.push(pulling);
    }
    await Promise.all(waits);
    return this.match(type, q.field, new Set(wanted));
  }

  private async pullQuery(type: CachedType, field: string, values: string[]): Promise<void> {
    let result: JsonValue;
    try {
      result = await this.pull(type, VERSIONS[type], { [field]: values });
      if (!Array.isArray(result)) throw new Error(`expected a list, got ${typeof result}`);
    } catch (e) {
      const what = `${values[0]}${values.length > 1 ? `, ... (${values.length})` : ''}`;
      throw new Error(`bulk_pull of ${type} with ${field} in (${what}): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    for (const p of result) this.record(type, p, 'pull');
    for (const v of values) this.satisfiedQueries.add(JSON.stringify([type, field, v]));
  }

  /** Cached objects of a type whose field equals (or, for a list, contains) one of the values. */
  match(type: CachedType, field: string, values: ReadonlySet<string>): JsonObject[] {
    const out: JsonObject[] = [];
    for (const o of this.objects.get(type)!.values()) {
      const v = o[field];
      if (Array.isArray(v) ? v.some((x) => typeof x === 'string' && values.has(x)) : typeof v === 'string' && values.has(v)) out.push(o);
    }
    return out;
  }

  /**
   * Takes an object pulled or pushed (`created` is a push of a new object). The server's deleted
   * ids are never taken again (as the reference's RemoteResourceCache: a pull reply or an update
   * that crossed the delete must not bring the object back), but for REUSABLE_IDS on creation.
   */
  private record(type: CachedType, primitive: JsonValue, how: 'pull' | 'push' | 'created'): void {
    const source = how === 'pull' ? 'pull' : 'push';
    const data = fromPrimitive(primitive);
    if (!isJsonObject(data) || typeof data['id'] !== 'string') {
      LOG.warning(`${source} ${type}: object without id; skipped`);
      return;
    }
    const id = data['id'];
    if (this.deleted.get(type)!.has(id)) {
      if (how !== 'created' || !REUSABLE_IDS.has(type)) return;
      this.deleted.get(type)!.delete(id);
    }
    const store = this.objects.get(type)!;
    const old = store.get(id);
    const oldRev = old?.['revision_number'];
    const newRev = data['revision_number'];
    if (typeof oldRev === 'number' && typeof newRev === 'number' && oldRev > newRev) return;
    store.set(id, data);
    if (type === 'SecurityGroup' && Array.isArray(data['rules'])) {
      for (const r of data['rules']) if (isJsonObject(r)) this.record('SecurityGroupRule', r, source);
    }
    // An object first seen through a pull is being wired by whoever asked for it: no "updated"
    // event (after a restart every port would otherwise be wired twice).
    if (!old && source === 'pull') return;
    const changed = changedFields(old, data);
    if (changed.length === 0) return;
    if (type === 'Port' && changed.some((f) => !PORT_FIELDS_NOT_WIRED.has(f))) this.emit('port-updated', id, changed);
    if (type === 'Network') this.emit('network-updated', id, changed);
    this.emit('object-updated', type, id, old, data, changed);
  }
}

function changedFields(old: JsonObject | undefined, now: JsonObject): string[] {
  const keys = new Set([...Object.keys(old ?? {}), ...Object.keys(now)]);
  const out: string[] = [];
  for (const k of keys) {
    if (IGNORED_FOR_CHANGE.has(k)) continue;
    if (JSON.stringify(old?.[k]) !== JSON.stringify(now[k])) out.push(k);
  }
  return out;
}
