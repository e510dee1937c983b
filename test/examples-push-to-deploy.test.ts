/** @module examples/push-to-deploy end to end: `podkit up` runs nginx + git-sync; a push (and its signed trigger) changes the page. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts, makeRepo, pollUntil, stopAll } from './helpers/index.js';
import { renderExample, upExample } from './helpers/examples.js';

after(stopAll);

test('a push to the hostPath repo, signalled by the post-receive hook, changes the page served on the hostPort', async () => {
  const repo = makeRepo({ 'index.html': '<h1>version 1</h1>\n' });
  const [web, sync] = await freePorts(2);
  const pod = renderExample('push-to-deploy/pod.yaml', { 8080: web, 8729: sync }, { '/srv/podkit/site.git': repo.bare });
  const hook = renderExample('push-to-deploy/post-receive', { 8729: sync });
  copyFileSync(hook, join(repo.bare, 'hooks', 'post-receive'));
  chmodSync(join(repo.bare, 'hooks', 'post-receive'), 0o755);

  const ex = await upExample([pod]);
  const page = async () => (await fetch(`http://127.0.0.1:${web}/`)).text();
  await pollUntil(async () => (await page()).includes('version 1'), { timeoutMs: 20_000, what: 'version 1' });

  // git-sync polls every 30 s; the page changes well before that only because the hook's signed trigger works.
  repo.commit({ 'index.html': '<h1>version 2</h1>\n' });
  await pollUntil(async () => (await page()).includes('version 2'), { timeoutMs: 20_000, what: 'the pushed page' });

  // A trigger with a wrong signature is refused.
  const bad = await fetch(`http://127.0.0.1:${sync}/webhook`, {
    method: 'POST',
    body: '{}',
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
  });
  assert.ok(bad.status === 401 || bad.status === 403, `bad signature answered ${bad.status}`);
  await ex.stop();
});
