// The periodic flow audit (`[agent] flow_audit_interval`, ours): each bridge's flows, read in one
// dump (native: one multipart FLOW_STATS request over the OpenFlow channel; ovs-ofctl: one
// `ovs-ofctl dump-flows` per bridge), against the flows the agent wants (the bridge's desired-flow
// registry). A wanted flow that is missing (deleted by hand, say) is added again; a flow with a
// cookie not the bridge's in a table the agent owns is removed, as the reference removes stale
// cookies from its bridges' tables after a full sync. Flows with the bridge's cookie the registry
// does not know (learned by br-tun's learn action) are left alone. Each repair is logged once
// with the flow. Runs under the pass lock, so no batch is half-sent while it compares.
// A flow the switch refuses to take back (a full table, say) is logged once as ERROR and tried
// again less and less often (refused-flows.ts), not re-sent and re-logged at every audit.
import type { OVSBridge } from '../../bridges/ovs-bridge.js';
import { OpenFlowError } from '../../openflow/backend.js';
import { INT, INT_BR_ALL_TABLES, PHY_BR_ALL_TABLES, TUN_BR_ALL_TABLES } from '../../bridges/tables.js';
import type { Flow, FlowMod } from '../../openflow/flow.js';
import type { FlowStats } from '../../openflow/flow.js';
import { flowKey } from '../../openflow/flow-key.js';
import { formatFlow, formatFlowModLine } from '../../openflow/text.js';
import type { AgentContext } from '../context.js';
import { RefusedFlows, type RefusedFlow } from './refused-flows.js';
import { getLogger } from '../../util/log.js';

const LOG = getLogger('agent.flow_audit');
const FULL_MASK = 0xffffffffffffffffn;
/** Beyond this many repairs of one kind in one audit of a bridge, the rest are summed up in one line. */
const MAX_LOGGED = 20;
/** A refused flow is tried again after one audit interval, then twice as long each time, up to this many intervals. */
const REFUSED_RETRY_MAX_INTERVALS = 32;

export interface FlowAuditResult {
  bridge: string;
  /** Flows in the dump. */
  dumped: number;
  /** Flows the agent wants on the bridge. */
  desired: number;
  /** Wanted flows found missing and added again. */
  readded: Flow[];
  /** Flows with a foreign cookie removed (table, cookie). */
  removed: FlowStats[];
}

export interface FlowAuditCounters {
  audits: number;
  flowsReadded: number;
  foreignFlowsRemoved: number;
  /** Wanted flows the switch refuses now (each retried with back-off). */
  flowsRefused: number;
}

/** What became of the mods an audit sent to one bridge. */
interface Applied {
  /** Missing flows the switch took. */
  readded: Flow[];
  /** Missing flows the switch refused, with its error. */
  refused: Array<{ flow: Flow; reason: string }>;
  /** Foreign-cookie deletes the switch refused (never seen; logged should it happen). */
  refusedDeletes: Array<{ mod: FlowMod; reason: string }>;
}

/** Compare one bridge's dump with its registry; returns the mods that repair it (foreign deletes first). */
export function auditFlows(br: OVSBridge, ownedTables: readonly number[], dump: readonly FlowStats[]): { result: FlowAuditResult; mods: FlowMod[] } {
  const owned = new Set(ownedTables);
  const present = new Set<string>();
  const foreign = new Map<string, FlowStats[]>();
  for (const f of dump) {
    if (br.ownsCookie(f.cookie)) {
      if (f.flow) present.add(flowKey(f.flow));
      continue;
    }
    if (!owned.has(f.table)) continue;
    const k = `${f.table}/${f.cookie}`;
    const list = foreign.get(k);
    if (list) list.push(f);
    else foreign.set(k, [f]);
  }
  const mods: FlowMod[] = [];
  const removed: FlowStats[] = [];
  for (const list of foreign.values()) {
    const { table, cookie } = list[0]!;
    mods.push({ command: 'delete', filter: { table, cookie, cookieMask: FULL_MASK } });
    removed.push(...list);
  }
  const readded: Flow[] = [];
  for (const [key, flow] of br.desired.entries()) {
    if (present.has(key)) continue;
    readded.push(flow);
    mods.push({ command: 'add', flow });
  }
  return { result: { bridge: br.name, dumped: dump.length, desired: br.desired.size, readded, removed }, mods };
}

