/** @module Input and output byte buffers for the hot path: one buffer and an offset in, batched copies out. */

const EMPTY = Buffer.alloc(0);

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

/** Every socket of the process reads into this one buffer (reads are handled synchronously, one at a time). */
const SHARED_READ = Buffer.allocUnsafe(64 * 1024);

/**
 * A socket `onread` option: libuv reads into SHARED_READ, and `onChunk` gets its own copy (from Node's pool for
 * small reads), so a read costs neither a fresh 64 KiB allocation shrunk to size nor the Readable push/emit path.
 */
export function readInto(onChunk: (chunk: Buffer) => void): { buffer: Buffer; callback: (n: number, buf: Uint8Array) => boolean } {
  return {
    buffer: SHARED_READ,
    callback(n, buf) {
      const c = Buffer.allocUnsafe(n);
      c.set(buf.subarray(0, n));
      onChunk(c);
      return true;
    },
  };
}

/** Slices shorter than this are copied into the batch; longer ones are written as they are. */
const COPY_LIMIT = 16 * 1024;
const BLOCK = 64 * 1024;

/**
 * Bytes to write on one socket this event-loop turn. Small slices are copied into a block that only ever moves
 * forward (a region is handed out once, then never reused), large ones are kept by reference; `take()` returns
 * what to hand to one write (or to cork/uncork when there are several parts).
 */
export class OutputBatch {
  private parts: Buffer[] = [];
  private block: Buffer = EMPTY;
  private blockStart = 0;
  private blockPos = 0;
  bytes = 0;

  add(b: Buffer): void {
    const n = b.length;
    this.bytes += n;
    if (n > COPY_LIMIT) {
      this.seal();
      this.parts.push(b);
      return;
    }
    if (this.block.length - this.blockPos < n) {
      this.seal();
      this.block = Buffer.allocUnsafe(BLOCK);
      this.blockStart = 0;
      this.blockPos = 0;
    }
    b.copy(this.block, this.blockPos);
    this.blockPos += n;
  }

  /** Add a slice of a buffer without creating a subarray for the copy case. */
  addRange(src: Buffer, from: number, to: number): void {
    const n = to - from;
    if (n > COPY_LIMIT || this.block.length - this.blockPos < n) {
      this.add(src.subarray(from, to));
      return;
    }
    this.bytes += n;
    src.copy(this.block, this.blockPos, from, to);
    this.blockPos += n;
  }

  private seal(): void {
    if (this.blockPos > this.blockStart) {
      this.parts.push(this.block.subarray(this.blockStart, this.blockPos));
      this.blockStart = this.blockPos;
    }
  }

  get empty(): boolean {
    return this.bytes === 0;
  }

  /** The parts to write, in order; the batch is empty afterwards. */
  take(): Buffer[] {
    this.seal();
    const p = this.parts;
    this.parts = [];
    this.bytes = 0;
    return p;
  }
}
