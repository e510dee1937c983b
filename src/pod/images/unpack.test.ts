/** @module Unpacking hostile and tricky layers: confinement, whiteouts, opaque directories, links, devices, owners and modes. */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { paxRecord, tarOf, type TarEntry } from '../../../test/helpers/images.js';
import { ImageError, ProtocolError } from '../../core/errors.js';
import { confine, unpackLayer } from './unpack.js';

async function unpack(entries: TarEntry[], gz = true) {
  const base = mkdtempSync(join(tmpdir(), 'podkit-unpack-'));
  const blob = join(base, 'blob');
  const dir = join(base, 'layer');
  execFileSync('mkdir', [dir]);
  writeFileSync(blob, gz ? gzipSync(tarOf(entries)) : tarOf(entries));
  const r = await unpackLayer(blob, dir);
  return { base, dir, ...r };
}

test('confine() keeps every archive path inside the layer', () => {
  assert.equal(confine('../../etc/x'), 'etc/x');
  assert.equal(confine('/etc/passwd'), 'etc/passwd');
  assert.equal(confine('./a/../../b/'), 'b');
  assert.equal(confine('./'), '');
});

test('a malicious layer stays in its directory: ../, absolute paths, writes through symlinked parents, hard links out', async () => {
  const { base, dir, skipped } = await unpack([
    { name: '../../escape-dotdot', data: 'x' },
    { name: '/escape-abs', data: 'x' },
    { name: 'up', type: '2', linkname: '/' },
    { name: 'up/escape-symlink', data: 'x' },
    { name: 'rel', type: '2', linkname: '../..' },
    { name: 'rel/escape-rel', data: 'x' },
    { name: 'hl', type: '1', linkname: '../../../etc/passwd' },
  ]);
  assert.ok(existsSync(join(dir, 'escape-dotdot')));
  assert.ok(existsSync(join(dir, 'escape-abs')));
  assert.ok(!existsSync(join(base, 'escape-dotdot')) && !existsSync('/escape-abs') && !existsSync('/escape-symlink') && !existsSync(join(base, '..', 'escape-rel')));
  assert.equal(readlinkSync(join(dir, 'up')), '/'); // kept as the image wrote it: it points inside the container's root at run time
  assert.deepEqual(skipped.map((s) => s.split(':')[0]), ['up/escape-symlink', 'rel/escape-rel', 'hl']);
  assert.ok(!existsSync(join(dir, 'hl')));
});

test('whiteouts become overlay whiteouts (char 0:0) and .wh..wh..opq marks the directory opaque', async () => {
  const { dir } = await unpack([
    { name: 'etc/', type: '5' },
    { name: 'etc/.wh.motd', data: '' },
    { name: 'var/lib/', type: '5' },
    { name: 'var/lib/.wh..wh..opq', data: '' },
    { name: 'var/lib/new', data: 'n' },
  ]);
  const wh = lstatSync(join(dir, 'etc', 'motd'));
  assert.ok(wh.isCharacterDevice());
  assert.equal(wh.rdev, 0);
  assert.ok(!existsSync(join(dir, 'etc', '.wh.motd')));
  assert.equal(execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', join(dir, 'var', 'lib')], { encoding: 'utf8' }), 'y');
  assert.equal(readFileSync(join(dir, 'var', 'lib', 'new'), 'utf8'), 'n');
  assert.ok(!existsSync(join(dir, 'var', 'lib', '.wh..wh..opq')));
});

test('a whiteout of `..`, `.` or nothing is skipped: it deletes neither the layer, nor its siblings, nor its own directory', async () => {
  const base = mkdtempSync(join(tmpdir(), 'podkit-unpack-'));
  const dir = join(base, 'layers', 'this');
  execFileSync('mkdir', ['-p', dir, join(base, 'layers', 'other')]);
  writeFileSync(join(base, 'layers', 'other', 'keep'), 'k');
  writeFileSync(join(base, 'blob'), tarOf([{ name: 'f', data: 'x' }, { name: '.wh...', data: '' }, { name: 'sub/f', data: 'y' }, { name: 'sub/.wh..', data: '' }, { name: 'sub/.wh.', data: '' }]));
  const { skipped } = await unpackLayer(join(base, 'blob'), dir);
  assert.deepEqual(skipped, ['.wh...: a whiteout that names no file', 'sub/.wh..: a whiteout that names no file', 'sub/.wh.: a whiteout that names no file']);
  assert.equal(readFileSync(join(base, 'layers', 'other', 'keep'), 'utf8'), 'k');
  assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'x');
  assert.equal(readFileSync(join(dir, 'sub', 'f'), 'utf8'), 'y');
});

