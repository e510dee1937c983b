import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { git, makeRepo, pollUntil, runPodkit, stopAll, tempDir } from './helpers/index.js';
import { start } from '../src/git-sync/index.js';
import { captureLogger, waitHash } from './fixtures/git-sync/util.js';

// kubernetes/git-sync v4 flags and behaviours, with v4's own behaviour as the expected value.
after(stopAll);

const BIG = 'x'.repeat(200_000);

/** Objects of the tree of commit `hash` that the local store lacks (partial clone), without fetching them. */
function missing(root: string, hash: string): string[] {
  return git(root, 'rev-list', '--objects', '--no-walk', '--missing=print', hash)
    .split('\n')
    .filter((l) => l.startsWith('?'))
    .map((l) => l.slice(1));
}

function blobOf(bare: string, hash: string, path: string): string {
  return git(bare, 'rev-parse', `${hash}:${path}`);
}

test('--filter=blob:none: a partial clone, alone, with --sparse-checkout-file, and across updates', async () => {
  const repo = makeRepo({ 'small.txt': 'v1\n', 'big/blob.bin': BIG, 'docs/readme': 'r\n' });
  git(repo.bare, 'config', 'uploadpack.allowFilter', 'true');
  const dir = tempDir('gs-filter-');

  // Alone: every blob of the tree is fetched (the checkout needs them), the history's other blobs are not.
  const old = repo.commit({ 'big/blob.bin': BIG + 'old' });
  const c1 = repo.commit({ 'big/blob.bin': BIG });
  const r1 = await runPodkit(['git-sync', '--one-time', `--repo=${repo.url}`, `--root=${join(dir, 'a')}`, '--link=link', '--filter=blob:none', '--depth=0']);
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(readFileSync(join(dir, 'a', 'link', 'big', 'blob.bin'), 'utf8'), BIG);
  assert.equal(git(join(dir, 'a'), 'config', 'remote.origin.partialclonefilter'), 'blob:none');
  assert.ok(missing(join(dir, 'a'), old).includes(blobOf(repo.bare, old, 'big/blob.bin')), 'an old blob is not fetched');
  assert.deepEqual(missing(join(dir, 'a'), c1), []);

  // With a sparse checkout: the excluded blob is never fetched, through two updates.
  const sparse = join(dir, 'sparse');
  writeFileSync(sparse, '/small.txt\n/docs/\n');
  const root = join(dir, 'b');
  const { log } = captureLogger();
  const h = await start({ repo: repo.url, root, link: 'link', filter: 'blob:none', sparseCheckoutFile: sparse, periodMs: 3_600_000, log });
  try {
    await waitHash(h, c1);
    assert.equal(existsSync(join(root, 'link', 'big')), false);
    assert.ok(missing(root, c1).includes(blobOf(repo.bare, c1, 'big/blob.bin')));
    for (const v of ['v2', 'v3']) {
      const c = repo.commit({ 'small.txt': `${v}\n`, 'big/blob.bin': BIG + v });
      h.trigger();
      await waitHash(h, c);
      assert.equal(readFileSync(join(root, 'link', 'small.txt'), 'utf8'), `${v}\n`);
      assert.ok(missing(root, c).includes(blobOf(repo.bare, c, 'big/blob.bin')), `${v}: the big blob stays on the server`);
    }
  } finally {
    await h.close();
  }

  // Across updates without sparse: the hardlinked/spare publish fetches the changed blobs it needs.
  const root2 = join(dir, 'c');
  const h2 = await start({ repo: repo.url, root: root2, link: 'link', filter: 'blob:none', periodMs: 3_600_000, log });
  try {
    await waitHash(h2, repo.head());
    const c = repo.commit({ 'small.txt': 'v4\n', 'new.txt': 'n\n' });
    h2.trigger();
    await waitHash(h2, c);
    assert.equal(readFileSync(join(root2, 'link', 'small.txt'), 'utf8'), 'v4\n');
    assert.equal(readFileSync(join(root2, 'link', 'new.txt'), 'utf8'), 'n\n');
  } finally {
    await h2.close();
  }
});

