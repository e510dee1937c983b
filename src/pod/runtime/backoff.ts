/**
 * @module Kubernetes' container restart back-off: the first restart after a crash is immediate, then 10 s doubling to
 * 300 s; reset once a container has run 10 minutes. Image pulls back off from 10 s at once.
 */

export interface BackoffOptions {
  /** First delay. Default 10 s. */
  initialMs?: number;
  /** Cap. Default 300 s (adjustable for development with `podkit up --max-backoff`). */
  maxMs?: number;
  /** A container that ran at least this long resets the delay. Default 10 min. */
  resetAfterMs?: number;
  /**
   * The first delay is 0 (the kubelet restarts a container that crashed for the first time at once, and only then
   * starts its back-off). Default false: the image pull back-off starts at `initialMs`.
   */
  immediateFirst?: boolean;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly resetAfterMs: number;
  private readonly immediateFirst: boolean;
  /** Delays handed out since the last reset. */
  private count = 0;
  private current = 0;

  constructor(opts: BackoffOptions = {}) {
    this.maxMs = opts.maxMs ?? 300_000;
    this.initialMs = Math.min(opts.initialMs ?? 10_000, this.maxMs);
    this.resetAfterMs = opts.resetAfterMs ?? 600_000;
    this.immediateFirst = opts.immediateFirst ?? false;
  }

  /** The delay before the next restart of a container that just exited after running `ranMs`. */
  next(ranMs: number): number {
    if (ranMs >= this.resetAfterMs) this.reset();
    if (this.count++ === 0 && this.immediateFirst) return 0;
    this.current = this.current === 0 ? this.initialMs : Math.min(this.current * 2, this.maxMs);
    return this.current;
  }

  reset(): void {
    this.current = 0;
    this.count = 0;
  }
}
