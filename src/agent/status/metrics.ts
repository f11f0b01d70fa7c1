// The agent's instrumentation, as plain functions its modules call where things happen (a pass
// ends, a flow batch is applied, an RPC call returns). They do nothing until a recorder is
// installed: the HTTP endpoint and prom-client (src/metrics/) are loaded only when
// `[agent] metrics_bind` is set, so an agent without it pays one `undefined` check per call.
import type { OpenFlowBackend, OpenFlowSwitch, StatsFilter } from '../../openflow/backend.js';
import type { FlowMod } from '../../openflow/flow.js';
import type { MeterMod } from '../../openflow/meter.js';

/** How a port of br-int the agent handled stands. */
export type PortState =
  /** Tagged with its network's local VLAN: traffic passes (filtered, when a firewall is on). */
  | 'bound'
  /** On the dead VLAN 4095: admin down, unbound, unknown to the server, or not filterable. */
  | 'isolated'
  /** Its details could not be fetched yet; the agent retries. */
  | 'retrying';

export const PORT_STATES: readonly PortState[] = ['bound', 'isolated', 'retrying'];

export type ConnectionName = 'message_bus' | 'ovsdb' | 'openflow';

/** What the agent is and holds right now, read when /metrics, /readyz or /status is asked. */
export interface AgentSnapshot {
  /** Every agent bridge is set up (flows of the current setup installed). */
  bridgesReady: boolean;
  /**
   * br-int's canary flow was read since its OpenFlow channel last (re)connected: the switch holds
   * the agent's flows, not the empty tables of a restarted ovs-vswitchd not yet noticed.
   */
  flowsChecked: boolean;
  ovsdb: { endpoint: string; connected: boolean };
  /** One entry per agent bridge, once set up. */
  openflow: Array<{ bridge: string; connected: boolean }>;
  /** Undefined with `transport_url = fake:/` (no server). */
  messageBus: { url: string; connected: boolean } | undefined;
  firstSyncDone: boolean;
  /** Wall-clock ms of the end of the last full sync, its port count and duration. */
  lastFullSync: { at: number; ports: number; seconds: number } | undefined;
  /** Wall-clock ms of the last state report the server accepted. */
  lastStateReportAt: number | undefined;
  ports: Record<PortState, number>;
  localVlans: Array<{ vlan: number; networkId: string; networkType: string; physicalNetwork?: string; segmentationId?: number; ports: number }>;
  tunnels: Array<{ type: string; remoteIp: string; ofport: number }>;
  firewall: { driver: string; ports: number; rules: number; members: number } | undefined;
  /** The loaded extensions (`[agent] extensions`): ports each enforces something on, and its own figures. */
  extensions: Record<string, { ports: number; details: Record<string, number | string>; counters?: Record<string, number> }>;
  /** Objects in the resource cache, by type. */
  cache: Record<string, number>;
  /** What the agent put back since start because something else changed it (issue: drift). */
  repairs: RepairCounts;
}

export interface RepairCounts {
  /** OVSDB columns and patch ports put back; `ovsdbFlaps`: of those, repairs spaced out by back-off. */
  ovsdbRepairs: number;
  ovsdbFlaps: number;
  flowAudits: number;
  flowsReadded: number;
  foreignFlowsRemoved: number;
  /** Wanted flows the switch refuses now (the audit retries each with back-off). */
  flowsRefused: number;
}

/** Implemented by src/metrics/recorder.ts (prom-client); tests may install their own. */
export interface MetricsRecorder {
  passCompleted(p: { full: boolean; ports: number; seconds: number; failed: number }): void;
  /** A batch of flow mods was sent to `bridge`; `error` when the switch refused some or all. */
  flowModsApplied(bridge: string, mods: readonly FlowMod[], seconds: number, error: unknown): void;
  /** The agent (re)bound `bridge` to the switch of `datapathId` (start, OVS restart, bridge re-created). */
  bridgeBound(bridge: string, datapathId: bigint): void;
  /** ovs-vswitchd restarted with empty flow tables. */
  ovsRestarted(): void;
  rpcCall(method: string, seconds: number, error: unknown): void;
  cachePull(type: string, seconds: number, error: unknown): void;
  stateReport(ok: boolean): void;
  /** A connection came up; `reconnect` when it had been up before. */
  connectionUp(name: ConnectionName, reconnect: boolean): void;
  /** A WARNING or worse was logged (for `ovs-agent status`'s last errors). */
  logged(level: string, logger: string, message: string): void;
}

let recorder: MetricsRecorder | undefined;

/** Install (or remove, with undefined) the recorder every function below reports to. */
export function setMetricsRecorder(r: MetricsRecorder | undefined): void {
  recorder = r;
}

