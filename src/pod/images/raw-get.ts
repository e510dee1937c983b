/**
 * @module A blob's GET read straight off its socket: one reused read buffer (no allocation per read) and no HTTP
 * parser per chunk — on a pull the event loop's time is the blob bytes, and Node's http client spends about a fifth
 * of it on those. Only the plain case is taken here: a 200 with a Content-Length and no transfer coding. Anything
 * else (a redirect, a refusal, a chunked body) is left to the http client, which asks again.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ClosedError, ProtocolError, TimeoutError, UpstreamError } from '../../core/errors.js';
import type { BlobFile } from './blob-file.js';

/** The largest response head read. */
const MAX_HEAD = 64 << 10;
const READ_BUFFER = 256 << 10;

export interface RawGetOptions {
  /** Sent as it is (the registry's own origin only). */
  authorization?: string;
  /** For https URLs. */
  tls?: { rejectUnauthorized: boolean; ca?: string[] };
  idleMs: number;
  signal?: AbortSignal;
}

/**
 * Whether the answer to a GET of `file` from its `have` bytes on is the rest of it: a 200 for the whole, else a 206
 * whose Content-Range starts there and runs to its end (a 200 to a Range would restart a blob half hashed).
 */
export function isRest(file: BlobFile, status: number | undefined, contentRange: string | undefined): boolean {
  if (file.have === 0) return status === 200;
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange ?? '');
  return status === 206 && !!m && Number(m[1]) === file.have && Number(m[2]) === file.size - 1;
}

/** The Range header that resumes `file` where it stopped, or none for a fresh download. */
export function rangeFor(file: BlobFile): Record<string, string> {
  return file.have > 0 ? { range: `bytes=${file.have}-` } : {};
}

/** Errors of a blob's body cut off part-way (not refused, not wrong): what a resumed download may mend. */
const cutOffs = new WeakSet<Error>();

/** The error of a blob's body that stopped before its end, marked as such for isCutOff. */
export function cutOff(message: string): UpstreamError {
  const e = new UpstreamError(message);
  cutOffs.add(e);
  return e;
}

export function isCutOff(e: unknown): boolean {
  return e instanceof Error && cutOffs.has(e);
}

/**
 * GETs `url` into `file` from the bytes it has on: true once the rest (Content-Length bytes, which must be what the
 * file lacks) went in, false when the answer is not a plain 200, or the 206 of a resumed one (nothing went in; the
 * caller asks through the http client).
 */
export function rawGet(url: URL, file: BlobFile, o: RawGetOptions): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let head: Buffer | null = Buffer.alloc(0);
    let left = 0;
    let settled = false;
    const finish = (e: unknown, ok = false) => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (e) reject(e);
      else resolve(ok);
    };
    const onAbort = () => finish(o.signal!.reason ?? new ClosedError('the pull was stopped'));
    // Bytes past the length make the file refuse the blob (its `done` rejects).
    const body = (b: Buffer) => {
      file.push(b, false);
      left -= b.length;
      if (left <= 0) {
        file.end();
        finish(null, true);
      }
    };
    const onHead = (b: Buffer) => {
      head = Buffer.concat([head!, b]);
      const at = head.indexOf('\r\n\r\n');
      if (at > MAX_HEAD || (at < 0 && head.length > MAX_HEAD)) return finish(new ProtocolError(`GET ${url.pathname}: a response head over ${MAX_HEAD} bytes`));
      if (at < 0) return;
      const lines = head.toString('latin1', 0, at).split('\r\n');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1];
      const fields = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const length = fields.get('content-length');
      const rest = head.subarray(at + 4);
      head = null;
      if (!isRest(file, Number(status), fields.get('content-range')) || length === undefined || !/^\d+$/.test(length) || fields.has('transfer-encoding') || fields.has('content-encoding')) return finish(null, false);
      try {
        file.checkLength(length);
      } catch (e) {
        return finish(e);
      }
      left = file.size - file.have;
      if (left === 0) return body(Buffer.alloc(0));
      if (rest.length) body(rest);
    };
    const onread = {
      buffer: Buffer.allocUnsafe(READ_BUFFER),
      callback: (n: number, buf: Uint8Array): boolean => {
        const b = Buffer.from(buf.buffer, buf.byteOffset, n);
        if (head) onHead(b);
        else body(b);
        return true;
      },
    };
    const sock: Socket =
      url.protocol === 'https:'
        ? tlsConnect({ host, port, onread, rejectUnauthorized: o.tls?.rejectUnauthorized ?? true, ...(o.tls?.ca?.length ? { ca: o.tls.ca } : {}), ...(isIP(host) ? {} : { servername: host }) } as unknown as Parameters<typeof tlsConnect>[0])
        : netConnect({ host, port, onread });
    sock.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      const auth = o.authorization ? `Authorization: ${o.authorization}\r\n` : '';
      const range = Object.entries(rangeFor(file)).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      sock.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: podkit\r\n${auth}${range}Connection: close\r\n\r\n`);
    });
    sock.setTimeout(o.idleMs, () => finish(new TimeoutError(`i/o timeout: ${url.host} sent nothing for ${o.idleMs / 1000} s`)));
    sock.once('error', (e) => finish(e));
    sock.once('close', () => finish(head ? new UpstreamError(`GET ${url.pathname}: the connection closed before an answer`) : cutOff(`blob ${file.digest}: the connection closed after ${file.size - left} of ${file.size} bytes`)));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) onAbort();
    file.flowTo(sock);
    // The disk failing (full) stops the download at once.
    file.done.catch((e: unknown) => finish(e));
  });
}
