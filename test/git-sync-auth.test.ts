import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeRepo, pollUntil, startGitHttpServer, startSshd, stopAll, tempDir } from './helpers/index.js';
import { start } from '../src/git-sync/index.js';
import { captureLogger, treeDiff, waitHash } from './fixtures/git-sync/util.js';

after(stopAll);
const argvGit = new URL('./fixtures/git-sync/argv-git.sh', import.meta.url).pathname;

/** Every process command line on the machine that mentions `needle`, sampled until stopped. */
function procScanner(needle: string) {
  const hits: string[] = [];
  let samples = 0;
  const timer = setInterval(() => {
    samples++;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmd.includes(needle)) hits.push(cmd.replace(/\0/g, ' '));
      } catch {
        /* gone */
      }
    }
  }, 3);
  return { hits, samples: () => samples, stop: () => clearInterval(timer) };
}

test('HTTPS basic auth with --password-file against git http-backend; rotation needs no restart; secrets stay out of argv, logs, metrics, error file', async () => {
  const repo = makeRepo({ 'index.html': 'v1\n' });
  const srv = await startGitHttpServer(dirname(repo.bare), { deploy: 'pw-one-Secret' });
  after(() => srv.close());
  const dir = tempDir('gs-auth-');
  const pwFile = join(dir, 'password');
  writeFileSync(pwFile, 'pw-one-Secret\n');
  const argvLog = join(dir, 'argv.log');
  process.env.ARGV_LOG = argvLog;
  const { log, lines } = captureLogger('trace');
  const scan = procScanner('pw-');
  const root = join(dir, 'root');
  const h = await start({
    repo: srv.url('remote.git'), root, link: 'site', username: 'deploy', passwordFile: pwFile, periodMs: 3_600_000, maxFailures: -1,
    errorFile: 'error.json', git: argvGit, httpBind: { host: '127.0.0.1', port: 0 }, log,
  });
  try {
    await waitHash(h, repo.head());
    assert.equal(treeDiff(join(root, 'site'), repo.bare, repo.head()), '');
    assert.ok(srv.log.some((l) => l.ok && l.user === 'deploy'), 'authenticated as deploy');
    assert.ok(srv.log.some((l) => !l.ok), 'the server challenged first (real basic auth)');

    // Rotate on the server only: the next sync fails with an auth error, the tree keeps serving.
    srv.setUsers({ deploy: 'pw-two-Secret' });
    const c2 = repo.commit({ 'index.html': 'v2\n' });
    h.trigger();
    await pollUntil(() => existsSync(join(root, 'error.json')), { timeoutMs: 10_000, what: 'error file after auth failure' });
    const errText = readFileSync(join(root, 'error.json'), 'utf8');
    // v4's wording: Run(git …): exit status 128: { stdout: "…", stderr: "<git's own message>" }.
    assert.match((JSON.parse(errText) as { Err: string }).Err, /^Run\(\S+ fetch [^)]*\): exit status 128: \{ stdout: "", stderr: ".*Authentication failed/);
    assert.equal(readFileSync(join(root, 'site', 'index.html'), 'utf8'), 'v1\n');
    // Rotate the file: picked up at the next sync, no restart.
    writeFileSync(pwFile, 'pw-two-Secret\n');
    h.trigger();
    await waitHash(h, c2);
    assert.ok(!existsSync(join(root, 'error.json')));
    const metrics = await (await fetch(`http://127.0.0.1:${h.httpAddress?.port}/metrics`)).text();

    for (const secret of ['pw-one-Secret', 'pw-two-Secret']) {
      assert.ok(!readFileSync(argvLog, 'utf8').includes(secret), 'not in any git argv');
      assert.ok(!lines.some((l) => l.includes(secret)), 'not in logs');
      assert.ok(!metrics.includes(secret), 'not in metrics');
      assert.ok(!errText.includes(secret), 'not in the error file');
      assert.ok(!scan.hits.some((c) => c.includes(secret)), `not in any process cmdline (${scan.samples()} samples)`);
    }
    assert.ok(readFileSync(argvLog, 'utf8').includes('fetch'), 'the argv log saw the git calls');
  } finally {
    scan.stop();
    await h.close();
  }
});

test('credentials inside the --repo URL never reach any argv (git, remote-http): every child /proc/PID/cmdline read during the sync', async () => {
  const repo = makeRepo({ 'index.html': 'v1\n' });
  const srv = await startGitHttpServer(dirname(repo.bare), { deploy: 'pw-url-Secret' });
  after(() => srv.close());
  const dir = tempDir('gs-auth-');
  const argvLog = join(dir, 'argv.log');
  process.env.ARGV_LOG = argvLog;
  const { log, lines } = captureLogger('trace');
  const scan = procScanner('pw-url');
  const root = join(dir, 'root');
  const url = srv.url('remote.git').replace('://', '://deploy:pw-url-Secret@');
  const h = await start({ repo: url, root, link: 'site', periodMs: 3_600_000, git: argvGit, log });
  try {
    await waitHash(h, repo.head());
    const c2 = repo.commit({ 'index.html': 'v2\n' });
    h.trigger();
    await waitHash(h, c2);
    assert.ok(srv.log.some((l) => l.ok && l.user === 'deploy'), 'authenticated as deploy from the URL');
    assert.ok(readFileSync(argvLog, 'utf8').includes('fetch'), 'the argv log saw the git calls');
    assert.ok(!readFileSync(argvLog, 'utf8').includes('pw-url-Secret'), 'not in any git argv');
    assert.ok(scan.samples() > 10, 'the scanner ran during the syncs');
    assert.deepEqual(scan.hits.filter((c) => c.includes('pw-url-Secret')), [], `not in any process cmdline (${scan.samples()} samples)`);
    assert.ok(!lines.some((l) => l.includes('pw-url-Secret')), 'not in logs');
  } finally {
    scan.stop();
    await h.close();
  }
});

test('--password (flag/env form) works and is redacted; a wrong password is an auth error', async () => {
  const repo = makeRepo({ 'index.html': 'v1\n' });
  const srv = await startGitHttpServer(dirname(repo.bare), { u: 'pw-flag-Secret' });
  after(() => srv.close());
  const { log, lines } = captureLogger('trace');
  const h = await start({ repo: srv.url('remote.git'), root: tempDir('gs-auth-'), username: 'u', password: 'pw-flag-Secret', periodMs: 3_600_000, log });
  await waitHash(h, repo.head());
  await h.close();
  const bad = await start({ repo: srv.url('remote.git'), root: tempDir('gs-auth-'), username: 'u', password: 'pw-wrong-Secret', maxFailures: 0, log });
  assert.equal(await bad.done, 1);
  assert.match(bad.status().lastError ?? '', /Authentication failed/);
  assert.ok(lines.some((l) => l.includes('"code":"PODKIT_ERR_AUTH"')), 'the log line names the auth refusal');
  await bad.close();
  assert.ok(!lines.some((l) => l.includes('pw-flag-Secret') || l.includes('pw-wrong-Secret')));
});

test('SSH key + known_hosts against a real sshd on loopback; a wrong host key is refused', async () => {
  const sshd = await startSshd();
  const repo = makeRepo({ 'index.html': 'over ssh\n' });
  const url = `ssh://${sshd.user}@127.0.0.1:${sshd.port}${repo.bare}`;
  const root = tempDir('gs-ssh-');
  const { log, lines } = captureLogger('trace');
  const h = await start({ repo: url, root, link: 'site', sshKeyFile: sshd.userKey, sshKnownHostsFile: sshd.knownHosts, periodMs: 3_600_000, maxFailures: -1, log });
  try {
    await waitHash(h, repo.head());
    assert.equal(readFileSync(join(root, 'site', 'index.html'), 'utf8'), 'over ssh\n');
    const c2 = repo.commit({ 'index.html': 'v2\n' });
    h.trigger();
    await waitHash(h, c2);
  } finally {
    await h.close();
  }
  const key = readFileSync(sshd.userKey, 'utf8').split('\n')[1];
  assert.ok(!lines.some((l) => l.includes(key)), 'key material never logged');
  const wrong = await start({ repo: url, root: tempDir('gs-ssh-'), sshKeyFile: sshd.userKey, sshKnownHostsFile: sshd.wrongKnownHosts, maxFailures: 0, log: captureLogger().log });
  assert.equal(await wrong.done, 1);
  assert.match(wrong.status().lastError ?? '', /Host key verification failed|HOST IDENTIFICATION/i);
  await wrong.close();
});
