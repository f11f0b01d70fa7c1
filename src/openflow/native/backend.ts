// OpenFlowBackend over the native OpenFlow 1.3 controller: bridges connect to us, and a bridge
// handle finds its switch by datapath id.
import { EventEmitter } from 'node:events';
import { MeterModError, OpenFlowError, type OpenFlowBackend, type OpenFlowSwitch, type PacketIn, type PacketInCounters, type StatsFilter } from '../backend.js';
import type { PacketInQueueOptions } from './packet-in-queue.js';
import type { Action, FlowMod, FlowStats, PortDesc } from '../flow.js';
import { OFPP, OFPTT_ALL } from '../flow.js';
import { METER_MOD_FAILURES, type Meter, type MeterFeatures, type MeterMod } from '../meter.js';
import { formatFlowModLine, formatMeter } from '../text.js';
import {
  errorName,
  flowModToWire,
  OFPET_METER_MOD_FAILED,
  OFPG_ANY,
  OFPM_ALL,
  OFP_NO_BUFFER,
  OFPP_ANY,
  type FlowModBody,
  type FlowStatsEntry,
  type PortDescEntry,
} from './codec/index.js';
import { dpidHex, OfRequestError, OpenFlowController, type ControllerEvents, type OfConnection } from './controller.js';

export interface NativeBackendOptions {
  listenAddress: string;
  listenPort: number;
  /** How long apply()/dumpFlows()/portDesc() wait for the bridge's switch to be connected. */
  connectTimeoutSec: number;
  /** [ovs] of_request_timeout: per request (barrier, stats) timeout. */
  requestTimeoutSec: number;
  /** Idle time before the controller probes a switch with ECHO_REQUEST (default 15 s). */
  echoIntervalSec?: number;
  packetInQueue?: PacketInQueueOptions;
}

/** At most this many refused flow mods are spelled out in an OpenFlowError message. */
const MAX_LISTED_ERRORS = 5;

/** `tcp:IP:PORT` as OVSDB's Controller.target spells it (an IPv6 address in brackets). */
export function controllerTarget(address: string, port: number): string {
  return address.includes(':') ? `tcp:[${address}]:${port}` : `tcp:${address}:${port}`;
}

export class NativeBackend extends EventEmitter<ControllerEvents> implements OpenFlowBackend {
  readonly kind = 'native' as const;
  readonly controllerTarget: string;
  // A restarted ovs-vswitchd reconnects at once (onSwitchConnected); the canary is only a fallback.
  readonly canaryIntervalMs = 10_000;
  private readonly controller: OpenFlowController;

  constructor(readonly options: NativeBackendOptions) {
    super();
    this.controllerTarget = controllerTarget(options.listenAddress, options.listenPort);
    const ctl: ConstructorParameters<typeof OpenFlowController>[0] = {
      listenAddress: options.listenAddress,
      listenPort: options.listenPort,
      requestTimeoutMs: options.requestTimeoutSec * 1000,
    };
    if (options.echoIntervalSec !== undefined) ctl.echoIntervalMs = options.echoIntervalSec * 1000;
    if (options.packetInQueue !== undefined) ctl.packetInQueue = options.packetInQueue;
    this.controller = new OpenFlowController(ctl);
    this.controller.on('switch-connected', (dpid) => this.emit('switch-connected', dpid));
    this.controller.on('switch-disconnected', (dpid) => this.emit('switch-disconnected', dpid));
  }

  onSwitchConnected(listener: (datapathId: bigint) => void): void {
    this.on('switch-connected', listener);
  }

  /** Listen on listenAddress:listenPort; rejects with an Error naming address:port (e.g. EADDRINUSE). */
  start(): Promise<void> {
    return this.controller.start();
  }

  stop(): Promise<void> {
    return this.controller.stop();
  }

  /** The TCP port being listened on (0 before start). */
  get port(): number {
    return this.controller.port;
  }

  isConnected(datapathId: bigint): boolean {
    return this.controller.connection(datapathId) !== undefined;
  }

