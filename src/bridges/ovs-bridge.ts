// A bridge the agent programs: its per-run cookie, and flow operations stamped with it.
// Every flow the agent adds carries the bridge's cookie; targeted deletes only touch flows of
// that cookie, so flows of a previous run survive until the first full sync has re-added what
// is still needed and cleanupStaleFlows() removes the rest.
import { randomBytes } from 'node:crypto';
import type { Flow, FlowFilter, FlowMod } from '../openflow/flow.js';
import type { OpenFlowSwitch } from '../openflow/backend.js';
import { DesiredFlows } from './desired-flows.js';
import { getLogger } from '../util/log.js';

const LOG = getLogger('bridges');
const FULL_MASK = 0xffffffffffffffffn;
/**
 * The cookie mask of strict deletes. With an all-ones mask Open vSwitch finds a strict delete's flow
 * by walking every flow of that cookie (ofproto.c collect_rules_strict), and all of a run's flows
 * share one: 2,000 strict deletes on a br-int of 50,000 flows took 4 s. Any other mask takes the
 * classifier's exact lookup (31 ms for the same deletes) and still compares the cookie, on 63 bits.
 */
const STRICT_DELETE_MASK = FULL_MASK - 1n;

function ownCookieFilter(filter: Omit<FlowFilter, 'cookie' | 'cookieMask'>, cookie: bigint): FlowFilter {
  return { ...filter, cookie, cookieMask: filter.strict ? STRICT_DELETE_MASK : FULL_MASK };
}

export function randomCookie(): bigint {
  return randomBytes(8).readBigUInt64BE(0);
}

/** Flow mods collected and sent together (one bundle / one barrier). */
export class FlowBatch {
  readonly mods: FlowMod[] = [];
  constructor(private readonly br: OVSBridge) {}

  add(...flows: Flow[]): this {
    for (const flow of flows) this.mods.push({ command: 'add', flow: { ...flow, cookie: this.br.cookie } });
    return this;
  }
  /** Delete own-cookie flows selected by the filter. */
  delete(filter: Omit<FlowFilter, 'cookie' | 'cookieMask'>): this {
    this.mods.push({ command: 'delete', filter: ownCookieFilter(filter, this.br.cookie) });
    return this;
  }
  /** Delete flows of any cookie (drop_flows_on_start only). */
  deleteAnyCookie(filter: Omit<FlowFilter, 'cookie' | 'cookieMask'> = {}): this {
    this.mods.push({ command: 'delete', filter });
    return this;
  }
  /**
   * Flows under a cookie the bridge handed out (requestCookie), as the reference's extensions'
   * flows carry their own: the log extension tells a port's packet-ins apart by theirs.
   */
  addWithCookie(cookie: bigint, ...flows: Flow[]): this {
    if (!this.br.ownsCookie(cookie)) throw new Error(`${this.br.name}: cookie 0x${cookie.toString(16)} was not requested from this bridge`);
    for (const flow of flows) this.mods.push({ command: 'add', flow: { ...flow, cookie } });
    return this;
  }
  /** Delete flows of one requested cookie selected by the filter. */
  deleteWithCookie(cookie: bigint, filter: Omit<FlowFilter, 'cookie' | 'cookieMask'>): this {
    this.mods.push({ command: 'delete', filter: ownCookieFilter(filter, cookie) });
    return this;
  }
  /** Delete every flow, in all tables, that carries this (foreign) cookie. */
  deleteCookie(cookie: bigint): this {
    this.mods.push({ command: 'delete', filter: { cookie, cookieMask: FULL_MASK } });
    return this;
  }
  get size(): number {
    return this.mods.length;
  }
  async commit(): Promise<void> {
    if (this.mods.length === 0) return;
    const mods = this.mods.splice(0);
    // Recorded before sending: the flow audit must never see a flow being deleted as one to re-add.
    this.br.desired.apply(mods, this.br.cookie);
    await this.br.ofSwitch.apply(mods);
  }
}

export class OVSBridge {
  /** Every flow the agent wants on this bridge now (what its committed batches leave). */
  readonly desired = new DesiredFlows();

  constructor(
    readonly name: string,
    public ofSwitch: OpenFlowSwitch,
    /** This run's cookie, on every flow the bridge adds. */
    readonly cookie: bigint = randomCookie(),
  ) {}

  /** Cookies handed out besides the bridge's own: their flows are the agent's too (audit, stale cleanup). */
  private readonly requested = new Set<bigint>();

  /** A new cookie for flows of their own (the reference's request_cookie); release it once its flows are gone. */
  requestCookie(): bigint {
    let c = randomCookie();
    while (c === this.cookie || this.requested.has(c)) c = randomCookie();
    this.requested.add(c);
    return c;
  }

  releaseCookie(cookie: bigint): void {
    this.requested.delete(cookie);
  }

  /** The bridge's cookie or one it handed out. */
  ownsCookie(cookie: bigint): boolean {
    return cookie === this.cookie || this.requested.has(cookie);
  }

  batch(): FlowBatch {
    return new FlowBatch(this);
  }

  async installFlows(...flows: Flow[]): Promise<void> {
    await this.batch().add(...flows).commit();
  }

  async deleteAllFlows(): Promise<void> {
    await this.batch().deleteAnyCookie().commit();
  }

  /**
   * Remove flows whose cookie is not ours from the given tables: one delete per foreign cookie,
   * over all tables, as the reference does after its first full sync.
   */
  async cleanupStaleFlows(tables: readonly number[]): Promise<bigint[]> {
    const stale = new Set<bigint>();
    const wanted = new Set(tables);
    for (const f of await this.ofSwitch.dumpFlows()) {
      if (wanted.has(f.table) && !this.ownsCookie(f.cookie)) stale.add(f.cookie);
    }
    if (stale.size === 0) return [];
    const b = this.batch();
    for (const c of stale) {
      LOG.warning(`${this.name}: deleting stale flows with cookie 0x${c.toString(16)}`);
      b.deleteCookie(c);
    }
    await b.commit();
    return [...stale];
  }
}
