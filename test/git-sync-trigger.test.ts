import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { makeRepo, pollUntil, runPodkit, startPodkit, stopAll, tempDir } from './helpers/index.js';
import { start } from '../src/git-sync/index.js';
import { captureLogger, linkHash, waitHash } from './fixtures/git-sync/util.js';

after(stopAll);

const SECRET = 'trigger-secret-123';
const sign = (body: string, secret = SECRET) => createHmac('sha256', secret).update(body).digest('hex');

async function setup(extra: { git?: string; triggerMaxBody?: number } = {}) {
  const repo = makeRepo({ 'index.html': 'v1\n' });
  const dir = tempDir('gs-trig-');
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, `${SECRET}\n`);
  const { log, lines } = captureLogger();
  const h = await start({ repo: repo.url, root: join(dir, 'root'), link: 'site', periodMs: 3_600_000, httpBind: { host: '127.0.0.1', port: 0 }, triggerSecretFile: secretFile, log, ...extra });
  await waitHash(h, repo.head());
  const url = `http://127.0.0.1:${h.httpAddress?.port}/webhook`;
  // One connection per webhook, as the forges send them: a kept-alive socket reused after a long wait for a sync can
  // meet the server's idle close on a loaded machine (ECONNRESET, 1 CI run).
  const post = (headers: Record<string, string>, body = '{"ref":"refs/heads/main"}') =>
    new Promise<{ status: number }>((resolve, reject) => {
      const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      });
      req.on('error', reject);
      req.end(body);
    });
  return { repo, dir, h, url, post, lines };
}

test('signed GitHub, Gitea, GitLab and generic webhooks trigger a sync that publishes the pushed commit', async () => {
  const { repo, h, post } = await setup();
  try {
    const body = '{"ref":"refs/heads/main","after":"x"}';
    const cases: Record<string, string>[] = [
      { 'X-Hub-Signature-256': `sha256=${sign(body)}`, 'X-GitHub-Event': 'push' },
      { 'X-Gitea-Signature': sign(body) },
      { 'X-Gitlab-Token': SECRET },
      { 'X-Podkit-Signature-256': `sha256=${sign(body)}` },
    ];
    for (const [i, headers] of cases.entries()) {
      const c = repo.commit({ 'index.html': `v${i + 2}\n` });
      const res = await post(headers, body);
      assert.equal(res.status, 202, JSON.stringify(headers));
      await waitHash(h, c);
    }
  } finally {
    await h.close();
  }
});

test('forged or missing signatures get 401 and cause no fetch', async () => {
  const { repo, h, post, lines } = await setup();
  try {
    const before = h.status().attempts;
    const c = repo.commit({ 'index.html': 'pushed\n' });
    const body = '{"ref":"refs/heads/main"}';
    const forged: Record<string, string>[] = [
      {},
      { 'X-Hub-Signature-256': `sha256=${sign(body, 'wrong-secret')}` },
      { 'X-Hub-Signature-256': sign(body) },
      { 'X-Gitea-Signature': sign('other body') },
      { 'X-Gitlab-Token': 'trigger-secret-12' },
      { 'X-Podkit-Signature-256': 'sha256=' + '0'.repeat(64) },
    ];
    for (const headers of forged) {
      const res = await post(headers, body);
      assert.equal(res.status, 401, JSON.stringify(headers));
      // A trigger starts its sync synchronously, so a refused one shows as no new attempt right away.
      assert.equal(h.status().attempts, before);
    }
    assert.notEqual(h.status().hash, c);
    const m = await (await fetch(`http://127.0.0.1:${h.httpAddress?.port}/metrics`)).text();
    assert.match(m, /podkit_git_sync_trigger_requests_total\{provider="github",result="refused"\} 2/);
    assert.ok(!lines.some((l) => l.includes(SECRET)), 'secret never logged');
    assert.equal((await fetch(`http://127.0.0.1:${h.httpAddress?.port}/webhook`)).status, 405);
  } finally {
    await h.close();
  }
});

