import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, pollUntil, stopAll, tempDir } from './helpers/index.js';
import { start } from '../src/git-sync/index.js';
import { captureLogger, waitHash } from './fixtures/git-sync/util.js';

after(stopAll);
const hookScript = new URL('./fixtures/git-sync/hook.sh', import.meta.url).pathname;

test('exechook runs in the new tree with $GITSYNC_HASH after each publish; failures are logged and retried', async () => {
  const repo = makeRepo({ 'index.html': 'v1\n' });
  const dir = tempDir('gs-hook-');
  const hookLog = join(dir, 'hook.log');
  const fails = join(dir, 'fails');
  writeFileSync(fails, '0');
  process.env.HOOK_LOG = hookLog;
  process.env.HOOK_FAILS_FILE = fails;
  const { log, lines } = captureLogger();
  const root = join(dir, 'root');
  const h = await start({ repo: repo.url, root, link: 'site', periodMs: 3_600_000, exechookCommand: hookScript, exechookBackoffMs: 1000, touchFile: 'touched', log });
  try {
    const c1 = repo.head();
    await waitHash(h, c1);
    await pollUntil(() => existsSync(hookLog) && readFileSync(hookLog, 'utf8').includes(c1), { timeoutMs: 10_000, what: 'exechook for c1' });
    assert.equal(readFileSync(hookLog, 'utf8').trim(), `${c1} ${realpathSync(join(root, '.worktrees', c1))} v1`);
    assert.ok(existsSync(join(root, 'touched')), 'touch file');
    // Wait until the c1 hook process has finished before arming the failure.
    await pollUntil(() => lines.some((l) => /exechook succeeded/.test(l) && l.includes(c1)), { timeoutMs: 5000, what: 'exechook c1 done' });
    writeFileSync(fails, '1');
    const c2 = repo.commit({ 'index.html': 'v2\n' });
    h.trigger();
    await waitHash(h, c2);
    await pollUntil(() => readFileSync(hookLog, 'utf8').trim().split('\n').filter((l) => l.startsWith(c2)).length === 2, { timeoutMs: 10_000, what: `failed exechook retried: ${readFileSync(hookLog, "utf8")} ${lines.filter((l) => l.includes("exechook")).join("\n")}` });
    assert.ok(lines.some((l) => /exechook failed, will retry/.test(l) && /exited 3/.test(l)), 'failure reported');
    await pollUntil(() => lines.some((l) => /exechook succeeded/.test(l) && l.includes(c2)), { timeoutMs: 5000, what: 'exechook success logged' });
  } finally {
    await h.close();
  }
  // --one-time with a failing exechook exits 1, as git-sync v4 does.
  writeFileSync(fails, '5');
  const h2 = await start({ repo: repo.url, root: join(dir, 'root2'), oneTime: true, exechookCommand: hookScript, exechookBackoffMs: 1000, log: captureLogger().log });
  assert.equal(await h2.done, 1);
  await h2.close();
});

test('webhook: Gitsync-Hash header, JSON body with old and new hash, HMAC signature, retried until the success status', async () => {
  const got: { method?: string; headers: IncomingMessage['headers']; body: string }[] = [];
  let failNext = 1;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      got.push({ method: req.method, headers: req.headers, body });
      res.statusCode = failNext-- > 0 ? 500 : 204;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const repo = makeRepo({ 'index.html': 'v1\n' });
  const dir = tempDir('gs-wh-');
  writeFileSync(join(dir, 'sig'), 'outbound-secret\n');
  const h = await start({
    repo: repo.url, root: join(dir, 'root'), periodMs: 3_600_000, webhookUrl: `http://127.0.0.1:${port}/hook`, webhookMethod: 'PUT',
    webhookSuccessStatus: 204, webhookBackoffMs: 1000, webhookSignatureSecretFile: join(dir, 'sig'), log: captureLogger().log,
  });
  try {
    const c1 = repo.head();
    await waitHash(h, c1);
    await pollUntil(() => got.length >= 2, { timeoutMs: 10_000, what: 'webhook retried after a 500' });
    const c2 = repo.commit({ 'index.html': 'v2\n' });
    h.trigger();
    await waitHash(h, c2);
    await pollUntil(() => got.some((g) => g.headers['gitsync-hash'] === c2), { timeoutMs: 10_000, what: 'webhook for c2' });
    const last = got[got.length - 1];
    assert.equal(last.method, 'PUT');
    assert.equal(last.headers['gitsync-hash'], c2);
    const body = JSON.parse(last.body) as { hash: string; previous: string };
    assert.equal(body.hash, c2);
    assert.equal(body.previous, c1);
    assert.equal(last.headers['x-podkit-signature-256'], `sha256=${createHmac('sha256', 'outbound-secret').update(last.body).digest('hex')}`);
    assert.equal(got[0].headers['gitsync-hash'], c1);
    assert.equal(got[1].headers['gitsync-hash'], c1);
  } finally {
    await h.close();
  }
});
