/** @module Pulling from registries that want credentials: TLS + htpasswd (basic) with a test CA, and token auth. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageError } from '../src/core/errors.js';
import { imageServiceFor } from '../src/pod/images/index.js';
import { busyboxImage } from './helpers/images.js';
import { pushImage, startRegistry, startTokenService } from './helpers/registry.js';
import { stopAll, tempDir } from './helpers/proc.js';
import { makeCA } from './helpers/tls.js';

after(stopAll);

const dockerConfig = (host: string, user: string, password: string) => JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } });

test('TLS + htpasswd: the CA is verified, credentials come from the docker config or a pull secret, bad ones fail clearly', async () => {
  const reg = await startRegistry({ tls: true, htpasswd: 'alice' });
  const img = busyboxImage('sec');
  const ref = await pushImage(img, reg, 'private/app', '1');
  const cfgDir = tempDir();
  writeFileSync(join(cfgDir, 'config.json'), dockerConfig(reg.host, 'alice', reg.password!));
  const u = await imageServiceFor(tempDir(), { certDir: reg.caDir!, dockerConfig: join(cfgDir, 'config.json') }).ensure(ref, 'IfNotPresent');
  assert.equal(u.id, img.configDigest);
  // The same credentials as an imagePullSecret (.dockerconfigjson), the CA as one file, no docker config.
  const s = await imageServiceFor(tempDir(), { caFile: reg.ca!.certFile, dockerConfig: join(tempDir(), 'none.json') }).ensure(ref, 'IfNotPresent', [dockerConfig(reg.host, 'alice', reg.password!)]);
  assert.equal(s.id, img.configDigest);
  const anon = imageServiceFor(tempDir(), { certDir: reg.caDir!, dockerConfig: join(tempDir(), 'none.json') });
  await assert.rejects(anon.ensure(ref, 'IfNotPresent'), (e: ImageError) => e.reason === 'ErrImagePull' && new RegExp(`pull ${ref} from ${reg.host}: authentication failed`).test(e.message));
  await assert.rejects(anon.ensure(ref, 'IfNotPresent', [dockerConfig(reg.host, 'alice', 'wrong')]), /authentication failed/);
  const other = await makeCA('someone-else');
  const wrongCa = join(tempDir(), 'certs');
  mkdirSync(wrongCa);
  writeFileSync(join(wrongCa, 'ca.crt'), other.cert);
  await assert.rejects(imageServiceFor(tempDir(), { certDir: wrongCa }).ensure(ref, 'IfNotPresent', [dockerConfig(reg.host, 'alice', reg.password!)]), /TLS certificate not trusted/);
  await assert.rejects(anon.ensure(ref, 'IfNotPresent', ['{not json']), /imagePullSecrets\[0\] \(\.dockerconfigjson\) is not valid JSON/);
  await assert.rejects(imageServiceFor(tempDir(), { caFile: '/nonexistent/ca.pem' }).ensure(ref, 'IfNotPresent'), /cannot read the CA file \/nonexistent\/ca\.pem/);
});

test('token auth: the registry sends the client to our token service, which hands a signed token for the scope', async () => {
  const tokens = await startTokenService({ bob: 'bobpw' });
  const reg = await startRegistry({ token: tokens, pushCreds: { user: 'bob', password: 'bobpw' } });
  const img = busyboxImage('tok');
  const ref = await pushImage(img, reg, 'team/tok', '1');
  const cfgDir = tempDir();
  writeFileSync(join(cfgDir, 'config.json'), dockerConfig(reg.host, 'bob', 'bobpw'));
  const u = await imageServiceFor(tempDir(), { dockerConfig: join(cfgDir, 'config.json') }).ensure(ref, 'IfNotPresent');
  assert.equal(u.id, img.configDigest);
  assert.ok(tokens.requests.some((r) => r.user === 'bob' && r.scope === 'repository:team/tok:pull'));
  await assert.rejects(imageServiceFor(tempDir(), { dockerConfig: join(tempDir(), 'none.json') }).ensure(ref, 'IfNotPresent'), /authentication failed/);
  await tokens.close();
});
