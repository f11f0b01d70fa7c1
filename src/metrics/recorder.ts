// The metrics the agent exports, on one prom-client registry. Counters and histograms are fed by
// the agent's plain calls (src/agent/status/metrics.ts); gauges of what the agent holds (ports, local
// VLANs, tunnels, flows, cache, connections) are read from its snapshot when Prometheus scrapes.
// Names follow Prometheus' guide: `ovs_agent_` prefix, unit suffixes, small bounded label sets
// (bridge and table names come from the configuration and src/bridges/tables.ts, never from ids).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { INT_PIPELINE, PHYS_PIPELINE, TUN_PIPELINE, type TableSpec } from '../bridges/tables.js';
import { PORT_STATES, type AgentSnapshot, type ConnectionName, type MetricsRecorder, type RepairCounts } from '../agent/status/metrics.js';
import { OpenFlowError } from '../openflow/backend.js';
import type { FlowMod } from '../openflow/flow.js';
import { formatFlowModLine } from '../openflow/text.js';
import { FlowLedger } from './flow-ledger.js';

export const METRIC_PREFIX = 'ovs_agent_';
const CONNECTIONS: readonly ConnectionName[] = ['message_bus', 'ovsdb', 'openflow'];
/** How many WARNING/ERROR lines `ovs-agent status` shows. */
const LAST_ERRORS = 10;

export interface BridgeNames {
  integration: string;
  tunnel: string | undefined;
  physical: readonly string[];
}

export interface LoggedProblem {
  at: number;
  level: string;
  logger: string;
  message: string;
}

export class PromRecorder implements MetricsRecorder {
  readonly registry = new Registry();
  readonly ledger = new FlowLedger();
  readonly lastErrors: LoggedProblem[] = [];
  /** The reconnect counters' values, for /status. */
  readonly reconnectCounts: Record<ConnectionName, number> = { message_bus: 0, ovsdb: 0, openflow: 0 };
  private readonly datapaths = new Map<string, bigint>();
  private readonly pipelines: Map<string, readonly TableSpec[]>;

  private readonly passDuration: Histogram<'kind'>;
  private readonly passes: Counter<'kind' | 'result'>;
  private readonly passPorts: Counter<'kind'>;
  private readonly batchMods: Histogram<'bridge'>;
  private readonly batchDuration: Histogram<'bridge'>;
  private readonly flowModErrors: Counter<'bridge'>;
  private readonly rpcCalls: Counter<'method'>;
  private readonly rpcFailures: Counter<'method' | 'reason'>;
  private readonly rpcDuration: Histogram<'method'>;
  private readonly cachePulls: Counter<'type' | 'result'>;
  private readonly cachePullDuration: Histogram<'type'>;
  private readonly reconnects: Counter<'connection'>;
  private readonly stateReports: Counter<'result'>;
  private readonly ovsRestarts: Counter;
  private readonly logProblems: Counter<'level'>;

