/** @module File-system helpers for the sync engine: hardlink a tree, clear stale git locks, remove trees. */
import { type Dirent, mkdirSync, promises as fsp, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

/**
 * Remove what an interrupted or failed object transfer leaves in a git object store: `tmp_obj_*` loose-object
 * temp files (unpack-objects), `tmp_pack_*`/`tmp_idx_*`/`tmp_rev_*` (index-pack) and `incoming-*` quarantine dirs.
 * git does not remove them when it dies (e.g. on a full disk), so they would keep the volume full. Only call it
 * when no git of ours is writing objects. Returns the bytes freed.
 */
export async function removeTempObjects(objectsDir: string, log: Logger): Promise<number> {
  let freed = 0;
  const drop = async (p: string) => {
    const st = await fsp.lstat(p).catch(() => undefined);
    if (!st) return;
    freed += st.isDirectory() ? await diskUsage(p) : st.blocks * 512;
    log.info('removing temporary objects a failed fetch left', { path: p, bytes: st.size });
    await rmrf(p);
  };
  let top: Dirent[];
  try {
    top = await fsp.readdir(objectsDir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of top) {
    if (!e.isDirectory()) continue;
    const dir = join(objectsDir, e.name);
    if (e.name.startsWith('incoming-')) await drop(dir);
    else if (e.name === 'pack' || /^[0-9a-f]{2}$/.test(e.name)) {
      for (const name of await fsp.readdir(dir).catch(() => [] as string[])) if (/^tmp_(obj|pack|idx|rev|bitmap)_/.test(name) || name.startsWith('.tmp-')) await drop(join(dir, name));
    }
  }
  return freed;
}

/** Replace the error file atomically (a temp file renamed over it), making its directory first. */
export function writeErrorFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}
