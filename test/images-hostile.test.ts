/**
 * @module Hostile image input: `load` of archives whose manifest.json / index.json / layers are wrong, and a bounded
 * seeded fuzz of layer unpacking (confined, a catalogue error or success, the whole input hashed, no file left open).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ImageError, PodkitError, UsageError } from '../src/core/errors.js';
import { imageServiceFor } from '../src/pod/images/index.js';
import { unpackLayer } from '../src/pod/images/unpack.js';
import { Rng, fuzzSeed, mutate, mutateNumber, splitRandomly } from './helpers/fuzz.js';
import { buildImage, paxRecord, tarOf, type TarEntry } from './helpers/images.js';
import { runPodkit } from './helpers/cli.js';
import { stopAll, tempDir } from './helpers/proc.js';

after(stopAll);

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

test('load: a manifest.json or index.json that is not JSON, not the expected shape, too large or missing is a usage error naming the file', async () => {
  const dir = tempDir();
  const svc = imageServiceFor(join(dir, 'state'));
  const refused = async (file: string, why: RegExp) => {
    await assert.rejects(svc.load(file, 'local/x:1'), (e: Error) => e instanceof UsageError && e.message.startsWith(`${file}: `) && why.test(e.message), file);
  };
  const dockerTars: [string, RegExp][] = [
    ['not json', /its manifest\.json is not valid JSON/],
    ['null', /its manifest\.json is not a docker save manifest/],
    ['[null]', /not a docker save manifest/],
    ['[{"RepoTags":"x"}]', /not a docker save manifest/],
    ['[{"RepoTags":[5]}]', /not a docker save manifest/],
    [`[${' '.repeat(4 << 20)}]`, /its manifest\.json is larger than 4 MiB/],
  ];
  for (const [i, [text, why]] of dockerTars.entries()) {
    const file = join(dir, `docker-${i}.tar`);
    writeFileSync(file, tarOf([{ name: 'manifest.json', data: text }]));
    await refused(file, why);
  }
  const img = buildImage({ layers: [[{ name: 'a', data: 'a' }]] }, 'latest', join(dir, 'layout'));
  for (const [text, why] of [
    ['{"manifests":', /its index\.json is not valid JSON/],
    ['null', /its index\.json is not an OCI image index/],
    ['{"manifests":{}}', /not an OCI image index/],
    ['{"manifests":[null]}', /not an OCI image index/],
    ['{"manifests":[{"annotations":"x"}]}', /not an OCI image index/],
  ] as const) {
    writeFileSync(join(img.layout, 'index.json'), text);
    await refused(img.layout, why);
  }
  rmSync(join(img.layout, 'index.json'));
  await refused(img.layout, /the OCI image layout has no index\.json/);
  await refused('/dev/zero', /^\/dev\/zero: is a character device; load takes a tar file or an OCI layout directory$/);
  const cli = await runPodkit(['load', '--state-dir', join(dir, 'state'), join(dir, 'docker-0.tar')]);
  assert.equal(cli.code, 2, cli.stderr);
});

test('load of a FIFO answers at once with exit 2 (it waited for a writer forever); a socket, a device, or a layout whose index.json is one, is refused too', async () => {
  const dir = tempDir();
  const state = join(dir, 'state');
  const fifo = join(dir, 'image.tar');
  execFileSync('mkfifo', [fifo]);
  for (const args of [[fifo], ['-i', fifo]]) {
    const started = Date.now();
    const cli = await runPodkit(['load', '--state-dir', state, ...args], { timeoutMs: 20_000 });
    assert.equal(cli.code, 2, cli.stderr);
    assert.equal(cli.stderr, `podkit load: ${fifo}: is a FIFO (named pipe); load takes a tar file or an OCI layout directory\n`);
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  }
  const svc = imageServiceFor(state);
  const refused = (file: string, why: string) => assert.rejects(svc.load(file), (e: Error) => e instanceof UsageError && e.message === `${file}: ${why}`);
  const link = join(dir, 'link.tar');
  symlinkSync(fifo, link);
  await refused(link, 'is a FIFO (named pipe); load takes a tar file or an OCI layout directory');
  await refused('/dev/null', 'is a character device; load takes a tar file or an OCI layout directory');
  const sock = join(dir, 'image.sock');
  const server = createServer().listen(sock);
  await once(server, 'listening');
  try {
    await refused(sock, 'is a socket; load takes a tar file or an OCI layout directory');
  } finally {
    server.close();
  }
  // A layout's index.json is read whole: as a FIFO it would wait, as a link to /dev/zero fill memory.
  const img = buildImage({ layers: [[{ name: 'a', data: 'a' }]] }, 'latest', join(dir, 'layout'));
  rmSync(join(img.layout, 'index.json'));
  execFileSync('mkfifo', [join(img.layout, 'index.json')]);
  await refused(img.layout, "the OCI image layout's index.json is a FIFO (named pipe); it must be a file");
  rmSync(join(img.layout, 'index.json'));
  symlinkSync('/dev/zero', join(img.layout, 'index.json'));
  await refused(img.layout, "the OCI image layout's index.json is a character device; it must be a file");
});

test('load of an image with a hostile layer: the error names the image and the layer, nothing half-unpacked stays, other layers are untouched', async () => {
  const dir = tempDir();
  const state = join(dir, 'state');
  const svc = imageServiceFor(state);
  const good = buildImage({ layers: [[{ name: 'keep', data: 'k' }]] }, 'latest', join(dir, 'good'));
  await svc.load(good.layout, 'local/good:1');
  const layers = join(state, 'images', 'layers');
  const goodLayer = join(layers, good.layerDigests[0]!.slice(7));
  // `.wh...` once removed the layer's parent: every layer of the store.
  const dotdot = buildImage({ layers: [[{ name: 'f', data: 'x' }, { name: '.wh...', data: '' }]] }, 'latest', join(dir, 'dotdot'));
  await svc.load(dotdot.layout, 'local/dotdot:1');
  assert.equal(readFileSync(join(goodLayer, 'keep'), 'utf8'), 'k');
  const bad = buildImage({ layers: [[{ name: 'PaxHeader', type: 'x', data: paxRecord('uid', '-1') }, { name: 'f', data: 'x' }]] }, 'latest', join(dir, 'bad'));
  await assert.rejects(svc.load(bad.layout, 'local/bad:1'), (e: Error) => e instanceof ImageError && e.message === `docker.io/local/bad:1: layer ${bad.layerDigests[0]}: tar: bad uid in the header of "f"`);
  // Go reads "+17" as 17 and takes this path; GNU tar refuses it: two readers of one layer must not disagree.
  const pax = buildImage({ layers: [[{ name: 'PaxHeader', type: 'x', data: '+17 path=../../x\n' }, { name: 'f', data: 'x' }]] }, 'latest', join(dir, 'pax'));
  await assert.rejects(svc.load(pax.layout, 'local/pax:1'), (e: Error) => e instanceof ImageError && e.message === `docker.io/local/pax:1: layer ${pax.layerDigests[0]}: tar: bad pax record 1 in "PaxHeader": length "+17" is not decimal digits followed by a space`);
  assert.deepEqual(readdirSync(layers).filter((f) => f.startsWith('.tmp-')), []);
  assert.equal(readFileSync(join(goodLayer, 'keep'), 'utf8'), 'k');
});

test('load: a layer the image holds twice unpacks once; a config without a DiffID per layer is refused', async () => {
  const dir = tempDir();
  const svc = imageServiceFor(join(dir, 'state'));
  const layer = Array.from({ length: 50 }, (_, i) => ({ name: `d${i % 7}/f${i}`, data: 'x'.repeat(5000 + i) }));
  const twice = buildImage({ layers: [layer, [{ name: 'z', data: 'z' }], layer] }, 'latest', join(dir, 'twice'));
  await svc.load(twice.layout, 'local/twice:1');
  const unpacked = join(dir, 'state', 'images', 'layers', twice.layerDigests[0]!.slice(7));
  assert.equal(readdirSync(unpacked).reduce((n, d) => n + readdirSync(join(unpacked, d)).length, 0), 50);
  const short = buildImage({ layers: [[{ name: 'a', data: 'a' }]], config: {} }, 'latest', join(dir, 'short'));
  const cfgFile = join(short.layout, 'blobs', 'sha256', short.configDigest.slice(7));
  const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as { rootfs: { diff_ids: string[] } };
  cfg.rootfs.diff_ids = [];
  const cfgText = JSON.stringify(cfg);
  writeFileSync(join(short.layout, 'blobs', 'sha256', sha(Buffer.from(cfgText)).slice(7)), cfgText);
  const manifestFile = join(short.layout, 'blobs', 'sha256', short.manifestDigest.slice(7));
  const manifest = readFileSync(manifestFile, 'utf8').replace(short.configDigest, sha(Buffer.from(cfgText))).replace(/"size":\d+/, `"size":${cfgText.length}`);
  writeFileSync(join(short.layout, 'blobs', 'sha256', sha(Buffer.from(manifest)).slice(7)), manifest);
  writeFileSync(join(short.layout, 'index.json'), readFileSync(join(short.layout, 'index.json'), 'utf8').replace(short.manifestDigest, sha(Buffer.from(manifest))).replace(/"size":\d+/, `"size":${manifest.length}`));
  await assert.rejects(svc.load(short.layout, 'local/short:1'), (e: Error) => e instanceof ImageError && e.message === "docker.io/local/short:1: the image config lists 0 layer DiffIDs for the manifest's 1 layers");
});

/** Every path under `p` but `skip`, with what would show a change to it. */
function snapshot(p: string, skip: string, out = new Map<string, string>()): Map<string, string> {
  for (const f of readdirSync(p)) {
    const q = join(p, f);
    if (q === skip) continue;
    const st = lstatSync(q);
    out.set(q, `${st.mode} ${st.size} ${st.nlink} ${st.ino} ${st.isSymbolicLink() ? readlinkSync(q) : ''}`);
    if (st.isDirectory()) snapshot(q, skip, out);
  }
  return out;
}

