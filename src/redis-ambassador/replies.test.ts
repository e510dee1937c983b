import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReplyQueue } from './replies.js';
import { OutputBatch } from './resp/bytes.js';
import { UNKNOWN } from './resp/commands.js';
import type { Pending, ReplySink } from './pending.js';

const sink = {} as ReplySink;

function written(out: OutputBatch): string {
  const n = out.take();
  return Array.from({ length: n }, (_, i) => out.part(i).toString()).join('');
}

test('ReplyQueue: replies arriving in any order (whole or as ranges) are written in command order, each once', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 30 }).chain((n) => fc.tuple(fc.constant(n), fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }))), ([n, order]) => {
      const q = new ReplyQueue();
      const out = new OutputBatch();
      const ps: Pending[] = [];
      for (let i = 0; i < n; i++) ps.push(q.push(sink, UNKNOWN, 0, 0));
      assert.equal(q.length, n);
      let text = '';
      for (const i of order) {
        const r = `:${i}\r\n`;
        let delivered: boolean;
        // Half arrive as a range of a larger buffer (as from an upstream's read), half as a Buffer of their own.
        if (i % 2 === 0) delivered = q.deliverRange(ps[i], Buffer.from(`##${r}##`), 2, 2 + r.length, out);
        else {
          ps[i].reply = Buffer.from(r);
          delivered = q.deliver(ps[i], out);
        }
        if (delivered) text += written(out);
      }
      assert.equal(text, [...Array(n).keys()].map((i) => `:${i}\r\n`).join(''));
      assert.equal(q.length, 0);
      assert.equal(q.tail, null);
    }),
  );
});

test('ReplyQueue: abandon detaches entries still waiting for a reply', () => {
  const q = new ReplyQueue();
  const a = q.push(sink, UNKNOWN, 0, 0);
  const b = q.push(sink, UNKNOWN, 0, 0);
  b.reply = Buffer.from('+OK\r\n');
  assert.equal(q.deliver(b, new OutputBatch()), false, 'b waits behind a');
  q.abandon();
  assert.equal(a.client, null, 'a, still in an upstream FIFO, is detached for that upstream to free');
  assert.equal(q.tail, null);
});