  connectedDatapaths(): bigint[] {
    return this.controller.connectedDatapaths();
  }

  /** Resolves once the switch of datapathId is connected; rejects after timeoutSec (default connectTimeoutSec). */
  async waitForSwitch(datapathId: bigint, timeoutSec = this.options.connectTimeoutSec): Promise<void> {
    await this.controller.waitForConnection(datapathId, timeoutSec * 1000);
  }

  bridge(name: string, datapathId: bigint): NativeSwitch {
    return new NativeSwitch(name, datapathId, this.controller, this.options);
  }
}

/** os-ken's OFPCML_MAX: the max_len its output actions carry by default. */
const OFPCML_MAX = 0xffe5;

export class NativeSwitch implements OpenFlowSwitch {
  /** Aborted by retire(): the bridge is no longer this datapath. */
  private readonly retired = new AbortController();

  constructor(
    readonly bridge: string,
    readonly datapathId: bigint,
    private readonly controller: OpenFlowController,
    private readonly options: NativeBackendOptions,
  ) {}

  get isRetired(): boolean {
    return this.retired.signal.aborted;
  }

  retire(reason: string): void {
    if (!this.retired.signal.aborted) this.retired.abort(new Error(reason));
  }

  onPacketIn(listener: (p: PacketIn) => void): () => void {
    return this.controller.packetIns.subscribe(this.datapathId, this.bridge, listener);
  }

  packetInCounters(): PacketInCounters {
    return this.controller.packetIns.countersOf(this.datapathId);
  }

  async packetOut(ofport: number, frame: Buffer): Promise<void> {
    const conn = await this.connection();
    // max_len as os-ken's OFPActionOutput gives it (OFPCML_MAX), byte for byte the reference's message.
    const actions: Action[] = [{ type: 'output', port: ofport, maxLen: OFPCML_MAX }];
    try {
      conn.send({ type: 'packet_out', xid: conn.allocXid(1), bufferId: OFP_NO_BUFFER, inPort: OFPP.CONTROLLER, actions, data: frame });
    } catch (e) {
      throw this.wrap(e, `packet_out to port ${ofport} (${frame.length} bytes)`);
    }
  }

  private async connection(): Promise<OfConnection> {
    try {
      return await this.controller.waitForConnection(this.datapathId, this.options.connectTimeoutSec * 1000, this.retired.signal);
    } catch (e) {
      throw this.wrap(e);
    }
  }

  private wrap(e: unknown, flow?: string): OpenFlowError {
    if (e instanceof OpenFlowError) return e;
    if (e instanceof OfRequestError) {
      const detail: { type?: number; code?: number; xid?: number; flow?: string } = {};
      if (e.detail.errType !== undefined) detail.type = e.detail.errType;
      if (e.detail.code !== undefined) detail.code = e.detail.code;
      if (e.detail.xid !== undefined) detail.xid = e.detail.xid;
      if (flow !== undefined) detail.flow = flow;
      return new OpenFlowError(e.message, this.bridge, detail);
    }
    return new OpenFlowError(e instanceof Error ? e.message : String(e), this.bridge, flow !== undefined ? { flow } : {});
  }

  async apply(mods: FlowMod[]): Promise<void> {
    if (mods.length === 0) return;
    // Encoding happens before anything is sent: a flow the codec cannot express fails the whole batch.
    const bodies: FlowModBody[] = new Array(mods.length);
    for (let i = 0; i < mods.length; i++) {
      try {
        bodies[i] = flowModToWire(mods[i]!);
      } catch (e) {
        throw new OpenFlowError(`cannot encode flow mod: ${(e as Error).message}`, this.bridge, { flow: formatFlowModLine(mods[i]!) });
      }
    }
    const conn = await this.connection();
    const refused: { index: number; errType: number; code: number }[] = [];
    try {
      await conn.sendFlowMods(bodies, (index, errType, code) => refused.push({ index, errType, code }));
    } catch (e) {
      const index = e instanceof OfRequestError ? e.detail.index : undefined;
      throw this.wrap(e, index !== undefined ? formatFlowModLine(mods[index]!) : undefined);
    }
    if (refused.length === 0) return;
    const first = refused[0]!;
    const listed = refused
      .slice(0, MAX_LISTED_ERRORS)
      .map((r) => `${errorName(r.errType, r.code)} for "${formatFlowModLine(mods[r.index]!)}"`)
      .join('; ');
    const more = refused.length > MAX_LISTED_ERRORS ? ` (and ${refused.length - MAX_LISTED_ERRORS} more)` : '';
    throw new OpenFlowError(`switch refused ${refused.length} of ${mods.length} flow mods: ${listed}${more}`, this.bridge, {
      type: first.errType,
      code: first.code,
      flow: formatFlowModLine(mods[first.index]!),
      refused: refused.map((r) => ({ index: r.index, reason: errorName(r.errType, r.code) })),
    });
  }

