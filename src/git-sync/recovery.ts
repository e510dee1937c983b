/** @module What a kill, a failed transfer or time leaves under --root, found and repaired: half-made trees and registrations, temp objects, a broken published tree, stale trees. */
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log.js';
import type { GitRunner } from './git.js';
import { removeTempObjects, rmrf } from './fsutil.js';
import { MARKER, adminDir, isComplete, readHead } from './worktree.js';

/** Remove half-made trees (no completion marker) that a kill left; keep the published one (`current`) whatever it is. */
export async function recoverWorktrees(worktrees: string, gitDir: string, current: string, log: Logger): Promise<void> {
  for (const name of await fsp.readdir(worktrees)) {
    const tree = join(worktrees, name);
    if (name === current) {
      const admin = adminDir(tree);
      // A tree published by kubernetes/git-sync (no marker) is adopted as it is.
      if (admin && existsSync(admin)) await fsp.writeFile(join(admin, MARKER), '');
      continue;
    }
    if (!isComplete(tree)) {
      log.info('removing half-made worktree left by an earlier run', { path: tree });
      await rmrf(tree);
    }
  }
  // A kill inside `git worktree add` leaves an admin dir marked "locked" (so `worktree prune` keeps it) and
  // without commondir, which makes every later fetch fail. We own this repo: drop registrations that are
  // incomplete or point at no tree.
  const adminRoot = join(gitDir, 'worktrees');
  for (const name of await fsp.readdir(adminRoot).catch(() => [] as string[])) {
    const admin = join(adminRoot, name);
    let ok = existsSync(join(admin, 'commondir')) && existsSync(join(admin, 'HEAD'));
    if (ok) {
      try {
        ok = existsSync(readFileSync(join(admin, 'gitdir'), 'utf8').trim());
      } catch {
        ok = false;
      }
    }
    if (!ok) {
      log.info('removing half-made worktree registration left by an earlier run', { path: admin });
      await rmrf(admin);
    }
  }
}

/**
 * A fetch or checkout that failed (a full volume, a kill by the sync timeout) leaves temp objects git never
 * removes; on a full disk also the complete-but-unreachable objects it wrote. Both go, so that once the remote
 * shrinks (a commit deletes the big file) the next sync has the room it needs.
 */
export async function afterFailedTransfer(git: GitRunner, root: string, log: Logger, err: unknown): Promise<void> {
  try {
    await removeTempObjects(join(root, '.git', 'objects'), log);
    if (/No space left on device|ENOSPC|Disk quota exceeded/i.test(String((err as Error)?.message ?? err))) {
      // Reachability counts every worktree's HEAD and index, so published and spare trees keep their objects.
      await git.run(['prune', '--expire=now'], { cwd: root });
    }
  } catch (e) {
    log.warn('cleanup after a failed fetch failed', { error: String(e) });
  }
}

/**
 * Is the published tree for `hash` still whole? v4 checks it on every sync (`git rev-parse HEAD` in it, `git fsck
 * --connectivity-only`) and rebuilds it when it fails. 'quick' reads two small files instead — the tree's `.git`
 * (naming its admin dir) and that dir's HEAD, which must be the hash — and sees the store's HEAD exists; that
 * catches an emptied or removed tree and a broken or moved HEAD, not a lost object. 'full' adds v4's commands.
 */
export async function intact(git: GitRunner, gitDir: string, tree: string, hash: string, check: 'quick' | 'full', log: Logger, signal?: AbortSignal): Promise<boolean> {
  const admin = adminDir(tree);
  if (!admin || readHead(admin) !== hash || !existsSync(join(gitDir, 'HEAD'))) return false;
  if (check === 'quick') return true;
  try {
    if ((await git.run(['rev-parse', 'HEAD'], { cwd: tree, signal })).trim() !== hash) return false;
    await git.run(['fsck', '--no-progress', '--connectivity-only'], { cwd: tree, signal });
    return true;
  } catch (err) {
    if (signal?.aborted) throw err;
    log.warn('published worktree check failed', { path: tree, error: String(err) });
    return false;
  }
}

/** Remove the trees in `worktrees` older than `staleMs` except those named in `keep`; returns how many went. */
export async function removeStale(worktrees: string, keep: string[], staleMs: number, log: Logger): Promise<number> {
  const now = Date.now();
  let removed = 0;
  let names: string[];
  try {
    names = await fsp.readdir(worktrees);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (keep.includes(name)) continue;
    const tree = join(worktrees, name);
    const st = await fsp.stat(tree).catch(() => undefined);
    if (!st || now - st.mtimeMs < staleMs) continue;
    // The marker goes first, so a kill mid-removal never leaves a partial tree that looks complete.
    const admin = adminDir(tree);
    if (admin) await fsp.rm(join(admin, MARKER), { force: true });
    log.debug('removing stale worktree', { path: tree });
    await rmrf(tree);
    removed++;
  }
  return removed;
}
