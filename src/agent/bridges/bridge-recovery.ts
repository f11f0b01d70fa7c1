// Bridges that change under the running agent. The OVSDB replica sees every Bridge row, so a
// managed bridge deleted, re-created (a new row) or given another datapath id, and a database
// created anew (a new Open_vSwitch row: a containerised OVS restarted without its volume), are
// noticed as they happen rather than by a canary that only reads br-int:
//   - the switch handle of a changed bridge is retired at once, so nothing waits of_connect_timeout
//     for a datapath that is gone;
//   - port passes pause until the bridges are set up again (sync.bridgesReady);
//   - the bridges are set up again under the pass lock as soon as they are all there, then every
//     port and network is rewired. A change arriving meanwhile cancels the waiting setup (its
//     handles are retired) and queues another.
// br-int and br-tun deleted by hand are waited for (one WARNING each), not re-created: the agent
// would otherwise fight an operator's del-br, and race their add-br. Only in a database created
// anew does the agent create them, as at start-up. Provider bridges are never created (as the
// reference); one missing is left out with a warning until it is added.
import type { OpenFlowSwitch } from '../../openflow/backend.js';
import { dpidHex } from '../../openflow/native/controller.js';
import { BridgeMissingError } from '../../ovsdb/ops.js';
import type { OvsdbReplica, RowChange } from '../../ovsdb/replica.js';
import { Backoff, RetryTimer } from '../../util/backoff.js';
import { getLogger } from '../../util/log.js';
import type { BridgeIdentity, SetupMode } from './bridge-setup.js';

const LOG = getLogger('agent.bridges');

export interface ManagedBridge {
  name: string;
  /** What it is to the agent, for messages ("integration bridge", ...). */
  role: string;
  /** A bridge_mappings bridge: never created by the agent. */
  provider: boolean;
}

export interface BridgeRecoveryDeps {
  replica: OvsdbReplica;
  managed: readonly ManagedBridge[];
  /** Each bridge's row and datapath id as last set up. */
  identities: ReadonlyMap<string, BridgeIdentity>;
  /** The switch handle the agent uses for a bridge now, if it has one. */
  switchOf(name: string): OpenFlowSwitch | undefined;
  /** Sets every bridge up again and rewires everything; called under the pass lock. */
  resetup(mode: SetupMode): Promise<void>;
  withLock<T>(fn: () => Promise<T>): Promise<T>;
  stopping(): boolean;
  /** false while a managed bridge is not as set up: passes wait; true again once it is. */
  setReady(ready: boolean): void;
}

/** A bridge row as this module compares them: which row, which datapath. */
interface Seen {
  uuid: string | undefined;
  datapathId: string | undefined;
}

const hexId = (id: string): string => dpidHex(BigInt(`0x${id}`));

export class BridgeRecovery {
  /** The bridges as last seen in the replica, so one change is acted on once. */
  private readonly seen = new Map<string, Seen>();
  private seenRoot: string | undefined;
  /** The Open_vSwitch row the bridges were last set up in. */
  private setUpRoot: string | undefined;
  private queued = false;
  /** The set-up in progress: aborted when a bridge it works on changes again. */
  private inFlight: AbortController | undefined;
  private readonly retryTimer = new RetryTimer(() => this.schedule());
  private readonly retryBackoff = new Backoff(1000, 30_000);
  /** Missing bridges already warned about (once per disappearance). */
  private readonly warned = new Set<string>();

  constructor(private readonly deps: BridgeRecoveryDeps) {}

  /** The bridges are set up (start-up done): what is in the replica now is the reference. */
  started(): void {
    this.setUpRoot = this.deps.replica.openVSwitch()?.uuid;
    this.seenRoot = this.setUpRoot;
    for (const b of this.deps.managed) this.seen.set(b.name, this.current(b.name));
  }

  stop(): void {
    this.retryTimer.cancel();
    this.inFlight?.abort(new Error('the agent is stopping'));
  }