test('--depth change takes effect on restart even when the remote is unchanged (1 → 0 gives the full history, as v4)', async () => {
  const repo = makeRepo({ f: '1\n' });
  for (let i = 2; i <= 5; i++) repo.commit({ f: `${i}\n` });
  const root = join(tempDir('gs-depth-'), 'root');
  const count = () => Number(git(root, 'rev-list', '--count', repo.head()));
  const r1 = await runPodkit(['git-sync', '--one-time', `--repo=${repo.url}`, `--root=${root}`, '--depth=1']);
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(count(), 1);
  const r2 = await runPodkit(['git-sync', '--one-time', `--repo=${repo.url}`, `--root=${root}`, '--depth=0']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(count(), 5);
  assert.equal(existsSync(join(root, '.git', 'shallow')), false);
});

test('--init-period polls fast until the first success, then --period; --init-max-failures bounds only the start', async () => {
  const dir = tempDir('gs-init-');
  const bare = join(dir, 'later.git');
  const { log, lines } = captureLogger();
  const h = await start({ repo: `file://${bare}`, root: join(dir, 'root'), initPeriodMs: 50, periodMs: 3_600_000, initMaxFailures: -1, maxFailures: 0, log });
  try {
    await pollUntil(() => h.status().attempts >= 3, { timeoutMs: 10_000, what: 'retries at --init-period' });
    assert.equal(h.status().hash, '');
    // The remote appears: the next fast retry succeeds, then the long period applies.
    const repo = makeRepo({ f: 'x\n' });
    git(dir, 'clone', '-q', '--bare', repo.bare, bare);
    await waitHash(h, repo.head());
    const attempts = h.status().attempts;
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(h.status().attempts, attempts, 'no more polls within --period');
    assert.ok(lines.some((l) => l.includes('error syncing repo')));
  } finally {
    await h.close();
  }
  // Before the first success --init-max-failures applies; after it, --max-failures. v4 counts the failure, then
  // aborts when failCount >= the budget: =2 ends at the 2nd failure.
  const r = await runPodkit(['git-sync', `--repo=file://${join(dir, 'nope.git')}`, `--root=${join(dir, 'r2')}`, '--init-period=10ms', '--init-max-failures=2', '--max-failures=100']);
  assert.equal(r.code, 1);
  assert.match(r.stdout + r.stderr, /"failCount":2/);
});

test('--one-time runs its cleanup (stale trees removed, worktree prune, --git-gc) before it exits', async () => {
  const repo = makeRepo({ f: '1\n' });
  const root = join(tempDir('gs-once-'), 'root');
  const c1 = repo.head();
  const base = ['git-sync', '--one-time', `--repo=${repo.url}`, `--root=${root}`, '--link=link'];
  assert.equal((await runPodkit(base)).code, 0);
  const c2 = repo.commit({ f: '2\n' });
  const r = await runPodkit([...base, '--stale-worktree-timeout=0s', '--git-gc=always']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(join(root, '.worktrees')).filter((n) => n !== '.spare'), [c2]);
  assert.deepEqual(readdirSync(join(root, '.git', 'worktrees')), [c2], 'git worktree prune ran');
  assert.equal(existsSync(join(root, '.worktrees', c1)), false);
  assert.match(git(root, 'count-objects', '-v'), /^count: 0$/m, 'git gc packed the loose objects');
});

test('the webhook fires promptly after the publish and retries per --webhook-backoff', async () => {
  const repo = makeRepo({ f: '1\n' });
  const calls: { at: number; hash: string }[] = [];
  let fail = 1;
  const srv = createServer((req, res) => {
    calls.push({ at: Date.now(), hash: String(req.headers['gitsync-hash']) });
    req.resume();
    res.statusCode = fail-- > 0 ? 500 : 200;
    res.end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  after(() => srv.close());
  const port = (srv.address() as { port: number }).port;
  const { log, lines } = captureLogger();
  const h = await start({ repo: repo.url, root: join(tempDir('gs-wh-'), 'root'), periodMs: 3_600_000, webhookUrl: `http://127.0.0.1:${port}/`, webhookBackoffMs: 1000, log });
  try {
    await pollUntil(() => calls.length >= 2, { timeoutMs: 10_000, what: 'the webhook and its retry' });
    const published = Date.parse(JSON.parse(lines.find((l) => l.includes('"published"')) as string).ts as string);
    assert.equal(calls[0].hash, repo.head());
    // Generous bound (loaded CI machines); v4 takes a few ms, the old fetch()-based client took 40-100.
    assert.ok(calls[0].at - published < 1000, `first call ${calls[0].at - published} ms after the publish`);
    const gap = calls[1].at - calls[0].at;
    assert.ok(gap >= 950 && gap < 5000, `retry after ${gap} ms (backoff 1s)`);
  } finally {
    await h.close();
  }
});

test('a damaged published tree is rebuilt and published again at the next poll, as v4 does; --worktree-check=full runs v4\'s checks', async () => {
  const repo = makeRepo({ 'index.html': 'v1\n' });
  const dir = tempDir('gs-repair-');
  const root = join(dir, 'root');
  const touched = join(dir, 'touched');
  const { log, lines } = captureLogger();
  const rebuilt = () => lines.filter((l) => l.includes('published worktree failed checks')).length;
  const served = () => {
    try {
      return readFileSync(join(root, 'site', 'index.html'), 'utf8') === 'v1\n';
    } catch {
      return false;
    }
  };
  const h = await start({ repo: repo.url, root, link: 'site', periodMs: 50, touchFile: touched, log });
  try {
    await waitHash(h, repo.head());
    const tree = join(root, '.worktrees', repo.head());
    // Healthy polls rebuild nothing.
    const a0 = h.status().attempts;
    await pollUntil(() => h.status().attempts >= a0 + 5, { timeoutMs: 10_000, what: 'idle polls' });
    assert.equal(rebuilt(), 0);
    // An emptied tree (its .git file gone with the rest): rebuilt, published again, the touch file touched (v4: a new sync).
    const t0 = statSync(touched).mtimeMs;
    rmSync(tree, { recursive: true });
    mkdirSync(tree);
    await pollUntil(() => rebuilt() === 1 && served(), { timeoutMs: 10_000, what: 'the emptied tree rebuilt' });
    await pollUntil(() => statSync(touched).mtimeMs > t0, { timeoutMs: 10_000, what: 'the touch file touched after the rebuild' });
    // A worktree HEAD that names another commit.
    const admin = resolve(tree, /^gitdir: (.*)$/m.exec(readFileSync(join(tree, '.git'), 'utf8'))![1].trim());
    writeFileSync(join(admin, 'HEAD'), `${'0'.repeat(40)}\n`);
    await pollUntil(() => rebuilt() === 2 && served() && readFileSync(join(resolve(tree, /^gitdir: (.*)$/m.exec(readFileSync(join(tree, '.git'), 'utf8'))![1].trim()), 'HEAD'), 'utf8').trim() === repo.head(), {
      timeoutMs: 10_000,
      what: 'the tree with a moved HEAD rebuilt',
    });
    assert.equal(h.status().hash, repo.head());
  } finally {
    await h.close();
  }

  // --worktree-check=full: every idle poll runs v4's `git rev-parse HEAD` and `git fsck --connectivity-only` in the tree.
  const argvLog = join(dir, 'argv.log');
  const wrapper = join(dir, 'git-wrapper');
  writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> '${argvLog}'\nexec git "$@"\n`, { mode: 0o755 });
  const h2 = await start({ repo: repo.url, root: join(dir, 'root2'), link: 'site', periodMs: 50, git: wrapper, worktreeCheck: 'full', log });
  try {
    await waitHash(h2, repo.head());
    const ran = (argv: string) => readFileSync(argvLog, 'utf8').split('\n').filter((l) => l === argv).length;
    await pollUntil(() => ran('fsck --no-progress --connectivity-only') >= 3 && ran('rev-parse HEAD') >= 3, { timeoutMs: 10_000, what: "v4's checks on idle polls" });
  } finally {
    await h2.close();
  }
});