test('a hard link whose source runs through a file or a missing directory is skipped, and leaves that file as it was', async () => {
  const { dir, skipped } = await unpack([
    { name: 'etc/passwd', data: 'root' },
    { name: 'h', type: '1', linkname: 'etc/passwd/x' },
    { name: 'g', type: '1', linkname: 'no/such/dir' },
  ]);
  assert.equal(readFileSync(join(dir, 'etc', 'passwd'), 'utf8'), 'root');
  assert.ok(!existsSync(join(dir, 'no')));
  assert.deepEqual(skipped, ['h: hard link to etc/passwd/x, which this layer does not hold', 'g: hard link to no/such/dir, which this layer does not hold']);
});

test('many whiteouts are links of one 0/0 device (a process each made 2000 take a minute); opaque directories with odd names are all marked', async () => {
  const odd = ['a\nb', 'c\\d', 'e=f', 'ü', ' sp', '"q"'];
  const { dir } = await unpack([
    ...Array.from({ length: 300 }, (_, i) => ({ name: `gone/.wh.f${i}`, data: '' })),
    ...odd.flatMap((d) => [{ name: `${d}/`, type: '5' as const }, { name: `${d}/.wh..wh..opq`, data: '' }]),
    { name: 'x/.wh..wh..opq', data: '' },
    { name: 'x/.wh..wh..opq', data: '' },
  ]);
  const ino = lstatSync(join(dir, 'gone', 'f0')).ino;
  for (let i = 0; i < 300; i++) {
    const st = lstatSync(join(dir, 'gone', `f${i}`));
    assert.ok(st.isCharacterDevice() && st.rdev === 0 && st.ino === ino && st.nlink === 300, `f${i}`);
  }
  for (const d of [...odd, 'x']) assert.equal(execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', join(dir, d)], { encoding: 'utf8' }), 'y', d);
  assert.deepEqual(readdirSync(dir).sort(), [...odd, 'gone', 'x'].sort(), 'no device left over');
});

test('a path past PATH_MAX is refused at once, a whiteout the file system refuses is an ImageError, and skipped lists 100 entries and a count', async () => {
  const deep = `${'d/'.repeat(2100)}f`; // 4201 bytes
  await assert.rejects(unpack([{ name: deep, type: '6' }]), (e: Error) => e instanceof ImageError && e.message === `cannot unpack "${deep.slice(0, 200)}": name too long`);
  await assert.rejects(unpack([{ name: 'PaxHeader', type: 'x', data: paxRecord('linkpath', 'x'.repeat(5000)) }, { name: 's', type: '2' }]), /cannot unpack "s": name too long/);
  await assert.rejects(unpack([{ name: `d/.wh.${'w'.repeat(300)}`, data: '' }]), (e: Error) => e instanceof ImageError && e.message === `cannot make the whiteout "d/${'w'.repeat(198)}": name too long`);
  const { skipped } = await unpack(Array.from({ length: 150 }, (_, i) => ({ name: `p${i}`, type: '6' as const })));
  assert.equal(skipped.length, 101);
  assert.deepEqual(skipped.slice(99), ['p99: FIFO', 'and 50 more']);
});

test('hard links, symlinks, owners, modes (setuid too) are kept; device nodes and FIFOs are skipped', async () => {
  const { dir, skipped, diffId } = await unpack(
    [
      { name: 'bin/', type: '5', mode: 0o711 },
      { name: 'bin/tool', data: '#!/bin/sh\n', mode: 0o4755, uid: 0, gid: 0 },
      { name: 'bin/alias', type: '1', linkname: 'bin/tool' },
      { name: 'bin/sl', type: '2', linkname: 'tool', uid: 7, gid: 8 },
      { name: 'home/u/f', data: 'u', mode: 0o600, uid: 1234, gid: 4321 },
      { name: 'dev/null', type: '3', devmajor: 1, devminor: 3 },
      { name: 'run/fifo', type: '6' },
    ],
    false,
  );
  const tool = lstatSync(join(dir, 'bin', 'tool'));
  assert.equal(tool.mode & 0o7777, 0o4755);
  assert.equal(lstatSync(join(dir, 'bin')).mode & 0o7777, 0o711);
  assert.equal(lstatSync(join(dir, 'bin', 'alias')).ino, tool.ino);
  const sl = lstatSync(join(dir, 'bin', 'sl'));
  assert.ok(sl.isSymbolicLink());
  assert.deepEqual([sl.uid, sl.gid], [7, 8]);
  const f = lstatSync(join(dir, 'home', 'u', 'f'));
  assert.deepEqual([f.uid, f.gid, f.mode & 0o777], [1234, 4321, 0o600]);
  assert.deepEqual(skipped, ['dev/null: device node', 'run/fifo: FIFO']);
  assert.match(diffId, /^sha256:[a-f0-9]{64}$/);
});

test('long names (GNU and pax) and a truncated archive', async () => {
  const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
  const gnu = `${'g'.repeat(150)}/x`;
  const { dir } = await unpack([{ name: long, data: 'long' }, { name: '././@LongLink', type: 'L', data: `${gnu}\0` }, { name: gnu.slice(0, 100), data: 'gnu' }]);
  assert.equal(readFileSync(join(dir, long), 'utf8'), 'long');
  assert.equal(readFileSync(join(dir, gnu), 'utf8'), 'gnu');
  const base = mkdtempSync(join(tmpdir(), 'podkit-unpack-'));
  const t = tarOf([{ name: 'a', data: 'x'.repeat(2000) }]);
  writeFileSync(join(base, 'blob'), t.subarray(0, 1024));
  execFileSync('mkdir', [join(base, 'l')]);
  await assert.rejects(unpackLayer(join(base, 'blob'), join(base, 'l')), /archive ends in the middle of an entry/);
});

test('an entry the file system refuses, a corrupt gzip stream: catalogue errors naming what failed; the DiffID covers bytes past the end marker', async () => {
  const long = `${'n'.repeat(300)}/f`; // a 300-byte name (pax path): over the file system's 255
  await assert.rejects(unpack([{ name: long, data: 'x' }]), (e: Error) => e instanceof ImageError && e.message.startsWith(`cannot unpack "${'n'.repeat(200)}": name too long`));
  const gz = gzipSync(tarOf([{ name: 'a', data: 'x'.repeat(4000) }]));
  gz[gz.length - 6] ^= 0xff; // the CRC-32 in the gzip trailer
  const base = mkdtempSync(join(tmpdir(), 'podkit-unpack-'));
  writeFileSync(join(base, 'blob'), gz);
  execFileSync('mkdir', [join(base, 'l')]);
  await assert.rejects(unpackLayer(join(base, 'blob'), join(base, 'l')), (e: Error) => e instanceof ProtocolError && /^gzip: the layer's compressed bytes are corrupt \(incorrect data check\)/.test(e.message));
  // A chunk boundary between the two zero blocks of the end marker: the second still counts in the DiffID.
  const t = tarOf([{ name: 'a', data: 'x' }]);
  execFileSync('mkdir', [join(base, 'split')]);
  const r = await unpackLayer((async function* () { yield t.subarray(0, t.length - 512); yield t.subarray(t.length - 512); })(), join(base, 'split'));
  assert.equal(r.diffId, `sha256:${createHash('sha256').update(t).digest('hex')}`);
});

test('a zstd layer on a Node without zstd is a clear error', { skip: 'createZstdDecompress' in (await import('node:zlib')) }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'podkit-unpack-'));
  writeFileSync(join(base, 'blob'), Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]));
  execFileSync('mkdir', [join(base, 'l')]);
  await assert.rejects(unpackLayer(join(base, 'blob'), join(base, 'l')), /zstd-compressed layers need Node 22\.15 or newer/);
});
