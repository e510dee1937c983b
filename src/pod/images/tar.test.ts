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
    ['path', 'a\0', /bad pax record 1 in "PaxHeader": path "a\\u0000" has a NUL byte/],
    ['linkpath', '\0x', /linkpath "\\u0000x" has a NUL byte/],
    ['uname', 'r\0', /uname "r\\u0000" has a NUL byte/],
    ['a\0b', '1', /key "a\\u0000b" has a NUL byte/],
  ] as const) {
    const t = tarOf([{ name: 'PaxHeader', type: 'x', data: paxRecord(key, value) }, { name: 'f', data: 'x' }]);
    await assert.rejects(read([t]), (e: Error) => e instanceof ProtocolError && why.test(e.message), `${key}=${value}`);
  }
  const { headers } = await read([tarOf([{ name: 'PaxHeader', type: 'x', data: paxRecord('uid', '70000') + paxRecord('size', '1') }, { name: 'f', data: 'x' }])]);
  assert.equal(headers[0]!.uid, 70000);
});

test('a pax record is refused, naming the record and the pax entry, where Go archive/tar or GNU tar refuses it (or the two read it differently)', async () => {
  const path = (len: string, body = ` path=${'a'.repeat(21)}\n`) => `${len}${body}`; // "30 path=…\n" is 30 bytes
  for (const body of [undefined, ` path=${'a'.repeat(21)}X`, ` path${'a'.repeat(22)}\n`, ` =${'a'.repeat(25)}\n`, `  path=${'a'.repeat(20)}\n`]) assert.equal(path('30', body).length, 30);
  const cases: [string, RegExp][] = [
    [path('+30'), /bad pax record 1 in "PaxHeader": length "\+30" is not decimal digits followed by a space/], // Go's ParseInt takes the sign, GNU tar does not
    [path(' 30'), /length "" is not decimal digits/], // GNU tar skips the blank, Go does not
    [path('0x1e'), /length "0x1e" is not decimal digits/],
    [path('0'), /length 0 is shorter than the shortest record \("5 a=\\n"\)/],
    [path('4'), /length 4 is shorter/],
    [path('20'), /length 20 does not end the record at a newline/], // shorter than the record
    [path('31'), /length 31 runs past the end of the header's 30 bytes left/], // longer than the header data
    [path('99999999999999999999999'), /length 99999999999999999999… runs past/],
    [path('30', ` path=${'a'.repeat(21)}X`), /length 30 does not end the record at a newline/], // no newline
    [path('30', ` path${'a'.repeat(22)}\n`), /no "=" between key and value/],
    [path('30', ` =${'a'.repeat(25)}\n`), /an empty key/],
    [path('30', `  path=${'a'.repeat(20)}\n`), /key " path" starts with a blank/], // GNU tar reads key "path", Go " path"
    [path('30') + '\0\0\0', /bad pax record 2 in "PaxHeader": length "\\u0000\\u0000\\u0000" is not decimal digits/], // Go reads every byte as records
    [paxRecord('uid', '1') + 'no length\n', /bad pax record 2/],
    ['30', /length "30" is not decimal digits followed by a space/],
  ];
  for (const [data, why] of cases) {
    await assert.rejects(read([tarOf([{ name: 'PaxHeader', type: 'x', data }, { name: 'f', data: 'x' }])]), (e: Error) => e instanceof ProtocolError && why.test(e.message), JSON.stringify(data));
  }
  // A global header is read past, but its records are checked as Go checks them.
  await assert.rejects(read([tarOf([{ name: 'GlobalHead', type: 'g', data: path('+30') }, { name: 'f', data: 'x' }])]), /bad pax record 1 in "GlobalHead": length "\+30"/);
  // Leading zeros are decimal to both; '=' and newlines may sit in a value; the last of two records wins.
  const ok = '030 path=aaaaaaaaaaaaaaaaaaaa\n' + paxRecord('linkpath', 'a=b\nc') + paxRecord('uid', '5') + paxRecord('uid', '7');
  const { headers } = await read([tarOf([{ name: 'PaxHeader', type: 'x', data: ok }, { name: 'f', data: 'x' }, { name: 'GlobalHead', type: 'g', data: paxRecord('comment', 'x') }, { name: 'g', data: 'y' }])]);
  assert.deepEqual(headers.map((h) => [h.name, h.linkname, h.uid]), [['aaaaaaaaaaaaaaaaaaaa', 'a=b\nc', 7], ['g', '', 0]]);
});

test('a pax record with an empty value deletes its key, so the header\'s own field stands (POSIX pax; Go archive/tar reads it so)', async () => {
  // An empty path used to name the layer's root itself; GNU tar reads it as ".", Go keeps the header's name.
  const data = paxRecord('path', 'long/name') + paxRecord('path', '') + paxRecord('uid', '') + paxRecord('linkpath', '') + paxRecord('size', '');
  const { headers } = await read([tarOf([{ name: 'PaxHeader', type: 'x', data }, { name: 'own-name', uid: 42, data: 'xy' }, { name: 'after', data: 'z' }])]);
  assert.deepEqual(headers.map((h) => [h.name, h.uid, h.size]), [['own-name', 42, 2], ['after', 0, 1]]);
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
