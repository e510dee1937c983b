/** @module Stream framing for StatsD over TCP: complete lines go to the parser, a partial line waits for the next chunk. Pure. */

/** Longest partial line kept between chunks; beyond it the line is dropped (reported once per line). */
export const MAX_PENDING = 65_536;

export interface LineSink {
  packet(buf: Uint8Array, start: number, end: number): void;
  error(reason: 'line_too_long'): void;
}

/** Splits a byte stream into runs of complete lines. Only a trailing partial line is ever copied. */
export class LineSplitter {
  private pending: Buffer | null = null;
  private skipping = false;
  constructor(private readonly sink: LineSink) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    const last = buf.lastIndexOf(10);
    if (last === -1) {
      if (this.skipping) return;
      if (buf.length <= MAX_PENDING) this.pending = Buffer.from(buf);
      else {
        this.skipping = true;
        this.sink.error('line_too_long');
      }
      return;
    }
    let start = 0;
    if (this.skipping) {
      // The rest of an over-long line: drop up to its newline.
      start = buf.indexOf(10) + 1;
      this.skipping = false;
    }
    if (start <= last) this.sink.packet(buf, start, last + 1);
    if (last + 1 < buf.length) {
      const rest = buf.subarray(last + 1);
      if (rest.length <= MAX_PENDING) this.pending = Buffer.from(rest);
      else {
        this.skipping = true;
        this.sink.error('line_too_long');
      }
    }
  }

  /** End of stream: a last line without a newline still counts. */
  end(): void {
    if (this.pending && !this.skipping) this.sink.packet(this.pending, 0, this.pending.length);
    this.pending = null;
    this.skipping = false;
  }
}
