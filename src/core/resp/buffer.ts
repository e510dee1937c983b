/** @module RESP input bytes: one buffer and an offset in (what the scanner reads), and the copies out of it. */

const EMPTY = Buffer.alloc(0);

/**
 * Copy src[from, to) to dst at `at`. Commands and replies are mostly a few dozen bytes, for which a JS loop beats
 * `Buffer.copy` (a fixed ~60 ns: it makes a Uint8Array view per call); from ~48 bytes on the native copy wins.
 */
export function copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): void {
  if (to - from <= 48) {
    let i = from;
    for (; i + 4 <= to; i += 4, at += 4) {
      dst[at] = src[i];
      dst[at + 1] = src[i + 1];
      dst[at + 2] = src[i + 2];
      dst[at + 3] = src[i + 3];
    }
    for (; i < to; i++) dst[at++] = src[i];
    return;
  }
  dst.set(src.subarray(from, to), at);
}

/**
 * Bytes received but not yet consumed. A chunk that arrives while nothing is pending is used as is (no copy);
 * a partial frame is merged with the next chunk by appending into free tail space or, when there is none,
 * into a new buffer sized for what the scanner said it needs. Regions already handed out as slices are never
 * overwritten, so forwarded slices stay valid until they are written.
 */
export class InputBuffer {
  buf: Buffer = EMPTY;
  start = 0;
  end = 0;
  /** The buffer is ours (allocated here), so its tail past `end` may be written. */
  private owned = false;

  get length(): number {
    return this.end - this.start;
  }

  /** Append a received chunk. `need`: how many bytes the partial frame at `start` needs in all (0 = unknown), to size a merge buffer once. */
  push(chunk: Buffer, need = 0): void {
    if (this.start === this.end) {
      this.buf = chunk;
      this.start = 0;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    if (this.owned && this.buf.length - this.end >= chunk.length) {
      chunk.copy(this.buf, this.end);
      this.end += chunk.length;
      return;
    }
    const pending = this.end - this.start;
    const want = Math.max(pending + chunk.length, need, pending * 2, 16 * 1024);
    const nb = Buffer.allocUnsafe(want);
    this.buf.copy(nb, 0, this.start, this.end);
    chunk.copy(nb, pending);
    this.buf = nb;
    this.start = 0;
    this.end = pending + chunk.length;
    this.owned = true;
  }

  /** Everything before `to` has been consumed. */
  consume(to: number): void {
    this.start = to;
    if (to >= this.end) this.clear();
  }

  clear(): void {
    this.buf = EMPTY;
    this.start = 0;
    this.end = 0;
    this.owned = false;
  }
}

/** src[from, from + len) in a buffer of its own (from Node's pool when small): what a reused read buffer hands on. */
export function copyOut(src: Uint8Array, from: number, len: number): Buffer {
  const c = Buffer.allocUnsafe(len);
  copyBytes(src, from, from + len, c, 0);
  return c;
}
