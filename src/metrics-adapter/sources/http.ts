/** @module The thin HTTP glue every HTTP source shares: one request, bounded by the caller's AbortSignal, errors as UpstreamError. */
import { UpstreamError, TimeoutError } from '../../core/errors.js';
import { redactString } from '../../core/log.js';

export interface FetchOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Reject bodies larger than this many bytes (default 64 MiB) so a runaway target cannot exhaust memory. */
  maxBytes?: number;
}

/** Fetch a URL's body as text; non-2xx, network failure and abort all reject with a clear message naming the (redacted) URL. */
export async function fetchText(url: string, signal: AbortSignal, opts: FetchOptions = {}): Promise<{ text: string; contentType: string }> {
  const shown = redactString(url);
  signal.throwIfAborted();
  let res: Response;
  try {
    res = await fetch(url, { method: opts.method ?? 'GET', headers: opts.headers, body: opts.body, signal, redirect: 'follow' });
  } catch (err) {
    throw wrap(err, shown, signal);
  }
  if (res.status < 200 || res.status > 299) {
    await res.body?.cancel().catch(() => undefined);
    throw new UpstreamError(`${shown}: HTTP ${res.status} ${res.statusText}`);
  }
  const max = opts.maxBytes ?? 64 * 1024 * 1024;
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > max) throw new UpstreamError(`${shown}: response larger than ${max} bytes`);
        chunks.push(chunk);
      }
    }
  } catch (err) {
    if (err instanceof UpstreamError) throw err;
    throw wrap(err, shown, signal);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), contentType: res.headers.get('content-type') ?? '' };
}

function wrap(err: unknown, shown: string, signal: AbortSignal): Error {
  if (signal.aborted) {
    // The caller's own reason (an Error it chose) passes through; the platform's AbortError/TimeoutError
    // DOMExceptions become a TimeoutError that names the target.
    const reason: unknown = signal.reason;
    if (reason instanceof Error && !(reason instanceof DOMException)) return reason;
    return new TimeoutError(`${shown}: ${reason instanceof DOMException && reason.name === 'TimeoutError' ? 'timed out' : 'aborted'}`, { cause: err });
  }
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (err as Error).message;
  return new UpstreamError(`${shown}: ${detail}`, { cause: err });
}
