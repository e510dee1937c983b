/** @module The tar reader on hostile and odd bytes: bad numeric fields, pax records, zero blocks, chunk boundaries. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { paxRecord, tarOf, type TarEntry } from '../../../test/helpers/images.js';
import { ProtocolError } from '../../core/errors.js';
import { readTar, type TarHeader } from './tar.js';

/** `tar` with the header at `at` given `value` (NUL-padded) at field offset `off`, its checksum made right again. */
function patch(tar: Buffer, at: number, off: number, len: number, value: Buffer | string): Buffer {
  const b = Buffer.from(tar);
  b.fill(0, at + off, at + off + len);
  (typeof value === 'string' ? Buffer.from(value, 'latin1') : value).copy(b, at + off);
  b.write('        ', at + 148, 'latin1');
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += b[i]!;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1');
  return b;
}

async function read(chunks: Buffer[]): Promise<{ headers: TarHeader[]; bytes: number }> {
  const headers: TarHeader[] = [];
  let bytes = 0;
  await readTar(
    (async function* () {
      yield* chunks;
    })(),
    {
      async entry(h) {
        headers.push(h);
      },
      async data(c) {
        bytes += c.length;
      },
      async end() {},
    },
  );
  return { headers, bytes };
}

const one: TarEntry[] = [{ name: 'f', data: 'x' }];

test('numeric fields that are not octal, negative, or out of range are refused naming the field and the entry', async () => {
  const t = tarOf(one);
  const cases: [number, number, Buffer | string, RegExp][] = [
    [124, 12, '9', /bad size in the header of "f"/],
    [124, 12, '-1', /bad size/],
    [124, 12, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), /bad size/], // base-256 -1
    [124, 12, Buffer.from([0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), /bad size/], // base-256 2^88-1
    [100, 8, 'zz', /bad mode/],
    [108, 8, Buffer.from([0x80, 0, 0, 1, 0, 0, 0, 0]), /bad uid/], // base-256 2^32
    [116, 8, '+7', /bad gid/],
  ];
  for (const [off, len, value, why] of cases) await assert.rejects(read([patch(t, 0, off, len, value)]), (e: Error) => e instanceof ProtocolError && why.test(e.message), String(value));
  // Spaces before the digits (old tars) and after them are fine.
  const { headers } = await read([patch(patch(t, 0, 100, 8, '   644 '), 0, 124, 12, '  1\0')]);
  assert.deepEqual([headers[0]!.mode, headers[0]!.size], [0o644, 1]);
});

test('pax size, uid and gid must be decimal digits; a pax path or linkpath with a NUL byte is refused', async () => {
  for (const [key, value, why] of [
    ['uid', '-500', /bad uid in the header of "f"/],
    ['gid', 'NaN', /bad gid/],
    ['size', '1.5', /bad size/],
    ['size', '1e3', /bad size/],
    ['uid', '4294967296', /bad uid/],
    ['size', '99999999999999999', /bad size/],
    ['path', 'a\0', /pax path or linkpath with a NUL byte/],
    ['linkpath', '\0x', /NUL byte/],
  ] as const) {
    const t = tarOf([{ name: 'PaxHeader', type: 'x', data: paxRecord(key, value) }, { name: 'f', data: 'x' }]);
    await assert.rejects(read([t]), (e: Error) => e instanceof ProtocolError && why.test(e.message), `${key}=${value}`);
  }
  const { headers } = await read([tarOf([{ name: 'PaxHeader', type: 'x', data: paxRecord('uid', '70000') + paxRecord('size', '1') }, { name: 'f', data: 'x' }])]);
  assert.equal(headers[0]!.uid, 70000);
});

test('two zero blocks end the archive, one does at the very end; one zero block with entries after it is refused', async () => {
  const a = tarOf([{ name: 'a', data: 'x' }]);
  const entry = a.subarray(0, 1024); // header and data block, no end marker
  assert.deepEqual((await read([Buffer.concat([entry, Buffer.alloc(512)])])).headers.map((h) => h.name), ['a']);
  assert.deepEqual((await read([Buffer.concat([entry, Buffer.alloc(1024), Buffer.from('trailing bytes after the end marker')])])).headers.map((h) => h.name), ['a']);
  await assert.rejects(read([Buffer.concat([entry, Buffer.alloc(512), tarOf([{ name: 'hidden', data: 'y' }])])]), /a zero block in the middle of the archive/);
});

test('the reader stops at the end marker, even of an endless input (load of /dev/zero); with toEnd it takes every chunk, so a hash over its input is the whole stream', async () => {
  const endless = (async function* () {
    for (;;) yield Buffer.alloc(4096);
  })();
  await readTar(endless, { entry: async () => undefined, data: async () => undefined, end: async () => undefined });

  // GNU tar pads to 10 KiB records: the end marker is followed by zeros, which a layer's DiffID covers.
  const t = Buffer.concat([tarOf(one), Buffer.alloc(8192)]);
  const want = createHash('sha256').update(t).digest('hex');
  for (const cut of [1024 + 512, 1024 + 1024, t.length - 1]) {
    const hash = createHash('sha256');
    const pieces = [t.subarray(0, cut), t.subarray(cut)];
    await readTar(
      (async function* () {
        for (const p of pieces) {
          hash.update(p);
          yield p;
        }
      })(),
      { entry: async () => undefined, data: async () => undefined, end: async () => undefined },
      { toEnd: true },
    );
    assert.equal(hash.digest('hex'), want, `cut at ${cut}`);
  }
});
