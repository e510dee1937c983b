/** @module An injectable clock so back-off and probe schedules can run under a fake clock in tests. */

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds, monotonic enough for scheduling. */
  now(): number;
  /** Run `fn` after `ms`; the returned timer can be cancelled. */
  after(ms: number, fn: () => void): Timer;
}

/** setTimeout's longest delay: past it Node fires after 1 ms instead (a 25-day periodSeconds would probe every millisecond). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Wall clock backed by setTimeout. Every timer the runtime sets is cancelled when its container or pod stops. */
export const realClock: Clock = {
  now: () => performance.now(),
  after(ms, fn) {
    // Longer delays (an int64 terminationGracePeriodSeconds, activeDeadlineSeconds) wait in setTimeout-sized steps.
    const due = performance.now() + Math.max(0, ms);
    let t: NodeJS.Timeout;
    const arm = (left: number): void => {
      t = setTimeout(() => (left > MAX_TIMEOUT_MS ? arm(due - performance.now()) : fn()), Math.min(Math.max(0, left), MAX_TIMEOUT_MS));
    };
    arm(Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock that only moves when told to. `advance(ms)` fires due timers in time order. */
export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): Timer {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }

  /** Pending timer delays from now, soonest first. */
  pending(): number[] {
    return this.timers.filter((x) => x.live).map((x) => x.at - this.t).sort((a, b) => a - b);
  }

  /** Move time forward, firing each due timer (and timers those schedule) at its own time. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      due.live = false;
      this.t = due.at;
      due.fn();
    }
    this.timers = this.timers.filter((x) => x.live);
    this.t = end;
  }
}
