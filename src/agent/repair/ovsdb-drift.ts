// What the agent wrote to OVSDB stays true. The agent remembers what it set on each port (tag,
// other_config, vlan_mode/trunks cleared) and what bridge set-up made of its bridges (fail_mode,
// protocols, controller) and patch ports; when the replica shows something else changed one of
// these, a repair run (under the pass lock, like a pass) writes it back and logs one WARNING per
// column with what it found and what it set. Our own writes never look like drift: what we wrote
// is what we expect. Repairs of one thing that keep coming back are spaced out (RepairBackoff).
// Deleted or re-created bridges and a wiped database are not drift: those are left to bridge
// set-up (no repair runs for a bridge row that is missing).
import type { PortSettings } from '../../ovsdb/ops.js';
import type { PortRow, RowChange } from '../../ovsdb/replica.js';
import type { AgentBridgeSpec, PatchPortSpec } from '../bridges/bridge-setup.js';
import type { AgentContext } from '../context.js';
import { RepairBackoff } from './repair-backoff.js';
import { RetryTimer } from '../../util/backoff.js';
import { getLogger } from '../../util/log.js';

const LOG = getLogger('agent.drift');

/** What the agent set on one Port row. */
export interface PortExpectation {
  name: string;
  /** number: this tag; null: no tag; undefined: the agent does not own the tag. */
  tag: number | null | undefined;
  otherConfig: Map<string, string>;
  /** vlan_mode empty and trunks empty (the agent cleared them). */
  vlanModeCleared: boolean;
}

/** The bridge side the repair needs: what set-up made, and how to make it again. */
export interface BridgeRepairHooks {
  expectedBridges(): AgentBridgeSpec[];
  expectedPatchPorts(): PatchPortSpec[];
  /** The bridge row is the one set up (not deleted, nor re-created since: those are bridge recovery's). */
  bridgeAsSetUp(name: string): boolean;
  repairBridge(name: string): Promise<void>;
  /** Resolves with the patch port's ofport after the repair. */
  repairPatchPort(p: PatchPortSpec): Promise<number>;
  /** A re-created patch port came back with another ofport: the bridges' flows must be redone. */
  patchOfportChanged(p: PatchPortSpec, ofport: number): Promise<void>;
}

export interface DriftCounters {
  /** Columns (or patch ports) put back since start. */
  repairs: number;
  /** Repairs that came soon after the previous repair of the same thing (and were spaced out). */
  flaps: number;
}

const show = (v: string | number | undefined | null): string => (v === undefined || v === null ? '[]' : String(v));
const showMap = (keys: Iterable<string>, m: ReadonlyMap<string, string>): string =>
  `{${[...keys].map((k) => `${k}=${m.has(k) ? JSON.stringify(m.get(k)) : '<absent>'}`).join(', ')}}`;

export class OvsdbDriftRepair {
  /** By Port row uuid: a port deleted and plugged again under the same name is a new row, owed nothing. */
  private readonly ports = new Map<string, PortExpectation>();
  private readonly dirtyPorts = new Set<string>();
  private bridgesDirty = false;
  private queued = false;
  private readonly retryTimer = new RetryTimer(() => this.queue());
  private readonly backoff = new RepairBackoff();
  private repairCount = 0;
  private bridgeHooks: BridgeRepairHooks | undefined;

  constructor(private readonly ctx: AgentContext) {}

  /** Counters for operators (metrics): a plain getter. */
  get counters(): DriftCounters {
    return { repairs: this.repairCount, flaps: this.backoff.flaps };
  }

  /** Bridges are set up: from now on their columns and patch ports are watched too. */
  watchBridges(hooks: BridgeRepairHooks): void {
    this.bridgeHooks = hooks;
    this.bridgesDirty = true;
    this.queue();
  }

  /**
   * Write port settings and remember them as owned. `replace`: the settings are everything the
   * agent wants on those ports (a pass); `merge`: they add to what it wanted (a segmentation
   * change). `alreadyTrue` are settings the pass did not write because OVSDB has them already.
   * Returns the ports that do not exist.
   */
  async writePorts(settings: PortSettings[], mode: 'replace' | 'merge', alreadyTrue: PortSettings[] = []): Promise<string[]> {
    for (const s of [...settings, ...alreadyTrue]) this.expect(s, mode);
    return settings.length ? this.ctx.ops.setPortsTagAndOtherConfig(settings) : [];
  }

