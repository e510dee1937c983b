/** @module A raw RESP test client: send exact bytes, get each reply back as its exact bytes (for byte-for-byte checks). */
import { connect, type Socket } from 'node:net';
import { BAD, NEED, scanState, scanValue } from '../../src/core/resp/scanner.js';

export interface RawClient {
  readonly socket: Socket;
  /** Write bytes (optionally in pieces of `chunk` bytes, one write per piece) and resolve with the next `n` replies. */
  send(bytes: Buffer | string, n: number, chunk?: number): Promise<Buffer[]>;
  /** Resolve with the next `n` replies (to bytes already written, e.g. through `socket`). */
  read(n: number): Promise<Buffer[]>;
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>;
  close(): void;
}

export async function rawClient(port: number, host = '127.0.0.1'): Promise<RawClient> {
  const socket = connect({ port, host, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  const st = scanState();
  let buf: Buffer = Buffer.alloc(0);
  const replies: Buffer[] = [];
  let waiter: { n: number; resolve: (r: Buffer[]) => void; reject: (e: Error) => void } | null = null;
  const check = () => {
    if (waiter && replies.length >= waiter.n) {
      const w = waiter;
      waiter = null;
      w.resolve(replies.splice(0, w.n));
    }
  };
  socket.on('data', (c: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, c]) : c;
    let p = 0;
    for (;;) {
      const e = scanValue(buf, p, buf.length, st);
      if (e === NEED) break;
      if (e === BAD) throw new Error(`bad reply: ${st.error}`);
      replies.push(Buffer.from(buf.subarray(p, e)));
      p = e;
    }
    buf = buf.subarray(p);
    check();
  });
  const read = (n: number) => {
    const p = new Promise<Buffer[]>((resolve, reject) => {
      waiter = { n, resolve, reject };
    });
    check();
    return p;
  };
  const closed = new Promise<void>((resolve) => socket.once('close', () => {
    if (waiter) waiter.reject(new Error(`connection closed with ${replies.length} of ${waiter.n} replies`));
    resolve();
  }));
  return {
    socket,
    closed,
    send(bytes, n, chunk) {
      const b = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
      const p = read(n);
      if (!chunk) socket.write(b);
      else for (let i = 0; i < b.length; i += chunk) socket.write(b.subarray(i, i + chunk));
      return p;
    },
    read,
    close: () => socket.destroy(),
  };
}

/** Encode a command as RESP. */
export function resp(...args: (string | Buffer | number)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}
