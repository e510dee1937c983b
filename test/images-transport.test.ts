/**
 * @module The registry transport against registries that misbehave (a hostile server of the test's own: what a real
 * registry never does), and the auth flows' details: a bearer challenge, a blob redirected to another origin.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ImageError } from '../src/core/errors.js';
import { imageServiceFor } from '../src/pod/images/index.js';
import { credentialsFor } from '../src/pod/images/credentials.js';
import { parseChallenge } from '../src/pod/images/registry.js';
import { blobPath, busyboxImage, buildImage } from './helpers/images.js';
import { pushImage, startRegistry } from './helpers/registry.js';
import { stopAll, tempDir } from './helpers/proc.js';

after(stopAll);

const img = buildImage({ layers: [[{ name: 'x.txt', data: 'x'.repeat(200_000) }]] }, 't');
const blob = (d: string) => readFileSync(blobPath(img, d));

type Route = (req: IncomingMessage, res: ServerResponse) => boolean | void;

/** A loopback HTTP server answering `/v2/` as a registry, then each request by `route` (false: the image's own bytes). */
async function hostile(route: Route): Promise<{ host: string; seen: IncomingMessage[]; close(): void }> {
  const seen: IncomingMessage[] = [];
  const srv = createServer((req, res) => {
    seen.push(req);
    if (route(req, res) !== false) return;
    const d = /(?:manifests|blobs)\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '')?.[1] ?? img.manifestDigest;
    if (req.url === '/v2/') return res.end('{}');
    res.setHeader('content-type', req.url?.includes('/manifests/') ? 'application/vnd.oci.image.manifest.v1+json' : 'application/octet-stream');
    res.end(blob(d));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { host: `127.0.0.1:${(srv.address() as AddressInfo).port}`, seen, close: () => srv.close() };
}

const leftovers = (state: string) => readdirSync(join(state, 'images', 'oci')).filter((f) => f.startsWith('oci-put-blob'));
const isLayer = (req: IncomingMessage) => req.url?.endsWith(img.layerDigests[0]!);

test('a manifest over 4 MiB, a blob longer than its descriptor, a registry that stops sending: clear errors, nothing stored', async () => {
  const srv = await hostile((req, res) => {
    if (req.url?.startsWith('/v2/huge/manifests/')) {
      res.setHeader('content-type', 'application/vnd.oci.image.manifest.v1+json');
      const chunk = Buffer.alloc(1 << 20, 0x20);
      for (let i = 0; i < 5; i++) res.write(chunk);
      return void res.end();
    }
    if (req.url?.startsWith('/v2/long/') && isLayer(req)) return void res.end(Buffer.concat([blob(img.layerDigests[0]!), Buffer.from('more')]));
    if (req.url?.startsWith('/v2/stall/') && isLayer(req)) return void res.write(blob(img.layerDigests[0]!).subarray(0, 1000));
    if (req.url?.startsWith('/v2/bighead/') && isLayer(req)) {
      res.setHeader('x-filler', 'x'.repeat(70_000));
      return void res.end(blob(img.layerDigests[0]!));
    }
    if (req.url?.startsWith('/v2/chunked/') && isLayer(req)) {
      // No Content-Length: a chunked body, which the http client reads.
      const b = blob(img.layerDigests[0]!);
      res.write(b.subarray(0, 1000));
      return void res.end(b.subarray(1000));
    }
    return false;
  });
  const state = tempDir();
  const svc = imageServiceFor(state, { idleTimeoutMs: 500 });
  await assert.rejects(svc.pull(`${srv.host}/huge:t`), (e: ImageError) => e.reason === 'ErrImagePull' && /the manifest is over the 4194304-byte limit/.test(e.message));
  await assert.rejects(svc.pull(`${srv.host}/long:t`), /a blob did not match its digest; nothing of it was stored \(blob sha256:[a-f0-9]{64}: size mismatch/);
  // Cut off part-way, asked for the rest, answered with the whole again: the first cause, then the second.
  await assert.rejects(svc.pull(`${srv.host}/stall:t`), /the registry cannot be reached \(i\/o timeout: 127\.0\.0\.1:\d+ sent nothing for 0\.5 s; asked for the rest from byte \d+: .*answered 200 without them\)/);
  await assert.rejects(svc.pull(`${srv.host}/bighead:t`), /a response head over 65536 bytes/);
  assert.deepEqual(leftovers(state), []);
  assert.ok(!readdirSync(join(state, 'images', 'oci', 'blobs', 'sha256')).includes(img.layerDigests[0]!.slice(7)));
  assert.deepEqual(svc.list(), []);
  // The same store then pulls a good image, and one whose layer comes chunked.
  assert.equal((await svc.pull(`${srv.host}/good:t`)).id, img.configDigest);
  assert.equal((await imageServiceFor(tempDir()).pull(`${srv.host}/chunked:t`)).id, img.configDigest);
  assert.equal(srv.seen.filter((r) => r.url?.startsWith('/v2/chunked/') && isLayer(r)).length, 2, 'asked once off the socket, once through the http client');
  srv.close();
});

test('a bearer challenge: the token comes from the realm with the credentials and the scope; a blob redirected elsewhere gets no credentials', async () => {
  const elsewhere = await hostile(() => false);
  const tokens: IncomingMessage[] = [];
  const srv = await hostile((req, res) => {
    if (req.url?.startsWith('/token')) {
      tokens.push(req);
      const ok = req.headers.authorization === `Basic ${Buffer.from('carol:pw').toString('base64')}`;
      res.statusCode = ok ? 200 : 401;
      return void res.end(ok ? '{"token":"t0k"}' : '{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
    }
    if (req.headers.authorization !== 'Bearer t0k') {
      res.statusCode = 401;
      res.setHeader('www-authenticate', `Bearer realm="http://${srv.host}/token",service="hostile"`);
      return void res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    }
    if (isLayer(req)) {
      res.statusCode = 307;
      res.setHeader('location', `http://${elsewhere.host}/storage${req.url}`);
      return void res.end();
    }
    return false;
  });
  const secret = JSON.stringify({ auths: { [srv.host]: { auth: Buffer.from('carol:pw').toString('base64') } } });
  const none = join(tempDir(), 'none.json');
  const rec = await imageServiceFor(tempDir(), { dockerConfig: none }).pull(`${srv.host}/team/app:t`, [secret]);
  assert.equal(rec.id, img.configDigest);
  assert.equal(new URL(tokens[0]!.url!, 'http://x').searchParams.get('scope'), 'repository:team/app:pull');
  assert.equal(new URL(tokens[0]!.url!, 'http://x').searchParams.get('service'), 'hostile');
  const redirected = elsewhere.seen.filter((r) => r.url?.startsWith('/storage/'));
  assert.equal(redirected.length, 1);
  assert.equal(redirected[0]!.headers.authorization, undefined, 'credentials stay with the registry');
  const wrong = JSON.stringify({ auths: { [srv.host]: { username: 'carol', password: 'no' } } });
  await assert.rejects(imageServiceFor(tempDir(), { dockerConfig: none }).pull(`${srv.host}/team/app:t`, [wrong]), /authentication failed .*the token service 127\.0\.0\.1:\d+ answered 401 \(bad credentials\)/);
  srv.close();
  elsewhere.close();
});

test('a TLS registry on loopback with no CA given is reached over TLS without verification, as an insecure registry', async () => {
  const reg = await startRegistry({ tls: true, htpasswd: 'dave' });
  const ref = await pushImage(busyboxImage('tls'), reg, 'tls/app', '1');
  const secret = JSON.stringify({ auths: { [reg.host]: { username: 'dave', password: reg.password } } });
  const u = await imageServiceFor(tempDir(), { dockerConfig: join(tempDir(), 'none.json') }).ensure(ref, 'IfNotPresent', [secret]);
  assert.equal(u.layers.length, 1);
  await reg.stop();
});

test('challenges and docker-config keys are read as Docker reads them', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
  });
  assert.deepEqual(parseChallenge('Basic realm="x \\"y\\""'), { scheme: 'basic', params: { realm: 'x "y"' } });
  const fail = (why: string) => new Error(why) as ImageError;
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  assert.deepEqual(credentialsFor({ 'https://index.docker.io/v1/': { auth: b64('u:p:with:colons') } }, 'docker.io', fail), { username: 'u', password: 'p:with:colons' });
  assert.deepEqual(credentialsFor({ 'https://reg.example:5000': { username: 'a', password: 'b' } }, 'reg.example:5000', fail), { username: 'a', password: 'b' });
  assert.deepEqual(credentialsFor({ 'reg.example': { registrytoken: 'tok' } }, 'reg.example', fail), { token: 'tok' });
  assert.equal(credentialsFor({ 'other.example': { auth: b64('a:b') } }, 'reg.example', fail), undefined);
  assert.throws(() => credentialsFor({ 'reg.example': { auth: b64('nocolon') } }, 'reg.example', fail), /not base64 of user:password/);
});