export class FlowAudit {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly counts = { audits: 0, flowsReadded: 0, foreignFlowsRemoved: 0 };
  private readonly intervalMs: number;
  /** Wanted flows the switch refused, per bridge and flow identity, with their retry back-off. */
  readonly refusedFlows: RefusedFlows;

  /** `now`: the clock the refused flows' back-off reads (tests turn it by hand). */
  constructor(private readonly ctx: AgentContext, now: () => number = Date.now) {
    // 0 (audit off): runOnce is still callable; retries then back off from one second.
    this.intervalMs = Math.max(1, ctx.settings.flowAuditIntervalSec) * 1000;
    this.refusedFlows = new RefusedFlows(this.intervalMs, REFUSED_RETRY_MAX_INTERVALS * this.intervalMs, now);
  }

  /** Counters for operators (metrics): a plain getter. */
  get counters(): FlowAuditCounters {
    return { ...this.counts, flowsRefused: this.refusedFlows.size };
  }

  start(): void {
    const sec = this.ctx.settings.flowAuditIntervalSec;
    if (sec <= 0) {
      LOG.info('flow audit off ([agent] flow_audit_interval = 0)');
      return;
    }
    this.timer = setInterval(() => void this.runOnce(), sec * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One audit of every bridge, under the pass lock. Skipped until the previous run's flows are cleaned up. */
  async runOnce(): Promise<FlowAuditResult[]> {
    const { sync, scheduler } = this.ctx;
    // Before the first full sync the previous run's flows (another cookie) are still needed.
    if (this.running || sync.stopping || !sync.staleFlowsCleaned) return [];
    this.running = true;
    try {
      return await scheduler.withLock(() => this.auditAll());
    } catch (e) {
      LOG.warning('flow audit failed; the next one tries again', e);
      return [];
    } finally {
      this.running = false;
    }
  }

  /** Run first at every audit: what extensions keep on the switch besides flows (meters), so the flows naming it find it back. */
  beforeEach: (() => Promise<void>) | undefined;

  private async auditAll(): Promise<FlowAuditResult[]> {
    await this.beforeEach?.();
    const b = this.ctx.bridges;
    const targets: Array<[OVSBridge, readonly number[]]> = [[b.int, INT_BR_ALL_TABLES]];
    for (const p of b.phys.values()) targets.push([p.bridge, PHY_BR_ALL_TABLES]);
    if (b.tun) targets.push([b.tun, TUN_BR_ALL_TABLES]);
    this.refusedFlows.forgetOtherBridges(new Set(targets.map(([br]) => br.name)));
    const results: FlowAuditResult[] = [];
    for (const [br, tables] of targets) {
      if (this.ctx.sync.stopping) break;
      const dump = await br.ofSwitch.dumpFlows();
      // An empty canary table means ovs-vswitchd lost its flows: the restart handling re-sets up
      // everything in order (firewall first); the audit must not race it with a bulk re-add.
      if (br === b.int && !dump.some((f) => f.table === INT.CANARY_TABLE)) {
        LOG.info(`${br.name}: the canary flow is missing; leaving the repair to the OVS restart handling`);
        break;
      }
      const { result, mods } = auditFlows(br, tables, dump);
      results.push(await this.repair(br, result, mods));
    }
    this.counts.audits++;
    return results;
  }

  /**
   * Sends one bridge's repairs, leaving out the refused flows not due for another try, and logs
   * what became of them. `result.readded` is narrowed to the flows the switch took.
   */
  private async repair(br: OVSBridge, result: FlowAuditResult, mods: FlowMod[]): Promise<FlowAuditResult> {
    const refused = this.refusedFlows;
    for (const r of refused.forgetUnwanted(br.name, (key) => br.desired.get(key))) {
      LOG.info(`${br.name}: the agent no longer wants the flow the switch refused; no more tries: ${r.text}`);
    }
    const missingKeys = new Set(result.readded.map((f) => flowKey(f)));
    for (const r of refused.list(br.name)) {
      if (missingKeys.has(r.key)) continue;
      refused.settled(br.name, r.key);
      LOG.info(`${br.name}: the flow the switch refused (${r.reason}) is in place now: ${r.text}`);
    }
    const slackMs = this.intervalMs / 2;
    const toSend = mods.filter((m) => m.command !== 'add' || refused.due(br.name, flowKey(m.flow), m.flow, slackMs));
    const held = mods.length - toSend.length;
    if (held > 0) LOG.debug(`${br.name}: ${held} refused flows not tried again yet (back-off)`);
    const applied = await applyRepairs(br, toSend);
    this.counts.flowsReadded += applied.readded.length;
    this.counts.foreignFlowsRemoved += result.removed.length;
    const out: FlowAuditResult = { ...result, readded: applied.readded };
    this.report(out, applied);
    return out;
  }

  private report(r: FlowAuditResult, applied: Applied): void {
    r.removed.slice(0, MAX_LOGGED).forEach((f) => {
      const text = f.flow ? formatFlow(f.flow) : `table=${f.table}, priority=${f.priority}`;
      LOG.warning(`${r.bridge}: flow with foreign cookie 0x${f.cookie.toString(16)} in table ${f.table}, which the agent owns: removed: ${text}`);
    });
    if (r.removed.length > MAX_LOGGED) LOG.warning(`${r.bridge}: ${r.removed.length - MAX_LOGGED} more flows with foreign cookies removed`);
    const readded: Flow[] = [];
    for (const f of r.readded) {
      const was = this.refusedFlows.settled(r.bridge, flowKey(f));
      if (was) LOG.info(`${r.bridge}: the switch took the flow it refused ${was.refusals} times (last: ${was.reason}): ${was.text}`);
      else readded.push(f);
    }
    readded.slice(0, MAX_LOGGED).forEach((f) => LOG.warning(`${r.bridge}: flow missing (removed by something other than the agent): added again: ${formatFlow(f)}`));
    if (readded.length > MAX_LOGGED) LOG.warning(`${r.bridge}: ${readded.length - MAX_LOGGED} more missing flows added again`);
    const news: Array<{ entry: RefusedFlow; retryInMs: number }> = [];
    for (const { flow, reason } of applied.refused) {
      const { first, retryInMs, entry } = this.refusedFlows.refused(r.bridge, flowKey(flow), flow, reason);
      if (first) news.push({ entry, retryInMs });
      else LOG.debug(`${r.bridge}: the switch refused the flow again (${reason}); next try in ${Math.round(retryInMs / 1000)} s: ${entry.text}`);
    }
    news.slice(0, MAX_LOGGED).forEach(({ entry, retryInMs }) => LOG.error(
      `${r.bridge}: the switch refuses a flow the agent wants (${entry.reason}): ${entry.text}; ` +
      `tried again in ${Math.round(retryInMs / 1000)} s, then less and less often, until it is taken or the agent wants another flow there`,
    ));
    if (news.length > MAX_LOGGED) LOG.error(`${r.bridge}: the switch refuses ${news.length - MAX_LOGGED} more flows the agent wants; tried again with back-off`);
    for (const { mod, reason } of applied.refusedDeletes) LOG.warning(`${r.bridge}: the switch refused to remove flows with a foreign cookie (${reason}): ${formatFlowModLine(mod)}`);
  }
}

/**
 * Applies an audit's mods to a bridge. The switch may refuse some (both backends install the rest
 * and name each refused one); any other failure (the connection, say) fails the audit.
 */
async function applyRepairs(br: OVSBridge, mods: FlowMod[]): Promise<Applied> {
  const applied: Applied = { readded: [], refused: [], refusedDeletes: [] };
  const refusedAt = new Map<number, string>();
  if (mods.length > 0) {
    try {
      await br.ofSwitch.apply(mods);
    } catch (e) {
      if (!(e instanceof OpenFlowError) || !e.detail.refused?.length) throw e;
      for (const r of e.detail.refused) refusedAt.set(r.index, r.reason);
    }
  }
  mods.forEach((mod, i) => {
    const reason = refusedAt.get(i);
    if (mod.command === 'add') {
      if (reason === undefined) applied.readded.push(mod.flow);
      else applied.refused.push({ flow: mod.flow, reason });
    } else if (reason !== undefined) applied.refusedDeletes.push({ mod, reason });
  });
  return applied;
}