/** Layers that try to leave their directory (into `../../outside`, the target's sibling) or confuse the unpacker. */
const HOSTILE: TarEntry[][] = [
  [{ name: 'etc/', type: '5' }, { name: 'etc/passwd', data: 'root:x:0:0\n' }, { name: 'bin/sh', data: 'x'.repeat(700), mode: 0o4755 }, { name: 'bin/ln', type: '1', linkname: 'bin/sh' }, { name: 'bin/sl', type: '2', linkname: 'sh' }],
  [{ name: '../x', data: 'a' }, { name: '/abs', data: 'b' }, { name: 'a/../../x2', data: 'c' }, { name: '../../outside/pwn', data: 'd' }],
  [{ name: 'r', type: '2', linkname: '../../outside' }, { name: 'r/pwn', data: 'g' }, { name: 'r/sub/', type: '5' }, { name: 'r/.wh.keep', data: '' }, { name: 'r/.wh..wh..opq', data: '' }],
  [{ name: 'h1', type: '1', linkname: '../../outside/keep' }, { name: 'r', type: '2', linkname: '../../outside' }, { name: 'h2', type: '1', linkname: 'r/keep' }, { name: 'h3', type: '1', linkname: '/' }, { name: 'h4', type: '1', linkname: 'h4' }],
  [{ name: '.wh...', data: '' }, { name: 'x/.wh...', data: '' }, { name: '.wh..wh..opq', data: '' }, { name: 'a/.wh.', data: '' }, { name: 'a/.wh..', data: '' }],
  [{ name: 'dev/null', type: '3', devmajor: 1, devminor: 3 }, { name: 'p', type: '6' }, { name: 'same', data: 'f' }, { name: 'same/', type: '5' }, { name: 'same/in', data: 'x' }, { name: 'same', data: 'again' }],
  [{ name: `${'deep/'.repeat(40)}f`, data: 'deep' }, { name: 'q'.repeat(256), data: 'x' }, { name: '././@LongLink', type: 'L', data: '../../outside/gnu\0' }, { name: 'short', data: 'gnu' }],
  [{ name: 'PaxHeader', type: 'x', data: paxRecord('path', '../../outside/pax-path') }, { name: 'p1', data: 'pax' }, { name: 'PaxHeader', type: 'x', data: paxRecord('linkpath', '../../outside/keep') }, { name: 'hl', type: '1', linkname: 'x' }],
];

