/** @module File-system helpers for the sync engine: hardlink a tree, clear stale git locks, remove trees. */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log.js';

/**
 * Mirror `src` into existing dir `dst` with hardlinks (dirs made, symlinks copied), skipping the top `.git`.
 * Directories are made first (top-down), then every link() is issued through one bounded pool, so the
 * thread pool works on many directories at once instead of one directory at a time. Returns files linked.
 */
export async function hardlinkTree(src: string, dst: string, concurrency = 64): Promise<number> {
  const jobs: (() => Promise<unknown>)[] = [];
  const walk = async (s: string, d: string, top: boolean): Promise<void> => {
    const entries = await fsp.readdir(s, { withFileTypes: true });
    for (const e of entries) {
      if (top && e.name === '.git') continue;
      const sp = join(s, e.name);
      const dp = join(d, e.name);
      if (e.isDirectory()) {
        await fsp.mkdir(dp);
        await walk(sp, dp, false);
      } else if (e.isSymbolicLink()) jobs.push(() => fsp.readlink(sp).then((t) => fsp.symlink(t, dp)));
      else if (e.isFile()) jobs.push(() => fsp.link(sp, dp));
      // Sockets, fifos: git never checks those out.
    }
  };
  await walk(src, dst, true);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
  return jobs.length;
}

/**
 * Remove `*.lock` files a killed git left in the admin dir (index.lock, shallow.lock, ref locks, worktree
 * index locks). Only called at startup, when no git of ours is running. Object files are not touched.
 */
export async function removeLocks(gitDir: string, log: Logger): Promise<number> {
  let n = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (dir === gitDir && e.name === 'objects') continue;
        await walk(p);
      } else if (e.name.endsWith('.lock')) {
        log.info('removing stale git lock', { path: p });
        await fsp.rm(p, { force: true });
        n++;
      }
    }
  };
  await walk(gitDir);
  return n;
}

/** rm -rf that makes read-only dirs writable first (git makes some), and ignores a missing path. */
export async function rmrf(path: string): Promise<void> {
  try {
    await fsp.rm(path, { recursive: true, force: true, maxRetries: 2 });
  } catch {
    await fsp.chmod(path, 0o755).catch(() => undefined);
    await fsp.rm(path, { recursive: true, force: true, maxRetries: 2 });
  }
}

/** Bytes on disk under `dir`, counting each hardlinked inode once. */
export async function diskUsage(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      const st = await fsp.lstat(p).catch(() => undefined);
      if (!st) continue;
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
      total += st.blocks * 512;
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return total;
}
