// Flows the switch refuses when the flow audit adds them again (a full table, a table or action the
// datapath does not support). Such a flow is a state the audit knows, not a new event at each audit:
// its first refusal is logged once, later tries wait longer and longer (RepairBackoff.failed), and
// the state ends when the switch takes the flow, or when the agent wants another flow with that
// identity (table, priority, match) or none. Pure: the audit does the sending and the logging.
import type { Flow } from '../../openflow/flow.js';
import { formatFlow } from '../../openflow/text.js';
import { RepairBackoff } from './repair-backoff.js';

export interface RefusedFlow {
  bridge: string;
  /** The flow's identity (flowKey). */
  key: string;
  /** The flow as refused, in ovs-ofctl's spelling (actions included: another action is another flow). */
  text: string;
  /** The switch's error for the last refusal. */
  reason: string;
  /** When the switch first refused it (ms since the epoch), and how often since. */
  since: number;
  refusals: number;
}

export class RefusedFlows {
  private readonly flows = new Map<string, RefusedFlow>();
  private readonly backoff: RepairBackoff;

  /** Tries wait `initialMs`, then twice as long each time, up to `maxMs`. */
  constructor(initialMs: number, maxMs: number, private readonly now: () => number = Date.now) {
    this.backoff = new RepairBackoff(initialMs, maxMs, now);
  }

  get size(): number {
    return this.flows.size;
  }

  /** The refused flows of `bridge`, or of every bridge. */
  list(bridge?: string): RefusedFlow[] {
    const all = [...this.flows.values()];
    return bridge === undefined ? all : all.filter((r) => r.bridge === bridge);
  }

  /**
   * Whether the audit sends this missing wanted flow now: yes unless the switch refused this very
   * flow and its next try is more than `slackMs` away (the audit runs every so often: a try due
   * before the next audit halfway comes is made now). A refused flow the agent now wants otherwise
   * is forgotten here: the new one is tried at once.
   */
  due(bridge: string, key: string, flow: Flow, slackMs: number): boolean {
    const id = idOf(bridge, key);
    const r = this.flows.get(id);
    if (!r) return true;
    if (r.text !== formatFlow(flow)) {
      this.forgetId(id);
      return true;
    }
    return this.backoff.waitMs(id) <= slackMs;
  }

  /**
   * The switch refused `flow` now. `first`: it was not known as refused (in this form), so it is
   * news for the log; `retryInMs`: when it is tried again.
   */
  refused(bridge: string, key: string, flow: Flow, reason: string): { first: boolean; retryInMs: number; entry: RefusedFlow } {
    const id = idOf(bridge, key);
    const text = formatFlow(flow);
    let r = this.flows.get(id);
    const first = r === undefined || r.text !== text;
    if (!r || first) {
      this.backoff.forget(id);
      r = { bridge, key, text, reason, since: this.now(), refusals: 0 };
      this.flows.set(id, r);
    }
    r.reason = reason;
    r.refusals++;
    return { first, retryInMs: this.backoff.failed(id), entry: r };
  }

  /** The flow of `key` is in place (taken by the switch, or found in a dump): returns it if it had been refused. */
  settled(bridge: string, key: string): RefusedFlow | undefined {
    const id = idOf(bridge, key);
    const r = this.flows.get(id);
    if (r) this.forgetId(id);
    return r;
  }

  /** Forgets the refused flows of `bridge` whose identity `wanted` no longer names a flow; returns them. */
  forgetUnwanted(bridge: string, wanted: (key: string) => Flow | undefined): RefusedFlow[] {
    const gone: RefusedFlow[] = [];
    for (const r of this.list(bridge)) {
      if (wanted(r.key) !== undefined) continue;
      this.forgetId(idOf(bridge, r.key));
      gone.push(r);
    }
    return gone;
  }

  /** Forgets the refused flows of bridges not in `bridges` (a provider bridge deleted, say). */
  forgetOtherBridges(bridges: ReadonlySet<string>): void {
    for (const r of this.list()) if (!bridges.has(r.bridge)) this.forgetId(idOf(r.bridge, r.key));
  }

  private forgetId(id: string): void {
    this.flows.delete(id);
    this.backoff.forget(id);
  }
}

const idOf = (bridge: string, key: string): string => `${bridge}\u0000${key}`;