/** Header field offsets and lengths: name, mode, uid, gid, size, checksum, typeflag, linkname, magic, prefix. */
const FIELDS: [number, number][] = [[0, 100], [100, 8], [108, 8], [116, 8], [124, 12], [148, 8], [156, 1], [157, 100], [257, 8], [345, 155]];
const VALUES = ['../../outside/z', '/', '..', '.wh...', '.wh..wh..opq', '-1', '77777777777', '8', ' 12', 'x', 'L', 'K', '1', '2', '5', '\x80\xff'];

/** `tar` with a field of one of its first headers set to a hostile value; the checksum is mostly made right again. */
function mutateHeader(tar: Buffer, rng: Rng): Buffer {
  const b = Buffer.from(tar);
  const at = 512 * rng.int(Math.max(1, Math.min(8, b.length >> 9)));
  if (at + 512 > b.length) return b;
  const [off, len] = rng.pick(FIELDS);
  const value = rng.int(2) ? rng.pick(VALUES) : mutateNumber(b.toString('latin1', at + off, at + off + len), rng);
  b.fill(0, at + off, at + off + len);
  b.write(value.slice(0, len), at + off, 'latin1');
  if (rng.int(8)) {
    b.write('        ', at + 148, 'latin1');
    let sum = 0;
    for (let i = at; i < at + 512; i++) sum += b[i]!;
    b.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1');
  }
  return b;
}

