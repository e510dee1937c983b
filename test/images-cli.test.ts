/** @module podkit pull / images / rmi / image prune / load / save, run as the built CLI against a real registry. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { imageServiceFor } from '../src/pod/images/index.js';
import { procStart } from '../src/pod/runtime/state.js';
import { lockPod } from '../src/pod/runtime/podlock.js';
import { progressPrinter } from '../src/pod/cli/images.js';
import { buildImage, busyboxImage, busyboxLayer } from './helpers/images.js';
import { pushImage, startRegistry, type Registry } from './helpers/registry.js';
import { runPodkit } from './helpers/cli.js';
import { run, stopAll, tempDir } from './helpers/proc.js';

let reg: Registry;
before(async () => {
  reg = await startRegistry();
});
after(stopAll);

const blobs = (state: string) => readdirSync(join(state, 'images', 'oci', 'blobs', 'sha256')).sort();

test('pull logs each layer (not a TTY), images lists it, rmi of a shared-layer image keeps the shared layer, prune empties the store', async () => {
  const base = busyboxLayer();
  const a = await pushImage(buildImage({ layers: [base, [{ name: 'a.txt', data: 'a' }]] }, 'a'), reg, 'cli/a', 'v1');
  const b = await pushImage(buildImage({ layers: [base, [{ name: 'b.txt', data: 'b' }]] }, 'b'), reg, 'cli/b', 'v1');
  const state = tempDir();
  const p = await runPodkit(['pull', '--state-dir', state, a, b]);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, new RegExp(`${a}: layer sha256:[a-f0-9]{64} [\\d.]+ MB done`));
  assert.match(p.stdout, new RegExp(`${a}: sha256:[a-f0-9]{64} \\(image [a-f0-9]{12}\\)`));
  assert.deepEqual(readdirSync(join(state, 'images', 'layers')), [], 'a pull stores the blobs; the first container to use an image unpacks it');
  assert.equal(blobs(state).length, 7, 'the busybox layer blob is stored once (3 layers, 2 configs, 2 manifests)');
  const svc = imageServiceFor(state);
  for (const ref of [a, b]) await svc.ensure(ref, 'IfNotPresent');
  assert.equal(readdirSync(join(state, 'images', 'layers')).length, 3, 'the busybox layer is unpacked once');
  const ls = await runPodkit(['images', '--state-dir', state]);
  assert.match(ls.stdout, /^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+SIZE\s+LAST USED/);
  assert.match(ls.stdout, new RegExp(`${reg.host}/cli/a\\s+v1\\s+sha256:[a-f0-9]{12}\\s+[a-f0-9]{12}\\s+[\\d.]+ MB\\s+never`));
  const rm = await runPodkit(['rmi', '--state-dir', state, a]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(readdirSync(join(state, 'images', 'layers')).length, 2);
  assert.equal((await runPodkit(['rmi', '--state-dir', state, a])).stderr.trim(), `podkit rmi: no such image: ${a}`);
  const pr = await runPodkit(['image', 'prune', '--state-dir', state]);
  assert.match(pr.stdout, new RegExp(`Deleted: ${b}\\nTotal reclaimed space: [\\d.]+ MB`));
  assert.deepEqual(blobs(state), []);
  assert.deepEqual(readdirSync(join(state, 'images', 'layers')), []);
});

test('save writes a docker save tar and an OCI tar; load reads both, and an OCI layout directory, into another store', async () => {
  const img = busyboxImage('s');
  const ref = await pushImage(img, reg, 'cli/saved', 's');
  const state = tempDir();
  assert.equal((await runPodkit(['pull', '-q', '--state-dir', state, ref])).stdout.trim(), img.configDigest);
  const out = tempDir();
  for (const format of ['docker', 'oci']) {
    const file = join(out, `${format}.tar`);
    const s = await runPodkit(['save', '--state-dir', state, '-o', file, '--format', format, ref]);
    assert.equal(s.code, 0, s.stderr);
    const other = tempDir();
    const l = await runPodkit(['load', '--state-dir', other, file]);
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout, `Loaded image: ${ref}\n`);
    const json = JSON.parse((await runPodkit(['images', '--json', '--state-dir', other])).stdout) as { id: string }[];
    assert.equal(json[0]!.id, img.configDigest);
  }
  // A docker save tar made by skopeo the way `docker save` makes one: names from RepoTags.
  const dockerTar = join(out, 'by-skopeo.tar');
  await run('skopeo', ['copy', '--quiet', `oci:${img.layout}:s`, `docker-archive:${dockerTar}:example.com/team/app:2`]);
  const other = tempDir();
  assert.equal((await runPodkit(['load', '--state-dir', other, dockerTar])).stdout, 'Loaded image: example.com/team/app:2\n');
  // An OCI layout directory tagged only "s" needs a name.
  const bare = await runPodkit(['load', '--state-dir', other, img.layout]);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /has no repository; give one with --name IMAGE/);
  assert.equal((await runPodkit(['load', '--state-dir', other, '--name', 'local/bb:1', img.layout])).stdout, 'Loaded image: docker.io/local/bb:1\n');
});

test('bad input: no image, unknown file, not an archive, unknown image subcommand', async () => {
  const state = tempDir();
  assert.deepEqual(await runPodkit(['pull', '--state-dir', state]), { stdout: '', stderr: 'podkit pull: name an image to pull\n', code: 2 });
  const nf = await runPodkit(['load', '--state-dir', state, '/nonexistent.tar']);
  assert.equal(nf.code, 2);
  assert.match(nf.stderr, /\/nonexistent\.tar: no such file or directory/);
  const bad = await runPodkit(['load', '--state-dir', state, '/etc/hostname']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not a docker save tar or an OCI layout tar/);
  assert.equal((await runPodkit(['image', 'ls'])).code, 2);
  assert.deepEqual(await runPodkit(['pull', '--state-dir', state, 'Bad/Name']), { stdout: '', stderr: 'podkit pull: invalid image name "Bad/Name": "Bad" is not a valid repository component (lowercase letters, digits, . _ -)\n', code: 2 });
  const down = await runPodkit(['pull', '--state-dir', state, '127.0.0.1:1/nothing:1']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^podkit pull: pull 127\.0\.0\.1:1\/nothing:1 from 127\.0\.0\.1:1: the registry cannot be reached/);
});

test('a --state-dir that cannot hold the store: exit 2 naming the flag and why, for every image command', async () => {
  const file = join(tempDir(), 'a-file');
  writeFileSync(file, '');
  for (const [dir, why] of [['/dev/null', 'not a directory'], [join(file, 'below'), 'not a directory']]) {
    for (const args of [['images'], ['pull', 'busybox'], ['rmi', 'busybox'], ['image', 'prune'], ['load', '/etc'], ['save', 'busybox', '-o', join(tempDir(), 'x.tar')]]) {
      const r = await runPodkit([...args, '--state-dir', dir]);
      const cmd = args[0] === 'image' ? 'image prune' : args[0];
      assert.deepEqual(r, { stdout: '', stderr: `podkit ${cmd}: --state-dir: cannot make the image store under ${dir} (${why}): give a writable folder with --state-dir DIR or PODKIT_STATE_DIR=DIR\n`, code: 2 }, args.join(' '));
    }
  }
});

test('progress on a TTY: one line per layer and a total, redrawn in place', () => {
  let text = '';
  const tty = { isTTY: true, write: (s: string) => (text += s) } as unknown as NodeJS.WriteStream;
  const print = progressPrinter(tty);
  const layers = [{ digest: `sha256:${'a'.repeat(64)}`, size: 2e6, done: true }, { digest: `sha256:${'b'.repeat(64)}`, size: 3e6, done: false }];
  print({ ref: 'r', layers, bytes: 2.5e6, total: 5e6, finished: false });
  print({ ref: 'r', layers: layers.map((l) => ({ ...l, done: true })), bytes: 5e6, total: 5e6, finished: true });
  assert.equal(text, '\x1b[2Kaaaaaaaaaaaa  done 2.0 MB\n\x1b[2Kbbbbbbbbbbbb  3.0 MB …\n\x1b[2Kr: 2.5 MB / 5.0 MB\n' + '\x1b[3A\x1b[2Kaaaaaaaaaaaa  done 2.0 MB\n\x1b[2Kbbbbbbbbbbbb  done 3.0 MB\n\x1b[2Kr: 5.0 MB / 5.0 MB pulled\n');
});

test('an image a running pod uses stays through rmi and prune; one whose pods are gone does not', async () => {
  const state = tempDir();
  const used = await pushImage(busyboxImage('u'), reg, 'cli/used', 'u');
  const left = await pushImage(buildImage({ layers: [[{ name: 'l.txt', data: 'l' }]] }, 'l'), reg, 'cli/left', 'l');
  const svc = imageServiceFor(state);
  const u = await svc.ensure(used, 'IfNotPresent');
  const l = await svc.ensure(left, 'IfNotPresent');
  await svc.touch(u.id, 'default/web');
  await svc.touch(l.id, 'default/gone');
  // A pod whose runner (this test process) is alive, as podkit up makes it: the pod's lock held, then its folder.
  const lock = await lockPod(state, 'web');
  assert.ok(lock, 'the pod lock is free');
  mkdirSync(join(state, 'pods', 'web'), { recursive: true });
  writeFileSync(join(state, 'pods', 'web', 'state.json'), JSON.stringify({ runner: { pid: process.pid, start: procStart(process.pid) }, pids: [], createdAt: Date.now() }));
  const rmi = await runPodkit(['rmi', '--state-dir', state, used]);
  assert.equal(rmi.code, 1);
  assert.equal(rmi.stderr, `podkit rmi: image ${used} is in use by default/web (stop them first, or --force)\n`);
  const pr = await runPodkit(['image', 'prune', '--state-dir', state]);
  assert.match(pr.stdout, new RegExp(`^Deleted: ${left}\\n`));
  const ls = await runPodkit(['images', '--state-dir', state]);
  assert.match(ls.stdout, new RegExp(`${reg.host}/cli/used\\s+u\\s+.*\\d{4}-\\d\\d-\\d\\dT`));
  assert.equal((await runPodkit(['rmi', '-f', '--state-dir', state, used])).stdout, `Untagged: ${used}\n`);
  await lock.release(); // unref'd, so a failed assertion above does not keep the process alive either
});
