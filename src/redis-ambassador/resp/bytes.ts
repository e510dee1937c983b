/** @module Output byte batches for the hot path: batched copies out (the input side is core/resp/buffer.ts). */
import { copyBytes } from '../../core/resp/buffer.js';

export { copyBytes, copyOut, InputBuffer } from '../../core/resp/buffer.js';

const EMPTY = Buffer.alloc(0);

/** Where a batch is written (`Sink` in sink.ts, a client connection in conn.ts). */
export interface BatchSink {
  write(b: Buffer): boolean;
  /** `parts` is handed over. */
  writev(parts: Buffer[]): boolean;
  /**
   * Write b[from, to). Present only on a sink that keeps no reference to what it is given once the call returns
   * (it copies what the kernel does not take at once), so the batch may reuse its block right away.
   */
  writeRange?(b: Buffer, from: number, to: number): boolean;
}

/** Slices shorter than this are copied into the batch; longer ones are written as they are. */
const COPY_LIMIT = 16 * 1024;
const BLOCK = 64 * 1024;

/**
 * Bytes to write on one socket this event-loop turn. Small slices are copied into a block, large ones are kept by
 * reference; `take()` returns what to hand to one write (or to cork/uncork when there are several parts). For a
 * sink that may keep what it is given, the block only moves forward (a region is handed out once, then never
 * reused); for one that copies (`writeRange`), the block is written in place and reused from its start, so a busy
 * connection allocates nothing per turn.
 *
 * A range is copied only when something else follows it, and ranges that continue one another in the same buffer
 * are joined first: a client's pipeline of commands to one node, or one node's replies to one client, is one copy,
 * and a batch that is a single range goes to a copying sink straight from where it lies.
 */
export class OutputBatch {
  /** parts[0, n): the array never shrinks (emptying a JS array frees its storage, and the next push allocates). */
  private readonly parts: Buffer[] = [];
  private n = 0;
  private block: Buffer = EMPTY;
  private blockStart = 0;
  private blockPos = 0;
  /** parts[0] is a small buffer kept by reference: the batch's only content so far (the common one-reply turn). */
  private borrowed = false;
  /** The newest range, not copied yet (it comes after everything else): pendSrc[pendFrom, pendTo). */
  private pendSrc: Buffer | null = null;
  private pendFrom = 0;
  private pendTo = 0;
  bytes = 0;

  /** Add `b`; it must not change until written (replies and chunks are never reused, so they qualify). */
  add(b: Buffer): void {
    const n = b.length;
    if (n === 0) return;
    if (this.bytes === 0 && n <= COPY_LIMIT) {
      // Alone in the batch it is written as it is: no copy, no slice.
      this.push(b);
      this.borrowed = true;
      this.bytes = n;
      return;
    }
    if (this.borrowed) this.unborrow();
    this.settle();
    this.bytes += n;
    this.copyIn(b, 0, n);
  }

  /** Copy src[from, to) into the block, or keep it by reference when large (`bytes` is the caller's to count). */
  private copyIn(src: Buffer, from: number, to: number): void {
    const n = to - from;
    if (n > COPY_LIMIT) {
      this.seal();
      this.push(from === 0 && to === src.length ? src : src.subarray(from, to));
      return;
    }
    this.room(n);
    copyBytes(src, from, to, this.block, this.blockPos);
    this.blockPos += n;
  }

  /** A fresh block when this one has less than `n` bytes free. */
  private room(n: number): void {
    if (this.block.length - this.blockPos >= n) return;
    this.seal();
    this.block = Buffer.allocUnsafe(BLOCK);
    this.blockStart = 0;
    this.blockPos = 0;
  }

  /** A second buffer joins the borrowed one: copy that into the block so the batch stays one write. */
  private unborrow(): void {
    this.borrowed = false;
    const b = this.parts[--this.n];
    this.copyIn(b, 0, b.length);
  }

  /** Add src[from, to); like `add`, those bytes must not change until the batch is written. */
  addRange(src: Buffer, from: number, to: number): void {
    if (from === to) return;
    if (this.borrowed) this.unborrow();
    this.bytes += to - from;
    if (src === this.pendSrc && from === this.pendTo) {
      this.pendTo = to;
      return;
    }
    this.settle();
    this.pendSrc = src;
    this.pendFrom = from;
    this.pendTo = to;
  }

  /** Copy the pending range into the block (a large one is kept as a slice). */
  private settle(): void {
    const src = this.pendSrc;
    if (src === null) return;
    this.pendSrc = null;
    this.copyIn(src, this.pendFrom, this.pendTo);
  }

  private seal(): void {
    if (this.blockPos > this.blockStart) {
      this.push(this.block.subarray(this.blockStart, this.blockPos));
      this.blockStart = this.blockPos;
    }
  }

  get empty(): boolean {
    return this.bytes === 0;
  }

  private push(b: Buffer): void {
    if (this.n < this.parts.length) this.parts[this.n] = b;
    else this.parts.push(b);
    this.n++;
  }

  /** End the batch and write it as one write; the batch is empty afterwards. False: the sink asks to stop producing. */
  writeTo(sink: BatchSink): boolean {
    if (sink.writeRange === undefined) return this.writeParts(sink);
    // The sink copies what it keeps: write from where the bytes lie, and reuse the block from its start afterwards.
    let ok: boolean;
    const src = this.pendSrc;
    if (src !== null && this.n === 0 && this.blockPos === this.blockStart) {
      // One range and nothing else: never copied here.
      this.pendSrc = null;
      this.bytes = 0;
      ok = sink.writeRange(src, this.pendFrom, this.pendTo);
    } else {
      this.settle();
      if (this.n === 0) {
        // Everything is in the block: no slice of it is made.
        this.bytes = 0;
        ok = sink.writeRange(this.block, this.blockStart, this.blockPos);
      } else ok = this.writeParts(sink);
    }
    this.blockStart = this.blockPos = 0;
    return ok;
  }

  private writeParts(sink: BatchSink): boolean {
    const n = this.take();
    if (n === 1) return sink.write(this.part(0));
    const parts = new Array<Buffer>(n);
    for (let i = 0; i < n; i++) parts[i] = this.part(i);
    return sink.writev(parts);
  }

  /**
   * End the batch: the number of parts to write, read with `part(i)` before anything is added again. The batch is
   * empty afterwards.
   */
  take(): number {
    this.settle();
    this.seal();
    const n = this.n;
    this.n = 0;
    this.bytes = 0;
    this.borrowed = false;
    return n;
  }

  /** Part `i` of what the last `take()` ended; the reference is dropped here, so a written buffer is not kept. */
  part(i: number): Buffer {
    const b = this.parts[i];
    this.parts[i] = EMPTY;
    return b;
  }
}