test('fuzz: 300 seeded hostile layers unpack confined, or fail with a catalogue error; a success hashes every byte; no file stays open', async () => {
  const root = tempDir('podkit-fuzz-unpack-');
  const fds = () => readdirSync('/proc/self/fd').length;
  const fdsBefore = fds();
  const outcomes = new Map<string, number>();
  for (let seed = 1; seed <= 300; seed++) {
    const played = fuzzSeed(seed);
    const rng = new Rng(played);
    const sb = join(root, `c${seed}`);
    const target = join(sb, 'layers', 'target');
    mkdirSync(target, { recursive: true });
    mkdirSync(join(sb, 'layers', 'sibling'));
    writeFileSync(join(sb, 'layers', 'sibling', 'keep'), 's');
    mkdirSync(join(sb, 'outside'));
    writeFileSync(join(sb, 'outside', 'keep'), 'o');
    const entries = Array.from({ length: 1 + rng.int(3) }, () => rng.pick(HOSTILE)).flat();
    let tar = tarOf(entries);
    const how = rng.int(10);
    if (how < 4) tar = mutateHeader(tar, rng);
    else if (how < 8) tar = mutate(tar, rng, 1 + rng.int(3));
    else if (how === 8) tar = Buffer.concat([tar.subarray(0, 512 * rng.int(tar.length >> 9)), Buffer.alloc(512), tar.subarray(512 * rng.int(tar.length >> 9))]);
    let blob = rng.int(3) === 0 ? gzipSync(tar) : tar;
    if (blob !== tar && rng.int(4) === 0) blob = mutate(blob, rng);
    writeFileSync(join(sb, 'blob'), blob);
    const before = snapshot(sb, target);
    const pieces = splitRandomly(blob, rng, 8);
    const input = rng.int(2) ? join(sb, 'blob') : (async function* () { yield* pieces; })();
    const what = `seed ${played}`;
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: unpack still running after 10 s`)), 10_000); });
    try {
      const r = await Promise.race([unpackLayer(input, target), hang]);
      const plain = blob === tar ? tar : gunzipSync(blob);
      assert.equal(r.diffId, sha(plain), `${what}: the DiffID is of the whole input`);
      outcomes.set('unpacked', (outcomes.get('unpacked') ?? 0) + 1);
    } catch (e) {
      if (!(e instanceof PodkitError)) throw Object.assign(e as Error, { message: `${what}: ${(e as Error).message}` });
      outcomes.set(e.constructor.name, (outcomes.get(e.constructor.name) ?? 0) + 1);
    } finally {
      clearTimeout(timer);
    }
    assert.deepEqual(snapshot(sb, target), before, `${what}: nothing outside the layer's directory changed`);
    assert.ok(fds() <= fdsBefore + 2, `${what}: no file left open (${fds()} open, ${fdsBefore} before)`);
    rmSync(sb, { recursive: true, force: true });
  }
  // The cases reach past the checksum: some unpack, some fail in the reader, some in the file system.
  assert.ok((outcomes.get('unpacked') ?? 0) > 30 && (outcomes.get('ProtocolError') ?? 0) > 30 && (outcomes.get('ImageError') ?? 0) > 0, JSON.stringify([...outcomes]));
});
