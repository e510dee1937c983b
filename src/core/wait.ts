/** @module waitFor: the one bounded poll: check a condition now and every interval until it holds, the time is up or the wait is aborted. */
import { setTimeout as sleep } from 'node:timers/promises';
import { InternalError } from './errors.js';

export interface WaitOptions {
  /** How long to wait at most. The condition is checked once more at the deadline, so a slow last step still counts. */
  timeoutMs: number;
  /** Pause between checks. */
  intervalMs: number;
  /** Ends the wait early (resolving false), as the deadline does. */
  signal?: AbortSignal;
}

/**
 * Resolve true as soon as `predicate` holds (checked first without waiting), false when it still does not at the
 * deadline or after `signal` aborts. The callers decide what a false means: some go on regardless (a cleanup that
 * waited its while), some throw their own catalogue error, which names what they waited for better than a generic
 * one could. A predicate that throws ends the wait with its error. The pauses are timers that keep the process
 * alive, as the callers' waits are part of what they are doing.
 */
export async function waitFor(predicate: () => boolean | Promise<boolean>, opts: WaitOptions): Promise<boolean> {
  const { timeoutMs, intervalMs, signal } = opts;
  if (!(timeoutMs >= 0) || !(intervalMs > 0)) throw new InternalError(`waitFor: timeoutMs must be >= 0 and intervalMs > 0 (got ${timeoutMs}, ${intervalMs})`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) return false;
    if (await predicate()) return true;
    const left = deadline - Date.now();
    if (left <= 0 || signal?.aborted) return false;
    try {
      await sleep(Math.min(intervalMs, left), undefined, { signal });
    } catch {
      return false; // aborted while pausing
    }
  }
}
