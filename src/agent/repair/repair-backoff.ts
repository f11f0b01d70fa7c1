// How often one thing the agent owns may be put back. Something that keeps resetting what the agent
// set (a misbehaving plugging tool, a script in a loop) must not be fought in a tight loop: a repair
// that comes soon after the previous repair of the same thing counts as a flap, and each flap
// doubles the wait before the next repair, up to a ceiling. A quiet period forgets the flapping.
// A repair the switch refuses (failed()) backs off the same way whatever the time between tries,
// until the key is forgotten (the repair took, or the thing is no longer wanted).
import { Backoff } from '../../util/backoff.js';

/** A repair within this long of the previous one of the same thing is a flap. */
export const FLAP_WINDOW_MS = 30_000;

interface KeyState {
  lastRepairAt: number;
  /** No repair of this key before this instant. */
  notBefore: number;
  backoff: Backoff;
  /** The last try failed: kept (not pruned) until forget(). */
  failing: boolean;
}

export class RepairBackoff {
  private readonly keys = new Map<string, KeyState>();
  private flapCount = 0;

  constructor(
    private readonly initialMs = 1000,
    private readonly maxMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Repairs that came within FLAP_WINDOW_MS of the previous repair of the same thing, since start. */
  get flaps(): number {
    return this.flapCount;
  }

  /** How long until `key` may be repaired (0: now). */
  waitMs(key: string): number {
    const s = this.keys.get(key);
    return s ? Math.max(0, s.notBefore - this.now()) : 0;
  }

  /** `key` was repaired now; returns true when that repair was a flap (and the next one waits). */
  repaired(key: string): boolean {
    const now = this.now();
    const s = this.keys.get(key);
    if (!s) {
      this.track(key, now, false);
      return false;
    }
    const flap = now - s.lastRepairAt < FLAP_WINDOW_MS;
    s.lastRepairAt = now;
    if (!flap) {
      s.backoff.reset();
      s.notBefore = now;
      return false;
    }
    this.flapCount++;
    s.notBefore = now + s.backoff.next();
    return true;
  }

  /**
   * A try at `key` failed now (the switch refused it): the next waits the next step of the back-off,
   * however long since the previous try. Returns that wait.
   */
  failed(key: string): number {
    const now = this.now();
    const s = this.keys.get(key) ?? this.track(key, now, true);
    const wait = s.backoff.next();
    s.lastRepairAt = now;
    s.notBefore = now + wait;
    s.failing = true;
    return wait;
  }

  /** `key` is settled (its repair took, or it is no longer wanted): the next failure starts the back-off over. */
  forget(key: string): void {
    this.keys.delete(key);
  }

  /** A key seen for the first time, repaired (or tried) now. */
  private track(key: string, now: number, failing: boolean): KeyState {
    const s: KeyState = { lastRepairAt: now, notBefore: now, backoff: new Backoff(this.initialMs, this.maxMs), failing };
    this.keys.set(key, s);
    this.prune(now);
    return s;
  }

  /** Keys quiet for a flap window carry nothing worth keeping; bounded memory with many ports. */
  private prune(now: number): void {
    if (this.keys.size < 1024) return;
    for (const [k, s] of this.keys) if (!s.failing && now - s.lastRepairAt > FLAP_WINDOW_MS && s.notBefore <= now) this.keys.delete(k);
  }
}
