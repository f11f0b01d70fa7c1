// Exponential back-off with a ceiling, as used for reconnects (OVSDB, OpenFlow, AMQP).
export class Backoff {
  private attempt = 0;
  constructor(private readonly initialMs: number, private readonly maxMs: number, private readonly factor = 2) {}
  next(): number {
    const d = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt++;
    return d;
  }
  reset(): void { this.attempt = 0; }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() { signal?.removeEventListener('abort', done); clearTimeout(t); resolve(); }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * One pending retry at a time: arm() while one is pending is ignored, cancel() drops it. The timer
 * is unref'd, so a pending retry never keeps a stopping process alive.
 */
export class RetryTimer {
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly fire: () => void) {}

  get pending(): boolean {
    return this.timer !== undefined;
  }

  arm(delayMs: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.fire();
    }, delayMs);
    this.timer.unref();
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
