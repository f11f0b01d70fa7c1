// OpenFlow meters of br-int that QoS uses: packet-rate limits (the reference's, pktps) and, ours,
// egress bandwidth limits on the userspace datapath (kbps). Ids are allocated here, lowest free
// first, within what the switch supports (meter features), and a port's packet-rate meter ids are
// kept in its OVSDB Port other_config as `<port id>_<direction>`, as the reference keeps them.

/** A meter of one drop band: `rate` packets/s (pktps) or kbit/s (kbps), `burst` in the same unit. */
export interface MeterBand {
  unit: 'pktps' | 'kbps';
  rate: number;
  burst: number;
}

/** What the QoS driver needs of br-int's switch for meters (both OpenFlow backends give it). */
export interface MeterTable {
  /** Meter features: the highest meter id the switch takes; 0 when it has no usable meters. */
  maxMeters(): Promise<number>;
  /** Adds the meter, or modifies it when it exists. */
  set(id: number, band: MeterBand): Promise<void>;
  /** Deletes it; a meter already gone is not an error. */
  delete(id: number): Promise<void>;
  /** The ids of the meters the switch has now (an earlier run's among them). */
  ids(): Promise<number[]>;
}

export class MeterIds {
  private readonly used = new Set<number>();
  /** Meters an earlier run left: taken again by the port that stored the id, else deleted after the first sync. */
  private readonly held = new Set<number>();
  constructor(private readonly max: number) {}

  holdEarlier(ids: Iterable<number>): void {
    for (const id of ids) if (!this.used.has(id)) this.held.add(id);
  }

  /** The earlier run's meters no port took again; no longer held. */
  takeUnclaimed(): number[] {
    const out = [...this.held];
    this.held.clear();
    return out;
  }

  get available(): boolean {
    return this.max > 0;
  }

  /** `preferred` when it is free and in range (an id an earlier run stored), else the lowest free. */
  allocate(preferred?: number): number | undefined {
    if (preferred !== undefined && preferred >= 1 && preferred <= this.max && !this.used.has(preferred)) {
      this.held.delete(preferred);
      this.used.add(preferred);
      return preferred;
    }
    for (let id = 1; id <= this.max; id++) {
      if (!this.used.has(id) && !this.held.has(id)) {
        this.used.add(id);
        return id;
      }
    }
    return undefined;
  }

  release(id: number): void {
    this.used.delete(id);
  }

  get inUse(): number {
    return this.used.size;
  }
}
