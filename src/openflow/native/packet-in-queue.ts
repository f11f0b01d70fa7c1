// Packet-ins waiting for their listener. A switch can send packet-ins far faster than anything can
// handle them (a flood through a `controller` flow); they share the event loop, and the socket,
// with the barrier and stats replies the agent's own OpenFlow work waits for. So a frame is only
// queued as it arrives (no decoding), the queue is bounded (the excess is dropped and counted), and
// it is drained a slice at a time on setImmediate, letting socket reads and replies in between.
import { getLogger } from '../../util/log.js';
import { decodeMessage, OFPR_NAMES } from './codec/index.js';
import type { PacketIn, PacketInCounters } from '../backend.js';

const log = getLogger('openflow.native.packet_in');

export type PacketInListener = (p: PacketIn) => void;

export interface PacketInQueueOptions {
  /** Frames held at most; more are dropped (default 1024). */
  capacity?: number;
  /** Frames handled per event-loop turn (default 64). */
  slice?: number;
}

interface Queued {
  dpid: bigint;
  raw: Buffer;
}

/** At most one warning per this many milliseconds for drops and for malformed frames. */
const WARN_EVERY_MS = 10_000;

export class PacketInQueue {
  private readonly listeners = new Map<bigint, { bridge: string; listener: PacketInListener }[]>();
  private readonly counters = new Map<bigint, PacketInCounters>();
  private queue: Queued[] = [];
  private head = 0;
  private scheduled = false;
  private readonly capacity: number;
  private readonly slice: number;
  private lastWarn = { dropped: 0, malformed: 0 };

  constructor(opts: PacketInQueueOptions = {}) {
    this.capacity = opts.capacity ?? 1024;
    this.slice = opts.slice ?? 64;
  }

  /** Listen to the packet-ins of one datapath; returns the unsubscribe. */
  subscribe(dpid: bigint, bridge: string, listener: PacketInListener): () => void {
    const list = this.listeners.get(dpid) ?? [];
    const entry = { bridge, listener };
    list.push(entry);
    this.listeners.set(dpid, list);
    return () => {
      const now = this.listeners.get(dpid)?.filter((e) => e !== entry) ?? [];
      if (now.length) this.listeners.set(dpid, now);
      else this.listeners.delete(dpid);
    };
  }

  countersOf(dpid: bigint): PacketInCounters {
    return { ...(this.counters.get(dpid) ?? zero()) };
  }

  get length(): number {
    return this.queue.length - this.head;
  }

  /** A raw PACKET_IN frame from the switch of `dpid`; cheap whatever happens to it. */
  push(dpid: bigint, raw: Buffer): void {
    if (!this.listeners.has(dpid)) return; // nobody asked for this bridge's packet-ins
    const c = this.countersFor(dpid);
    c.received++;
    if (this.length >= this.capacity) {
      c.dropped++;
      this.warn('dropped', `packet-in queue full (${this.capacity}): dropping packet-ins (${c.dropped} dropped so far from this switch)`);
      return;
    }
    this.queue.push({ dpid, raw });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Forget what is queued (the controller stops). */
  clear(): void {
    this.queue = [];
    this.head = 0;
  }

  private drain(): void {
    this.scheduled = false;
    const end = Math.min(this.queue.length, this.head + this.slice);
    for (; this.head < end; this.head++) this.deliver(this.queue[this.head]!);
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else {
      if (this.head > 4096) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private deliver({ dpid, raw }: Queued): void {
    const list = this.listeners.get(dpid);
    if (!list) return;
    const c = this.countersFor(dpid);
    let msg;
    try {
      msg = decodeMessage(raw);
    } catch (e) {
      c.malformed++;
      this.warn('malformed', `undecodable packet-in from ${list[0]!.bridge} (xid ${raw.readUInt32BE(4)}) dropped: ${(e as Error).message}`);
      return;
    }
    if (msg.type !== 'packet_in') return;
    for (const { bridge, listener } of list) {
      const p: PacketIn = {
        bridge, tableId: msg.tableId, cookie: msg.cookie, reason: OFPR_NAMES[msg.reason] ?? `reason ${msg.reason}`,
        totalLen: msg.totalLen, match: msg.match, data: msg.data,
      };
      try {
        listener(p);
      } catch (e) {
        log.error(`packet-in listener of ${bridge} failed on a packet from table ${msg.tableId} cookie 0x${msg.cookie.toString(16)}`, e);
      }
    }
    c.delivered++;
  }

  private countersFor(dpid: bigint): PacketInCounters {
    let c = this.counters.get(dpid);
    if (!c) this.counters.set(dpid, (c = zero()));
    return c;
  }

  private warn(kind: 'dropped' | 'malformed', message: string): void {
    const now = Date.now();
    if (now - this.lastWarn[kind] < WARN_EVERY_MS) return;
    this.lastWarn[kind] = now;
    log.warning(message);
  }
}

function zero(): PacketInCounters {
  return { received: 0, delivered: 0, dropped: 0, malformed: 0 };
}
