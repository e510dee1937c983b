/**
 * @module Socket writes that skip `net.Socket`'s Writable path.
 *
 * A proxy writes once per client per turn and once per upstream per turn, so the Writable bookkeeping around each
 * write (a request object, a completion callback, a nextTick) costs more than the system call it wraps. Here a
 * write goes straight to the libuv handle: when the kernel takes all of it at once (nearly always on loopback) it is
 * one native call and nothing else; only a write that has to wait gets a completion callback.
 *
 * The direct path needs the runtime's stream binding; without it (another runtime) every write is `socket.write`.
 */
import { SystemError } from '../../core/errors.js';
import { getSystemErrorName } from 'node:util';
import type { Socket } from 'node:net';

/** The libuv stream handle methods used here (Node's LibuvStreamWrap). */
interface StreamHandle {
  writeBuffer(req: WriteReq, b: Buffer): number;
  writev(req: WriteReq, chunks: Buffer[], allBuffers: boolean): number;
  readonly writeQueueSize: number;
}

/** A WriteWrap: handed to every write; kept by the native side only when the write had to wait. */
interface WriteReq {
  handle: StreamHandle;
  oncomplete: ((status: number) => void) | null;
  /** What the waiting write reads from: held here so it is not collected before the write ends. */
  buffer: Buffer | Buffer[] | null;
}

interface StreamBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

function loadBinding(): StreamBinding | null {
  try {
    // process.binding is deprecated but kept for this module; there is no public way to write to a handle.
    const b = (process as unknown as { binding(name: string): Partial<StreamBinding> }).binding('stream_wrap');
    if (typeof b.WriteWrap !== 'function' || !b.streamBaseState || typeof b.kLastWriteWasAsync !== 'number') return null;
    return b as StreamBinding;
  } catch {
    return null;
  }
}

const binding = process.env.PODKIT_AMBASSADOR_DIRECT_WRITES === '0' ? null : loadBinding();

/** Whether writes go to the handle directly (false: every write is `socket.write`). */
export const directWrites = binding !== null;

/**
 * Queued bytes above which `write` reports backpressure, as `socket.write` does past its high-water mark (the
 * conn_io connections use the same bound).
 */
export const HIGH_WATER = 64 * 1024;

/** Socket fields read here. */
interface SocketInternals {
  _handle: StreamHandle | null;
}

/**
 * Writes to one socket. `write`/`writev` return false when the caller should stop producing; `onDrain` is called
 * once the queue has emptied again (for direct writes and for the `socket.write` fallback alike).
 */
export class Sink {
  /** A request no native write holds: reused for every write that completes at once. */
  private req: WriteReq | null = null;
  private waiting = false;

  private readonly direct: boolean;

  /** `direct: false` makes every write a `socket.write` (the fallback; tests run both). */
  constructor(
    private readonly socket: Socket,
    private readonly onDrain: () => void,
    direct = directWrites,
  ) {
    this.direct = direct && binding !== null;
    socket.on('drain', onDrain);
  }

  /** The handle when a direct write keeps order: connected, and nothing is queued in the Writable ahead of it. */
  private handle(): StreamHandle | null {
    const s = this.socket;
    if (!this.direct || s.connecting || s.writableLength !== 0 || s.destroyed) return null;
    return (s as unknown as SocketInternals)._handle;
  }

  write(b: Buffer): boolean {
    const h = this.handle();
    if (h === null) return this.socket.write(b);
    const req = this.request(h);
    return this.after(req, h.writeBuffer(req, b), b);
  }

  /** Write `parts` in order (the array is handed over: the caller must not change it afterwards). */
  writev(parts: Buffer[]): boolean {
    const h = this.handle();
    if (h === null) {
      const s = this.socket;
      s.cork();
      let ok = true;
      for (const p of parts) ok = s.write(p);
      s.uncork();
      return ok;
    }
    const req = this.request(h);
    return this.after(req, h.writev(req, parts, true), parts);
  }

  /** Bytes not yet taken by the kernel: those a direct write left with the handle, and those in the Writable. */
  queued(): number {
    const h = (this.socket as unknown as SocketInternals)._handle;
    return this.socket.writableLength + (h?.writeQueueSize ?? 0);
  }

  private request(h: StreamHandle): WriteReq {
    let req = this.req;
    if (req === null) {
      req = new binding!.WriteWrap();
      req.buffer = null;
      req.oncomplete = null;
      this.req = req;
    }
    req.handle = h;
    return req;
  }

  private after(req: WriteReq, err: number, data: Buffer | Buffer[]): boolean {
    if (err !== 0) {
      this.fail(err);
      return true;
    }
    if (binding!.streamBaseState[binding!.kLastWriteWasAsync] === 0) return true;
    // The native side now holds `req` until the write ends: keep the bytes alive, and use a new request next time.
    this.req = null;
    req.buffer = data;
    req.oncomplete = (status) => this.completed(req, status);
    if (req.handle.writeQueueSize < HIGH_WATER) return true;
    this.waiting = true;
    return false;
  }

  private completed(req: WriteReq, status: number): void {
    req.buffer = null;
    req.oncomplete = null;
    if (status < 0) {
      this.fail(status);
      return;
    }
    if (this.waiting && req.handle.writeQueueSize === 0) {
      this.waiting = false;
      this.onDrain();
    }
  }

  private fail(err: number): void {
    const code = getSystemErrorName(err);
    const e = new SystemError('write', code);
    this.socket.destroy(e);
  }
}
