/** @module `/` of every long-running component: what it is, its version, links to its endpoints and the config in use, secrets redacted. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dumpDom, freePort, makeRepo, pollUntil, startPodkit, startRedis, stopAll, tempDir, yamlFile } from './helpers/index.js';

after(() => stopAll());
const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const html = { accept: 'text/html,application/xhtml+xml' };

/** The page names the component and version, links every endpoint, and shows the config without `secret`. */
async function checkLanding(base: string, name: string, secret: string, metricsPath = '/metrics'): Promise<unknown> {
  const res = await fetch(base + '/', { headers: html });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
  const page = await res.text();
  assert.match(page, /<meta charset="utf-8">/);
  assert.match(page, new RegExp(`<h1>${name}</h1>`));
  assert.match(page, new RegExp(`podkit ${version.replace(/\./g, '\\.')}`));
  for (const href of [metricsPath, '/healthz', '/readyz', '/config']) {
    assert.match(page, new RegExp(`<a href="${href}">`), href);
    assert.notEqual((await fetch(base + href)).status, 404, href);
  }
  assert.match(page, /Config in use/);
  assert.doesNotMatch(page, new RegExp(secret));
  const config = await fetch(base + '/config');
  assert.equal(config.headers.get('content-type'), 'application/json');
  const text = await config.text();
  assert.doesNotMatch(text, new RegExp(secret));
  assert.match(text, /\[REDACTED\]/);
  return JSON.parse(text);
}

test('metrics-adapter: a landing page on / (statsd_exporter serves one), the OTLP auth header redacted', async () => {
  const port = await freePort();
  const cfg = yamlFile(`statsd: {listen_udp: "127.0.0.1:${await freePort()}", listen_tcp: ""}\noutputs:\n  otlp: {endpoint: "http://127.0.0.1:1/v1/metrics", interval: 1h, headers: {Authorization: "Bearer otlp-s3cret-token"}}\n`, 'adapter.yaml');
  startPodkit(['metrics-adapter', `--config=${cfg}`, `--http-bind=127.0.0.1:${port}`]);
  const base = `http://127.0.0.1:${port}`;
  await pollUntil(async () => (await fetch(base + '/healthz')).ok, { what: 'adapter up', timeoutMs: 20_000 });
  const c = (await checkLanding(base, 'podkit metrics-adapter', 'otlp-s3cret-token')) as { file: string };
  assert.equal(c.file, cfg);
});

test('redis-ambassador: a landing page on /, the upstream password redacted', async () => {
  const master = await startRedis({ password: 'amb-s3cret-pw' });
  const dir = tempDir('podkit-landing-');
  writeFileSync(join(dir, 'pw'), 'amb-s3cret-pw\n');
  const port = await freePort();
  startPodkit(['redis-ambassador', '--listen', `127.0.0.1:${await freePort()}`, '--master', master.addr, '--password-file', join(dir, 'pw'), '--http-bind', `127.0.0.1:${port}`]);
  const base = `http://127.0.0.1:${port}`;
  await pollUntil(async () => (await fetch(base + '/readyz').catch(() => undefined))?.ok, { what: 'ambassador ready', timeoutMs: 20_000 });
  await checkLanding(base, 'podkit redis-ambassador', 'amb-s3cret-pw');
});

test('git-sync: a browser gets the landing page on /; a probe still gets v4\'s 503/200 there; credentials in the URL redacted', async () => {
  const repo = makeRepo();
  const root = tempDir('podkit-landing-git-');
  const port = await freePort();
  startPodkit(['git-sync', `--repo=${repo.url}`, `--root=${root}`, '--link=html', '--period=1h', `--http-bind=127.0.0.1:${port}`, '--password=gs-s3cret-pw', '--username=bob', '--git-config=http.extraHeader:Authorization: Bearer gs-header-t0ken']);
  const base = `http://127.0.0.1:${port}`;
  await pollUntil(async () => (await fetch(base + '/').catch(() => undefined))?.status === 200, { what: 'first sync', timeoutMs: 30_000 });
  assert.equal(await (await fetch(base + '/')).text(), 'ok\n');
  const c = (await checkLanding(base, 'podkit git-sync', 'gs-s3cret-pw')) as { lastSyncedHash: string; gitConfig: [string, string][] };
  assert.equal(c.lastSyncedHash, repo.head());
  assert.deepEqual(c.gitConfig, [['http.extraHeader', '[REDACTED]']]);
  assert.doesNotMatch(await (await fetch(base + '/', { headers: html })).text(), /gs-header-t0ken/);
  // A real browser asks for HTML, so it gets the page, not the probe's "ok".
  const dom = await dumpDom(base + '/');
  assert.match(dom, /<h1>podkit git-sync<\/h1>/);
  assert.match(dom, /<a href="\/metrics">/);
  assert.doesNotMatch(dom, /gs-s3cret-pw/);
});
