/** @module Byte-level helpers for the socket write paths' contract tests (Sink, client connections). */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';

/** Everything `s` receives from now on; `ended` resolves at its 'end'. */
export function collect(s: Socket): { bytes: () => Buffer; ended: Promise<void> } {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return { bytes: () => Buffer.concat(chunks), ended: new Promise((r) => s.once('end', () => r())) };
}

/** Write `chunk` until `write` reports backpressure; returns how many writes were made, the refused-to-continue one included. */
export function writeUntilFull(write: (b: Buffer) => boolean, chunk: Buffer): number {
  let n = 0;
  while (write(chunk)) {
    n++;
    assert.ok(n < 10_000, 'write never reported backpressure');
  }
  return n + 1;
}

/** What `mixedWrite` writes to: a Sink or a client connection (`writeRange` where the connection copies). */
interface Writer {
  write(b: Buffer): unknown;
  writev(parts: Buffer[]): unknown;
  writeRange?(b: Buffer, from: number, to: number): unknown;
}

/**
 * Step `i` of the write paths' order test: every third step a writev of 1..`maxParts` parts, the others one write;
 * with `big`, now and then a write far larger than a socket buffer. Where the writer has `writeRange`, every third
 * step writes a range of a buffer that is overwritten right after the call (what was queued must be a copy).
 * Returns the bytes the step sent.
 */
export function mixedWrite(w: Writer, i: number, maxParts: number, big = false): Buffer[] {
  if (i % 3 === 0) {
    const parts = Array.from({ length: 1 + (i % maxParts) }, (_, k) => randomBytes(1 + ((i * 7 + k) % 300)));
    w.writev(parts);
    return parts;
  }
  const c = randomBytes(big && i % 400 === 1 ? 3_000_000 : 1 + (i % 1000));
  if (i % 3 === 2 && w.writeRange !== undefined) {
    const scratch = Buffer.concat([randomBytes(7), c, randomBytes(7)]);
    w.writeRange(scratch, 7, 7 + c.length);
    scratch.fill(0);
    return [c];
  }
  w.write(c);
  return [c];
}
