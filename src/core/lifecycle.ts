/** @module Process lifecycle: SIGTERM/SIGINT → graceful stop with a deadline; SIGHUP → reload. */
import type { Logger } from './log.js';
import type { HostPort } from './parse.js';
import { describeError } from './errors.js';
import { onOutputClosed } from './stdio.js';

/** What a reload did: `changed` names the settings it applied; a failed one keeps the running settings and says why. */
export interface ReloadResult {
  ok: boolean;
  changed: string[];
  error?: string;
}

/**
 * The handle every component's `start()` resolves with. `address` is where the component's users send their data
 * (the ambassador's Redis port, the adapter's StatsD listener, the webhook's HTTPS server, whose POST /mutate is
 * its data plane and so is also its `httpAddress`; null for git-sync, which has none) and `httpAddress`
 * where /healthz, /readyz and /metrics are served (null when the HTTP server is off). `reload()` exists where the
 * component can re-read its settings; it resolves with the outcome and does not reject for a bad config.
 */
export interface ComponentHandle {
  readonly address: HostPort | null;
  readonly httpAddress: HostPort | null;
  reload?(): Promise<ReloadResult>;
  close(): Promise<void>;
}

export interface Stoppable {
  close(): Promise<void>;
  /** Called on SIGHUP. */
  reload?(): Promise<unknown> | void;
}

export interface LifecycleOptions {
  log: Logger;
  /** How long close() may take before the process exits anyway. Default 10 s. */
  deadlineMs?: number;
  /** Injected for tests; default process. */
  proc?: NodeJS.EventEmitter & { exitCode?: number | string | null; exit(code?: number): never };
}

/**
 * Wait until SIGTERM or SIGINT, then close `handle` within the deadline. A second signal, or the deadline,
 * ends the process at once with exit code 1. Resolves after a clean close (exit code left at 0).
 * Also resolves when `done` settles (e.g. a one-shot component finished on its own).
 */
export function runUntilSignal(handle: Stoppable, opts: LifecycleOptions, done?: Promise<unknown>): Promise<void> {
  const proc = opts.proc ?? process;
  const deadline = opts.deadlineMs ?? 10_000;
  return new Promise<void>((resolve) => {
    let stopping = false;
    // A closed stdout/stderr (the reader of our logs went away) stops the component as SIGTERM would.
    const offClosed = onOutputClosed(() => stopping || onStop('output closed'));
    const cleanup = () => {
      offClosed();
      proc.off('SIGTERM', onStop);
      proc.off('SIGINT', onStop);
      proc.off('SIGHUP', onHup);
    };
    const onStop = (signal: string) => {
      if (stopping) {
        opts.log.warn('second signal: exiting now', { signal });
        proc.exit(1);
        return;
      }
      stopping = true;
      opts.log.info('stopping', { signal, deadlineMs: deadline });
      const timer = setTimeout(() => {
        opts.log.error('graceful stop ran past its deadline; exiting', { deadlineMs: deadline });
        proc.exit(1);
      }, deadline);
      timer.unref();
      handle
        .close()
        .catch((err: unknown) => {
          opts.log.error('error while stopping', { error: describeError(err) });
          proc.exitCode = 1;
        })
        .finally(() => {
          clearTimeout(timer);
          cleanup();
          resolve();
        });
    };
    const onHup = () => {
      if (!handle.reload) {
        opts.log.info('SIGHUP ignored: nothing to reload');
        return;
      }
      opts.log.info('reloading on SIGHUP');
      Promise.resolve()
        .then(() => handle.reload?.())
        .catch((err: unknown) => opts.log.error('reload failed; keeping the running config', { error: describeError(err) }));
    };
    proc.on('SIGTERM', onStop);
    proc.on('SIGINT', onStop);
    proc.on('SIGHUP', onHup);
    done?.then(
      () => {
        if (!stopping) {
          cleanup();
          resolve();
        }
      },
      () => {
        if (!stopping) {
          cleanup();
          resolve();
        }
      },
    );
  });
}
