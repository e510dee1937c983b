/** @module One writer at a time on the image store: an in-process queue in front of a lock file that names its holder's PID. */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { TimeoutError } from '../../core/errors.js';
import { waitFor } from '../../core/wait.js';

const queues = new Map<string, Promise<unknown>>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function acquire(file: string, timeoutMs: number): Promise<void> {
  let holder = NaN;
  /** Take the lock file if it is free or its holder has died; false while a live holder (or one mid-write) has it. */
  const take = (): boolean => {
    for (;;) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      try {
        holder = Number(readFileSync(file, 'utf8'));
      } catch {
        continue; // released between our open and read
      }
      // A holder that died (kill -9 mid-pull) leaves its file: take it over. An empty file is a holder mid-write.
      if (!(holder > 0 && !alive(holder))) return false;
      rmSync(file, { force: true });
    }
  };
  if (!(await waitFor(take, { timeoutMs, intervalMs: 100 }))) throw new TimeoutError(`the image store is locked by PID ${holder} (${file})`);
}

/** Runs `fn` holding `file`; callers in this process queue, other processes wait on the file. */
export function withLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 30 * 60_000): Promise<T> {
  const prev = queues.get(file) ?? Promise.resolve();
  const run = prev.catch(() => {}).then(async () => {
    await acquire(file, timeoutMs);
    try {
      return await fn();
    } finally {
      rmSync(file, { force: true });
    }
  });
  queues.set(file, run);
  void run.finally(() => {
    if (queues.get(file) === run) queues.delete(file);
  }).catch(() => {});
  return run;
}
