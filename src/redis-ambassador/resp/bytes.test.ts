import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InputBuffer, OutputBatch, copyBytes, type BatchSink } from './bytes.js';

function takeParts(o: OutputBatch): Buffer[] {
  const n = o.take();
  return Array.from({ length: n }, (_, i) => o.part(i));
}
const takeAll = (o: OutputBatch) => Buffer.concat(takeParts(o));

const chunk = fc.uint8Array({ minLength: 0, maxLength: 40_000 }).map((a) => Buffer.from(a));

/** One buffer read in pieces: `next(len, gap)` is its next range, `gap` bytes after the last (0: they continue). */
function cursor(): { next(len: number, gap: number): [Buffer, number, number] } {
  const src = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) & 255));
  let at = 0;
  return {
    next(len, gap) {
      const from = Math.min(at + gap, src.length);
      at = Math.min(from + len, src.length);
      return [src, from, at];
    },
  };
}

test('OutputBatch: what take() returns, in order, is exactly what was added (add, addRange, joined ranges, any sizes)', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom('add', 'range', 'shared', 'take'), chunk, fc.constantFrom(0, 0, 3)), { maxLength: 40 }), (ops) => {
      const o = new OutputBatch();
      const shared = cursor();
      const want: Buffer[] = [];
      const got: Buffer[] = [];
      for (const [op, b, gap] of ops) {
        if (op === 'take') got.push(takeAll(o));
        else if (op === 'add') {
          o.add(b);
          want.push(b);
        } else if (op === 'range') {
          const from = b.length >> 2;
          o.addRange(b, from, b.length);
          want.push(b.subarray(from));
        } else {
          // Ranges of one buffer, mostly continuing one another (joined before they are copied).
          const [src, from, to] = shared.next(b.length, gap);
          o.addRange(src, from, to);
          want.push(src.subarray(from, to));
        }
      }
      got.push(takeAll(o));
      assert.ok(o.empty);
      assert.deepEqual(Buffer.concat(got), Buffer.concat(want));
    }),
  );
});

test('OutputBatch: one small buffer is written as it is; small ones together are one part', () => {
  const o = new OutputBatch();
  const a = Buffer.from('+OK\r\n');
  o.add(a);
  const one = takeParts(o);
  assert.equal(one.length, 1);
  assert.equal(one[0], a, 'the same buffer, not a copy');
  for (let i = 0; i < 16; i++) o.add(Buffer.from(`:${i}\r\n`));
  const parts = takeParts(o);
  assert.equal(parts.length, 1);
  assert.equal(parts[0].toString(), Array.from({ length: 16 }, (_, i) => `:${i}\r\n`).join(''));
  // A part already taken stays valid while later batches are built.
  o.add(Buffer.from('x'));
  o.add(Buffer.from('y'));
  assert.equal(takeAll(o).toString(), 'xy');
  assert.equal(parts[0].toString().startsWith(':0'), true);
});

/** A sink that copies what it is given, as a client connection on the conn_io addon does. */
function copyingSink(): { sink: BatchSink; out: Buffer[]; ranges: Buffer[] } {
  const out: Buffer[] = [];
  const ranges: Buffer[] = [];
  const sink: BatchSink = {
    write: (b) => (out.push(Buffer.from(b)), true),
    writev: (parts) => (out.push(Buffer.concat(parts)), true),
    writeRange: (b, from, to) => (ranges.push(b), out.push(Buffer.from(b.subarray(from, to))), true),
  };
  return { sink, out, ranges };
}

