/** @module The sync engine: one object store under --root, a worktree per commit (hardlinked from the last one), atomic link swap, crash recovery. */
import { existsSync, promises as fsp, readFileSync, readlinkSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { GitError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { GitRunner } from './git.js';
import { hardlinkTree, removeLocks, removeTempObjects, rmrf } from './fsutil.js';

export interface RepoOptions {
  root: string;
  link: string;
  ref: string;
  depth: number;
  filter?: string;
  submodules: 'recursive' | 'shallow' | 'off';
  sparseCheckoutFile?: string;
  staleWorktreeTimeoutMs: number;
  /** How each sync checks the published tree before trusting it (see `intact`). */
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

const MARKER = 'podkit-complete';
const SYNC_REF = 'refs/podkit/synced';
/** A git dir's HEAD, trimmed ('' when unreadable). A few hundred bytes: read in place, as the link is. */
function readHead(gitDir: string): string {
  try {
    return readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
  } catch {
    return '';
  }
}

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
    await this.recoverWorktrees();
    await this.git.run(['worktree', 'prune'], { cwd: root, signal });
    this.initialized = true;
  }

  private tmpLink(): string {
    return join(dirname(this.o.link), `.${basename(this.o.link)}.podkit-tmp`);
  }

  /** The git admin dir of a worktree, from its `.git` file. */
  private adminDir(tree: string): string | undefined {
    try {
      const m = /^gitdir: (.*)$/m.exec(readFileSync(join(tree, '.git'), 'utf8'));
      return m ? resolve(tree, m[1].trim()) : undefined;
    } catch {
      return undefined;
    }
  }

  private isComplete(tree: string): boolean {
    const admin = this.adminDir(tree);
    return admin !== undefined && existsSync(join(admin, MARKER));
  }

  /** Remove half-made trees (no completion marker) that a kill left; keep the published one whatever it is. */
  private async recoverWorktrees(): Promise<void> {
    const current = this.currentHash();
    for (const name of await fsp.readdir(this.worktrees)) {
      const tree = join(this.worktrees, name);
      if (name === current) {
        const admin = this.adminDir(tree);
        // A tree published by kubernetes/git-sync (no marker) is adopted as it is.
        if (admin && existsSync(admin)) await fsp.writeFile(join(admin, MARKER), '');
        continue;
      }
      if (!this.isComplete(tree)) {
        this.o.log.info('removing half-made worktree left by an earlier run', { path: tree });
        await rmrf(tree);
      }
    }
    // A kill inside `git worktree add` leaves an admin dir marked "locked" (so `worktree prune` keeps it) and
    // without commondir, which makes every later fetch fail. We own this repo: drop registrations that are
    // incomplete or point at no tree.
    const adminRoot = join(this.gitDir, 'worktrees');
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
        this.o.log.info('removing half-made worktree registration left by an earlier run', { path: admin });
        await rmrf(admin);
      }
    }
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
      await this.afterFailedTransfer(err);
      throw err;
    }
    const hash = (await this.git.run(['rev-parse', '--verify', '-q', `${SYNC_REF}^{commit}`], { cwd: this.o.root, signal })).trim();
    if (!/^[0-9a-f]{40,64}$/.test(hash)) throw new GitError(`git fetch of ${this.o.ref} produced no commit`);
    return hash;
  }

  /**
   * A fetch or checkout that failed (a full volume, a kill by the sync timeout) leaves temp objects git never
   * removes; on a full disk also the complete-but-unreachable objects it wrote. Both go, so that once the remote
   * shrinks (a commit deletes the big file) the next sync has the room it needs.
   */
  private async afterFailedTransfer(err: unknown): Promise<void> {
    const { log } = this.o;
    try {
      await removeTempObjects(join(this.gitDir, 'objects'), log);
      if (/No space left on device|ENOSPC|Disk quota exceeded/i.test(String((err as Error)?.message ?? err))) {
        // Reachability counts every worktree's HEAD and index, so published and spare trees keep their objects.
        await this.git.run(['prune', '--expire=now'], { cwd: this.o.root });
      }
    } catch (e) {
      log.warn('cleanup after a failed fetch failed', { error: String(e) });
    }
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
    if (previous && !(await this.intact(previous, signal))) {
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
      await this.afterFailedTransfer(err);
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
   * Is the published tree still whole? v4 checks it on every sync (`git rev-parse HEAD` in it, `git fsck
   * --connectivity-only`) and rebuilds it when it fails. 'quick' reads two small files instead — the tree's `.git`
   * (naming its admin dir) and that dir's HEAD, which must be the hash — and sees the store's HEAD exists; that
   * catches an emptied or removed tree and a broken or moved HEAD, not a lost object. 'full' adds v4's commands.
   */
  private async intact(hash: string, signal?: AbortSignal): Promise<boolean> {
    const tree = this.worktreeFor(hash);
    const admin = this.adminDir(tree);
    if (!admin || readHead(admin) !== hash || !existsSync(join(this.gitDir, 'HEAD'))) return false;
    if (this.o.worktreeCheck === 'quick') return true;
    try {
      if ((await this.git.run(['rev-parse', 'HEAD'], { cwd: tree, signal })).trim() !== hash) return false;
      await this.git.run(['fsck', '--no-progress', '--connectivity-only'], { cwd: tree, signal });
      return true;
    } catch (err) {
      if (signal?.aborted) throw err;
      this.o.log.warn('published worktree check failed', { path: tree, error: String(err) });
      return false;
    }
  }

  /** A complete tree without submodules or sparse checkout can seed the next one by hardlinks. */
  private canSeed(tree: string): boolean {
    const admin = this.adminDir(tree);
    return !this.o.sparseCheckoutFile && admin !== undefined && existsSync(join(admin, 'index')) && !existsSync(join(tree, '.gitmodules')) && this.isComplete(tree);
  }

  /** `git worktree add --no-checkout` at `path`; returns the admin dir. The .git file is made relative, as v4 writes it. */
  private async addWorktree(path: string, commit: string, signal?: AbortSignal): Promise<string> {
    const { root } = this.o;
    // A registration left by a removed tree would make git pick another admin name; prune only then.
    if (existsSync(join(this.gitDir, 'worktrees', basename(path)))) await this.git.run(['worktree', 'prune'], { cwd: root, signal });
    await this.git.run(['worktree', 'add', '-q', '--force', '--detach', '--no-checkout', path, commit], { cwd: root, signal });
    const admin = this.adminDir(path);
    if (!admin) throw new GitError(`git worktree add left no .git file in ${path}`);
    await fsp.writeFile(join(path, '.git'), `gitdir: ${relative(path, admin)}\n`);
    return admin;
  }

  /** Hardlink every file of `from` into the fresh worktree `to`, and give it `from`'s index (same inodes, so git sees it clean). */
  private async seed(from: string, to: string, toAdmin: string): Promise<number> {
    const n = await hardlinkTree(from, to);
    await fsp.copyFile(join(this.adminDir(from) as string, 'index'), join(toAdmin, 'index'));
    return n;
  }

  /**
   * Prepare `.worktrees/.spare`: a hardlinked twin of the published tree, built in the background after a
   * publish, so the next publish only applies the diff (`git checkout`) and renames it into place.
   */
  prepareSpare(current: string): void {
    if (!current || this.spareJob || this.spareBase === current || !this.canSeed(this.worktreeFor(current))) return;
    const path = join(this.worktrees, SPARE);
    this.spareBase = undefined;
    const add = this.locked(async () => {
      await rmrf(path);
      return this.addWorktree(path, current);
    });
    this.spareAdd = add.catch(() => undefined);
    this.spareJob = (async () => {
      const t0 = Date.now();
      const admin = await add;
      const n = await this.seed(this.worktreeFor(current), path, admin);
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
      if (this.isComplete(tree)) return tree;
      await rmrf(tree);
    }
    const prevTree = previous ? this.worktreeFor(previous) : '';
    const t0 = Date.now();
    await this.spareJob;
    if (prevTree && this.canSeed(prevTree)) {
      const spare = join(this.worktrees, SPARE);
      let admin: string;
      if (this.spareBase === previous && existsSync(spare)) {
        // git rewrites only the paths that differ, by unlink + create, so the published tree's inodes
        // (shared with the spare, and with pinned readers) are never written in place.
        this.spareBase = undefined;
        await this.git.run(['checkout', '-q', '--detach', hash], { cwd: spare, signal });
        await fsp.rename(spare, tree);
        admin = await this.adopt(tree);
        log.debug('built tree from the spare', { hash, ms: Date.now() - t0 });
      } else {
        admin = await this.addWorktree(tree, hash, signal);
        const n = await this.seed(prevTree, tree, admin);
        await this.git.run(['read-tree', '-m', '-u', previous, hash], { cwd: tree, signal });
        log.debug('built tree by hardlinks', { hash, files: n, ms: Date.now() - t0 });
      }
      await fsp.writeFile(join(admin, MARKER), new Date().toISOString());
      return tree;
    }
    const admin = await this.addWorktree(tree, hash, signal);
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
    await fsp.writeFile(join(admin, MARKER), new Date().toISOString());
    return tree;
  }

  /** After the spare was renamed to `tree`: point git's admin dir at the new path, named after the hash when free. */
  private async adopt(tree: string): Promise<string> {
    let admin = this.adminDir(tree) as string;
    const wanted = join(this.gitDir, 'worktrees', basename(tree));
    if (!existsSync(wanted)) {
      await fsp.rename(admin, wanted);
      admin = wanted;
      await fsp.writeFile(join(tree, '.git'), `gitdir: ${relative(tree, admin)}\n`);
    }
    await fsp.writeFile(join(admin, 'gitdir'), `${join(tree, '.git')}\n`);
    return admin;
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
    const current = this.currentHash();
    const now = Date.now();
    let removed = 0;
    let names: string[];
    try {
      names = await fsp.readdir(this.worktrees);
    } catch {
      return 0;
    }
    for (const name of names) {
      if (name === current || name === SPARE) continue;
      const tree = join(this.worktrees, name);
      const st = await fsp.stat(tree).catch(() => undefined);
      if (!st || now - st.mtimeMs < this.o.staleWorktreeTimeoutMs) continue;
      // The marker goes first, so a kill mid-removal never leaves a partial tree that looks complete.
      const admin = this.adminDir(tree);
      if (admin) await fsp.rm(join(admin, MARKER), { force: true });
      this.o.log.debug('removing stale worktree', { path: tree });
      await rmrf(tree);
      removed++;
    }
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
