/** @module Pulling from a real registry (Debian's docker-registry) into the store: manifest types, platforms, policy, faults. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageError } from '../src/core/errors.js';
import { imageServiceFor } from '../src/pod/images/index.js';
import { buildImage, buildIndex, busyboxImage, busyboxLayer, hostBinariesLayer } from './helpers/images.js';
import { pushImage, registryBlobPath, startRegistry, type Registry } from './helpers/registry.js';
import { run, stopAll, tempDir } from './helpers/proc.js';

let reg: Registry;
before(async () => {
  reg = await startRegistry();
});
after(stopAll);

const blobs = (state: string) => readdirSync(join(state, 'images', 'oci', 'blobs', 'sha256'));

for (const format of ['oci', 'v2s2'] as const) {
  test(`pulls a ${format === 'oci' ? 'OCI' : 'Docker v2'} image manifest and unpacks its layers, lowest first`, async () => {
    const img = buildImage({ layers: [busyboxLayer(), [{ name: 'app/', type: '5' }, { name: 'app/hello.txt', data: 'hi\n', mode: 0o640, uid: 1000, gid: 1001 }]], config: { Cmd: ['cat', '/app/hello.txt'], WorkingDir: '/app' } }, 'v1');
    const ref = await pushImage(img, reg, `two-${format}`, 'v1', format);
    const state = tempDir();
    const svc = imageServiceFor(state);
    const u = await svc.ensure(ref, 'IfNotPresent');
    assert.equal(u.ref, ref);
    assert.equal(u.layers.length, 2);
    assert.deepEqual(u.config.Cmd, ['cat', '/app/hello.txt']);
    assert.equal(u.id, img.configDigest);
    assert.ok(existsSync(join(u.layers[0]!, 'bin', 'busybox')));
    assert.equal(lstatSync(join(u.layers[0]!, 'bin', 'sh')).isSymbolicLink(), true);
    const st = lstatSync(join(u.layers[1]!, 'app', 'hello.txt'));
    assert.equal(st.mode & 0o7777, 0o640);
    assert.equal(st.uid, 1000);
    assert.equal(st.gid, 1001);
    assert.equal(readFileSync(join(u.layers[1]!, 'app', 'hello.txt'), 'utf8'), 'hi\n');
    assert.equal(svc.list().length, 1);
  });
}

test('an OCI index and a Docker manifest list: the linux/amd64 image is chosen; an index without it is refused naming what it has', async () => {
  const amd = busyboxImage('amd');
  const arm = buildImage({ layers: [[{ name: 'arm.txt', data: 'arm' }]], architecture: 'arm64' }, 'arm');
  const both = await pushImage(buildIndex([{ image: arm, architecture: 'arm64' }, { image: amd, architecture: 'amd64' }], 'multi'), reg, 'multi', 'v1');
  const onlyArm = await pushImage(buildIndex([{ image: arm, architecture: 'arm64' }], 'armonly'), reg, 'armonly', 'v1');
  const list = await pushImage(buildIndex([{ image: arm, architecture: 'arm64' }, { image: amd, architecture: 'amd64' }], 'multi'), reg, 'multi-docker', 'v1', 'v2s2');
  const svc = imageServiceFor(tempDir());
  const u = await svc.ensure(both, 'IfNotPresent');
  assert.equal(u.id, amd.configDigest);
  const d = await svc.ensure(list, 'IfNotPresent');
  assert.equal(d.id, amd.configDigest, 'a Docker manifest list');
  await assert.rejects(svc.ensure(onlyArm, 'IfNotPresent'), (e: ImageError) => {
    assert.equal(e.reason, 'ErrImagePull');
    assert.match(e.message, /armonly:v1 from 127\.0\.0\.1:\d+: no image for linux\/amd64 in its index \(it has linux\/arm64\)/);
    return true;
  });
});

test('a digest reference pulls that manifest; a wrong digest is refused', async () => {
  const img = busyboxImage('d');
  const ref = await pushImage(img, reg, 'bydigest', 'd');
  const svc = imageServiceFor(tempDir());
  const u = await svc.ensure(`${reg.host}/bydigest@${img.manifestDigest}`, 'IfNotPresent');
  assert.equal(u.digest, img.manifestDigest);
  assert.ok(ref);
  await assert.rejects(svc.ensure(`${reg.host}/bydigest@sha256:${'0'.repeat(64)}`, 'IfNotPresent'), /not found in the registry/);
});

test('pull policy: Never without the image is ErrImageNeverPull; IfNotPresent does not ask the registry again', async () => {
  const ref = await pushImage(busyboxImage('p'), reg, 'policy', 'p');
  const svc = imageServiceFor(tempDir());
  await assert.rejects(svc.ensure(ref, 'Never'), (e: ImageError) => e.reason === 'ErrImageNeverPull' && /is not present with pull policy of Never/.test(e.message));
  await svc.ensure(ref, 'IfNotPresent');
  await reg.proc.stop();
  try {
    await svc.ensure(ref, 'IfNotPresent');
    await svc.ensure(ref, 'Never');
    await assert.rejects(svc.ensure(ref, 'Always'), (e: ImageError) => e.reason === 'ErrImagePull' && /the registry cannot be reached/.test(e.message));
  } finally {
    reg = await startRegistry();
  }
});

test('a corrupted blob is refused with nothing stored', async () => {
  const img = buildImage({ layers: [[{ name: 'x.txt', data: 'x'.repeat(5000) }]] }, 'c');
  const ref = await pushImage(img, reg, 'corrupt', 'c');
  const file = registryBlobPath(reg, img.layerDigests[0]!);
  const b = readFileSync(file);
  b[b.length - 10]! ^= 0xff;
  writeFileSync(file, b);
  const state = tempDir();
  const svc = imageServiceFor(state);
  await assert.rejects(svc.ensure(ref, 'IfNotPresent'), (e: ImageError) => e.reason === 'ErrImagePull' && /corrupt:c from 127\.0\.0\.1:\d+/.test(e.message));
  assert.ok(!blobs(state).includes(img.layerDigests[0]!.slice(7)));
  assert.deepEqual(readdirSync(join(state, 'images', 'layers')), []);
  assert.deepEqual(svc.list(), []);
});

test('uncompressed tar layers are pulled (stored as they came) and unpacked', async () => {
  const img = buildImage({ layers: [busyboxLayer(), [{ name: 'plain.txt', data: 'plain' }]], compression: 'none' }, 'u');
  const ref = await pushImage(img, reg, 'uncompressed', 'u', 'oci', true);
  const u = await imageServiceFor(tempDir()).ensure(ref, 'IfNotPresent');
  assert.equal(u.layers.length, 2);
  assert.equal(readFileSync(join(u.layers[1]!, 'plain.txt'), 'utf8'), 'plain');
});

test('two pulls of one image at once do the work once', async () => {
  const ref = await pushImage(busyboxImage('t'), reg, 'twice', 't');
  const state = tempDir();
  const [a, b] = await Promise.all([imageServiceFor(state).ensure(ref, 'IfNotPresent'), imageServiceFor(state).ensure(ref, 'IfNotPresent')]);
  assert.deepEqual(a, b);
  assert.equal(imageServiceFor(state).list().length, 1);
});

test('bad names are InvalidImageName before any request', async () => {
  const svc = imageServiceFor(tempDir());
  await assert.rejects(svc.ensure('Nginx:1', 'IfNotPresent'), (e: ImageError) => e.reason === 'InvalidImageName' && /invalid image name "Nginx:1"/.test(e.message));
});

test('an image of a host binary with its libraries (ldd) runs from its unpacked layer', async () => {
  const img = buildImage({ layers: [busyboxLayer(), hostBinariesLayer(['/usr/bin/redis-server'])], config: { Entrypoint: ['/usr/bin/redis-server'] } }, 'redis');
  const ref = await pushImage(img, reg, 'host/redis', 'r');
  const u = await imageServiceFor(tempDir()).ensure(ref, 'IfNotPresent');
  // The binary's layer alone holds everything it needs to start: chroot into it.
  const r = await run('chroot', [u.layers[1]!, '/usr/bin/redis-server', '--version']);
  assert.match(r.stdout, /^Redis server v=\d/);
});