test('OutputBatch to a copying sink: the same bytes in order, and the block is written in place and reused', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom('add', 'range', 'shared', 'write'), chunk, fc.constantFrom(0, 0, 3)), { maxLength: 40 }), (ops) => {
      const o = new OutputBatch();
      const { sink, out } = copyingSink();
      const shared = cursor();
      const want: Buffer[] = [];
      for (const [op, b, gap] of ops) {
        if (op === 'write') {
          if (!o.empty) o.writeTo(sink);
        } else if (op === 'add') {
          o.add(b);
          want.push(b);
        } else if (op === 'range') {
          o.addRange(b, b.length >> 1, b.length);
          want.push(b.subarray(b.length >> 1));
        } else {
          const [src, from, to] = shared.next(b.length, gap);
          o.addRange(src, from, to);
          want.push(src.subarray(from, to));
        }
      }
      if (!o.empty) o.writeTo(sink);
      assert.ok(o.empty);
      assert.deepEqual(Buffer.concat(out), Buffer.concat(want));
    }),
  );
  const o = new OutputBatch();
  const { sink, out, ranges } = copyingSink();
  for (let turn = 0; turn < 3; turn++) {
    o.addRange(Buffer.from(`xx:${turn}\r\n`), 2, 6);
    o.addRange(Buffer.from(`+OK\r\n`), 0, 5);
    o.writeTo(sink);
  }
  assert.deepEqual(out.map(String), [':0\r\n+OK\r\n', ':1\r\n+OK\r\n', ':2\r\n+OK\r\n']);
  assert.equal(ranges.length, 3, 'no slice made: each turn is one writeRange of the block');
  assert.ok(ranges[1] === ranges[0] && ranges[2] === ranges[0], 'one block for every turn');

  // Ranges that continue one another in one buffer (a pipeline's replies in an upstream's read) are one range, and
  // a batch that is only that goes out from the buffer itself.
  const read = Buffer.from('+OK\r\n:1\r\n:2\r\n$1\r\nx\r\n');
  const ends = [0, 5, 9, 13, 20];
  for (let i = 1; i < ends.length; i++) o.addRange(read, ends[i - 1], ends[i]);
  o.writeTo(sink);
  assert.equal(ranges.length, 4);
  assert.equal(ranges[3], read, 'written from the read buffer, no copy');
  assert.equal(out[3].toString(), read.toString());
});

test('InputBuffer: chunks pushed and consumed at random points read back as the same byte stream', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(chunk, fc.nat()), { maxLength: 30 }), (steps) => {
      const inb = new InputBuffer();
      const all = Buffer.concat(steps.map(([c]) => c));
      let read = 0;
      for (const [c, k] of steps) {
        inb.push(c);
        const take = inb.length === 0 ? 0 : k % (inb.length + 1);
        assert.deepEqual(inb.buf.subarray(inb.start, inb.start + take), all.subarray(read, read + take));
        read += take;
        inb.consume(inb.start + take);
      }
      assert.deepEqual(inb.buf.subarray(inb.start, inb.end), all.subarray(read));
    }),
  );
});

test('InputBuffer never overwrites a slice it handed out', () => {
  const inb = new InputBuffer();
  inb.push(Buffer.from('+OK\r\n+PA'));
  const first = inb.buf.subarray(0, 5);
  inb.consume(5);
  inb.push(Buffer.from('RTIAL\r\n'));
  assert.equal(first.toString(), '+OK\r\n');
  assert.equal(inb.buf.toString('latin1', inb.start, inb.end), '+PARTIAL\r\n');
});

test('OutputBatch keeps order across copied and referenced parts', () => {
  const ob = new OutputBatch();
  ob.add(Buffer.from('a'));
  ob.add(Buffer.alloc(20_000, 0x62));
  ob.addRange(Buffer.from('xcdx'), 1, 3);
  assert.equal(takeAll(ob).toString(), 'a' + 'b'.repeat(20_000) + 'cd');
  assert.ok(ob.empty);
});

test('copyBytes: copies exactly src[from, to) to dst at `at`, below and above the 48-byte loop limit', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.nat(200), fc.nat(200), fc.nat(50), (bytes, a, b, at) => {
      const src = Buffer.from(bytes);
      const from = Math.min(a, b, src.length);
      const to = Math.min(Math.max(a, b), src.length);
      const dst = Buffer.alloc(at + (to - from) + 8, 0xee);
      const want = Buffer.from(dst);
      src.copy(want, at, from, to);
      copyBytes(src, from, to, dst, at);
      assert.ok(dst.equals(want));
    }),
  );
});