  constructor(
    bridges: BridgeNames,
    private readonly snapshot: () => AgentSnapshot | undefined,
  ) {
    this.pipelines = new Map<string, readonly TableSpec[]>([[bridges.integration, INT_PIPELINE]]);
    if (bridges.tunnel) this.pipelines.set(bridges.tunnel, TUN_PIPELINE);
    for (const b of bridges.physical) this.pipelines.set(b, PHYS_PIPELINE);
    const registers = [this.registry];
    const p = METRIC_PREFIX;
    collectDefaultMetrics({ register: this.registry, prefix: p });

    this.passDuration = new Histogram({
      name: `${p}pass_duration_seconds`, help: 'Time a reconciliation pass over the ports of br-int took (kind: full sync or incremental).',
      labelNames: ['kind'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers,
    });
    this.passes = new Counter({ name: `${p}passes_total`, help: 'Reconciliation passes, by kind and result (failed: some ports are retried).', labelNames: ['kind', 'result'], registers });
    this.passPorts = new Counter({ name: `${p}pass_ports_total`, help: 'Ports wired or unwired by passes.', labelNames: ['kind'], registers });
    this.batchMods = new Histogram({
      name: `${p}flow_batch_flow_mods`, help: 'Flow mods per batch sent to a bridge.',
      labelNames: ['bridge'], buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000], registers,
    });
    this.batchDuration = new Histogram({
      name: `${p}flow_batch_duration_seconds`, help: 'Time from sending a batch of flow mods until the switch confirmed them.',
      labelNames: ['bridge'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers,
    });
    this.flowModErrors = new Counter({ name: `${p}flow_mod_errors_total`, help: 'Flow mods the switch refused (or batches that could not be sent).', labelNames: ['bridge'], registers });
    this.rpcCalls = new Counter({ name: `${p}rpc_calls_total`, help: 'RPC calls to neutron-server, by method.', labelNames: ['method'], registers });
    this.rpcFailures = new Counter({ name: `${p}rpc_call_failures_total`, help: 'RPC calls that failed, by method and reason (timeout, remote_error, other).', labelNames: ['method', 'reason'], registers });
    this.rpcDuration = new Histogram({
      name: `${p}rpc_call_duration_seconds`, help: 'Latency of RPC calls to neutron-server, by method (failures included).',
      labelNames: ['method'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers,
    });
    this.cachePulls = new Counter({ name: `${p}resource_cache_pulls_total`, help: 'bulk_pull calls of the resource cache, by object type and result.', labelNames: ['type', 'result'], registers });
    this.cachePullDuration = new Histogram({
      name: `${p}resource_cache_pull_duration_seconds`, help: 'Latency of the resource cache bulk_pull calls.',
      labelNames: ['type'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers,
    });
    this.reconnects = new Counter({ name: `${p}reconnects_total`, help: 'Connections re-established after a loss (openflow: a switch connecting again).', labelNames: ['connection'], registers });
    for (const c of CONNECTIONS) this.reconnects.inc({ connection: c }, 0);
    this.stateReports = new Counter({ name: `${p}state_reports_total`, help: 'report_state heartbeats, by result.', labelNames: ['result'], registers });
    this.ovsRestarts = new Counter({ name: `${p}ovs_restarts_total`, help: 'ovs-vswitchd restarts the agent noticed (canary flow gone) and recovered from.', registers });
    this.logProblems = new Counter({ name: `${p}log_messages_total`, help: 'WARNING and worse log messages, by level.', labelNames: ['level'], registers });

    this.snapshotGauges(registers);
  }

  /** Gauges read from the agent's snapshot at scrape time (one snapshot per scrape). */
  private snapshotGauges(registers: Registry[]): void {
    let cached: { at: number; snap: AgentSnapshot | undefined } | undefined;
    const snap = (): AgentSnapshot | undefined => {
      // Gauges collect one after the other in a scrape: read the agent once per 100 ms.
      const now = Date.now();
      if (!cached || now - cached.at > 100) cached = { at: now, snap: this.snapshot() };
      return cached.snap;
    };
    this.holdingGauges(snap, registers);
    this.connectionGauges(snap, registers);
    this.syncGauges(snap, registers);
    this.repairAndFirewallMetrics(snap, registers);
  }

  /** What the agent holds: ports, local VLANs, tunnels, flows, cached objects. */
  private holdingGauges(snap: () => AgentSnapshot | undefined, registers: Registry[]): void {
    const p = METRIC_PREFIX;
    const recorder = this;
    new Gauge({
      name: `${p}ports`, help: 'Ports of br-int the agent handles, by state (bound to a local VLAN, isolated on VLAN 4095, retrying).',
      labelNames: ['state'], registers,
      collect() {
        const s = snap();
        for (const state of PORT_STATES) this.set({ state }, s?.ports[state] ?? 0);
      },
    });
    new Gauge({
      name: `${p}local_vlans`, help: 'Local VLANs allocated to networks, by network type.', labelNames: ['network_type'], registers,
      collect() {
        setCounts(this, 'network_type', (snap()?.localVlans ?? []).map((v) => v.networkType));
      },
    });
    new Gauge({
      name: `${p}tunnels`, help: 'Tunnel ports on the tunnel bridge, by type.', labelNames: ['tunnel_type'], registers,
      collect() {
        setCounts(this, 'tunnel_type', (snap()?.tunnels ?? []).map((t) => t.type));
      },
    });
    new Gauge({
      name: `${p}flows`, help: 'Flows the agent installed and holds, by bridge and table (counted from the flow mods sent, not dumped).',
      labelNames: ['bridge', 'table'], registers,
      collect() {
        this.reset();
        for (const [bridge, perTable] of recorder.ledger.counts()) {
          for (const [table, n] of perTable) this.set({ bridge, table: recorder.tableName(bridge, table) }, n);
        }
      },
    });
    new Gauge({
      name: `${p}resource_cache_objects`, help: 'Objects in the resource cache, by type.', labelNames: ['type'], registers,
      collect() {
        for (const [type, n] of Object.entries(snap()?.cache ?? {})) this.set({ type }, n);
      },
    });
  }

  private connectionGauges(snap: () => AgentSnapshot | undefined, registers: Registry[]): void {
    const p = METRIC_PREFIX;
    new Gauge({
      name: `${p}connection_up`, help: '1 when the connection is up: message_bus (RabbitMQ), ovsdb, openflow (every bridge; ovs-ofctl: the canary check passes).',
      labelNames: ['connection'], registers,
      collect() {
        const s = snap();
        this.set({ connection: 'ovsdb' }, s?.ovsdb.connected ? 1 : 0);
        if (s?.messageBus) this.set({ connection: 'message_bus' }, s.messageBus.connected ? 1 : 0);
        this.set({ connection: 'openflow' }, s && s.openflow.length > 0 && s.openflow.every((o) => o.connected) ? 1 : 0);
      },
    });
    new Gauge({
      name: `${p}openflow_connection_up`, help: '1 when the OpenFlow channel of the bridge is usable.', labelNames: ['bridge'], registers,
      collect() {
        this.reset();
        for (const o of snap()?.openflow ?? []) this.set({ bridge: o.bridge }, o.connected ? 1 : 0);
      },
    });
  }

  /** Readiness and how recent the agent's last full sync and state report are. */
  private syncGauges(snap: () => AgentSnapshot | undefined, registers: Registry[]): void {
    const gauges: ReadonlyArray<readonly [string, string, (s: AgentSnapshot | undefined) => number]> = [
      ['ready', '1 when /readyz answers 200: bridges set up, OVSDB and OpenFlow connected, first full sync done.', (s) => (readiness(s).ready ? 1 : 0)],
      ['first_sync_done', '1 once the first full sync with the server has succeeded.', (s) => (s?.firstSyncDone ? 1 : 0)],
      ['last_full_sync_timestamp_seconds', 'When the last full sync ended (Unix time).', (s) => (s?.lastFullSync ? s.lastFullSync.at / 1000 : NaN)],
      [
        'state_report_age_seconds', 'Seconds since the server last accepted a state report (NaN: none yet).',
        (s) => (s?.lastStateReportAt === undefined ? NaN : (Date.now() - s.lastStateReportAt) / 1000),
      ],
    ];
    for (const [name, help, value] of gauges) {
      new Gauge({
        name: `${METRIC_PREFIX}${name}`, help, registers,
        collect() {
          this.set(value(snap()));
        },
      });
    }
  }

  /** Counters kept by the drift repair and the flow audit, and the firewall's sizes, read at scrape time. */
  private repairAndFirewallMetrics(snap: () => AgentSnapshot | undefined, registers: Registry[]): void {
    const p = METRIC_PREFIX;
    for (const [name, help, read] of [
      ['ovsdb_repairs_total', 'OVSDB columns and patch ports something else changed and the agent put back.', (r: RepairCounts) => r.ovsdbRepairs],
      ['ovsdb_repair_flaps_total', 'OVSDB repairs of something changed again soon after its last repair (spaced out by back-off).', (r: RepairCounts) => r.ovsdbFlaps],
      ['flow_audits_total', 'Flow audits run ([agent] flow_audit_interval).', (r: RepairCounts) => r.flowAudits],
      ['flow_audit_readded_total', 'Flows the audit found missing and added again.', (r: RepairCounts) => r.flowsReadded],
      ['flow_audit_foreign_removed_total', 'Flows with a foreign cookie the audit removed from the agent\'s tables.', (r: RepairCounts) => r.foreignFlowsRemoved],
    ] as const) {
      new Counter({
        name: `${p}${name}`, help, registers,
        collect() {
          const repairs = snap()?.repairs;
          this.reset();
          if (repairs) this.inc(read(repairs));
        },
      });
    }
    new Gauge({
      name: `${p}flow_audit_refused_flows`, help: 'Flows the agent wants that the switch refuses (the flow audit retries each with back-off; each refusal also counts in flow_mod_errors_total).', registers,
      collect() {
        this.set(snap()?.repairs.flowsRefused ?? 0);
      },
    });
    new Gauge({
      name: `${p}extension_ports`, help: 'Ports on which an L2 extension enforces something (qos: ports with a QoS policy applied), by extension.', labelNames: ['extension'], registers,
      collect() {
        this.reset();
        for (const [name, e] of Object.entries(snap()?.extensions ?? {})) this.set({ extension: name }, e.ports);
      },
    });
    new Counter({
      name: `${p}extension_events_total`, help: 'Events an L2 extension counted, by extension and event (log: lines written per action accept/drop, unknown_cookie, packet_in_dropped by the bounded packet-in queue).', labelNames: ['extension', 'event'], registers,
      collect() {
        this.reset();
        for (const [name, e] of Object.entries(snap()?.extensions ?? {})) for (const [event, n] of Object.entries(e.counters ?? {})) this.inc({ extension: name, event }, n);
      },
    });
    for (const [what, help] of [
      ['ports', 'Ports the security-group firewall filters, by driver.'],
      ['rules', 'Security-group rules the firewall enforces (over the groups of its ports), by driver.'],
      ['members', 'Remote-group member addresses the firewall knows, by driver.'],
    ] as const) {
      new Gauge({
        name: `${p}firewall_${what}`, help, labelNames: ['driver'], registers,
        collect() {
          this.reset();
          const fw = snap()?.firewall;
          if (fw) this.set({ driver: fw.driver }, fw[what]);
        },
      });
    }
  }

  tableName(bridge: string, table: number): string {
    return this.pipelines.get(bridge)?.find((t) => t.id === table)?.name ?? `table_${table}`;
  }

  // ---- MetricsRecorder

  passCompleted(p: { full: boolean; ports: number; seconds: number; failed: number }): void {
    const kind = p.full ? 'full' : 'incremental';
    this.passDuration.observe({ kind }, p.seconds);
    this.passes.inc({ kind, result: p.failed > 0 ? 'failed' : 'ok' });
    this.passPorts.inc({ kind }, p.ports);
  }

  flowModsApplied(bridge: string, mods: readonly FlowMod[], seconds: number, error: unknown): void {
    this.batchMods.observe({ bridge }, mods.length);
    this.batchDuration.observe({ bridge }, seconds);
    if (error === undefined) {
      this.ledger.apply(bridge, mods);
      return;
    }
    // A refusal names how many and the first refused flow; the others of the batch are in.
    const text = error instanceof Error ? error.message : String(error);
    const refusedCount = /refused (\d+) of/.exec(text);
    this.flowModErrors.inc({ bridge }, refusedCount ? Number(refusedCount[1]) : 1);
    if (error instanceof OpenFlowError && refusedCount && error.detail.flow !== undefined) {
      const first = mods.findIndex((m) => formatFlowModLine(m) === error.detail.flow);
      this.ledger.apply(bridge, mods, new Set(first >= 0 ? [first] : []));
    }
  }

  bridgeBound(bridge: string, datapathId: bigint): void {
    const before = this.datapaths.get(bridge);
    // Another datapath id is another switch: the bridge was re-created, its flows gone.
    if (before !== undefined && before !== datapathId) this.ledger.clear(bridge);
    this.datapaths.set(bridge, datapathId);
  }

  ovsRestarted(): void {
    this.ovsRestarts.inc();
    this.ledger.clear();
  }

  rpcCall(method: string, seconds: number, error: unknown): void {
    this.rpcCalls.inc({ method });
    this.rpcDuration.observe({ method }, seconds);
    if (error !== undefined) this.rpcFailures.inc({ method, reason: rpcFailureReason(error) });
  }

  cachePull(type: string, seconds: number, error: unknown): void {
    this.cachePulls.inc({ type, result: error === undefined ? 'ok' : 'failed' });
    this.cachePullDuration.observe({ type }, seconds);
  }

  stateReport(ok: boolean): void {
    this.stateReports.inc({ result: ok ? 'ok' : 'failed' });
  }

  connectionUp(name: ConnectionName, reconnect: boolean): void {
    if (!reconnect) return;
    this.reconnects.inc({ connection: name });
    this.reconnectCounts[name]++;
  }

  logged(level: string, logger: string, message: string): void {
    this.logProblems.inc({ level });
    this.lastErrors.push({ at: Date.now(), level, logger, message });
    if (this.lastErrors.length > LAST_ERRORS) this.lastErrors.shift();
  }
}

function rpcFailureReason(e: unknown): string {
  const name = e instanceof Error ? e.name : '';
  if (name === 'MessagingTimeout') return 'timeout';
  if (name === 'RemoteError') return 'remote_error';
  return 'other';
}

export interface Readiness {
  ready: boolean;
  /** What is missing, in words an operator can act on. */
  missing: string[];
}

/**
 * /readyz: bridges set up, OVSDB and every bridge's OpenFlow channel connected, br-int's flows checked
 * since, first full sync done.
 */
export function readiness(s: AgentSnapshot | undefined): Readiness {
  if (!s) return { ready: false, missing: ['the agent has not started yet'] };
  const missing: string[] = [];
  if (!s.bridgesReady) missing.push('bridges are not set up');
  if (!s.ovsdb.connected) missing.push(`OVSDB at ${s.ovsdb.endpoint} is not connected`);
  for (const o of s.openflow) if (!o.connected) missing.push(`OpenFlow channel of ${o.bridge} is not connected`);
  if (s.bridgesReady && s.openflow.every((o) => o.connected) && !s.flowsChecked) {
    missing.push('the canary flow of br-int is not checked since its OpenFlow channel reconnected (OVS may have restarted)');
  }
  if (!s.firstSyncDone) missing.push('the first full sync with neutron-server is not done');
  return { ready: missing.length === 0, missing };
}

/** One gauge value per label value: how many times each occurs in `values`. */
function setCounts<L extends string>(gauge: Gauge<L>, label: L, values: readonly string[]): void {
  gauge.reset();
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  for (const [v, n] of counts) gauge.set({ [label]: v } as Partial<Record<L, string>>, n);
}
