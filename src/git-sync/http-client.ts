/** @module The small HTTP(S) client git-sync's outbound calls use (webhook, --askpass-url): node:http, redirects not followed, body capped. */
import { request as plainRequest } from 'node:http';
import { request as tlsRequest } from 'node:https';

export interface HttpResult {
  status: number;
  /** The body as text, at most `maxBody` bytes of it. */
  body: string;
}

/**
 * One request, resolving once the response ended. Not the global fetch: its first call loads undici (tens of ms),
 * which delayed the first webhook after a sync well past v4's few milliseconds.
 */
export function httpRequest(url: string, o: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal; maxBody?: number } = {}): Promise<HttpResult> {
  const maxBody = o.maxBody ?? 64 << 10;
  return new Promise<HttpResult>((resolve, reject) => {
    const u = new URL(url);
    const send = u.protocol === 'https:' ? tlsRequest : plainRequest;
    const headers = o.body === undefined ? (o.headers ?? {}) : { ...o.headers, 'content-length': String(Buffer.byteLength(o.body)) };
    const req = send(u, { method: o.method ?? 'GET', headers, signal: o.signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        if (size < maxBody) chunks.push(d.subarray(0, maxBody - size));
        size += d.length;
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}
