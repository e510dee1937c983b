/** @module The webhook's TLS: served from files, reloaded when they change (and on SIGHUP), a half-written rotation keeps the old pair; bad files exit 2. */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWebhook } from '../src/inject/server.js';
import { issueCert, makeCA, pollUntil, runPodkit, startPodkit, stopAll, tempDir, waitForOutput, freePort } from './helpers/index.js';

after(stopAll);

const REVIEW = { image: 'ghcr.io/podkit/podkit:test', sidecarMode: 'native' as const, version: 'test' };

/** Does a client that trusts `ca` complete a handshake (with hostname check for localhost)? */
function handshake(port: number, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.setTimeout(5000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** Two CAs with a server pair each; the first pair copied to the files the webhook serves from. */
async function twoPairs(name: string) {
  const dir = tempDir();
  const [ca1, ca2] = await Promise.all([makeCA(`${name}-one`), makeCA(`${name}-two`)]);
  const [c1, c2] = await Promise.all([issueCert(ca1), issueCert(ca2)]);
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  copyFileSync(c1.certFile, certFile);
  copyFileSync(c1.keyFile, keyFile);
  return { ca1, ca2, c1, c2, certFile, keyFile };
}

describe('webhook TLS', () => {
  test('a rotated certificate is picked up without a restart; a broken one keeps the old', async () => {
    const { ca1, ca2, c1, c2, certFile, keyFile } = await twoPairs('ca');
    const h = await startWebhook({ certFile, keyFile, review: REVIEW, reloadIntervalMs: 50 });
    try {
      assert.equal(await handshake(h.address.port, ca1.cert), true);
      assert.equal(await handshake(h.address.port, ca2.cert), false);
      writeFileSync(keyFile, c2.key);
      writeFileSync(certFile, c2.cert);
      await pollUntil(() => handshake(h.address.port, ca2.cert), { timeoutMs: 10_000, what: 'the new certificate to be served' });
      assert.equal(await handshake(h.address.port, ca1.cert), false);
      // A half-written rotation (cert and key do not match) is refused; the server keeps the last good pair.
      writeFileSync(certFile, c1.cert);
      const refused = await h.reload();
      assert.equal(refused.ok, false);
      assert.match(refused.error ?? '', /do not load/);
      writeFileSync(certFile, c2.cert);
      assert.deepEqual(await h.reload(), { ok: true, changed: [] }, 'the pair already served: nothing changed');
      assert.equal(await handshake(h.address.port, ca2.cert), true);
    } finally {
      await h.close();
    }
  });

  test('reload() says what it changed when polling is off', async () => {
    const { ca2, c2, certFile, keyFile } = await twoPairs('call');
    const h = await startWebhook({ certFile, keyFile, review: REVIEW, reloadIntervalMs: 0 });
    try {
      assert.deepEqual(h.address, h.httpAddress, 'the one HTTPS server is both the data plane and the HTTP address');
      copyFileSync(c2.keyFile, keyFile);
      copyFileSync(c2.certFile, certFile);
      assert.equal(await handshake(h.address.port, ca2.cert), false, 'nothing reloads until asked');
      assert.deepEqual(await h.reload(), { ok: true, changed: ['tls'] });
      assert.equal(await handshake(h.address.port, ca2.cert), true);
    } finally {
      await h.close();
    }
  });

  test('SIGHUP reloads the certificate when polling is off', async () => {
    const { ca1, ca2, c2, certFile, keyFile } = await twoPairs('hup');
    const port = await freePort();
    const p = startPodkit(['webhook', '--tls-cert-file', certFile, '--tls-key-file', keyFile, '--http-bind', `127.0.0.1:${port}`, '--tls-reload-interval', '0']);
    await waitForOutput(p, /webhook listening/, 20_000);
    assert.equal(await handshake(port, ca1.cert), true);
    copyFileSync(c2.keyFile, keyFile);
    copyFileSync(c2.certFile, certFile);
    p.signal('SIGHUP');
    await pollUntil(() => handshake(port, ca2.cert), { timeoutMs: 10_000, what: 'SIGHUP reload' });
    p.signal('SIGTERM');
    assert.equal(await p.exited, 0);
  });

  test('missing or bad TLS files and missing flags exit 2 with a clear message', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate\n');
    const cases: [string[], RegExp][] = [
      [['webhook'], /--tls-cert-file and --tls-key-file are required/],
      [['webhook', '--tls-cert-file', join(dir, 'nope.crt'), '--tls-key-file', join(dir, 'nope.key')], /cannot read TLS files/],
      [['webhook', '--tls-cert-file', join(dir, 'junk.pem'), '--tls-key-file', join(dir, 'junk.pem')], /do not load/],
      [['webhook', '--tls-cert-file', 'a', '--tls-key-file', 'b', '--max-body', 'lots'], /--max-body: expected a size/],
    ];
    for (const [args, re] of cases) {
      const r = await runPodkit(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
    }
  });
});
