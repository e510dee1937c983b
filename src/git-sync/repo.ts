/** @module The sync engine: one object store under --root, a worktree per commit (hardlinked from the last one, or from a spare made ahead), atomic link swap; crash recovery in recovery.ts, one tree's files in worktree.ts. */
import { existsSync, promises as fsp, readlinkSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { GitError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { GitRunner } from './git.js';
import { removeLocks, removeTempObjects, rmrf } from './fsutil.js';
import { addWorktree, adopt, canSeed, isComplete, markComplete, seed } from './worktree.js';
import { afterFailedTransfer, intact, recoverWorktrees, removeStale } from './recovery.js';

export interface RepoOptions {
  root: string;
  link: string;
  ref: string;
  depth: number;
  filter?: string;
  submodules: 'recursive' | 'shallow' | 'off';
  sparseCheckoutFile?: string;
  staleWorktreeTimeoutMs: number;
  /** How each sync checks the published tree before trusting it (see `intact` in recovery.ts). */
  worktreeCheck: 'quick' | 'full';
  gitGc: 'auto' | 'always' | 'aggressive' | 'off';
  groupWrite: boolean;
  log: Logger;
}

export interface SyncResult {
  /** The published hash after this sync. */
  hash: string;
  /** The hash before (empty when nothing was published). */
  previous: string;
  /** A new tree was published. */
  changed: boolean;
}

const SYNC_REF = 'refs/podkit/synced';
/** The next tree, pre-built as hardlinks of the published one, so a publish only applies the diff. */
const SPARE = '.spare';
const HASH_RE = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

export class Repo {
  readonly worktrees: string;
  private readonly gitDir: string;
  private initialized = false;
  private spareJob: Promise<void> | undefined;
  private spareAdd: Promise<unknown> | undefined;
  private spareBase: string | undefined;
  private lockTail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly o: RepoOptions,
    private readonly git: GitRunner,
  ) {
    this.worktrees = join(o.root, '.worktrees');
    this.gitDir = join(o.root, '.git');
  }

  /**
   * Run git commands that touch the admin area one section at a time: a `git fetch` racing the spare's
   * `git worktree add` fails on the half-made `.git/worktrees/<name>` ("failed to read commondir").
   */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lockTail.then(fn, fn);
    this.lockTail = run.catch(() => undefined);
    return run;
  }

  /** Path of the tree for a hash. */
  worktreeFor(hash: string): string {
    return join(this.worktrees, hash);
  }

  /** The published hash, read from the link ('' when there is no valid link). */
  currentHash(): string {
    let target: string;
    try {
      target = readlinkSync(this.o.link);
    } catch {
      return '';
    }
    const abs = isAbsolute(target) ? target : resolve(dirname(this.o.link), target);
    const hash = basename(abs);
    return existsSync(abs) ? hash : '';
  }

  /** Make --root usable: init the repo if needed, clean what a crash left behind. Runs once per process. */
  async init(signal?: AbortSignal): Promise<void> {
    if (this.initialized) return;
    const { root, log } = this.o;
    await fsp.mkdir(root, { recursive: true });
    await fsp.rm(this.tmpLink(), { force: true });
    let valid = existsSync(join(this.gitDir, 'HEAD'));
    if (valid) {
      await removeLocks(this.gitDir, log);
      await removeTempObjects(join(this.gitDir, 'objects'), log);
      try {
        const top = (await this.git.run(['rev-parse', '--show-toplevel'], { cwd: root, signal })).trim();
        valid = resolve(top) === (await fsp.realpath(root));
      } catch {
        valid = false;
      }
    }
    if (!valid) {
      log.info('initializing repo directory', { path: root });
      await rmrf(this.gitDir);
      await this.git.run(['init', '-q', '-b', 'git-sync', root], { signal });
    }
    // Hardlinked trees share inodes, and link() changes ctime: without this git would re-hash every file.
    await this.git.run(['config', 'core.trustctime', 'false'], { cwd: root, signal });
    if (this.o.groupWrite) await this.git.run(['config', 'core.sharedRepository', 'group'], { cwd: root, signal });
    await fsp.mkdir(this.worktrees, { recursive: true });
    await recoverWorktrees(this.worktrees, this.gitDir, this.currentHash(), log);
    await this.git.run(['worktree', 'prune'], { cwd: root, signal });
    this.initialized = true;
  }

  private tmpLink(): string {
    return join(dirname(this.o.link), `.${basename(this.o.link)}.podkit-tmp`);
  }

  /** The remote's hash for the ref ('' if the ref is not advertised, e.g. a commit hash). One round trip. */
  async remoteHash(signal?: AbortSignal): Promise<string> {
    const out = await this.git.run(['ls-remote', '-q', 'origin', this.o.ref, `${this.o.ref}^{}`], { cwd: this.o.root, signal });
    const lines = out.split('\n').filter((l) => l.trim() !== '');
    return lines.length ? lines[lines.length - 1].split('\t')[0] : '';
  }

  /**
   * Fetch the ref (only what is needed at --depth) into a local ref, so the next fetch negotiates from it and
   * its connectivity check stops at objects we have; returns the fetched commit (tags peeled).
   */
  async fetch(signal?: AbortSignal): Promise<string> {
    const args = ['fetch', '--no-tags', '--no-progress', '--no-auto-gc', '--no-write-commit-graph', 'origin', `+${this.o.ref}:${SYNC_REF}`];
    if (this.o.depth > 0) args.push('--depth', String(this.o.depth));
    else if (existsSync(join(this.gitDir, 'shallow'))) args.push('--unshallow');
    if (this.o.filter) args.push(`--filter=${this.o.filter}`);
    try {
      await this.git.run(args, { cwd: this.o.root, signal });
    } catch (err) {
      await afterFailedTransfer(this.git, this.o.root, this.o.log, err);
      throw err;
    }
    const hash = (await this.git.run(['rev-parse', '--verify', '-q', `${SYNC_REF}^{commit}`], { cwd: this.o.root, signal })).trim();
    if (!/^[0-9a-f]{40,64}$/.test(hash)) throw new GitError(`git fetch of ${this.o.ref} produced no commit`);
    return hash;
  }

  /**
   * One sync: ask the remote, and if the ref moved, fetch, build the new tree and publish it. An idle sync is a
   * single `git ls-remote`. A ref that is a commit hash already published needs no remote call at all.
   * `expectChange` (a webhook said something was pushed) skips the probe and fetches at once: one round trip.
   */
  async sync(signal?: AbortSignal, expectChange = false): Promise<SyncResult> {
    // The spare's git step goes first; its hardlinking may go on while we fetch (build waits for it).
    await this.spareAdd;
    return this.locked(() => this.syncLocked(signal, expectChange));
  }

  private async syncLocked(signal: AbortSignal | undefined, expectChange: boolean): Promise<SyncResult> {
    const first = !this.initialized;
    await this.init(signal);
    let previous = this.currentHash();
    if (previous && !(await intact(this.git, this.gitDir, this.worktreeFor(previous), previous, this.o.worktreeCheck, this.o.log, signal))) {
      // As v4 does with a tree that fails its checks: remove it and build it again, which publishes it anew.
      this.o.log.warn('published worktree failed checks, rebuilding it', { path: this.worktreeFor(previous), check: this.o.worktreeCheck });
      await rmrf(this.worktreeFor(previous));
      // The spare shares the removed tree's inodes: make it again from the rebuilt one.
      this.spareBase = undefined;
      previous = '';
    }
    // The first sync of a process always fetches (as v4 does), so a changed --depth or --filter takes effect on
    // restart even when the remote has not moved.
    if (!first && previous && HASH_RE.test(this.o.ref) && previous === this.o.ref) return { hash: previous, previous, changed: false };
    if (!expectChange && !first && previous) {
      const remote = await this.remoteHash(signal);
      if (remote && remote === previous) return { hash: previous, previous, changed: false };
    }
    const hash = await this.fetch(signal);
    if (hash === previous) return { hash, previous, changed: false };
    let tree: string;
    try {
      tree = await this.build(hash, previous, signal);
    } catch (err) {
      // A half-made tree (no marker) would hold its space until the same hash is built again.
      await rmrf(this.worktreeFor(hash));
      await afterFailedTransfer(this.git, this.o.root, this.o.log, err);
      throw err;
    }
    await this.publish(tree);
    if (previous) {
      // Start the grace period of the tree we just unpublished (git-sync v4 semantics: the dir's mtime).
      const now = new Date();
      await fsp.utimes(this.worktreeFor(previous), now, now).catch(() => undefined);
    }
    return { hash, previous, changed: true };
  }

  /**
   * Prepare `.worktrees/.spare`: a hardlinked twin of the published tree, built in the background after a
   * publish, so the next publish only applies the diff (`git checkout`) and renames it into place.
   */
  prepareSpare(current: string): void {
    if (!current || this.spareJob || this.spareBase === current || !canSeed(this.worktreeFor(current), Boolean(this.o.sparseCheckoutFile))) return;
    const path = join(this.worktrees, SPARE);
    this.spareBase = undefined;
    const add = this.locked(async () => {
      await rmrf(path);
      return addWorktree(this.git, this.o.root, path, current);
    });
    this.spareAdd = add.catch(() => undefined);
    this.spareJob = (async () => {
      const t0 = Date.now();
      const admin = await add;
      const n = await seed(this.worktreeFor(current), path, admin);
      this.spareBase = current;
      this.o.log.debug('spare tree ready', { base: current, files: n, ms: Date.now() - t0 });
    })()
      .catch((err: unknown) => this.o.log.debug('spare tree not prepared', { error: String(err) }))
      .finally(() => (this.spareJob = undefined));
  }

  /** Build a complete tree for `hash`; unchanged files are hardlinks of the previous tree's when possible. */
  async build(hash: string, previous: string, signal?: AbortSignal): Promise<string> {
    const { root, log } = this.o;
    const tree = this.worktreeFor(hash);
    if (existsSync(tree)) {
      if (isComplete(tree)) return tree;
      await rmrf(tree);
    }
    const prevTree = previous ? this.worktreeFor(previous) : '';
    const t0 = Date.now();
    await this.spareJob;
    if (prevTree && canSeed(prevTree, Boolean(this.o.sparseCheckoutFile))) {
      const spare = join(this.worktrees, SPARE);
      let admin: string;
      if (this.spareBase === previous && existsSync(spare)) {
        // git rewrites only the paths that differ, by unlink + create, so the published tree's inodes
        // (shared with the spare, and with pinned readers) are never written in place.
        this.spareBase = undefined;
        await this.git.run(['checkout', '-q', '--detach', hash], { cwd: spare, signal });
        await fsp.rename(spare, tree);
        admin = await adopt(this.gitDir, tree);
        log.debug('built tree from the spare', { hash, ms: Date.now() - t0 });
      } else {
        admin = await addWorktree(this.git, root, tree, hash, signal);
        const n = await seed(prevTree, tree, admin);
        await this.git.run(['read-tree', '-m', '-u', previous, hash], { cwd: tree, signal });
        log.debug('built tree by hardlinks', { hash, files: n, ms: Date.now() - t0 });
      }
      await markComplete(admin);
      return tree;
    }
    const admin = await addWorktree(this.git, root, tree, hash, signal);
    if (this.o.sparseCheckoutFile) {
      await fsp.mkdir(join(admin, 'info'), { recursive: true });
      await fsp.copyFile(this.o.sparseCheckoutFile, join(admin, 'info', 'sparse-checkout'));
      await this.git.run(['config', 'core.sparseCheckout', 'true'], { cwd: root, signal });
    }
    await this.git.run(['reset', '-q', '--hard', hash, '--'], { cwd: tree, signal });
    if (this.o.submodules !== 'off' && existsSync(join(tree, '.gitmodules'))) {
      const args = ['submodule', 'update', '--init'];
      if (this.o.submodules === 'recursive') args.push('--recursive');
      if (this.o.depth > 0) args.push('--depth', String(this.o.depth));
      await this.git.run(args, { cwd: tree, signal });
    }
    await markComplete(admin);
    return tree;
  }

  /** Point the link at `tree` atomically: a new relative symlink under a temp name, renamed over the link. */
  async publish(tree: string): Promise<void> {
    const dir = dirname(this.o.link);
    await fsp.mkdir(dir, { recursive: true });
    const tmp = this.tmpLink();
    await fsp.rm(tmp, { force: true });
    await fsp.symlink(relative(dir, tree), tmp);
    await fsp.rename(tmp, this.o.link);
    this.o.log.info('published', { hash: basename(tree), link: this.o.link });
  }

  /** Remove unpublished trees older than the grace period; prune and gc when anything went. Returns how many. */
  async cleanup(signal?: AbortSignal): Promise<number> {
    if (!this.initialized) return 0;
    const removed = await removeStale(this.worktrees, [this.currentHash(), SPARE], this.o.staleWorktreeTimeoutMs, this.o.log);
    if (removed) {
      await this.spareJob;
      await this.locked(async () => {
        await this.git.run(['worktree', 'prune'], { cwd: this.o.root, signal });
        if (this.o.gitGc !== 'off') {
          const args = ['gc', '--quiet'];
          if (this.o.gitGc === 'auto') args.push('--auto');
          if (this.o.gitGc === 'aggressive') args.push('--aggressive');
          await this.git.run(args, { cwd: this.o.root, signal });
        }
      });
    }
    return removed;
  }

  /** Wait for background work (the spare tree) to finish. */
  async idle(): Promise<void> {
    await this.spareJob;
  }

  /** Committer time of a commit (seconds), for the push→visible histogram on polled syncs. */
  async commitTime(hash: string, signal?: AbortSignal): Promise<number | undefined> {
    try {
      const out = await this.git.run(['cat-file', 'commit', hash], { cwd: this.o.root, signal });
      const m = /^committer .* (\d+) [+-]\d{4}$/m.exec(out);
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  }
}
