// The periodic flow audit (`[agent] flow_audit_interval`, ours): each bridge's flows, read in one
// dump (native: one multipart FLOW_STATS request over the OpenFlow channel; ovs-ofctl: one
// `ovs-ofctl dump-flows` per bridge), against the flows the agent wants (the bridge's desired-flow
// registry). A wanted flow that is missing (deleted by hand, say) is added again; a flow with a
// cookie not the bridge's in a table the agent owns is removed, as the reference removes stale
// cookies from its bridges' tables after a full sync. Flows with the bridge's cookie the registry
// does not know (learned by br-tun's learn action) are left alone. Each repair is logged once
// with the flow. Runs under the pass lock, so no batch is half-sent while it compares.
import type { OVSBridge } from '../bridges/ovs-bridge.js';
import { INT, INT_BR_ALL_TABLES, PHY_BR_ALL_TABLES, TUN_BR_ALL_TABLES } from '../bridges/tables.js';
import type { Flow, FlowMod } from '../openflow/flow.js';
import type { FlowStats } from '../openflow/flow.js';
import { flowKey } from '../openflow/flow-key.js';
import { formatFlow } from '../openflow/text.js';
import type { AgentContext } from './context.js';
import { getLogger } from '../util/log.js';

const LOG = getLogger('agent.flow_audit');
const FULL_MASK = 0xffffffffffffffffn;
/** Beyond this many repairs of one kind in one audit of a bridge, the rest are summed up in one line. */
const MAX_LOGGED = 20;

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
}

/** Compare one bridge's dump with its registry; returns the mods that repair it (foreign deletes first). */
export function auditFlows(br: OVSBridge, ownedTables: readonly number[], dump: readonly FlowStats[]): { result: FlowAuditResult; mods: FlowMod[] } {
  const owned = new Set(ownedTables);
  const present = new Set<string>();
  const foreign = new Map<string, FlowStats[]>();
  for (const f of dump) {
    if (f.cookie === br.cookie) {
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
  private readonly counts: FlowAuditCounters = { audits: 0, flowsReadded: 0, foreignFlowsRemoved: 0 };

  constructor(private readonly ctx: AgentContext) {}

  /** Counters for operators (metrics): a plain getter. */
  get counters(): FlowAuditCounters {
    return { ...this.counts };
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

  private async auditAll(): Promise<FlowAuditResult[]> {
    const b = this.ctx.bridges;
    const targets: Array<[OVSBridge, readonly number[]]> = [[b.int, INT_BR_ALL_TABLES]];
    for (const p of b.phys.values()) targets.push([p.bridge, PHY_BR_ALL_TABLES]);
    if (b.tun) targets.push([b.tun, TUN_BR_ALL_TABLES]);
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
      if (mods.length) {
        this.report(result);
        await br.ofSwitch.apply(mods);
        this.counts.flowsReadded += result.readded.length;
        this.counts.foreignFlowsRemoved += result.removed.length;
      }
      results.push(result);
    }
    this.counts.audits++;
    return results;
  }

  private report(r: FlowAuditResult): void {
    r.removed.slice(0, MAX_LOGGED).forEach((f) => {
      const text = f.flow ? formatFlow(f.flow) : `table=${f.table}, priority=${f.priority}`;
      LOG.warning(`${r.bridge}: flow with foreign cookie 0x${f.cookie.toString(16)} in table ${f.table}, which the agent owns: removed: ${text}`);
    });
    if (r.removed.length > MAX_LOGGED) LOG.warning(`${r.bridge}: ${r.removed.length - MAX_LOGGED} more flows with foreign cookies removed`);
    r.readded.slice(0, MAX_LOGGED).forEach((f) => LOG.warning(`${r.bridge}: flow missing (removed by something other than the agent): added again: ${formatFlow(f)}`));
    if (r.readded.length > MAX_LOGGED) LOG.warning(`${r.bridge}: ${r.readded.length - MAX_LOGGED} more missing flows added again`);
  }
}
