/** @module File-system helpers for the sync engine: hardlink a tree, clear stale git locks, remove trees. */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log.js';

/** Mirror `src` into existing dir `dst` with hardlinks (dirs made, symlinks copied), skipping the top `.git`. Returns files linked. */
export async function hardlinkTree(src: string, dst: string): Promise<number> {
  let count = 0;
  const walk = async (s: string, d: string, top: boolean): Promise<void> => {
    const entries = await fsp.readdir(s, { withFileTypes: true });
    const subdirs: [string, string][] = [];
    const ops: Promise<unknown>[] = [];
    for (const e of entries) {
      if (top && e.name === '.git') continue;
      const sp = join(s, e.name);
      const dp = join(d, e.name);
      if (e.isDirectory()) subdirs.push([sp, dp]);
      else if (e.isSymbolicLink()) ops.push(fsp.readlink(sp).then((t) => fsp.symlink(t, dp)));
      else if (e.isFile()) {
        count++;
        ops.push(fsp.link(sp, dp));
      }
      // Sockets, fifos: git never checks those out.
    }
    await Promise.all(ops);
    for (const [sp, dp] of subdirs) {
      const st = await fsp.stat(sp);
      await fsp.mkdir(dp, { mode: st.mode & 0o7777 });
      await walk(sp, dp, false);
    }
  };
  await walk(src, dst, true);
  return count;
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
