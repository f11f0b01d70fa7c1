// Progress of long work (a full sync of many ports): every few seconds one INFO line with how far
// it got, the rate and the time left, so an operator watching a slow start-up sees it move.
import type { Logger } from '../../util/log.js';

export const PROGRESS_INTERVAL_MS = 5_000;

export class Progress {
  private done = 0;
  private readonly t0 = performance.now();
  private timer: NodeJS.Timeout | undefined;
  /** What is being waited on now, shown after the figures. */
  private phase: string;

  constructor(
    private readonly log: Logger,
    readonly total: number,
    phase: string,
    intervalMs = PROGRESS_INTERVAL_MS,
  ) {
    this.phase = phase;
    if (total > 0) {
      this.timer = setInterval(() => this.log.info(this.line()), intervalMs);
      this.timer.unref();
    }
  }

  advance(n = 1): void {
    this.done = Math.min(this.total, this.done + n);
  }

  setPhase(phase: string): void {
    this.phase = phase;
  }

  finish(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** `progress: N/M ports, R ports/s, ETA S s (phase)`. */
  line(now = performance.now()): string {
    return formatProgress(this.done, this.total, (now - this.t0) / 1000, this.phase);
  }
}

export function formatProgress(done: number, total: number, elapsedSec: number, phase: string): string {
  const rate = elapsedSec > 0 ? done / elapsedSec : 0;
  const eta = done >= total ? '0' : rate > 0 ? ((total - done) / rate).toFixed(0) : '?';
  return `progress: ${done}/${total} ports, ${rate.toFixed(1)} ports/s, ETA ${eta} s (${phase})`;
}