test('a blob cut off mid-way is asked for again from where it stopped (Range); a registry that ignores Range fails clearly', async () => {
  const flat = buildImage({ compression: 'none', layers: [[{ name: 'x.txt', data: 'x'.repeat(200_000) }]] }, 't');
  const flatBlob = (d: string) => readFileSync(blobPath(flat, d));
  const layer = flatBlob(flat.layerDigests[0]!);
  const ranges: string[] = [];
  /** Writes `b` then hangs up, as a dropped connection does. */
  const cutAfter = (res: ServerResponse, b: Buffer) => res.write(b, () => res.socket?.destroy());
  const srv = await hostile((req, res) => {
    if (!/^\/v2\/(cut|norange|chunks)\//.test(req.url ?? '')) return false;
    if (req.url!.includes('/manifests/')) {
      res.setHeader('content-type', 'application/vnd.oci.image.manifest.v1+json');
      return void res.end(flatBlob(flat.manifestDigest));
    }
    const d = /blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url!)![1]!;
    if (d !== flat.layerDigests[0]) return void res.end(flatBlob(d));
    ranges.push(`${req.url!.split('/')[2]} ${req.headers.range ?? 'all'}`);
    const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    if (req.url!.startsWith('/v2/chunks/')) {
      // No Content-Length: chunked, so the http client reads it, the resumed part too.
      if (from === 0) return void cutAfter(res, layer.subarray(0, 50_000));
      res.writeHead(206, { 'content-range': `bytes ${from}-${layer.length - 1}/${layer.length}` });
      return void res.end(layer.subarray(from));
    }
    if (from === 0 || req.url!.startsWith('/v2/norange/')) {
      res.writeHead(200, { 'content-length': layer.length });
      return void cutAfter(res, layer.subarray(0, 50_000));
    }
    res.writeHead(206, { 'content-length': layer.length - from, 'content-range': `bytes ${from}-${layer.length - 1}/${layer.length}` });
    if (from === 50_000) return void cutAfter(res, layer.subarray(from, from + 60_000));
    res.end(layer.subarray(from));
  });
  const state = tempDir();
  const svc = imageServiceFor(state);
  assert.equal((await svc.pull(`${srv.host}/cut:t`)).id, flat.configDigest);
  assert.deepEqual(ranges, ['cut all', 'cut bytes=50000-', 'cut bytes=110000-']);
  ranges.length = 0;
  assert.equal((await imageServiceFor(tempDir()).pull(`${srv.host}/chunks:t`)).id, flat.configDigest);
  // Each asked off the socket first, then through the http client (a chunked answer is its to read).
  assert.deepEqual(ranges, ['chunks all', 'chunks all', 'chunks bytes=50000-', 'chunks bytes=50000-']);
  await assert.rejects(
    imageServiceFor(tempDir()).pull(`${srv.host}/norange:t`),
    /the connection closed after 50000 of \d+ bytes; asked for the rest from byte 50000: blob sha256:[a-f0-9]{64}: asked for its bytes from 50000 on, the registry answered 200 without them/,
  );
  assert.deepEqual(leftovers(state), []);
  srv.close();
});

test('the real registry answers a resumed blob: a connection dropped once mid-layer, the pull completes', async () => {
  const reg = await startRegistry();
  const image = busyboxImage('resume');
  const ref = await pushImage(image, reg, 'resume/app', '1');
  // A relay in front of the registry that drops the first connection to carry over 100 kB, at that point.
  let cut = false;
  const relay = createNetServer((client) => {
    const up = connect(Number(reg.host.split(':')[1]), '127.0.0.1');
    let sent = 0;
    client.pipe(up);
    up.on('data', (b: Buffer) => {
      if (!cut && sent + b.length > 100_000) {
        cut = true;
        client.write(b.subarray(0, 100_000 - sent), () => (client.destroy(), up.destroy()));
        return;
      }
      sent += b.length;
      client.write(b);
    });
    up.on('end', () => client.end());
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(relay.address() as AddressInfo).port}`;
  const u = await imageServiceFor(tempDir(), { dockerConfig: join(tempDir(), 'none.json') }).ensure(ref.replace(reg.host, host), 'IfNotPresent');
  assert.equal(u.id, image.configDigest);
  assert.ok(cut, 'the relay dropped a connection mid-layer');
  relay.close();
  await reg.stop();
});
