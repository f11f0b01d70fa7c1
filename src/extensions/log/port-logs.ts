// Which log resources log which ports, and the flows and cookies that follow from it. Each port
// has at most one cookie per event (ACCEPT, DROP), as the reference's driver: a packet-in's cookie
// names the port, the event, the project and every log resource logging that port for that event.
// A change recomputes the ports it touches and sends only the difference: new flows first, then
// strict deletes of those no longer wanted, so nothing a port is still logged for stops meanwhile.
import type { Flow } from '../../openflow/flow.js';
import { flowKey } from '../../openflow/flow-key.js';
import type { FlowBatch, OVSBridge } from '../../bridges/ovs-bridge.js';
import { acceptLogFlows, dropLogFlow, type ConjIdOf } from './flows.js';
import type { LogEvent, LogRule, SgLogInfo } from './log-info.js';

export type CookieEvent = 'ACCEPT' | 'DROP';

export interface LogCookie {
  cookie: bigint;
  portId: string;
  event: CookieEvent;
  projectId: string;
  /** The log resources logging this port for this event, in the order they came. */
  logIds: string[];
  /** The flows under this cookie on br-int now, by identity. */
  flows: Map<string, Flow>;
}

interface LoggedResource {
  event: LogEvent;
  projectId: string;
  /** Port id → the rules of that port the log covers. */
  ports: Map<string, LogRule[]>;
}

const covers = (e: LogEvent, c: CookieEvent): boolean => e === 'ALL' || e === c;

export class PortLogs {
  private readonly logs = new Map<string, LoggedResource>();
  private readonly cookies = new Map<string, LogCookie>();
  private readonly byCookie = new Map<bigint, LogCookie>();

  constructor(
    private readonly bridge: () => OVSBridge,
    private readonly conjIdOf: ConjIdOf,
  ) {}

  /** A log resource as the server describes it now (every port it logs here); returns the ports touched. */
  setLog(info: SgLogInfo, knownPort: (portId: string) => boolean): Set<string> {
    const touched = new Set(this.logs.get(info.id)?.ports.keys() ?? []);
    const ports = new Map(info.ports.filter((p) => knownPort(p.portId)).map((p) => [p.portId, p.rules]));
    this.logs.set(info.id, { event: info.event, projectId: info.projectId, ports });
    for (const p of ports.keys()) touched.add(p);
    return touched;
  }

  /** The logs the server names for one port: they replace what the port had. */
  setPortLogs(portId: string, infos: readonly SgLogInfo[]): void {
    for (const log of this.logs.values()) log.ports.delete(portId);
    for (const info of infos) {
      const p = info.ports.find((x) => x.portId === portId);
      if (!p) continue;
      const log = this.logs.get(info.id) ?? { event: info.event, projectId: info.projectId, ports: new Map<string, LogRule[]>() };
      log.event = info.event;
      log.projectId = info.projectId;
      log.ports.set(portId, p.rules);
      this.logs.set(info.id, log);
    }
  }

  /** A log resource disabled or deleted; returns the ports it logged. */
  dropLog(logId: string): Set<string> {
    const ports = new Set(this.logs.get(logId)?.ports.keys() ?? []);
    this.logs.delete(logId);
    return ports;
  }

  /** The port is gone: no log covers it any more. */
  dropPort(portId: string): void {
    for (const log of this.logs.values()) log.ports.delete(portId);
  }

  /** Ports some log resource logs now. */
  loggedPorts(): Set<string> {
    const out = new Set<string>();
    for (const l of this.logs.values()) for (const p of l.ports.keys()) out.add(p);
    return out;
  }

  get logCount(): number {
    return this.logs.size;
  }

  cookie(value: bigint): LogCookie | undefined {
    return this.byCookie.get(value);
  }

  /** Bring the port's flows to what its logs say (`ofport` undefined: the port is gone). */
  sync(b: FlowBatch, deletes: FlowBatch, portId: string, ofport: number | undefined): void {
    for (const event of ['DROP', 'ACCEPT'] as const) {
      const logs = [...this.logs].filter(([, l]) => covers(l.event, event) && l.ports.has(portId));
      const want = new Map<string, Flow>();
      if (ofport !== undefined) {
        for (const [, l] of logs) {
          const flows = event === 'DROP' ? [dropLogFlow(ofport)] : acceptLogFlows(ofport, l.ports.get(portId)!, this.conjIdOf);
          for (const f of flows) want.set(flowKey(f), f);
        }
      }
      this.syncCookie(b, deletes, portId, event, want, logs.map(([id, l]) => ({ id, projectId: l.projectId })));
    }
  }

  private syncCookie(b: FlowBatch, deletes: FlowBatch, portId: string, event: CookieEvent, want: Map<string, Flow>, logs: { id: string; projectId: string }[]): void {
    const key = `${portId}/${event}`;
    let c = this.cookies.get(key);
    if (!c && logs.length === 0) return;
    if (!c) {
      c = { cookie: this.bridge().requestCookie(), portId, event, projectId: logs[0]!.projectId, logIds: [], flows: new Map() };
      this.cookies.set(key, c);
      this.byCookie.set(c.cookie, c);
    }
    c.logIds = logs.map((l) => l.id);
    if (logs.length) c.projectId = logs[0]!.projectId;
    for (const [k, f] of want) if (!c.flows.has(k)) b.addWithCookie(c.cookie, f);
    for (const [k, f] of c.flows) {
      if (!want.has(k)) deletes.deleteWithCookie(c.cookie, { table: f.table, priority: f.priority, match: f.match, strict: true });
    }
    c.flows = want;
    if (logs.length === 0) {
      // The cookie stays known until its deletes are sent; released with them (releaseEmpty).
      this.cookies.delete(key);
      this.emptied.push(c);
    }
  }

  private emptied: LogCookie[] = [];

  /** After the deletes went out: cookies without logs are forgotten and given back to the bridge. */
  releaseEmpty(): void {
    for (const c of this.emptied.splice(0)) {
      this.byCookie.delete(c.cookie);
      this.bridge().releaseCookie(c.cookie);
    }
  }

  /** The bridge was set up anew: its flows and cookies are gone; logs stay, flows come back per port. */
  forgetFlows(): void {
    for (const c of this.byCookie.values()) this.bridge().releaseCookie(c.cookie);
    this.cookies.clear();
    this.byCookie.clear();
    this.emptied = [];
  }
}
