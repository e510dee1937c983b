/** @module Pulls that go wrong: the disk fills, the puller is killed, two processes pull one image at once. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageError } from '../src/core/errors.js';
import { imageServiceFor } from '../src/pod/images/index.js';
import { buildImage, busyboxLayer } from './helpers/images.js';
import { pushImage, startRegistry, type Registry } from './helpers/registry.js';
import { runPodkit, startPodkit } from './helpers/cli.js';
import { pollUntil } from './helpers/poll.js';
import { run, stopAll, tempDir } from './helpers/proc.js';

let reg: Registry;
let big: string;
let bigLayer: string;
before(async () => {
  reg = await startRegistry({ accessLog: true });
  // Random bytes do not compress: the gzip layer blob is as large as its data.
  const img = buildImage({ layers: [busyboxLayer(), [{ name: 'data.bin', data: randomBytes(24 << 20) }]] }, 'big');
  bigLayer = img.layerDigests[1]!;
  big = await pushImage(img, reg, 'faults/big', 'v1');
});
after(stopAll);

const leftovers = (state: string) => [
  ...readdirSync(join(state, 'images', 'oci')).filter((f) => f.startsWith('oci-put-blob')),
  ...readdirSync(join(state, 'images', 'layers')).filter((f) => f.startsWith('.tmp-')),
];

test('the disk fills during a pull: a clear error, no partial blob, and the pull succeeds once there is room', async () => {
  const state = tempDir();
  mkdirSync(join(state, 'images'));
  await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'podkit-test', join(state, 'images')]);
  try {
    const svc = imageServiceFor(state);
    await assert.rejects(svc.ensure(big, 'IfNotPresent'), (e: ImageError) => e.reason === 'ErrImagePull' && /the disk is full/.test(e.message));
    assert.deepEqual(leftovers(state), []);
    assert.ok(!existsSync(svc.store.blobPath(bigLayer)));
    assert.deepEqual(svc.list(), []);
  } finally {
    // A copy's last file handles may still be closing after the pull has rejected: retry while the mount is busy.
    await pollUntil(() => run('umount', [join(state, 'images')]).then(() => true), { timeoutMs: 10_000, what: 'the tmpfs to unmount' });
  }
  const u = await imageServiceFor(state).ensure(big, 'IfNotPresent');
  assert.equal(u.layers.length, 2);
});

test('a pull killed mid-copy leaves no partial blob behind; the next pull takes over its lock and completes', async () => {
  const state = tempDir();
  const cfg = join(tempDir(), 'config.json');
  writeFileSync(cfg, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('u:p').toString('base64') } } }));
  const p = startPodkit(['pull', '--state-dir', state, '--docker-config', cfg, big]);
  await pollUntil(() => existsSync(join(state, 'images', 'oci')) && readdirSync(join(state, 'images', 'oci')).some((f) => f.startsWith('oci-put-blob')), { timeoutMs: 30_000 });
  process.kill(-p.pid, 'SIGKILL'); // the whole group, as a crash would
  await p.exited;
  assert.ok(existsSync(join(state, 'images', 'lock')), 'the dead puller left its lock');
  assert.deepEqual(readdirSync(join(state, 'images')).filter((f) => f.startsWith('.auth-')), [], 'credentials are never written to a file');
  const again = await runPodkit(['pull', '--state-dir', state, big], { timeoutMs: 60_000 });
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(leftovers(state), []);
  assert.ok(existsSync(imageServiceFor(state).store.blobPath(bigLayer)));
});

test('two processes pulling one image at once fetch its blobs once', async () => {
  const state = tempDir();
  const fetches = () => reg.proc.stderr().split('\n').filter((l) => l.includes('http.request.method=GET') && l.includes(`uri="/v2/faults/big/blobs/${bigLayer}"`) && l.includes('msg="response completed"')).length;
  const before = fetches();
  const [a, b] = await Promise.all([runPodkit(['pull', '--state-dir', state, big], { timeoutMs: 60_000 }), runPodkit(['pull', '--state-dir', state, big], { timeoutMs: 60_000 })]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(fetches() - before, 1);
  assert.equal(imageServiceFor(state).list().length, 1);
});
