/** @module Stream framing for StatsD over TCP: complete lines go to the parser, a partial line waits for the next chunk. Pure. */

/** Longest partial line kept between chunks; beyond it the line is dropped (reported once per line). */
export const MAX_PENDING = 65_536;

/** limits.max_tcp_connections when the config does not say: connections open at once, each holding up to MAX_PENDING. */
export const DEFAULT_MAX_TCP_CONNECTIONS = 1024;

export interface LineSink {
  packet(buf: Uint8Array, start: number, end: number): void;
  error(reason: 'line_too_long'): void;
}

/**
 * Splits a byte stream into runs of complete lines. A trailing partial line is kept as the pieces it came in and
 * joined once its newline arrives, so a line sent a byte at a time costs its length, not its length squared.
 */
export class LineSplitter {
  private pieces: Buffer[] = [];
  private pendingBytes = 0;
  private skipping = false;
  constructor(private readonly sink: LineSink) {}

  push(chunk: Buffer): void {
    const first = chunk.indexOf(10);
    if (first === -1) return this.keep(chunk);
    let start = 0;
    if (this.skipping) {
      // The rest of an over-long line: drop up to its newline.
      start = first + 1;
      this.skipping = false;
    } else if (this.pendingBytes > 0) {
      // The kept partial line ends here: it goes alone, then the chunk's own complete lines.
      const line = Buffer.concat([...this.pieces, chunk.subarray(0, first + 1)]);
      this.drop();
      this.sink.packet(line, 0, line.length);
      start = first + 1;
    }
    const last = chunk.lastIndexOf(10);
    if (start <= last) this.sink.packet(chunk, start, last + 1);
    if (last + 1 < chunk.length) this.keep(chunk.subarray(last + 1));
  }

  /** A partial line: kept (copied: the chunk's buffer may be reused) while it fits, else dropped and reported once. */
  private keep(part: Buffer): void {
    if (this.skipping) return;
    if (this.pendingBytes + part.length > MAX_PENDING) {
      this.drop();
      this.skipping = true;
      this.sink.error('line_too_long');
      return;
    }
    this.pieces.push(Buffer.from(part));
    this.pendingBytes += part.length;
  }

  private drop(): void {
    this.pieces = [];
    this.pendingBytes = 0;
  }

  /** End of stream: a last line without a newline still counts. */
  end(): void {
    if (this.pendingBytes > 0 && !this.skipping) {
      const line = Buffer.concat(this.pieces);
      this.sink.packet(line, 0, line.length);
    }
    this.drop();
    this.skipping = false;
  }
}
