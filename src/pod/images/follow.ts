/**
 * @module Reading a blob while the transport still writes it: the bytes of a growing file, up to its end once the
 * writer is done, so a layer unpacks as it downloads rather than after.
 */
import type { promises as fsp } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long a reader that caught up with the writer waits before looking again. */
const POLL_MS = 4;

/**
 * The bytes of the open file `fh` from its start: what is there, then what the writer adds, until `done()` says the
 * writer has finished and the file's end is reached. Safe to read behind a writer: a file's size grows only once the
 * bytes below it are written.
 */
export async function* followFile(fh: fsp.FileHandle, done: () => boolean, chunk = 1 << 20): AsyncGenerator<Buffer> {
  let pos = 0;
  let buf: Buffer | null = null;
  for (;;) {
    // Asked before reading: a writer done before this read has all its bytes below the end this read sees.
    const finished = done();
    // A buffer once given out belongs to the reader; one that read nothing is kept for the next try.
    buf ??= Buffer.allocUnsafe(chunk);
    const { bytesRead } = await fh.read(buf, 0, chunk, pos);
    if (bytesRead > 0) {
      pos += bytesRead;
      const got = buf.subarray(0, bytesRead);
      buf = null;
      yield got;
    } else if (finished) return;
    else await sleep(POLL_MS);
  }
}