export function notePass(p: { full: boolean; ports: number; seconds: number; failed: number }): void {
  recorder?.passCompleted(p);
}

export function noteOvsRestart(): void {
  recorder?.ovsRestarted();
}

export function noteStateReport(ok: boolean): void {
  recorder?.stateReport(ok);
}

export function noteConnectionUp(name: ConnectionName, reconnect: boolean): void {
  recorder?.connectionUp(name, reconnect);
}

/** Runs `work` and hands its duration (and error, if it failed) to `note`; nothing is timed without a recorder. */
async function timed<T>(work: () => Promise<T>, note: (r: MetricsRecorder, seconds: number, error: unknown) => void): Promise<T> {
  if (!recorder) return work();
  const t0 = performance.now();
  try {
    const result = await work();
    if (recorder) note(recorder, (performance.now() - t0) / 1000, undefined);
    return result;
  } catch (e) {
    if (recorder) note(recorder, (performance.now() - t0) / 1000, e ?? new Error('rejected without a reason'));
    throw e;
  }
}

/** Runs an RPC call and records its method, latency and failure. */
export function timedRpc<T>(method: string, call: () => Promise<T>): Promise<T> {
  return timed(call, (r, seconds, error) => r.rpcCall(method, seconds, error));
}

/** Runs a resource-cache pull (bulk_pull) and records it. */
export function timedCachePull<T>(type: string, pull: () => Promise<T>): Promise<T> {
  return timed(pull, (r, seconds, error) => r.cachePull(type, seconds, error));
}

/**
 * The backend with every flow batch recorded (size, time, refusals, and the flows it leaves on
 * the bridge, so flows per table are counted from what the agent installed, never by dumping).
 */
export function instrumentOpenFlow(backend: OpenFlowBackend): OpenFlowBackend {
  const seen = new Set<bigint>();
  backend.onSwitchConnected((dpid) => {
    noteConnectionUp('openflow', seen.has(dpid));
    seen.add(dpid);
  });
  return {
    kind: backend.kind,
    controllerTarget: backend.controllerTarget,
    canaryIntervalMs: backend.canaryIntervalMs,
    onSwitchConnected: (listener) => backend.onSwitchConnected(listener),
    ...(backend.isConnected ? { isConnected: (dpid: bigint) => backend.isConnected!(dpid) } : {}),
    start: () => backend.start(),
    stop: () => backend.stop(),
    bridge: (name, datapathId) => {
      recorder?.bridgeBound(name, datapathId);
      return new InstrumentedSwitch(backend.bridge(name, datapathId), datapathId);
    },
  };
}

class InstrumentedSwitch implements OpenFlowSwitch {
  /** Passed through where the backend has them (native): an extension tests for them. */
  readonly onPacketIn?: OpenFlowSwitch['onPacketIn'];
  readonly packetInCounters?: OpenFlowSwitch['packetInCounters'];
  readonly packetOut?: OpenFlowSwitch['packetOut'];

  constructor(
    private readonly inner: OpenFlowSwitch,
    readonly datapathId: bigint,
  ) {
    if (inner.onPacketIn) this.onPacketIn = (listener) => inner.onPacketIn!(listener);
    if (inner.packetInCounters) this.packetInCounters = () => inner.packetInCounters!();
    if (inner.packetOut) this.packetOut = (ofport, frame) => inner.packetOut!(ofport, frame);
  }

  get bridge(): string {
    return this.inner.bridge;
  }

  async apply(mods: FlowMod[]): Promise<void> {
    if (!recorder) return this.inner.apply(mods);
    const t0 = performance.now();
    try {
      await this.inner.apply(mods);
    } catch (e) {
      recorder?.flowModsApplied(this.inner.bridge, mods, (performance.now() - t0) / 1000, e);
      throw e;
    }
    recorder?.flowModsApplied(this.inner.bridge, mods, (performance.now() - t0) / 1000, undefined);
  }

  dumpFlows(filter?: StatsFilter): ReturnType<OpenFlowSwitch['dumpFlows']> {
    return this.inner.dumpFlows(filter);
  }

  portDesc(): ReturnType<OpenFlowSwitch['portDesc']> {
    return this.inner.portDesc();
  }

  applyMeter(mod: MeterMod): Promise<void> {
    return this.inner.applyMeter(mod);
  }

  dumpMeters(): ReturnType<OpenFlowSwitch['dumpMeters']> {
    return this.inner.dumpMeters();
  }

  meterFeatures(): ReturnType<OpenFlowSwitch['meterFeatures']> {
    return this.inner.meterFeatures();
  }

  retire(reason: string): void {
    this.inner.retire(reason);
  }
}
