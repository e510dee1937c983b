/** @module One worktree on disk: its `.git` file and admin dir, the completion marker, and making one (`worktree add`, hardlink seeding, adoption after a rename). */
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { GitError } from '../core/errors.js';
import type { GitRunner } from './git.js';
import { hardlinkTree } from './fsutil.js';

/** Written into a worktree's admin dir once the tree is whole: a tree without it is half-made. */
export const MARKER = 'podkit-complete';

/** A git dir's HEAD, trimmed ('' when unreadable). A few hundred bytes: read in place, as the link is. */
export function readHead(gitDir: string): string {
  try {
    return readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
  } catch {
    return '';
  }
}

/** The git admin dir of a worktree, from its `.git` file. */
export function adminDir(tree: string): string | undefined {
  try {
    const m = /^gitdir: (.*)$/m.exec(readFileSync(join(tree, '.git'), 'utf8'));
    return m ? resolve(tree, m[1].trim()) : undefined;
  } catch {
    return undefined;
  }
}

export function isComplete(tree: string): boolean {
  const admin = adminDir(tree);
  return admin !== undefined && existsSync(join(admin, MARKER));
}

export async function markComplete(admin: string): Promise<void> {
  await fsp.writeFile(join(admin, MARKER), new Date().toISOString());
}

/** A complete tree without submodules or sparse checkout can seed the next one by hardlinks. */
export function canSeed(tree: string, sparse: boolean): boolean {
  const admin = adminDir(tree);
  return !sparse && admin !== undefined && existsSync(join(admin, 'index')) && !existsSync(join(tree, '.gitmodules')) && isComplete(tree);
}

/** `git worktree add --no-checkout` at `path`; returns the admin dir. The .git file is made relative, as v4 writes it. */
export async function addWorktree(git: GitRunner, root: string, path: string, commit: string, signal?: AbortSignal): Promise<string> {
  // A registration left by a removed tree would make git pick another admin name; prune only then.
  if (existsSync(join(root, '.git', 'worktrees', basename(path)))) await git.run(['worktree', 'prune'], { cwd: root, signal });
  await git.run(['worktree', 'add', '-q', '--force', '--detach', '--no-checkout', path, commit], { cwd: root, signal });
  const admin = adminDir(path);
  if (!admin) throw new GitError(`git worktree add left no .git file in ${path}`);
  await fsp.writeFile(join(path, '.git'), `gitdir: ${relative(path, admin)}\n`);
  return admin;
}

/** Hardlink every file of `from` into the fresh worktree `to`, and give it `from`'s index (same inodes, so git sees it clean). */
export async function seed(from: string, to: string, toAdmin: string): Promise<number> {
  const n = await hardlinkTree(from, to);
  await fsp.copyFile(join(adminDir(from) as string, 'index'), join(toAdmin, 'index'));
  return n;
}

/** After a worktree was renamed to `tree`: point git's admin dir at the new path, named after the tree when free. */
export async function adopt(gitDir: string, tree: string): Promise<string> {
  let admin = adminDir(tree) as string;
  const wanted = join(gitDir, 'worktrees', basename(tree));
  if (!existsSync(wanted)) {
    await fsp.rename(admin, wanted);
    admin = wanted;
    await fsp.writeFile(join(tree, '.git'), `gitdir: ${relative(tree, admin)}\n`);
  }
  await fsp.writeFile(join(admin, 'gitdir'), `${join(tree, '.git')}\n`);
  return admin;
}
