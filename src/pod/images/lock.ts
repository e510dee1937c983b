/** @module One writer at a time on the image store: an in-process queue in front of a lock file that names its holder's PID. */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { TimeoutError } from '../../core/errors.js';

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
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(file, 'utf8'));
    } catch {
      continue; // released between our open and read
    }
    // A holder that died (kill -9 mid-pull) leaves its file: take it over. An empty file is a holder mid-write.
    if (holder > 0 && !alive(holder)) rmSync(file, { force: true });
    else if (Date.now() > deadline) throw new TimeoutError(`the image store is locked by PID ${holder} (${file})`);
    else await sleep(100);
  }
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
