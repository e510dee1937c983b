/** @module The sync loop: when to sync (poll, trigger, coalescing), and what a sync's success or failure leads to (files, hooks, metrics, exit). */
import { mkdirSync, promises as fsp, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { ClosedError, describeError, PodkitError, TimeoutError } from '../core/errors.js';
import { redactString, type Logger } from '../core/log.js';
import type { Readiness } from '../core/http.js';
import type { AuthSetup } from './auth.js';
import { writeErrorFile } from './fsutil.js';
import type { HookEvent, HookRunner } from './hooks.js';
import { publishChannel, syncChannel, type PublishEvent, type SyncEvent } from './metrics.js';
import type { Resolved } from './options.js';
import type { Repo, SyncResult } from './repo.js';

export type TriggerReason = 'start' | 'poll' | 'webhook' | 'signal' | 'api';

export interface Status {
  /** Published hash ('' before the first publish). */
  hash: string;
  lastSuccessMs?: number;
  consecutiveFailures: number;
  lastError?: string;
  /** Successful syncs (including no-op polls). */
  syncs: number;
  /** Sync attempts started (a refused trigger never adds one). */
  attempts: number;
}

/**
 * kubernetes/git-sync v4's failure budget: it counts the failure, then aborts when `failCount >= max` (max ≥ 0).
 * So --max-failures=0 and =1 both end at the first failure, =N at the Nth, and a negative value never ends.
 */
export function exceedsBudget(failures: number, max: number): boolean {
  return max >= 0 && failures >= max;
}

export class SyncLoop {
  readonly st: Status = { hash: '', consecutiveFailures: 0, syncs: 0, attempts: 0 };
  /** Resolves with the exit code when the loop ends on its own (--one-time, the failure budget spent). */
  readonly done: Promise<number>;
  private finish!: (code: number) => void;
  private closed = false;
  private finished = false;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private pendingSince: number | undefined;
  private pendingReason: TriggerReason = 'poll';
  private firstSuccess = true;
  private oneTimeHash: string | undefined;
  private current: AbortController | undefined;

  constructor(
    private readonly o: Resolved,
    private readonly repo: Repo,
    private readonly auth: AuthSetup,
    private readonly hooks: readonly HookRunner[],
    /** This instance, as its channel events name it. */
    private readonly origin: object,
    private readonly log: Logger,
  ) {
    this.done = new Promise<number>((r) => (this.finish = r));
  }

  private end(code: number): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.finish(code);
  }

  /** Ask for a sync now; coalesces with one in progress into at most one follow-up. */
  trigger(reason: TriggerReason = 'api'): void {
    if (this.closed || this.finished) return;
    if (reason !== 'poll' && this.pendingSince === undefined) {
      this.pendingSince = Date.now();
      this.pendingReason = reason;
    }
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.loop();
  }

  readiness(): Readiness {
    const { st, o } = this;
    if (st.lastSuccessMs === undefined) return { ready: false, reason: st.lastError ? `no successful sync yet: ${st.lastError}` : 'no successful sync yet' };
    const age = Date.now() - st.lastSuccessMs;
    if (o.readyStalePeriods > 0 && age > o.readyStalePeriods * o.periodMs) {
      return { ready: false, reason: `last successful sync was ${Math.round(age / 1000)}s ago: ${st.lastError ?? 'unknown error'}` };
    }
    return { ready: true };
  }

  /** Stop polling, abort the sync under way and wait for it; `done` resolves with 0 unless it already ended. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.current?.abort(new ClosedError('closing'));
    await this.running;
    await this.repo.idle();
  }

  /** Resolve `done` (after close(): nothing runs any more). */
  ended(code: number): void {
    this.end(code);
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      // syncOnce reports its own failures; this only keeps an unexpected throw from stopping the loop for good.
      await this.syncOnce().catch((err: unknown) => this.log.error('sync loop error', { error: describeError(err) }));
    } while (this.again && !this.closed && !this.finished);
    this.running = undefined;
    if (!this.closed && !this.finished) this.timer = setTimeout(() => this.trigger('poll'), this.st.lastSuccessMs === undefined ? this.o.initPeriodMs : this.o.periodMs);
  }

  private async syncOnce(): Promise<void> {
    const { o, repo, log } = this;
    const since = this.pendingSince;
    const reason = this.pendingReason;
    this.pendingSince = undefined;
    this.pendingReason = 'poll';
    const startedMs = Date.now();
    this.st.attempts++;
    const ac = new AbortController();
    this.current = ac;
    const t = setTimeout(() => ac.abort(new TimeoutError(`sync ran past --sync-timeout ${o.syncTimeoutMs}ms`)), o.syncTimeoutMs);
    try {
      this.auth.refresh();
      await this.auth.refreshAskpassUrl(ac.signal);
      const r = await repo.sync(ac.signal, reason === 'webhook' || reason === 'signal' || reason === 'api');
      if (r.changed) log.info('updated successfully', { ref: o.ref, hash: r.hash, previous: r.previous || undefined, trigger: reason, ms: Date.now() - startedMs });
      else log.debug('update not required', { ref: o.ref, hash: r.hash });
      await this.succeeded(r, startedMs, since, reason);
    } catch (err) {
      if (this.closed && err instanceof ClosedError) return;
      this.failed(err, startedMs);
    } finally {
      clearTimeout(t);
    }
    try {
      await repo.cleanup(ac.signal);
    } catch (err) {
      if (!this.closed) log.warn('cleanup of old trees failed', { error: describeError(err) });
    }
    if (!this.closed && !o.oneTime) repo.prepareSpare(repo.currentHash());
    this.current = undefined;
    if (this.oneTimeHash !== undefined) await this.finishOneTime(this.oneTimeHash);
  }

  private async succeeded(r: SyncResult, startedMs: number, since: number | undefined, reason: TriggerReason): Promise<void> {
    const { o, st } = this;
    const now = Date.now();
    const first = this.firstSuccess;
    syncChannel.publish({ source: this.origin, status: r.changed || first ? 'success' : 'noop', seconds: (now - startedMs) / 1000, changed: r.changed, failures: 0, atMs: now, hash: r.hash, ref: o.ref } satisfies SyncEvent);
    st.hash = r.hash;
    st.lastSuccessMs = now;
    st.consecutiveFailures = 0;
    st.lastError = undefined;
    st.syncs++;
    if (o.errorFile) rmSync(o.errorFile, { force: true });
    if (r.changed || first) {
      this.firstSuccess = false;
      if (o.touchFile) await touch(o.touchFile);
      // Hooks go out first: nothing below is worth delaying the consumer's notification for.
      const e: HookEvent = { hash: r.hash, previous: r.previous, tree: this.repo.worktreeFor(r.hash) };
      for (const h of this.hooks) h.send(e);
      if (o.oneTime) this.oneTimeHash = r.hash;
    }
    if (r.changed) publishChannel.publish({ source: this.origin, atMs: now, visible: await this.visible(r.hash, now, since, reason) } satisfies PublishEvent);
  }

  /** Push → visible: from the trigger when one asked for this sync, else from the commit's time. */
  private async visible(hash: string, now: number, since: number | undefined, reason: TriggerReason): Promise<PublishEvent['visible']> {
    if (since !== undefined) return { trigger: reason, seconds: (now - since) / 1000 };
    const ct = await this.repo.commitTime(hash);
    return ct === undefined ? undefined : { trigger: 'poll', seconds: Math.max(0, now / 1000 - ct) };
  }

  /** --one-time, after the cleanup ran (as v4 orders it): wait for each hook's first result, then end. */
  private async finishOneTime(hash: string): Promise<void> {
    const results = await Promise.all(this.hooks.map((h) => h.firstResult()));
    this.log.info('exiting after one sync', { hash });
    this.end(results.every(Boolean) ? 0 : 1);
  }

  private failed(err: unknown, startedMs: number): void {
    const { o, st, log } = this;
    const msg = redactString(describeError(err));
    st.consecutiveFailures++;
    st.lastError = msg;
    syncChannel.publish({ source: this.origin, status: 'error', seconds: (Date.now() - startedMs) / 1000, changed: false, failures: st.consecutiveFailures, atMs: Date.now() } satisfies SyncEvent);
    // Until the first success the budget is --init-max-failures (v4), so a slow-to-appear remote can be waited for.
    const max = st.lastSuccessMs === undefined ? o.initMaxFailures : o.maxFailures;
    const abort = exceedsBudget(st.consecutiveFailures, max);
    const Msg = abort ? 'too many failures, aborting' : 'error syncing repo, will retry';
    if (o.errorFile) {
      // v4's error file: the log call's message, the error's text and the call's arguments, as compact JSON.
      try {
        writeErrorFile(o.errorFile, JSON.stringify({ Msg, Err: msg, Args: { failCount: st.consecutiveFailures } }));
      } catch (e) {
        log.warn("can't write the error file", { path: o.errorFile, error: describeError(e) });
      }
    }
    // The error's catalogue code tells an auth refusal (PODKIT_ERR_AUTH) from an unreachable remote (PODKIT_ERR_UPSTREAM).
    const code = err instanceof PodkitError ? err.code : undefined;
    if (abort) {
      log.error(Msg, { error: msg, code, failCount: st.consecutiveFailures, maxFailures: max });
      this.end(1);
    } else log.error(`${Msg}; the published tree keeps serving`, { error: msg, code, failCount: st.consecutiveFailures, hash: st.hash || undefined });
  }
}

/** v4's touch: update the times, creating the file (and its dir) when missing. */
async function touch(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const t = new Date();
  await fsp.utimes(path, t, t).catch(() => fsp.writeFile(path, ''));
}
