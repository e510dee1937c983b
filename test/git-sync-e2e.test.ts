import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, makeRepo, pollUntil, requireBinary, startNginx, startPodkit, startProcess, stopAll, tempDir, waitForPort } from './helpers/index.js';

after(stopAll);

const get = async (url: string) => {
  try {
    const r = await fetch(url, { headers: { 'cache-control': 'no-cache' } });
    return r.status === 200 ? await r.text() : `status ${r.status}`;
  } catch (e) {
    return String(e);
  }
};

test('push → webhook → the new page is served by Python http.server and nginx through the link', async () => {
  requireBinary('/usr/bin/python3');
  const repo = makeRepo({ 'index.html': '<h1>v1</h1>\n', 'static/app.css': 'body{}\n' });
  const dir = tempDir('gs-e2e-');
  const root = join(dir, 'root');
  const link = join(root, 'html');
  const secret = join(dir, 'secret');
  writeFileSync(secret, 'e2e-secret\n');
  const port = await freePort();
  const sync = startPodkit(['git-sync', `--repo=${repo.url}`, `--root=${root}`, '--link=html', '--period=1h', `--http-bind=127.0.0.1:${port}`, `--trigger-secret-file=${secret}`], {
    env: { ...process.env, PODKIT_LOG_FORMAT: 'json' },
  });
  await waitForPort(port);
  await pollUntil(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, { timeoutMs: 15_000, what: 'git-sync ready' });

  const pyPort = await freePort();
  startProcess('/usr/bin/python3', ['-m', 'http.server', String(pyPort), '--bind', '127.0.0.1', '--directory', link], { name: 'python-http' });
  await waitForPort(pyPort);
  const nginx = await startNginx({ root: link });
  const py = `http://127.0.0.1:${pyPort}/index.html`;
  const ng = `${nginx.url}/index.html`;
  assert.equal(await get(py), '<h1>v1</h1>\n');
  assert.equal(await get(ng), '<h1>v1</h1>\n');

  for (const v of ['v2', 'v3']) {
    repo.commit({ 'index.html': `<h1>${v}</h1>\n` });
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const sig = createHmac('sha256', 'e2e-secret').update(body).digest('hex');
    const res = await fetch(`http://127.0.0.1:${port}/webhook`, { method: 'POST', headers: { 'X-Hub-Signature-256': `sha256=${sig}`, 'X-GitHub-Event': 'push', 'content-type': 'application/json' }, body });
    assert.equal(res.status, 202);
    await pollUntil(async () => (await get(py)) === `<h1>${v}</h1>\n`, { timeoutMs: 15_000, what: `python serves ${v}` });
    await pollUntil(async () => (await get(ng)) === `<h1>${v}</h1>\n`, { timeoutMs: 15_000, what: `nginx serves ${v}` });
    assert.equal(await get(`${nginx.url}/static/app.css`), 'body{}\n');
  }
  sync.signal('SIGTERM');
  assert.equal(await sync.exited, 0);
});