  /** A replica update: act on Bridge rows of managed bridges and on the Open_vSwitch row. */
  onUpdate(changes: readonly RowChange[]): void {
    if (this.deps.stopping() || !changes.some((c) => c.table === 'Bridge' || c.table === 'Open_vSwitch')) return;
    const events: string[] = [];
    /** A change that undoes what a set-up in progress works on (not a bridge appearing: that may be its own doing). */
    let disruptive = false;
    const root = this.deps.replica.openVSwitch()?.uuid;
    if (root !== this.seenRoot) {
      disruptive = true;
      events.push(root ? 'the Open vSwitch database was created anew (new Open_vSwitch row)' : 'the Open vSwitch database has no Open_vSwitch row');
      this.seenRoot = root;
    }
    for (const b of this.deps.managed) {
      const prev = this.seen.get(b.name) ?? { uuid: undefined, datapathId: undefined };
      const cur = this.current(b.name);
      let event: string | undefined;
      if (prev.uuid !== cur.uuid) {
        event = cur.uuid === undefined ? 'was deleted' : prev.uuid === undefined ? 'was added' : 'was re-created (new Bridge row)';
      } else if (prev.datapathId && cur.datapathId && prev.datapathId !== cur.datapathId) {
        event = `changed datapath id from ${hexId(prev.datapathId)} to ${hexId(cur.datapathId)}`;
      }
      // A datapath id not filled in yet is no change; keep the one known.
      this.seen.set(b.name, { uuid: cur.uuid, datapathId: cur.datapathId ?? (prev.uuid === cur.uuid ? prev.datapathId : undefined) });
      if (!event) continue;
      if (prev.uuid !== undefined) disruptive = true;
      events.push(`${b.name} (${b.role}) ${event}`);
      if (!this.matchesSetup(b.name)) this.deps.switchOf(b.name)?.retire(`bridge ${b.name} ${event}`);
    }
    if (disruptive) this.inFlight?.abort(new Error(`interrupted: ${events.join('; ')}`));
    if (events.length === 0 || this.upToDate()) return;
    LOG.info(`${events.join('; ')}: port passes paused; the bridges are set up again as soon as they are all there`);
    this.deps.setReady(false);
    this.schedule();
  }

  private current(name: string): Seen {
    const row = this.deps.replica.bridge(name);
    return { uuid: row?.uuid, datapathId: row?.datapathId };
  }

  /** The bridge's row and datapath are those it was set up on (or it is a provider bridge left out and still missing). */
  private matchesSetup(name: string): boolean {
    const row = this.deps.replica.bridge(name);
    const id = this.deps.identities.get(name);
    if (!row || !id) return !row && !id;
    return row.uuid === id.uuid && (!row.datapathId || BigInt(`0x${row.datapathId}`) === id.datapathId);
  }

  private upToDate(): boolean {
    const root = this.deps.replica.openVSwitch()?.uuid;
    return root !== undefined && root === this.setUpRoot && this.deps.managed.every((b) => this.matchesSetup(b.name));
  }

  private schedule(): void {
    if (this.queued) return;
    this.queued = true;
    this.retryTimer.cancel();
    void this.deps.withLock(() => this.run()).catch((e: unknown) => LOG.error('setting the bridges up again', e));
  }

  private async run(): Promise<void> {
    this.queued = false;
    if (this.deps.stopping()) return;
    const root = this.deps.replica.openVSwitch()?.uuid;
    if (root === undefined) {
      this.warnOnce('<root>', 'the Open vSwitch database has no Open_vSwitch row (created anew and not initialised yet?): waiting for `ovs-vsctl init`; the agent creates its bridges then');
      return;
    }
    if (this.upToDate()) {
      this.deps.setReady(true);
      return;
    }
    const newDatabase = root !== this.setUpRoot;
    if (!newDatabase) {
      const missing = this.deps.managed.filter((b) => !b.provider && !this.deps.replica.bridge(b.name));
      for (const b of missing) {
        this.warnOnce(b.name, `${b.name} (${b.role}) was deleted while the agent ran: its ports are unwired; waiting for it to be added again (ovs-vsctl add-br ${b.name}), then the agent sets it up`);
      }
      if (missing.length > 0) return;
    }
    const t0 = performance.now();
    const inFlight = new AbortController();
    this.inFlight = inFlight;
    try {
      await this.deps.resetup({ createMissing: newDatabase, providerMissingOk: true, signal: inFlight.signal });
    } catch (e) {
      if (this.queued || this.deps.stopping()) {
        LOG.info(`setting the bridges up again was interrupted by a newer change (${e instanceof Error ? e.message : String(e)}); starting over`);
        return;
      }
      if (e instanceof BridgeMissingError) {
        this.warnOnce(e.bridge, `${e.bridge} was deleted while the agent set it up: waiting for it to be added again (ovs-vsctl add-br ${e.bridge})`);
        return;
      }
      const delay = this.retryBackoff.next();
      LOG.warning(`setting the bridges up again failed; retrying in ${delay} ms`, e);
      this.retryTimer.arm(delay);
      return;
    } finally {
      this.inFlight = undefined;
    }
    this.setUpRoot = root;
    this.warned.clear();
    this.retryBackoff.reset();
    const ids = this.deps.managed
      .map((b) => {
        const id = this.deps.identities.get(b.name);
        return id ? `${b.name}=${dpidHex(id.datapathId)}` : `${b.name} missing`;
      })
      .join(', ');
    LOG.info(`bridges set up again${newDatabase ? ' in the new database' : ''} in ${(performance.now() - t0).toFixed(0)} ms (${ids}); rewiring every port and network`);
    this.deps.setReady(true);
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    LOG.warning(message);
  }
}
