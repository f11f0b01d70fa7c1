// When reconciliation passes run. Event-driven where the reference polls: a change in the OVSDB
// replica, a push from the server or an l2population message kicks a pass; passes never overlap,
// and everything that arrived meanwhile is handled together in the next one.
import type { SyncState } from './sync-state.js';
import { Backoff, RetryTimer } from '../../util/backoff.js';
import { getLogger } from '../../util/log.js';

const LOG = getLogger('agent');

export class PassScheduler {
  /** Something changed since the current pass started. */
  private dirty = false;
  /** A drain loop is queued or running; kicks meanwhile only set `dirty`. */
  private draining = false;
  private running: Promise<void> | undefined;
  private lock: Promise<void> = Promise.resolve();
  private readonly retryTimer = new RetryTimer(() => this.kick());
  private readonly retryBackoff = new Backoff(500, 10_000);

  constructor(
    private readonly sync: SyncState,
    private readonly runPass: () => Promise<void>,
  ) {}

  /** Something changed: run a pass soon (passes never overlap; changes meanwhile join the next). */
  kick(): void {
    this.dirty = true;
    if (this.draining) return;
    this.draining = true;
    this.running = this.withLock(() => this.drain()).finally(() => {
      this.draining = false;
      if (this.dirty && !this.sync.stopping) this.kick();
    });
  }

  /** Passes over the ports, OVS re-setup and l2population handlers change the same state: one at a time. */
  withLock<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.lock.then(fn);
    this.lock = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** A pass or a report left work undone: kick again after a growing delay. */
  scheduleRetry(): void {
    if (this.retryTimer.pending || this.sync.stopping) return;
    this.retryTimer.arm(this.retryBackoff.next());
  }

  /** A pass completed without failures: the next retry starts with a short delay again. */
  resetRetryDelay(): void {
    this.retryBackoff.reset();
  }

  /** Cancel retries and wait for the pass in progress (call with `sync.stopping` set). */
  async stop(): Promise<void> {
    this.retryTimer.cancel();
    await this.running?.catch(() => undefined);
  }

  private async drain(): Promise<void> {
    while (this.dirty && !this.sync.stopping) {
      this.dirty = false;
      await new Promise<void>((r) => setImmediate(r)); // let events of the same burst arrive
      try {
        await this.runPass();
      } catch (e) {
        LOG.error('port processing failed; full resync on the next pass', e);
        this.sync.fullSync = true;
        this.scheduleRetry();
      }
    }
  }
}