test('trigger bodies over --trigger-max-body are 413 before the signature check, declared or streamed, 40 at once', async () => {
  const { h, url, post, lines } = await setup({ triggerMaxBody: 4096 });
  try {
    const attempts = h.status().attempts;
    const big = 'x'.repeat(64 << 10);
    // Declared lengths are refused from the header alone (bodies small enough that the client reads the 413 before a reset).
    const declared = await Promise.all(Array.from({ length: 40 }, () => fetch(url, { method: 'POST', body: big }).then((r) => r.status)));
    assert.deepEqual(new Set(declared), new Set([413]));
    // A chunked body (no Content-Length) is cut off as soon as it passes the limit.
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 8; i++) c.enqueue(new TextEncoder().encode('y'.repeat(1024)));
        c.close();
      },
    });
    const chunked = await fetch(url, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal(h.status().attempts, attempts, 'a refused body triggers nothing');
    assert.ok(!lines.some((l) => /refused trigger request/.test(l)), 'refused before the signature was looked at');
    // Under the limit a signed body still triggers.
    const body = JSON.stringify({ ref: 'refs/heads/main', pad: 'z'.repeat(3000) });
    const ok = await post({ 'X-Hub-Signature-256': `sha256=${sign(body)}` }, body);
    assert.equal(ok.status, 202);
  } finally {
    await h.close();
  }
});

test('CLI: --trigger-max-body below 1 exits 2 naming the flag', async () => {
  const r = await runPodkit(['git-sync', '--repo', 'file:///nonexistent', '--root', tempDir('gs-tmb-'), '--trigger-max-body', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /trigger-max-body/);
});

test('triggers during a sync coalesce into one follow-up that converges on the newest commit', async () => {
  const slowGit = new URL('./fixtures/git-sync/slow-git.sh', import.meta.url).pathname;
  const { repo, h, post } = await setup({ git: slowGit });
  try {
    const body = '{}';
    const headers = { 'X-Hub-Signature-256': `sha256=${sign(body)}` };
    const before = h.status().attempts;
    repo.commit({ 'index.html': 'a\n' });
    assert.equal((await post(headers, body)).status, 202);
    assert.equal(h.status().attempts, before + 1);
    const last = repo.commit({ 'index.html': 'b\n' });
    for (let i = 0; i < 10; i++) assert.equal((await post(headers, body)).status, 202);
    await waitHash(h, last);
    await pollUntil(() => h.status().syncs >= 3, { timeoutMs: 10_000, what: 'follow-up done' });
    assert.equal(h.status().attempts, before + 2, 'one running sync plus exactly one follow-up');
  } finally {
    await h.close();
  }
});

test('CLI: SIGHUP triggers a sync; unknown flags exit 2 with a clear message', async () => {
  const bad = await runPodkit(['git-sync', '--repo', 'file:///x', '--root', '/tmp/x', '--frobnicate']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown flag --frobnicate/);
  const noRepo = await runPodkit(['git-sync', '--root', '/tmp/x'], { env: { ...process.env, GITSYNC_REPO: '' } });
  assert.equal(noRepo.code, 2);
  assert.match(noRepo.stderr, /--repo must be specified/);
  const badEnv = await runPodkit(['git-sync'], { env: { ...process.env, GITSYNC_PERIOD: 'often' } });
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.stderr, /GITSYNC_PERIOD/);

  const repo = makeRepo({ 'index.html': 'v1\n' });
  const root = tempDir('gs-cli-');
  const p = startPodkit(['git-sync', `--repo=${repo.url}`, `--root=${root}`, '--link=site', '--period=1h'], { env: { ...process.env, PODKIT_LOG_FORMAT: 'json' } });
  await pollUntil(() => { try { return linkHash(join(root, 'site')) === repo.head(); } catch { return false; } }, { timeoutMs: 15_000, what: 'first sync' });
  const c2 = repo.commit({ 'index.html': 'v2\n' });
  p.signal('SIGHUP');
  await pollUntil(() => { try { return readFileSync(join(root, 'site', 'index.html'), 'utf8') === 'v2\n'; } catch { return false; } }, { timeoutMs: 15_000, what: 'sync after SIGHUP' });
  assert.equal(linkHash(join(root, 'site')), c2);
  p.signal('SIGTERM');
  assert.equal(await p.exited, 0);
});

test('CLI: --one-time exits 0; a failing sync with --max-failures=0 exits 1 and writes the error file', async () => {
  const repo = makeRepo({ 'index.html': 'v1\n' });
  const root = tempDir('gs-cli-');
  const ok = await runPodkit(['git-sync', `--repo=${repo.url}`, `--root=${root}`, '--one-time']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(readFileSync(join(root, 'remote.git', 'index.html'), 'utf8'), 'v1\n');
  const r2 = tempDir('gs-cli-');
  const bad = await runPodkit(['git-sync', '--repo=file:///nonexistent/x.git', `--root=${r2}`, '--error-file=err.json'], { env: { ...process.env, GITSYNC_ONE_TIME: 'true' } });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /too many failures/);
  assert.match(readFileSync(join(r2, 'err.json'), 'utf8'), /nonexistent/);
});
