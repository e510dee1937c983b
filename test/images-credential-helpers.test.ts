/**
 * @module Credentials from a docker config's credential helper (`credsStore`, `credHelpers`) and identity tokens, as
 * Docker reads them: a real helper (docker-credential-pass over a throwaway `pass` store) in front of real registries;
 * helpers that misbehave are scripts of the test's own.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageError } from '../src/core/errors.js';
import { askHelper, helperAnswer, helperFor, resolveCredentials } from '../src/pod/images/credentials.js';
import { imageServiceFor } from '../src/pod/images/index.js';
import { startPassStore, type PassStore } from './helpers/credential-pass.js';
import { busyboxImage } from './helpers/images.js';
import { pushImage, startRegistry, startTokenService } from './helpers/registry.js';
import { stopAll, tempDir } from './helpers/proc.js';

let pass: PassStore;
before(async () => {
  pass = await startPassStore();
  // The helper podkit runs inherits this process's environment, as it would a user's.
  Object.assign(process.env, pass.env);
});
after(async () => {
  await pass?.close();
  await stopAll();
});

const fail = (why: string) => Object.assign(new Error(why), { reason: 'ErrImagePull' }) as unknown as ImageError;
const configFile = (config: object) => {
  const f = join(tempDir(), 'config.json');
  writeFileSync(f, JSON.stringify(config));
  return f;
};

test('credsStore and credHelpers: the helper gives the credentials; a registry it has none for is pulled anonymously', async () => {
  const reg = await startRegistry({ tls: true, htpasswd: 'erin' });
  const img = busyboxImage('helper');
  const ref = await pushImage(img, reg, 'private/helper', '1');
  await pass.store(reg.host, 'erin', reg.password!);
  const pull = (config: object) => imageServiceFor(tempDir(), { caFile: reg.ca!.certFile, dockerConfig: configFile(config) }).ensure(ref, 'IfNotPresent');
  // credsStore for every registry; an `auths` entry beside it is not read (Docker's order).
  assert.equal((await pull({ credsStore: 'pass', auths: { [reg.host]: { auth: Buffer.from('erin:wrong').toString('base64') } } })).id, img.configDigest);
  // A registry's own helper wins over credsStore.
  assert.equal((await pull({ credsStore: 'nosuch', credHelpers: { [reg.host]: 'pass' } })).id, img.configDigest);
  // A helper that has nothing for the registry: anonymous, and the registry says no.
  const empty = await startRegistry({ tls: true, htpasswd: 'frank' });
  const ref2 = await pushImage(img, empty, 'private/helper', '1');
  await assert.rejects(
    imageServiceFor(tempDir(), { caFile: empty.ca!.certFile, dockerConfig: configFile({ credsStore: 'pass' }) }).ensure(ref2, 'IfNotPresent'),
    (e: ImageError) => e.reason === 'ErrImagePull' && /authentication failed/.test(e.message),
  );
  // A helper named and not installed: said so, with its program's name.
  await assert.rejects(pull({ credHelpers: { [reg.host]: 'nosuch' } }), /the credential helper "nosuch", and docker-credential-nosuch is not on PATH/);
  // A pull secret names the registry: it wins over the docker config's helper (the kubelet never runs one).
  const secret = JSON.stringify({ auths: { [reg.host]: { username: 'erin', password: 'wrong' } } });
  await assert.rejects(imageServiceFor(tempDir(), { caFile: reg.ca!.certFile, dockerConfig: configFile({ credsStore: 'pass' }) }).ensure(ref, 'IfNotPresent', [secret]), /authentication failed/);
  await reg.stop();
  await empty.stop();
});

test('identity tokens: a helper\'s <token> user or an auths identitytoken is traded at the realm by the refresh-token grant', async () => {
  const tokens = await startTokenService({ gina: 'ginapw' }, { 'refresh-gina-1': 'gina' });
  const reg = await startRegistry({ token: tokens, pushCreds: { user: 'gina', password: 'ginapw' } });
  const img = busyboxImage('idtok');
  const ref = await pushImage(img, reg, 'team/idtok', '1');
  await pass.store(reg.host, '<token>', 'refresh-gina-1');
  const u = await imageServiceFor(tempDir(), { dockerConfig: configFile({ credHelpers: { [reg.host]: 'pass' } }) }).ensure(ref, 'IfNotPresent');
  assert.equal(u.id, img.configDigest);
  assert.ok(tokens.requests.some((r) => r.grant === 'refresh_token' && r.user === 'gina' && r.scope === 'repository:team/idtok:pull'));
  // The same token as `docker login` files it for an OAuth registry: identitytoken wins over auth.
  const filed = { auths: { [reg.host]: { auth: Buffer.from('gina:wrong').toString('base64'), identitytoken: 'refresh-gina-1' } } };
  assert.equal((await imageServiceFor(tempDir(), { dockerConfig: configFile(filed) }).ensure(ref, 'IfNotPresent')).id, img.configDigest);
  // A refresh token the realm does not know: the realm's refusal, clearly.
  const stale = { auths: { [reg.host]: { identitytoken: 'refresh-stale' } } };
  await assert.rejects(imageServiceFor(tempDir(), { dockerConfig: configFile(stale) }).ensure(ref, 'IfNotPresent'), /authentication failed .*the token service 127\.0\.0\.1:\d+ answered 401 \(invalid_grant\)/);
  await reg.stop();
  await tokens.close();
});

test('helpers that misbehave (bad names, no JSON, a flood, silence, a failure) and configs of the wrong shape: each a clear error, never a hang or a crash', async () => {
  const bin = tempDir();
  const helper = (name: string, body: string) => {
    const f = join(bin, `docker-credential-${name}`);
    writeFileSync(f, `#!/bin/sh\n${body}\n`);
    chmodSync(f, 0o755);
  };
  helper('notjson', 'cat >/dev/null; echo "hello"');
  helper('flood', 'yes x');
  helper('silent', 'exec sleep 30');
  helper('broken', 'echo "keychain locked" >&2; exit 3');
  helper('notfound', 'echo "credentials not found in native keychain"; exit 1');
  helper('nosecret', 'echo \'{"ServerURL":"r","Username":"u"}\'');
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  await assert.rejects(askHelper('notjson', 'r', fail, env), /docker-credential-notjson did not answer with JSON/);
  await assert.rejects(askHelper('flood', 'r', fail, env), /docker-credential-flood printed more than 65536 bytes/);
  await assert.rejects(askHelper('silent', 'r', fail, env, 300), /docker-credential-silent did not answer in 0\.3 s/);
  await assert.rejects(askHelper('broken', 'r', fail, env), /docker-credential-broken failed \(exit 3\): keychain locked/);
  assert.equal(await askHelper('notfound', 'r', fail, env), undefined);
  await assert.rejects(askHelper('nosecret', 'r', fail, env), /answered without a Username and Secret/);
  assert.deepEqual(helperAnswer('{"ServerURL":"r","Username":"<token>","Secret":"rt"}', 'h', fail), { identityToken: 'rt' });
  assert.throws(() => helperFor({ credsStore: '../../bin/sh' }, 'reg.example', fail), /not a helper's name/);
  assert.throws(() => helperFor({ credHelpers: { 'reg.example': 'a b' } }, 'reg.example', fail), /not a helper's name/);
  assert.equal(helperFor({ credsStore: '' }, 'reg.example', fail), undefined);
  // Configs of the wrong shape: named, never a crash.
  for (const [config, why] of [[{ auths: 'x' }, /auths is not an object/], [{ credHelpers: ['pass'] }, /credHelpers is not an object/], [{ credsStore: 7 }, /not a helper's name/], [[1], /is not a JSON object/]] as const)
    await assert.rejects(resolveCredentials('reg.example', [], configFile(config), fail), why);
  // A pull secret is read for its auths only (the kubelet runs no helper), which must be an object.
  await assert.rejects(resolveCredentials('reg.example', ['{"auths":"x"}'], '/nonexistent', fail), /imagePullSecrets\[0\] \(\.dockerconfigjson\): auths is not an object/);
  assert.equal(await resolveCredentials('reg.example', ['{"credsStore":7,"credHelpers":[1]}'], '/nonexistent', fail), undefined);
  assert.equal(helperFor({ credHelpers: { 'https://index.docker.io/v1/': 'hub' }, credsStore: 'desktop' }, 'docker.io', fail), 'hub');
  assert.equal(helperFor({ credHelpers: { 'other.example': 'x' }, credsStore: 'desktop' }, 'reg.example', fail), 'desktop');
});
