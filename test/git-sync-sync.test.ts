import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync, renameSync, statSync, lstatSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, git, pollUntil, stopAll, tempDir } from './helpers/index.js';
import { start } from '../src/git-sync/index.js';
import { captureLogger, linkHash, treeDiff, waitHash } from './fixtures/git-sync/util.js';

after(stopAll);

test('layout matches git-sync v4: .git under --root, trees under .worktrees/<hash>, a relative link', async () => {
  const repo = makeRepo({ 'index.html': 'v1\n', 'a/b.txt': 'same\n' });
  const root = tempDir('gs-root-');
  const { log } = captureLogger();
  const h = await start({ repo: repo.url, root, link: 'site', periodMs: 60_000, log });
  try {
    const c1 = repo.head();
    await waitHash(h, c1);
    assert.ok(statSync(join(root, '.git')).isDirectory());
    assert.equal(readlinkSync(join(root, 'site')), `.worktrees/${c1}`);
    assert.equal(treeDiff(join(root, 'site'), repo.bare, c1), '');
    // The worktree's .git file is relative, as v4 writes it, so the volume can be mounted elsewhere.
    assert.match(readFileSync(join(root, '.worktrees', c1, '.git'), 'utf8'), /^gitdir: \.\.\/\.\.\/\.git\/worktrees\//);
    assert.equal(git(join(root, 'site'), 'rev-parse', 'HEAD'), c1);
    assert.equal(git(join(root, 'site'), 'status', '--porcelain'), '');

    const c2 = repo.commit({ 'index.html': 'v2\n', 'new/file.txt': 'n\n', 'a/gone.txt': null });
    h.trigger();
    await waitHash(h, c2);
    assert.equal(readlinkSync(join(root, 'site')), `.worktrees/${c2}`);
    assert.equal(treeDiff(join(root, 'site'), repo.bare, c2), '');
    // Incremental: the unchanged file is the same inode in both trees; the changed one is not.
    assert.equal(statSync(join(root, '.worktrees', c1, 'a/b.txt')).ino, statSync(join(root, '.worktrees', c2, 'a/b.txt')).ino);
    assert.notEqual(statSync(join(root, '.worktrees', c1, 'index.html')).ino, statSync(join(root, '.worktrees', c2, 'index.html')).ino);
    // The old tree is untouched and kept for the grace period.
    assert.equal(readFileSync(join(root, '.worktrees', c1, 'index.html'), 'utf8'), 'v1\n');
    assert.equal(treeDiff(join(root, '.worktrees', c1), repo.bare, c1), '');
    assert.equal(git(join(root, 'site'), 'status', '--porcelain'), '');
  } finally {
    await h.close();
  }
});

test('unpublished trees go after --stale-worktree-timeout; branch, tag and hash refs', async () => {
  const repo = makeRepo({ 'f.txt': '1\n' });
  git(repo.work, 'tag', 'v1');
  git(repo.work, 'tag', '-a', '-m', 'annotated', 'v1a');
  git(repo.work, 'push', '-q', 'origin', 'v1', 'v1a');
  const c1 = repo.head();
  const root = tempDir('gs-root-');
  const h = await start({ repo: repo.url, root, ref: 'main', periodMs: 60_000, staleWorktreeTimeoutMs: 0, log: captureLogger().log });
  try {
    await waitHash(h, c1);
    const c2 = repo.commit({ 'f.txt': '2\n' });
    h.trigger();
    await waitHash(h, c2);
    await pollUntil(() => !existsSync(join(root, '.worktrees', c1)), { timeoutMs: 10_000, what: 'old tree removed' });
    assert.equal(readFileSync(join(root, 'remote.git', 'f.txt'), 'utf8'), '2\n');
  } finally {
    await h.close();
  }
  for (const ref of ['v1', 'v1a', c1]) {
    const r2 = tempDir('gs-root-');
    const h2 = await start({ repo: repo.url, root: r2, ref, link: 'l', periodMs: 60_000, log: captureLogger().log });
    try {
      await waitHash(h2, c1);
      assert.equal(readFileSync(join(r2, 'l', 'f.txt'), 'utf8'), '1\n');
    } finally {
      await h2.close();
    }
  }
});

test('a dead remote writes the error file, logs a clear error, and the published tree keeps serving', async () => {
  const repo = makeRepo({ 'index.html': 'ok\n' });
  const root = tempDir('gs-root-');
  const { log, lines } = captureLogger();
  const h = await start({ repo: repo.url, root, link: 'site', periodMs: 60_000, maxFailures: -1, errorFile: 'error.json', httpBind: { host: '127.0.0.1', port: 0 }, readyStalePeriods: 0, log });
  const base = `http://127.0.0.1:${h.httpAddress?.port}`;
  try {
    const c1 = repo.head();
    await waitHash(h, c1);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    renameSync(repo.bare, `${repo.bare}.away`);
    h.trigger();
    await pollUntil(() => existsSync(join(root, 'error.json')), { timeoutMs: 10_000, what: 'error file' });
    const ef = JSON.parse(readFileSync(join(root, 'error.json'), 'utf8')) as { Err: string; Msg: string; Args: { failCount: number } };
    assert.equal(ef.Msg, 'error syncing repo, will retry');
    assert.match(ef.Err, /^Run\(git (fetch|ls-remote) [^)]*\): exit status 128: \{ stdout: "", stderr: ".*does not appear to be a git repository/);
    assert.ok(lines.some((l) => /error syncing repo/.test(l)), 'clear error logged');
    assert.equal(readFileSync(join(root, 'site', 'index.html'), 'utf8'), 'ok\n');
    assert.equal(linkHash(join(root, 'site')), c1);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /git_sync_count_total\{status="error"\} [1-9]/);
    assert.match(metrics, /podkit_git_sync_consecutive_failures [1-9]/);
    renameSync(`${repo.bare}.away`, repo.bare);
    h.trigger();
    await pollUntil(() => !existsSync(join(root, 'error.json')), { timeoutMs: 10_000, what: 'error file removed after success' });
  } finally {
    await h.close();
  }
});

test('health: / and /readyz fail until the first sync, and /readyz fails when the last success is stale', async () => {
  const root = tempDir('gs-root-');
  const h = await start({ repo: 'file:///nonexistent/repo.git', root, periodMs: 50, maxFailures: -1, httpBind: { host: '127.0.0.1', port: 0 }, readyStalePeriods: 3, errorFile: '/dev/null/x', log: captureLogger().log });
  const base = `http://127.0.0.1:${h.httpAddress?.port}`;
  try {
    await pollUntil(() => h.status().consecutiveFailures > 0, { timeoutMs: 10_000, what: 'a failure' });
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/`)).status, 503);
    const r = await fetch(`${base}/readyz`);
    assert.equal(r.status, 503);
    assert.match(await r.text(), /no successful sync yet/);
  } finally {
    await h.close();
  }

  const repo = makeRepo({ 'x': '1\n' });
  const root2 = tempDir('gs-root-');
  const h2 = await start({ repo: repo.url, root: root2, periodMs: 40, maxFailures: -1, httpBind: { host: '127.0.0.1', port: 0 }, readyStalePeriods: 3, log: captureLogger().log });
  const base2 = `http://127.0.0.1:${h2.httpAddress?.port}`;
  try {
    await waitHash(h2, repo.head());
    await pollUntil(async () => (await fetch(`${base2}/readyz`)).status === 200, { timeoutMs: 10_000, what: 'ready' });
    assert.equal((await fetch(`${base2}/`)).status, 200);
    const m = await (await fetch(`${base2}/metrics`)).text();
    for (const name of ['podkit_git_sync_last_success_timestamp_seconds', 'podkit_git_sync_revision', 'git_sync_count_total', 'podkit_git_sync_push_visible_seconds', 'podkit_git_sync_bytes_on_disk']) {
      assert.ok(m.includes(name), `${name} in /metrics`);
    }
    assert.ok(m.includes(`hash="${repo.head()}"`));
    renameSync(repo.bare, `${repo.bare}.away`);
    const r = await pollUntil(async () => {
      const res = await fetch(`${base2}/readyz`);
      return res.status === 503 ? res.text() : undefined;
    }, { timeoutMs: 10_000, what: 'not ready after stale success' });
    assert.match(String(r), /last successful sync was/);
    assert.equal(lstatSync(join(root2, 'remote.git')).isSymbolicLink(), true);
  } finally {
    await h2.close();
  }
});

test('--one-time exits 0 after a sync; --max-failures=2 exits 1 at the 2nd failure, as v4', async () => {
  const repo = makeRepo({ 'x': '1\n' });
  const h = await start({ repo: repo.url, root: tempDir('gs-root-'), oneTime: true, log: captureLogger().log });
  assert.equal(await h.done, 0);
  await h.close();
  const bad = await start({ repo: 'file:///nonexistent/r.git', root: tempDir('gs-root-'), periodMs: 20, maxFailures: 2, log: captureLogger().log });
  assert.equal(await bad.done, 1);
  // v4 counts the failure, then aborts when failCount >= --max-failures: =2 ends at the 2nd failure.
  assert.equal(bad.status().consecutiveFailures, 2);
  await bad.close();
  writeFileSync(join(tempDir(), 'unused'), '');
});
