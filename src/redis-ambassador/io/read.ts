/** @module The socket read hook: every net.Socket of the process reads into one shared buffer (libuv `onread`). */
import { copyOut } from '../resp/bytes.js';

/** Every socket of the process reads into this one buffer (reads are handled synchronously, one at a time). */
const SHARED_READ = Buffer.allocUnsafe(64 * 1024);

/**
 * A socket `onread` option: libuv reads into SHARED_READ, and `onChunk` gets its own copy (from Node's pool for
 * small reads), so a read costs neither a fresh 64 KiB allocation shrunk to size nor the Readable push/emit path.
 */
export function readInto(onChunk: (chunk: Buffer) => void): { buffer: Buffer; callback: (n: number) => boolean } {
  return {
    buffer: SHARED_READ,
    callback(n) {
      onChunk(copyOut(SHARED_READ, 0, n));
      return true;
    },
  };
}
