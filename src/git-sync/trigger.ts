/** @module Inbound webhook verification (pure): GitHub, Gitea/Gogs, GitLab and a generic HMAC-SHA256 header, compared in constant time. */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type Provider = 'github' | 'gitea' | 'gitlab' | 'generic';

export interface Verdict {
  ok: boolean;
  provider?: Provider;
  /** Why it was refused (for the log; the client only gets 401). */
  reason?: string;
}

type Headers = Record<string, string | string[] | undefined>;

function header(h: Headers, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Constant-time comparison of two strings (length leaks, contents do not). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) {
    timingSafeEqual(x, x); // same work either way
    return false;
  }
  return timingSafeEqual(x, y);
}

function hmacHex(secret: string, body: Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/**
 * Check a trigger request. Accepted, in order: `X-Hub-Signature-256: sha256=<hex>` (GitHub, also Gitea/Gogs),
 * `X-Gitea-Signature` / `X-Gogs-Signature: <hex>`, `X-Gitlab-Token: <secret>`, `X-Podkit-Signature-256: sha256=<hex>`
 * (generic). A request with none of them, or with a wrong one, is refused.
 */
export function verifyTrigger(headers: Headers, body: Buffer, secret: string): Verdict {
  if (!secret) return { ok: false, reason: 'no secret configured' };
  const expected = hmacHex(secret, body);
  const github = header(headers, 'x-hub-signature-256');
  if (github !== undefined) {
    const ok = safeEqual(github.trim().toLowerCase(), `sha256=${expected}`);
    return ok ? { ok, provider: 'github' } : { ok, provider: 'github', reason: 'bad X-Hub-Signature-256' };
  }
  const gitea = header(headers, 'x-gitea-signature') ?? header(headers, 'x-gogs-signature');
  if (gitea !== undefined) {
    const ok = safeEqual(gitea.trim().toLowerCase(), expected);
    return ok ? { ok, provider: 'gitea' } : { ok, provider: 'gitea', reason: 'bad X-Gitea-Signature' };
  }
  const gitlab = header(headers, 'x-gitlab-token');
  if (gitlab !== undefined) {
    const ok = safeEqual(gitlab, secret);
    return ok ? { ok, provider: 'gitlab' } : { ok, provider: 'gitlab', reason: 'bad X-Gitlab-Token' };
  }
  const generic = header(headers, 'x-podkit-signature-256') ?? header(headers, 'x-signature-256');
  if (generic !== undefined) {
    const sig = generic.trim().toLowerCase();
    const ok = safeEqual(sig.startsWith('sha256=') ? sig : `sha256=${sig}`, `sha256=${expected}`);
    return ok ? { ok, provider: 'generic' } : { ok, provider: 'generic', reason: 'bad X-Podkit-Signature-256' };
  }
  return { ok: false, reason: 'no signature header' };
}