  private expect(s: PortSettings, mode: 'replace' | 'merge'): void {
    const row = this.ctx.ops.replica.port(s.port);
    if (!row) return;
    const prev = mode === 'merge' ? this.ports.get(row.uuid) : undefined;
    const e: PortExpectation = prev ?? { name: s.port, tag: undefined, otherConfig: new Map(), vlanModeCleared: false };
    if (s.tag !== undefined) e.tag = s.tag;
    for (const [k, v] of Object.entries(s.otherConfig ?? {})) e.otherConfig.set(k, v);
    if (s.clearVlanModeAndTrunks) e.vlanModeCleared = true;
    this.ports.set(row.uuid, e);
  }

  /** Replica changes: owned ports changed, bridges or patch ports touched. */
  onReplicaUpdate(changes: readonly RowChange[]): void {
    let touched = false;
    for (const c of changes) {
      switch (c.table) {
        case 'Port':
          if (!c.new) {
            this.ports.delete(c.uuid);
            this.dirtyPorts.delete(c.uuid);
            this.bridgesDirty = true;
          } else if (!c.old) {
            this.bridgesDirty = true;
          } else if (this.ports.has(c.uuid)) {
            this.dirtyPorts.add(c.uuid);
          } else continue;
          touched = true;
          break;
        case 'Interface':
          if (c.old?.type !== 'patch' && c.new?.type !== 'patch') continue;
          this.bridgesDirty = true;
          touched = true;
          break;
        case 'Bridge':
        case 'Controller':
          this.bridgesDirty = true;
          touched = true;
          break;
        default:
          break;
      }
    }
    if (touched) this.queue();
  }

  /** Stop: no repair starts any more. */
  stop(): void {
    this.retryTimer.cancel();
  }

  private queue(delayMs = 0): void {
    if (this.ctx.sync.stopping) return;
    if (delayMs > 0) {
      this.retryTimer.arm(delayMs);
      return;
    }
    if (this.queued) return;
    this.queued = true;
    // Under the pass lock: a pass's own writes land before we compare, and repairs never race it.
    setImmediate(() => {
      void this.ctx.scheduler
        .withLock(() => {
          this.queued = false;
          return this.run();
        })
        .catch((e: unknown) => {
          LOG.error('putting back what changed under the agent failed; trying again', e);
          this.bridgesDirty = true;
          this.queue(5000);
        });
    });
  }

  private async run(): Promise<void> {
    if (this.ctx.sync.stopping) return;
    let laterMs = 0;
    const later = (ms: number): void => {
      laterMs = laterMs === 0 ? ms : Math.min(laterMs, ms);
    };
    await this.repairPorts(later);
    if (this.bridgesDirty && this.bridgeHooks) {
      this.bridgesDirty = false;
      await this.repairBridges(this.bridgeHooks, later);
    }
    if (laterMs > 0) this.queue(laterMs);
  }

  // ---- ports

  private async repairPorts(later: (ms: number) => void): Promise<void> {
    if (this.dirtyPorts.size === 0) return;
    const uuids = [...this.dirtyPorts];
    this.dirtyPorts.clear();
    const settings: PortSettings[] = [];
    const bridge = this.ctx.settings.integrationBridge;
    for (const uuid of uuids) {
      const e = this.ports.get(uuid);
      const row = this.ctx.ops.replica.row('Port', uuid);
      if (!e || !row) continue;
      const drift = portDrift(e, row);
      if (drift.length === 0) continue;
      // The row's name now: a port renamed since the agent wrote it is still the same row.
      const fix: PortSettings = { port: row.name };
      for (const d of drift) {
        // Back-off per column: a tool fighting over the tag does not delay other_config's repair.
        const flapNote = this.admitRepair(`port:${uuid}:${d.column}`, later, () => this.dirtyPorts.add(uuid));
        if (flapNote === undefined) continue;
        if (d.column === 'tag') fix.tag = e.tag;
        if (d.column === 'other_config') fix.otherConfig = Object.fromEntries(e.otherConfig);
        if (d.column === 'vlan_mode/trunks') fix.clearVlanModeAndTrunks = true;
        this.repairCount++;
        LOG.warning(`${bridge} port ${row.name}: ${d.column} changed by something other than the agent: found ${d.found}, set back to ${d.want}${flapNote}`);
      }
      if (Object.keys(fix).length > 1) settings.push(fix);
    }
    if (settings.length) await this.ctx.ops.setPortsTagAndOtherConfig(settings);
  }

  /**
   * The back-off's word on repairing `key` now. Undefined: not yet (`markDirty` keeps it pending and
   * `later` brings the repair back when the wait is over). Otherwise the repair is recorded and the
   * answer is what its WARNING adds: nothing, or that it flapped and how long the next repair waits.
   */
  private admitRepair(key: string, later: (ms: number) => void, markDirty: () => void): string | undefined {
    const wait = this.backoff.waitMs(key);
    if (wait > 0) {
      markDirty();
      later(wait);
      return undefined;
    }
    if (!this.backoff.repaired(key)) return '';
    return ` (changed again soon after the last repair: its next repair waits ${this.backoff.waitMs(key)} ms)`;
  }

