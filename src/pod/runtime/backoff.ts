/** @module Kubernetes' container restart back-off: 10 s doubling to 300 s, reset once a container has run 10 minutes. */

export interface BackoffOptions {
  /** First delay. Default 10 s. */
  initialMs?: number;
  /** Cap. Default 300 s (adjustable for development with `podkit up --max-backoff`). */
  maxMs?: number;
  /** A container that ran at least this long resets the delay. Default 10 min. */
  resetAfterMs?: number;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly resetAfterMs: number;
  private current = 0;

  constructor(opts: BackoffOptions = {}) {
    this.maxMs = opts.maxMs ?? 300_000;
    this.initialMs = Math.min(opts.initialMs ?? 10_000, this.maxMs);
    this.resetAfterMs = opts.resetAfterMs ?? 600_000;
  }

  /** The delay before the next restart of a container that just exited after running `ranMs`. */
  next(ranMs: number): number {
    if (ranMs >= this.resetAfterMs) this.current = 0;
    this.current = this.current === 0 ? this.initialMs : Math.min(this.current * 2, this.maxMs);
    return this.current;
  }

  reset(): void {
    this.current = 0;
  }
}
