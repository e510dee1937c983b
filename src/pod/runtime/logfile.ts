/**
 * @module A container's log file rotated as the kubelet rotates it (containerLogMaxSize 10 MiB, containerLogMaxFiles
 * 5): past the size the file becomes `<name>.1` (older ones shift up, the oldest goes) and a new one starts, so a
 * container writing without pause costs at most size × files of disk.
 */
import { createWriteStream, existsSync, openSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';

export interface LogLimits {
  /** Bytes before the file rotates. Default 10 MiB. */
  maxBytes?: number;
  /** Files kept, the current one included. Default 5. */
  maxFiles?: number;
}

export const DEFAULT_LOG_LIMITS = { maxBytes: 10 * 1024 * 1024, maxFiles: 5 };

export class RotatingLog {
  private stream: WriteStream;
  private size: number;
  private readonly maxBytes: number;
  private readonly maxFiles: number;
  /** Rotated-out streams still writing their last lines; each leaves the set when it has finished. */
  private readonly finishing = new Set<Promise<void>>();

  constructor(
    private readonly path: string,
    limits: LogLimits = {},
  ) {
    this.maxBytes = limits.maxBytes ?? DEFAULT_LOG_LIMITS.maxBytes;
    this.maxFiles = Math.max(1, limits.maxFiles ?? DEFAULT_LOG_LIMITS.maxFiles);
    this.size = existsSync(path) ? statSync(path).size : 0;
    this.stream = this.open();
  }

  private open(): WriteStream {
    // Opened now, not when the stream gets round to it: a rotation soon after must find the file to rename, or the
    // late open would recreate it and two streams would append to one file.
    let fd: number;
    try {
      fd = openSync(this.path, 'a');
    } catch {
      return createWriteStream('/dev/null');
    }
    const s = createWriteStream(this.path, { fd });
    // Errors after teardown removed the folder are ignored.
    s.on('error', () => undefined);
    return s;
  }

  write(line: string): void {
    const bytes = Buffer.byteLength(line) + 1;
    if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
    this.size += bytes;
    this.stream.write(line + '\n');
  }

  private rotate(): void {
    const old = this.stream;
    // The renames happen now; the old stream keeps its open file and finishes writing into what became `.1`.
    const finished: Promise<void> = new Promise<void>((r) => old.end(() => r())).then(() => void this.finishing.delete(finished));
    this.finishing.add(finished);
    try {
      rmSync(`${this.path}.${this.maxFiles - 1}`, { force: true });
      for (let i = this.maxFiles - 2; i >= 1; i--) if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      if (this.maxFiles > 1) renameSync(this.path, `${this.path}.1`);
      else rmSync(this.path, { force: true });
    } catch {
      // folder removed at teardown
    }
    this.size = 0;
    this.stream = this.open();
  }

  /** Rotated-out files whose last writes are still under way. */
  get pendingRotations(): number {
    return this.finishing.size;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.stream.end(() => r()));
    await Promise.all([...this.finishing]);
  }
}
