import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { git, makeRepo, pollUntil, runPodkit, startGitHttpServer, startSshd, stopAll, tempDir, type TestRepo } from './helpers/index.js';
import { start } from '../src/git-sync/index.js';
import { captureLogger, waitHash } from './fixtures/git-sync/util.js';

// v4's credential flags against real servers: two sshds with different keys, two git http-backends with
// different users, and an HTTP endpoint answering --askpass-url.
after(stopAll);

/** Commit a submodule at `path` pointing at `url` (commit `hash`) without cloning it (the URL may need credentials). */
function addSubmodule(repo: TestRepo, path: string, url: string, hash: string): string {
  writeFileSync(join(repo.work, '.gitmodules'), `[submodule "${path}"]\n\tpath = ${path}\n\turl = ${url}\n`);
  git(repo.work, 'add', '.gitmodules');
  git(repo.work, 'update-index', '--add', '--cacheinfo', `160000,${hash},${path}`);
  git(repo.work, 'commit', '-q', '-m', 'submodule');
  git(repo.work, 'push', '-q', 'origin', `HEAD:refs/heads/${repo.branch}`);
  return git(repo.work, 'rev-parse', 'HEAD');
}

test('--ssh-key-file repeated: a submodule on a second ssh server with its own key syncs (with only one key it fails)', async () => {
  const [a, b] = [await startSshd(), await startSshd()];
  const sub = makeRepo({ 'lib.txt': 'lib\n' });
  const top = makeRepo({ 'app.txt': 'app\n' });
  const head = addSubmodule(top, 'lib', `ssh://${b.user}@127.0.0.1:${b.port}${sub.bare}`, sub.head());
  const dir = tempDir('gs-keys-');
  const known = join(dir, 'known_hosts');
  writeFileSync(known, readFileSync(a.knownHosts, 'utf8') + readFileSync(b.knownHosts, 'utf8'));
  const args = (root: string, keys: string[]) => [
    'git-sync', '--one-time', `--repo=ssh://${a.user}@127.0.0.1:${a.port}${top.bare}`, `--root=${join(dir, root)}`, '--link=link',
    `--ssh-known-hosts-file=${known}`, ...keys.map((k) => `--ssh-key-file=${k}`),
  ];
  const both = await runPodkit(args('both', [a.userKey, b.userKey]));
  assert.equal(both.code, 0, both.stderr + both.stdout);
  assert.equal(readFileSync(join(dir, 'both', 'link', 'lib', 'lib.txt'), 'utf8'), 'lib\n');
  assert.equal(git(join(dir, 'both', 'link'), 'rev-parse', 'HEAD'), head);
  // The env form is PATH-like, as v4 parses it.
  const env = await runPodkit(args('env', []).concat('--ssh'), { env: { ...process.env, GITSYNC_SSH_KEY_FILE: `${a.userKey}:${b.userKey}` } });
  assert.equal(env.code, 0, env.stderr + env.stdout);
  const last = await runPodkit(args('last', [b.userKey]));
  assert.equal(last.code, 1, 'only the submodule host accepts the last key');
});

test('--credential: the submodule host gets its own user and password file; --repo keeps --username', async () => {
  const sub = makeRepo({ 'lib.txt': 'lib\n' });
  const top = makeRepo({ 'app.txt': 'app\n' });
  const subSrv = await startGitHttpServer(dirname(sub.bare), { subuser: 'sub-Secret-1' });
  const topSrv = await startGitHttpServer(dirname(top.bare), { deploy: 'top-Secret-1' });
  after(() => Promise.all([subSrv.close(), topSrv.close()]));
  addSubmodule(top, 'lib', subSrv.url('remote.git'), sub.head());
  const dir = tempDir('gs-cred-');
  const subPw = join(dir, 'sub-pw');
  writeFileSync(subPw, 'sub-Secret-1\n');
  const cred = JSON.stringify({ url: subSrv.url('remote.git'), username: 'subuser', 'password-file': subPw });
  const r = await runPodkit(['git-sync', '--one-time', `--repo=${topSrv.url('remote.git')}`, `--root=${join(dir, 'root')}`, '--link=link', '--username=deploy', `--credential=${cred}`], {
    env: { ...process.env, GITSYNC_PASSWORD: 'top-Secret-1' },
  });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(readFileSync(join(dir, 'root', 'link', 'lib', 'lib.txt'), 'utf8'), 'lib\n');
  assert.ok(subSrv.log.some((l) => l.ok && l.user === 'subuser'));
  assert.ok(topSrv.log.some((l) => l.ok && l.user === 'deploy'));
  assert.doesNotMatch(r.stdout + r.stderr, /Secret-1/, 'no password in the logs');
  // The env form, a list, with an inline password.
  const list = JSON.stringify([{ url: topSrv.url('x'), username: 'deploy', password: 'top-Secret-1' }, { url: subSrv.url('x'), username: 'subuser', password: 'sub-Secret-1' }]);
  const r2 = await runPodkit(['git-sync', '--one-time', `--repo=${topSrv.url('remote.git')}`, `--root=${join(dir, 'root2')}`, '--link=link'], { env: { ...process.env, GITSYNC_CREDENTIAL: list } });
  assert.equal(r2.code, 0, r2.stderr + r2.stdout);
  assert.equal(readFileSync(join(dir, 'root2', 'link', 'lib', 'lib.txt'), 'utf8'), 'lib\n');
});

test('--askpass-url: credentials fetched before every sync; a rotated answer is used at once; a failing URL fails the sync', async () => {
  const repo = makeRepo({ 'index.html': 'v1\n' });
  const srv = await startGitHttpServer(dirname(repo.bare), { token: 'tok-Secret-1' });
  let answer = { status: 200, body: 'username=token\npassword=tok-Secret-1\n' };
  let calls = 0;
  const auth = createServer((req, res) => {
    calls++;
    req.resume();
    res.writeHead(answer.status, { 'content-type': 'text/plain' });
    res.end(answer.body);
  });
  await new Promise<void>((r) => auth.listen(0, '127.0.0.1', r));
  after(() => Promise.all([srv.close(), new Promise((r) => auth.close(r))]));
  const url = `http://127.0.0.1:${(auth.address() as { port: number }).port}/creds`;
  const { log, lines } = captureLogger();
  const root = join(tempDir('gs-askpass-'), 'root');
  const h = await start({ repo: srv.url('remote.git'), root, link: 'link', askpassUrl: url, periodMs: 3_600_000, maxFailures: -1, errorFile: 'error.json', log });
  try {
    await waitHash(h, repo.head());
    assert.equal(calls, 1);
    srv.setUsers({ token: 'tok-Secret-2' });
    answer = { status: 200, body: 'username=token\npassword=tok-Secret-2\n' };
    const c2 = repo.commit({ 'index.html': 'v2\n' });
    h.trigger();
    await waitHash(h, c2);
    assert.equal(readFileSync(join(root, 'link', 'index.html'), 'utf8'), 'v2\n');
    answer = { status: 500, body: 'metadata server down' };
    const before = h.status().attempts;
    h.trigger();
    await pollUntil(() => h.status().attempts > before && h.status().consecutiveFailures > 0, { timeoutMs: 10_000, what: 'a failed sync' });
    assert.match(h.status().lastError ?? '', /auth URL returned status 500/);
    assert.ok(!lines.join('\n').includes('tok-Secret'), 'no token in the logs');
  } finally {
    await h.close();
  }
});
