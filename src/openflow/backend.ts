// The seam between the pipelines and the two ways of reaching a switch:
// the native OpenFlow 1.3 controller (src/openflow/native) and ovs-ofctl (src/openflow/ofctl).
import type { FlowMod, FlowStats, Match, PortDesc } from './flow.js';
import type { Meter, MeterFeatures, MeterMod, MeterModFailure } from './meter.js';

/** Filter of a flow-stats request; absent table = all tables. */
export interface StatsFilter {
  table?: number;
  cookie?: bigint;
  cookieMask?: bigint;
}

/** One bridge as seen through an OpenFlow backend. */
export interface OpenFlowSwitch {
  readonly bridge: string;
  /**
   * Send flow mods in order and wait until the switch has processed all of them.
   * Rejects with an OpenFlowError naming the bridge and the failing flow when the switch refuses one.
   */
  apply(mods: FlowMod[]): Promise<void>;
  dumpFlows(filter?: StatsFilter): Promise<FlowStats[]>;
  portDesc(): Promise<PortDesc[]>;
  /**
   * Add, modify or delete one meter and wait until the switch has processed it. Rejects with a
   * MeterModError when the switch refuses it (an add of an existing id, a modify of a missing one:
   * the caller can add, and on OFPMMFC_METER_EXISTS modify, as the reference does). Deleting a
   * missing meter is not an error.
   */
  applyMeter(mod: MeterMod): Promise<void>;
  /** Every meter's configuration (OFPMP_METER_CONFIG for all meters), in meter id order. */
  dumpMeters(): Promise<Meter[]>;
  /** What the datapath can meter (OFPMP_METER_FEATURES); all zero where it has no meters. */
  meterFeatures(): Promise<MeterFeatures>;
  /**
   * This handle no longer names the switch of its bridge (the bridge was deleted, re-created or got
   * a new datapath id): requests waiting for the switch, and every later one, fail at once with
   * `reason` instead of waiting out of_connect_timeout for a switch that will never connect.
   */
  retire(reason: string): void;
  /**
   * Only where the agent has an OpenFlow channel to the switch (native): call `listener` with each
   * packet the switch sends to the controller; returns the unsubscribe. Packet-ins beyond what the
   * agent can take are dropped and counted (packetInCounters), never queued without bound.
   */
  onPacketIn?(listener: (p: PacketIn) => void): () => void;
  packetInCounters?(): PacketInCounters;
  /**
   * Only where the agent has an OpenFlow channel (native): send `frame` out of `ofport` as a packet
   * from the controller (OFPT_PACKET_OUT, in_port CONTROLLER, no buffer), as os-ken's
   * OFPPacketOut with one output action does. Resolves once it is written to the channel.
   */
  packetOut?(ofport: number, frame: Buffer): Promise<void>;
}

/** A packet the switch sent to the controller (OFPT_PACKET_IN), with its pipeline fields. */
export interface PacketIn {
  bridge: string;
  tableId: number;
  /** The cookie of the flow whose `controller` action sent it. */
  cookie: bigint;
  /** `action`, `no_match`, `invalid_ttl`. */
  reason: string;
  /** in_port, registers, metadata, conntrack fields as the switch reports them. */
  match: Match;
  totalLen: number;
  /** The frame (whole, unless a max_len cut it: then shorter than totalLen). */
  data: Buffer;
}

export interface PacketInCounters {
  /** Packet-ins from the switch while someone listened. */
  received: number;
  delivered: number;
  /** Dropped because the queue was full. */
  dropped: number;
  /** Dropped because they could not be decoded. */
  malformed: number;
}

/** `[ovs] of_interface`: how flows reach the bridges. */
export type OfInterface = 'native' | 'ovs-ofctl';

export interface OpenFlowBackend {
  readonly kind: OfInterface;
  /**
   * The controller every agent bridge must point at (`tcp:IP:PORT`), or undefined when the
   * bridges must have no controller at all (one left by an earlier native run is cleared).
   */
  readonly controllerTarget: string | undefined;
  /**
   * How often the agent checks br-int's canary flow to notice a restarted ovs-vswitchd. A backend
   * that hears of reconnecting switches (onSwitchConnected) needs it only as a fallback.
   */
  readonly canaryIntervalMs: number;
  /** Whether the switch of `datapathId` is connected now; only a backend with connections (native) knows. */
  isConnected?(datapathId: bigint): boolean;
  /** Calls `listener` each time a switch (re)connects; a backend without connections never calls it. */
  onSwitchConnected(listener: (datapathId: bigint) => void): void;
  /** Start listening (native) or check the tool (ovs-ofctl). */
  start(): Promise<void>;
  /**
   * A handle on a bridge. `datapathId` (from OVSDB Bridge.datapath_id) identifies the switch's
   * connection on the native backend; ovs-ofctl addresses the bridge by name.
   */
  bridge(name: string, datapathId: bigint): OpenFlowSwitch;
  stop(): Promise<void>;
}

/** One flow mod of a batch the switch refused: its index in the batch and the switch's error. */
export interface RefusedFlowMod {
  index: number;
  /** The error as the switch named it (OFPFMFC_TABLE_FULL, OFPBIC_BAD_TABLE_ID, ...). */
  reason: string;
}

/** The switch refused a message, or a request could not be completed. */
export class OpenFlowError extends Error {
  constructor(
    message: string,
    readonly bridge: string,
    /**
     * `refused`: when the switch refused some flow mods of a batch (and took the others), every
     * refused one, so a caller can tell them apart without parsing the message.
     */
    readonly detail: { type?: number; code?: number; xid?: number; flow?: string; refused?: readonly RefusedFlowMod[] } = {},
  ) {
    super(`${bridge}: ${message}`);
    this.name = 'OpenFlowError';
  }
}

/** The switch refused a meter mod: `failure` says why, `meterId` which meter. */
export class MeterModError extends OpenFlowError {
  constructor(
    message: string,
    bridge: string,
    readonly meterId: number,
    readonly failure: MeterModFailure,
  ) {
    super(message, bridge);
    this.name = 'MeterModError';
  }
}