  // ---- bridges and patch ports

  private async repairBridges(hooks: BridgeRepairHooks, later: (ms: number) => void): Promise<void> {
    const replica = this.ctx.ops.replica;
    for (const spec of hooks.expectedBridges()) {
      const b = replica.bridge(spec.name);
      if (!b || !hooks.bridgeAsSetUp(spec.name)) continue; // deleted or re-created: bridge recovery's business
      const drift: Array<{ column: string; text: string }> = [];
      if (b.failMode !== spec.failMode) drift.push({ column: 'fail_mode', text: `found ${show(b.failMode)}, set back to ${spec.failMode}` });
      const missing = spec.protocols.filter((p) => !b.protocols.includes(p));
      if (missing.length) drift.push({ column: 'protocols', text: `found [${b.protocols.join(',')}], added ${missing.join(',')}` });
      const targets = replica.controllersOfBridge(b).map((c) => c.target);
      if (targets.length !== b.controller.length || !sameSet(targets, spec.controllerTargets)) {
        drift.push({ column: 'controller', text: `found [${targets.join(',')}], set back to [${spec.controllerTargets.join(',')}]` });
      }
      if (drift.length === 0) continue;
      const flapNote = this.admitRepair(`bridge:${spec.name}`, later, () => (this.bridgesDirty = true));
      if (flapNote === undefined) continue;
      for (const d of drift) {
        this.repairCount++;
        LOG.warning(`bridge ${spec.name}: ${d.column} changed by something other than the agent: ${d.text}${flapNote}`);
      }
      await hooks.repairBridge(spec.name);
    }
    for (const p of hooks.expectedPatchPorts()) {
      if (!replica.bridge(p.bridge) || !hooks.bridgeAsSetUp(p.bridge)) continue; // bridge recovery's business
      const drift = this.patchDrift(p);
      if (drift === undefined) continue;
      const flapNote = this.admitRepair(`patch:${p.name}`, later, () => (this.bridgesDirty = true));
      if (flapNote === undefined) continue;
      this.repairCount++;
      LOG.warning(`bridge ${p.bridge} patch port ${p.name}: ${drift}; put back with options:peer=${p.peer}${flapNote}`);
      const ofport = await hooks.repairPatchPort(p);
      if (p.ofport !== undefined && ofport !== p.ofport) {
        LOG.warning(`bridge ${p.bridge} patch port ${p.name}: re-created with ofport ${ofport} (was ${p.ofport}): setting the bridges' flows up again`);
        await hooks.patchOfportChanged(p, ofport);
      }
    }
  }

  /** What is wrong with a patch port, or undefined. */
  private patchDrift(p: PatchPortSpec): string | undefined {
    const replica = this.ctx.ops.replica;
    const port = replica.port(p.name);
    if (!port) return 'deleted by something other than the agent';
    const owner = replica.bridgeOfPortRow(port)?.name;
    if (owner !== p.bridge) return `found on bridge ${owner ?? '(none)'}`;
    const iface = replica.interfacesOfPort(port).find((i) => i.name === p.name);
    if (!iface) return 'its interface was deleted by something other than the agent';
    if (iface.type !== 'patch') return `type changed by something other than the agent: found ${JSON.stringify(iface.type)}, set back to "patch"`;
    const peer = iface.options.get('peer');
    if (peer !== p.peer) return `options:peer changed by something other than the agent: found ${show(peer)}`;
    return undefined;
  }
}

interface ColumnDrift {
  column: 'tag' | 'other_config' | 'vlan_mode/trunks';
  found: string;
  want: string;
}

/** The columns of `row` that differ from what the agent set. */
export function portDrift(e: PortExpectation, row: PortRow): ColumnDrift[] {
  const out: ColumnDrift[] = [];
  if (e.tag !== undefined && (row.tag ?? null) !== e.tag) out.push({ column: 'tag', found: show(row.tag), want: show(e.tag) });
  const changed = [...e.otherConfig].filter(([k, v]) => row.otherConfig.get(k) !== v).map(([k]) => k);
  if (changed.length) {
    out.push({ column: 'other_config', found: showMap(changed, row.otherConfig), want: showMap(changed, e.otherConfig) });
  }
  if (e.vlanModeCleared && (row.vlanMode !== undefined || row.trunks.length > 0)) {
    out.push({ column: 'vlan_mode/trunks', found: `vlan_mode=${show(row.vlanMode)} trunks=[${row.trunks.join(',')}]`, want: 'vlan_mode=[] trunks=[]' });
  }
  return out;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}
