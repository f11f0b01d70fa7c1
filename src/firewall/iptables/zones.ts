// Conntrack zones of hybrid ports: each filtered port gets a zone of its own (the raw table's
// `-j CT --zone N` rules), so connections of two VMs with the same addresses never mix. Numbers are
// handed out as the reference does (from 4097 up, then gaps), and read back from the raw table at
// start so a restart, or a host taken over from the reference, keeps every port's zone. A removed
// port keeps its number until zones run out (as in the reference: the next port gets a new one).

export const ZONE_START = 4097;
export const MAX_ZONE = 65535;
/** Port ids appear in device names cut to 11 characters (tap + 11). */
const KEY_LEN = 11;

export class ConntrackZones {
  /** Port id prefix (11 characters) -> zone. */
  private readonly byKey = new Map<string, number>();

  /** Zones found in the raw table's rules (iptables-save text of the PREROUTING chain, or the whole table). */
  static fromRawRules(rules: readonly string[]): ConntrackZones {
    const z = new ConntrackZones();
    for (const r of rules) {
      const m = /--physdev-in [a-z]{3}([A-Za-z0-9-]+)\b.* -j CT --zone (\d+)/.exec(r);
      if (m) z.byKey.set(m[1]!.slice(0, KEY_LEN), Number(m[2]));
    }
    return z;
  }

  get(portId: string): number | undefined {
    return this.byKey.get(portId.slice(0, KEY_LEN));
  }

  /** The port's zone, allocating one if it has none: the next above the highest in use, else the lowest gap. */
  allocate(portId: string, livePortIds: Iterable<string> = []): number {
    const have = this.get(portId);
    if (have !== undefined) return have;
    let zone = this.findFree();
    if (zone === undefined) {
      // Zones of ports that are gone are only reclaimed when none is left, as in the reference.
      const live = new Set([...livePortIds].map((id) => id.slice(0, KEY_LEN)));
      for (const k of [...this.byKey.keys()]) if (!live.has(k)) this.byKey.delete(k);
      zone = this.findFree();
    }
    if (zone === undefined) throw new Error(`no conntrack zone left for port ${portId} (${ZONE_START}-${MAX_ZONE} all in use)`);
    this.byKey.set(portId.slice(0, KEY_LEN), zone);
    return zone;
  }

  private findFree(): number | undefined {
    const used = [...new Set(this.byKey.values())].sort((a, b) => a - b);
    if (used.length === 0) return ZONE_START;
    const last = used[used.length - 1]!;
    if (last < MAX_ZONE) return Math.max(last + 1, ZONE_START);
    for (const [i, z] of used.entries()) if (z - i !== ZONE_START) return i + ZONE_START;
    return undefined;
  }
}