  /** All flows matching the filter (FLOW_STATS, empty match), as FlowStatsEntry (a FlowStats with extras). */
  async dumpFlows(filter: StatsFilter = {}): Promise<FlowStatsEntry[]> {
    const conn = await this.connection();
    try {
      const parts = await conn.multipart(
        {
          kind: 'flow',
          body: {
            tableId: filter.table ?? OFPTT_ALL,
            outPort: OFPP_ANY,
            outGroup: OFPG_ANY,
            cookie: filter.cookie ?? 0n,
            cookieMask: filter.cookieMask ?? 0n,
            match: {},
          },
        },
        `FLOW_STATS request (table ${filter.table ?? 'ALL'}) on ${dpidHex(this.datapathId)}`,
      );
      return parts.flatMap((p) => (p.kind === 'flow' ? p.entries : []));
    } catch (e) {
      throw this.wrap(e);
    }
  }

  async applyMeter(mod: MeterMod): Promise<void> {
    const what = mod.command === 'delete' ? `METER_MOD delete meter=${mod.meterId}` : `METER_MOD ${mod.command} ${formatMeter(mod.meter)}`;
    const meterId = mod.command === 'delete' ? mod.meterId : mod.meter.id;
    const conn = await this.connection();
    try {
      await conn.sendWithBarrier((xid) => ({ type: 'meter_mod', xid, mod }), what);
    } catch (e) {
      const failure = e instanceof OfRequestError && e.detail.errType === OFPET_METER_MOD_FAILED ? METER_MOD_FAILURES[e.detail.code ?? -1] : undefined;
      if (failure) throw new MeterModError(`switch refused ${what}: ${failure}`, this.bridge, meterId, failure);
      throw this.wrap(e);
    }
  }

  async dumpMeters(): Promise<Meter[]> {
    const conn = await this.connection();
    try {
      const parts = await conn.multipart({ kind: 'meter_config', meterId: OFPM_ALL }, `METER_CONFIG request on ${dpidHex(this.datapathId)}`);
      return parts.flatMap((p) => (p.kind === 'meter_config' ? p.meters : [])).sort((a, b) => a.id - b.id);
    } catch (e) {
      throw this.wrap(e);
    }
  }

  async meterFeatures(): Promise<MeterFeatures> {
    const conn = await this.connection();
    try {
      const parts = await conn.multipart({ kind: 'meter_features' }, `METER_FEATURES request on ${dpidHex(this.datapathId)}`);
      const features = parts.find((p) => p.kind === 'meter_features');
      if (!features) throw new OpenFlowError(`METER_FEATURES request: the reply holds no meter features`, this.bridge);
      return features.features;
    } catch (e) {
      throw this.wrap(e);
    }
  }

  async portDesc(): Promise<PortDescEntry[]> {
    const conn = await this.connection();
    try {
      const parts = await conn.multipart({ kind: 'port_desc' }, `PORT_DESC request on ${dpidHex(this.datapathId)}`);
      return parts.flatMap((p) => (p.kind === 'port_desc' ? p.ports : []));
    } catch (e) {
      throw this.wrap(e);
    }
  }
}

export type { FlowStats, PortDesc, FlowStatsEntry, PortDescEntry };
