import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, pollUntil, runPodkit, stopAll, tempDir } from './helpers/index.js';
import { start } from '../src/git-sync/index.js';
import { captureLogger, waitHash } from './fixtures/git-sync/util.js';

// --error-file and --touch-file as kubernetes/git-sync v4 writes them: v4's logger puts the failing log call into
// the error file as compact JSON {"Msg","Err","Args"}, removes it after a success, and touches the touch file after
// every sync that published (and after the first sync of a process).
after(stopAll);

interface V4Error {
  Msg: string;
  Err: string;
  Args: { failCount: number; maxFailures?: number };
}
const readError = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as V4Error;

test('--error-file (relative): a missing ref aborts with v4\'s message and text; a later success removes the file', async () => {
  const repo = makeRepo({ file: 'x\n' });
  const root = join(tempDir('gs-err-'), 'root');
  const bad = await runPodkit(['git-sync', `--repo=${repo.url}`, '--ref=does-not-exist', `--root=${root}`, '--link=link', '--error-file=error.json']);
  assert.equal(bad.code, 1);
  assert.equal(existsSync(join(root, 'link')), false);
  const e = readError(join(root, 'error.json'));
  assert.equal(e.Msg, 'too many failures, aborting');
  // v4's wording of a failed command, git's own message inside.
  assert.match(e.Err, /^Run\(git fetch [^)]*\): exit status 128: \{ stdout: "", stderr: "[^"]*couldn't find remote ref does-not-exist" \}$/);
  assert.equal(e.Args.failCount, 1);
  assert.ok(!readFileSync(join(root, 'error.json'), 'utf8').endsWith('\n'), 'compact JSON, as v4 writes it');

  const ok = await runPodkit(['git-sync', '--one-time', `--repo=${repo.url}`, `--root=${root}`, '--link=link', '--error-file=error.json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(existsSync(join(root, 'error.json')), false);
});

test('--error-file (absolute, in a dir not yet made): each retried failure rewrites it with the count; removed on recovery', async () => {
  const repo = makeRepo({ file: 'x\n' });
  const dir = tempDir('gs-err-abs-');
  const errFile = join(dir, 'state', 'sub', 'err.json');
  const { log } = captureLogger();
  const h = await start({ repo: `${repo.url}.missing`, root: join(dir, 'root'), periodMs: 50, maxFailures: -1, errorFile: errFile, log });
  try {
    await pollUntil(() => existsSync(errFile) && readError(errFile).Args.failCount >= 2, { timeoutMs: 10_000, what: 'error file with failCount 2' });
    const e = readError(errFile);
    assert.equal(e.Msg, 'error syncing repo, will retry');
    assert.match(e.Err, /does not appear to be a git repository/);
  } finally {
    await h.close();
  }
  const h2 = await start({ repo: repo.url, root: join(dir, 'root'), periodMs: 3_600_000, errorFile: errFile, log });
  try {
    await waitHash(h2, repo.head());
    assert.equal(existsSync(errFile), false);
  } finally {
    await h2.close();
  }
});

test('a sync past --sync-timeout fails as v4 words it: Run(git …): context deadline exceeded', async () => {
  const repo = makeRepo({ file: 'x\n' });
  const dir = tempDir('gs-err-deadline-');
  const wrapper = join(dir, 'slow-git');
  writeFileSync(wrapper, '#!/bin/sh\nif [ "$1" = fetch ]; then exec sleep 30; fi\nexec git "$@"\n', { mode: 0o755 });
  const h = await start({ repo: repo.url, root: join(dir, 'root'), git: wrapper, syncTimeoutMs: 2000, maxFailures: 0, errorFile: 'error.json', log: captureLogger().log });
  assert.equal(await h.done, 1);
  await h.close();
  const e = readError(join(dir, 'root', 'error.json'));
  assert.equal(e.Msg, 'too many failures, aborting');
  // Usually the fetch (it never ends); on a loaded machine the deadline can fall on an earlier git command.
  assert.match(e.Err, /^Run\(\S*slow-git [^)]*\): context deadline exceeded: \{ stdout: "[^"]*", stderr: "[^"]*" \}$/);
});

test('--touch-file relative and absolute: touched after the first sync and after each publish, not after a no-op poll', async () => {
  const repo = makeRepo({ file: 'x\n' });
  const dir = tempDir('gs-touch-');
  const root = join(dir, 'root');
  const abs = join(dir, 'elsewhere', 'deep', 'touched');
  const rel = join(root, 'sub', 'touched');
  const once = await runPodkit(['git-sync', '--one-time', `--repo=${repo.url}`, `--root=${root}`, '--touch-file=sub/touched']);
  assert.equal(once.code, 0, once.stderr);
  assert.ok(existsSync(rel), 'relative to --root');

  const { log } = captureLogger();
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(rel, old, old);
  const mtime = (p: string) => statSync(p).mtimeMs;
  const h = await start({ repo: repo.url, root, touchFile: abs, periodMs: 50, log });
  try {
    // The first sync of a process touches even though the tree did not change (v4: syncCount == 0).
    await pollUntil(() => existsSync(abs), { timeoutMs: 10_000, what: 'absolute touch file' });
    const t1 = mtime(abs);
    const polls = h.status().syncs;
    await pollUntil(() => h.status().syncs >= polls + 3, { timeoutMs: 10_000, what: 'no-op polls' });
    assert.equal(mtime(abs), t1, 'a no-op poll does not touch');
    await new Promise((r) => setTimeout(r, 20));
    const c2 = repo.commit({ file: 'y\n' });
    await waitHash(h, c2);
    await pollUntil(() => mtime(abs) > t1, { timeoutMs: 5000, what: 'touched after the publish' });
  } finally {
    await h.close();
  }
  assert.ok(mtime(rel) < Date.now() - 3_000_000, 'the relative file of the other run is left alone');
});

test('--error-file also gets a bad configuration\'s message (as v4 writes it), and the exit is 2', async () => {
  const root = join(tempDir('gs-err-cfg-'), 'root');
  const r = await runPodkit(['git-sync', `--root=${root}`, '--error-file=error.json']);
  assert.equal(r.code, 2);
  assert.match(readFileSync(join(root, 'error.json'), 'utf8'), /--repo must be specified/);
  const r2 = await runPodkit(['git-sync', '--repo=file:///x', `--root=${root}`, '--error-file=error.json', '--username=u']);
  assert.equal(r2.code, 2);
  assert.match(readFileSync(join(root, 'error.json'), 'utf8'), /--password or --password-file must be set when --username is specified/);
});

test('--exit-codes=v4 (or GITSYNC_EXIT_CODES=v4) gives v4\'s codes: 1 for a bad configuration, 2 for what its flag parser refuses', async () => {
  const root = join(tempDir('gs-exit-v4-'), 'root');
  const r = await runPodkit(['git-sync', `--root=${root}`, '--error-file=error.json', '--exit-codes=v4']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /--repo must be specified/);
  assert.match(readFileSync(join(root, 'error.json'), 'utf8'), /--repo must be specified/);
  const env = { ...process.env, GITSYNC_EXIT_CODES: 'v4' };
  assert.equal((await runPodkit(['git-sync', '--repo=file:///x', `--root=${root}`, '--period=5ms'], { env })).code, 1);
  const unknown = await runPodkit(['git-sync', '--repo=file:///x', `--root=${root}`, '--no-such-flag'], { env });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown flag --no-such-flag/);
  assert.equal((await runPodkit(['git-sync', '--repo=file:///x', `--root=${root}`, '--depth=abc'], { env })).code, 2);
  // A failing sync exits 1 either way.
  assert.equal((await runPodkit(['git-sync', '--repo=file:///nonexistent/x.git', `--root=${root}`], { env })).code, 1);
});

test('a --root that cannot be made ends git-sync at start, as v4 does ("can\'t make root dir"), even with --max-failures=-1', async () => {
  const file = join(tempDir('gs-root-'), 'a-file');
  writeFileSync(file, '');
  for (const [root, why] of [[file, 'it exists and is not a directory'], [join(file, 'below'), 'not a directory']]) {
    const r = await runPodkit(['git-sync', '--repo=file:///x', `--root=${root}`, '--max-failures=-1', '--period=10ms'], { timeoutMs: 10_000 });
    assert.deepEqual([r.code, r.stderr], [2, `podkit git-sync: --root: can't make root dir ${root} (${why})\n`]);
    const v4 = await runPodkit(['git-sync', '--repo=file:///x', `--root=${root}`, '--max-failures=-1', '--exit-codes=v4'], { timeoutMs: 10_000 });
    assert.equal(v4.code, 1, v4.stderr);
  }
});
