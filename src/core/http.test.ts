import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { startHttpServer, sendText, type HttpHandle } from './http.js';
import { Registry } from './metrics/registry.js';

const handles: HttpHandle[] = [];
after(() => Promise.all(handles.map((h) => h.close())));

function get(h: HttpHandle, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    const req = request({ host: h.address.host, port: h.address.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('healthz, readyz with reason, metrics with negotiation and gzip, custom routes', async () => {
  let ready = { ready: false, reason: 'no successful sync yet' };
  const reg = new Registry();
  reg.counter({ name: 'podkit_things_total', help: 'Things.' }).inc();
  const h = await startHttpServer({ ready: () => ready, metrics: () => reg.collect() });
  handles.push(h);
  assert.equal(h.address.host, '127.0.0.1', 'binds loopback by default');

  assert.equal((await get(h, '/healthz')).status, 200);
  const nr = await get(h, '/readyz');
  assert.equal(nr.status, 503);
  assert.equal(nr.body.toString(), 'not ready: no successful sync yet\n');
  ready = { ready: true, reason: '' };
  assert.equal((await get(h, '/readyz')).status, 200);

  const text = await get(h, '/metrics');
  assert.match(String(text.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  assert.match(text.body.toString(), /^podkit_things_total 1$/m);
  const om = await get(h, '/metrics', { accept: 'application/openmetrics-text; version=1.0.0', 'accept-encoding': 'gzip' });
  assert.match(String(om.headers['content-type']), /^application\/openmetrics-text/);
  assert.equal(om.headers['content-encoding'], 'gzip');
  assert.match(gunzipSync(om.body).toString(), /# EOF\n$/);

  h.route('POST', '/hook', (_req, res, body) => sendText(res, 202, `got ${body.length}\n`));
  assert.equal((await get(h, '/hook', {}, 'POST', 'abc')).body.toString(), 'got 3\n');
  assert.equal((await get(h, '/hook')).status, 405);
  assert.equal((await get(h, '/nope')).status, 404);
});

test('oversized bodies get 413; a throwing handler gets 500 and the server keeps serving', async () => {
  const h = await startHttpServer({ maxBody: 10 });
  handles.push(h);
  h.route('POST', '/x', () => {
    throw new Error('boom');
  });
  const big = await get(h, '/x', {}, 'POST', 'x'.repeat(100));
  assert.equal(big.status, 413);
  assert.equal(big.body.toString(), 'request body larger than 10 bytes\n');
  assert.equal((await get(h, '/x', {}, 'POST', 'small')).status, 500);
  assert.equal((await get(h, '/healthz')).status, 200);
});

test('a taken port is a clear error', async () => {
  const a = await startHttpServer();
  handles.push(a);
  await assert.rejects(startHttpServer({ bind: a.address }), (e: Error & { code: string }) => e.code === 'PODKIT_ERR_BIND' && /the port is in use by another process \(choose another with --http-bind\)/.test(e.message));
});
