/** @module The thin HTTP glue every HTTP source shares: one request, bounded by the caller's AbortSignal, errors as UpstreamError. */
import { UpstreamError, TimeoutError } from '../../core/errors.js';
import { redactString } from '../../core/log.js';

/** Default cap of a pull source's response body. */
export const DEFAULT_MAX_BODY = 16 * 1024 * 1024;

/** A response over the body-size cap: an UpstreamError marked so the core can count it apart. */
function bodyTooLarge(message: string): UpstreamError {
  return Object.assign(new UpstreamError(message), { limit: 'body_size' as const });
}

export function isBodyTooLarge(err: unknown): boolean {
  return (err as { limit?: string } | undefined)?.limit === 'body_size';
}

export interface FetchOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Reject bodies larger than this many bytes (default 16 MiB, a source's `max_body_size`) so a runaway target cannot exhaust memory. */
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
  const max = opts.maxBytes ?? DEFAULT_MAX_BODY;
  // A declared length over the cap is refused before a byte is read.
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw bodyTooLarge(`${shown}: response of ${declared} bytes is larger than max_body_size (${max} bytes)`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > max) throw bodyTooLarge(`${shown}: response larger than max_body_size (${max} bytes)`);
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
