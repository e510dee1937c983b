/** @module Byte-level helpers for the socket write paths' contract tests (Sink, client connections). */
import assert from 'node:assert/strict';
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
