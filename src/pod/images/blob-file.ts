/**
 * @module A blob written to its temp file as it arrives: sized and hashed on the way, written in batches (writev) off
 * the event loop, the source paused only while WRITE_AHEAD bytes wait for the disk. `done` settles once every byte is
 * on its way to the disk and the size and sha256 are the descriptor's, or at the first failure.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, writev } from 'node:fs';
import { ProtocolError } from '../../core/errors.js';

/** Bytes queued for the disk before the source pauses: a blob streams at the network's pace, not the disk's. */
const WRITE_AHEAD = 8 << 20;
/** Chunks the caller lends (a reused read buffer) are copied into staging buffers this large: few writes, few allocations. */
const STAGE = 1 << 20;

/** How the file slows its source down. */
export interface Flow {
  pause(): void;
  resume(): void;
}

export class BlobFile {
  readonly done: Promise<void>;
  private readonly fd: number;
  private readonly hash = createHash('sha256');
  private received = 0;
  private queued: Buffer[] = [];
  private waiting = 0;
  private stage: Buffer | null = null;
  private staged = 0;
  private writing = false;
  private ended = false;
  private failed = false;
  private paused = false;
  private flow: Flow | null = null;
  private settle!: { resolve: () => void; reject: (e: unknown) => void };

  /** Creates `tmp` (it must not exist). */
  constructor(
    tmp: string,
    readonly digest: string,
    readonly size: number,
  ) {
    this.fd = openSync(tmp, 'wx', 0o644);
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => undefined);
  }

  /** Bytes taken so far: where a resumed download (Range) starts. */
  get have(): number {
    return this.received;
  }

  /** Whether the file still takes bytes (no failure, no end). */
  get open(): boolean {
    return !this.failed && !this.ended;
  }

  /** The source the bytes come from now, paused while the disk is behind. */
  flowTo(f: Flow): void {
    this.flow = f;
    if (this.paused) f.pause();
  }

  /**
   * Refuses an answer whose declared length (Content-Length) is not what is left of the descriptor's size, before
   * any byte is taken (all of it, unless a download is being resumed).
   */
  checkLength(declared: string | number): void {
    if (Number(declared) !== this.size - this.received) throw new ProtocolError(`blob ${this.digest}: size mismatch: the registry sends ${declared} bytes, the manifest says ${this.size}`);
  }

  /** Appends `chunk`: kept as it is when `owned`, else copied (the caller reuses it once this returns). */
  push(chunk: Buffer, owned: boolean): void {
    if (this.failed) return;
    this.received += chunk.length;
    if (this.received > this.size) return this.fail(new ProtocolError(`blob ${this.digest}: size mismatch: more than the manifest's ${this.size} bytes`));
    this.hash.update(chunk);
    if (owned) {
      this.flushStage();
      this.queued.push(chunk);
    } else this.copyIn(chunk);
    this.waiting += chunk.length;
    if (this.waiting >= WRITE_AHEAD && !this.paused) {
      this.paused = true;
      this.flow?.pause();
    }
    this.pump();
  }

  /** The source has sent everything. */
  end(): void {
    if (this.failed || this.ended) return;
    this.ended = true;
    this.flushStage();
    this.pump();
  }

  /** Stops at the first failure (the source's, the disk's or a mismatch); the caller removes the file. */
  fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    // A write under way still holds the descriptor: it is closed when that write returns.
    if (!this.writing) closeSync(this.fd);
    this.settle.reject(e);
  }

  private copyIn(chunk: Buffer): void {
    for (let off = 0; off < chunk.length; ) {
      this.stage ??= Buffer.allocUnsafe(STAGE);
      const n = chunk.copy(this.stage, this.staged, off);
      this.staged += n;
      off += n;
      if (this.staged === this.stage.length) this.flushStage();
    }
    // A part-filled stage goes out when no write is under way: the disk is never left idle waiting for it to fill.
    if (!this.writing) this.flushStage();
  }

  private flushStage(): void {
    if (!this.stage || this.staged === 0) return;
    this.queued.push(this.stage.subarray(0, this.staged));
    this.stage = this.stage.length - this.staged >= 64 << 10 ? this.stage.subarray(this.staged) : null;
    this.staged = 0;
  }

  private pump(): void {
    if (this.writing || this.failed) return;
    if (!this.queued.length) {
      if (this.ended) this.finish();
      return;
    }
    const batch = this.queued;
    this.queued = [];
    this.writing = true;
    writev(this.fd, batch, (e) => {
      this.writing = false;
      if (this.failed) return closeSync(this.fd);
      if (e) return this.fail(e);
      this.waiting -= batch.reduce((a, b) => a + b.length, 0);
      if (this.paused && this.waiting < WRITE_AHEAD) {
        this.paused = false;
        this.flow?.resume();
      }
      if (!this.queued.length) this.flushStage();
      this.pump();
    });
  }

  private finish(): void {
    this.failed = true; // nothing more is taken
    closeSync(this.fd);
    if (this.received !== this.size) return this.settle.reject(new ProtocolError(`blob ${this.digest}: size mismatch: ${this.received} bytes for the manifest's ${this.size}`));
    const got = `sha256:${this.hash.digest('hex')}`;
    if (got !== this.digest) return this.settle.reject(new ProtocolError(`blob ${this.digest}: digest mismatch: its bytes hash to ${got}`));
    this.settle.resolve();
  }
}
