/**
 * @module The registry transport: the OCI distribution API's two reads (a manifest, a blob) over HTTPS, or plain HTTP
 * where the registry is insecure, with anonymous, basic and bearer-token auth as Docker and containerd do them. A blob
 * goes to a temp file while its sha256 and size are checked and becomes the store's only once both match.
 */
import { createHash } from 'node:crypto';
import { renameSync, rmSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { AuthError, ClosedError, ProtocolError, TimeoutError, UpstreamError } from '../../core/errors.js';
import { BlobFile } from './blob-file.js';
import { cutOff, isCutOff, isRest, rangeFor, rawGet } from './raw-get.js';
import { isLoopbackRegistry as isLoopbackHost } from './reference.js';

/** Credentials for one registry, as a docker config's `auths` entry gives them. */
export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** A bearer token to send as it is (`registrytoken`). */
  token?: string;
  /** An OAuth2 refresh token (`identitytoken`, or a credential helper's `<token>` user), traded at the realm for a bearer token. */
  identityToken?: string;
}

export interface RegistryClientOptions {
  /** Host and port the API is reached at (`registry-1.docker.io` for docker.io). */
  endpoint: string;
  repository: string;
  /** Plain HTTP is allowed, and TLS is not verified (loopback and `--insecure-registry` registries with no CA given). */
  insecure: boolean;
  /** CA certificates (PEM) trusted besides the system's. */
  ca?: string[];
  credentials?: RegistryCredentials;
  /** A request that sends nothing for this long fails. Default 30 s. */
  idleTimeoutMs?: number;
}

/** The largest manifest or index read (containerd's limit). */
const MAX_MANIFEST = 4 << 20;
/** The largest error body or token response read. */
const MAX_SMALL = 1 << 20;
const MAX_REDIRECTS = 5;
/** How often one blob's download is resumed after being cut off, each time only after bytes came. */
const MAX_RESUMES = 10;

/** A download cut off by the network or the registry (not refused, not wrong): worth asking for the rest. */
function resumable(e: unknown): boolean {
  if (e instanceof TimeoutError || isCutOff(e)) return true;
  return ['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT'].includes((e as NodeJS.ErrnoException)?.code ?? '');
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  // Asked for only to refuse it by name: schema 1 is gone from current registries and clients.
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
];

async function readCapped(res: IncomingMessage, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length'] ?? 0);
  if (declared > max) {
    res.destroy();
    throw new ProtocolError(`${what} of ${declared} bytes is over the ${max}-byte limit`);
  }
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) {
      res.destroy();
      throw new ProtocolError(`${what} is over the ${max}-byte limit`);
    }
    parts.push(c);
  }
  return Buffer.concat(parts);
}

/** `Bearer realm="…",service="…"` → its scheme and parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\S+)\s*(.*)$/s.exec(header) ?? [];
  const params: Record<string, string> = {};
  for (const p of (m[2] ?? '').matchAll(/([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: (m[1] ?? '').toLowerCase(), params };
}

/** A registry's error body (`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`) in words. */
function errorWords(body: Buffer): string {
  try {
    const j = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[]; details?: string; error?: string };
    const words = (j.errors ?? []).map((e) => e.message || e.code).filter(Boolean);
    if (words.length) return words.join('; ');
    if (j.details || j.error) return String(j.details ?? j.error);
  } catch {
    // not JSON: the start of the text, if any
  }
  return body.toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 200);
}

/** One repository on one registry: the connection (kept alive), the scheme found, and the token got. */
export class RegistryClient {
  private readonly o: RegistryClientOptions;
  private readonly agent: http.Agent | https.Agent;
  private readonly plainAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  /** The CAs TLS is verified against when some are given (the system's and those), else undefined: Node's own list. */
  private readonly ca: string[] | undefined;
  private readonly idleMs: number;
  private scheme: 'https' | 'http' | undefined;
  private authorization: string | undefined;

  constructor(o: RegistryClientOptions) {
    this.o = o;
    this.ca = o.ca?.length ? [...rootCertificates, ...o.ca] : undefined;
    this.idleMs = o.idleTimeoutMs ?? 30_000;
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: !o.insecure, ...(this.ca ? { ca: this.ca } : {}) });
  }

  close(): void {
    this.agent.destroy();
    this.plainAgent.destroy();
  }

  /** The manifest `reference` (tag or digest): its bytes, media type, and sha256 digest. */
  async manifest(reference: string): Promise<{ raw: Buffer; mediaType: string; digest: string }> {
    const res = await this.get(`/v2/${this.o.repository}/manifests/${reference}`, { accept: MANIFEST_TYPES.join(', ') });
    const raw = await readCapped(res, MAX_MANIFEST, 'the manifest');
    const mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
    return { raw, mediaType, digest: `sha256:${createHash('sha256').update(raw).digest('hex')}` };
  }

  /**
   * Downloads the blob `digest` of `size` bytes to `tmp`, then renames it to `dest` once its size and digest match;
   * on any failure (or `signal` aborting it) `tmp` is removed and nothing is at `dest`. Read off the socket when the
   * registry answers plainly (raw-get.ts), else through the http client (a redirect, a new token, a chunked body).
   */
  async blob(digest: string, size: number, tmp: string, dest: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const file = new BlobFile(tmp, digest, size);
    const path = `/v2/${this.o.repository}/blobs/${digest}`;
    try {
      let cut: Error | undefined; // the first cut-off, which says why when resuming does not help
      for (let resumes = 0; ; resumes++) {
        const had = file.have;
        try {
          await this.blobFrom(path, file, signal);
          break;
        } catch (e) {
          // Cut off after some progress: asked again from where it stopped (Range), as containers/image resumes.
          if (resumable(e) && file.open && file.have > had && resumes < MAX_RESUMES && !signal?.aborted) {
            cut ??= e as Error;
            continue;
          }
          if (!cut || signal?.aborted || !file.open) throw e;
          throw new UpstreamError(`${cut.message}; asked for the rest from byte ${file.have}: ${(e as Error).message}`, { cause: e });
        }
      }
      await file.done;
      renameSync(tmp, dest);
    } catch (e) {
      file.fail(e);
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  /** One GET of the blob into `file`, from the bytes it has on. */
  private async blobFrom(path: string, file: BlobFile, signal?: AbortSignal): Promise<void> {
    const raw = await rawGet(new URL(path, await this.base()), file, {
      ...(this.authorization ? { authorization: this.authorization } : {}),
      tls: { rejectUnauthorized: !this.o.insecure, ...(this.ca ? { ca: this.ca } : {}) },
      idleMs: this.idleMs,
      ...(signal ? { signal } : {}),
    });
    if (!raw) await this.blobThroughHttp(path, file, signal);
  }

  private async blobThroughHttp(path: string, file: BlobFile, signal?: AbortSignal): Promise<void> {
    const res = await this.get(path, rangeFor(file));
    const declared = res.headers['content-length'];
    try {
      if (!isRest(file, res.statusCode, res.headers['content-range'])) throw new UpstreamError(`blob ${file.digest}: asked for its bytes from ${file.have} on, the registry answered ${res.statusCode} without them`);
      if (declared !== undefined) file.checkLength(declared);
    } catch (e) {
      res.destroy();
      throw e;
    }
    // Settles when the body has ended (the file then checks it) or is cut off; the file itself fails only for its
    // own reasons (the disk, a mismatch), so a cut-off download can be resumed into it.
    let onAbort = () => {};
    await new Promise<void>((resolve, reject) => {
      let ended = false;
      const stop = (e: unknown) => {
        res.destroy();
        reject(e);
      };
      onAbort = () => stop(signal!.reason ?? new ClosedError('the pull was stopped'));
      signal?.addEventListener('abort', onAbort, { once: true });
      file.flowTo(res);
      res.on('data', (c: Buffer) => file.push(c, true));
      res.once('end', () => {
        ended = true;
        file.end();
        resolve();
      });
      res.once('error', stop);
      res.once('close', () => {
        if (!ended) stop(cutOff(`blob ${file.digest}: the connection closed before its end`));
      });
      file.done.catch(stop);
      if (signal?.aborted) onAbort();
    }).finally(() => {
      signal?.removeEventListener('abort', onAbort);
      res.destroy();
    });
  }

  /** A GET answered 200 (206 to a Range), after the auth challenge and redirects; any other answer an AuthError (401, 403) or UpstreamError with the registry's words. */
  private async get(path: string, headers: Record<string, string>): Promise<IncomingMessage> {
    const base = await this.base();
    let res = await this.follow(new URL(path, base), headers);
    if (res.statusCode === 401) {
      const challenge = String(res.headers['www-authenticate'] ?? '');
      res.resume();
      await this.authenticate(challenge);
      res = await this.follow(new URL(path, base), headers);
    }
    // 206: the rest of a blob asked for with Range.
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      const words = errorWords(await readCapped(res, MAX_SMALL, 'the error body').catch(() => Buffer.alloc(0)));
      const status = res.statusCode ?? 0;
      const what = status === 401 ? 'unauthorized: authentication required' : status === 403 ? 'denied' : status === 404 ? 'not found' : `HTTP ${status}`;
      const message = `GET ${path}: ${what}${words ? ` (${words})` : ''}`;
      throw status === 401 || status === 403 ? new AuthError(message) : new UpstreamError(message);
    }
    return res;
  }

  /** Follows redirects (a registry may send blobs from elsewhere); the credentials go only to the registry itself. */
  private async follow(url: URL, headers: Record<string, string>): Promise<IncomingMessage> {
    const origin = url.origin;
    for (let hops = 0; ; hops++) {
      const h = { ...headers, ...(this.authorization && url.origin === origin ? { authorization: this.authorization } : {}) };
      const res = await this.request(url, h);
      const loc = res.headers.location;
      if (!res.statusCode || res.statusCode < 300 || res.statusCode >= 400 || !loc) return res;
      res.resume();
      if (hops === MAX_REDIRECTS) throw new ProtocolError(`GET ${url.pathname}: more than ${MAX_REDIRECTS} redirects`);
      url = new URL(loc, url);
    }
  }

  /** A GET, or with `form` a POST of it (application/x-www-form-urlencoded). */
  private request(url: URL, headers: Record<string, string>, form?: URLSearchParams): Promise<IncomingMessage> {
    const tls = url.protocol === 'https:';
    const mod = tls ? https : http;
    const body = form?.toString();
    const h = { 'user-agent': 'podkit', ...headers, ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) } : {}) };
    return new Promise((resolve, reject) => {
      let got: IncomingMessage | undefined;
      const req = mod.request(url, { method: body !== undefined ? 'POST' : 'GET', headers: h, agent: tls ? this.agent : this.plainAgent }, (res) => resolve((got = res)));
      // The socket's idle time, while the answer's body streams too: a registry that stops sending fails the read.
      req.setTimeout(this.idleMs, () => {
        const e = new TimeoutError(`i/o timeout: ${url.host} sent nothing for ${this.idleMs / 1000} s`);
        got?.destroy(e);
        req.destroy(e);
      });
      req.once('error', reject);
      req.end(body);
    });
  }

  /**
   * The API's base URL: HTTPS; for an insecure registry on loopback plain HTTP first, HTTPS (unverified) when it
   * answers as a TLS server does to HTTP; for another insecure registry HTTPS unverified, then plain HTTP if TLS
   * fails (as Docker and containers/image try one).
   */
  private async base(): Promise<string> {
    if (this.scheme) return `${this.scheme}://${this.o.endpoint}`;
    if (!this.o.insecure) return `${(this.scheme = 'https')}://${this.o.endpoint}`;
    const unreachable = (e: unknown) => /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN/.test((e as NodeJS.ErrnoException).code ?? '');
    const probe = async (scheme: 'http' | 'https') => {
      const res = await this.request(new URL(`${scheme}://${this.o.endpoint}/v2/`), {});
      res.resume();
      return res.statusCode ?? 0;
    };
    if (isLoopbackHost(this.o.endpoint)) {
      try {
        // A registry answers /v2/ with 200 or 401; a TLS server asked in plain HTTP answers 400 or hangs up.
        this.scheme = (await probe('http')) === 400 ? 'https' : 'http';
      } catch (e) {
        if (unreachable(e)) throw e;
        this.scheme = 'https';
      }
    } else {
      try {
        await probe('https');
        this.scheme = 'https';
      } catch (e) {
        // Refused or unreachable is the registry's state, not its scheme: report it as it is.
        if (unreachable(e)) throw e;
        this.scheme = 'http';
      }
    }
    return `${this.scheme}://${this.o.endpoint}`;
  }

  /** Answers a 401's challenge: a bearer token from the realm (with the credentials, if any), or basic auth. */
  private async authenticate(header: string): Promise<void> {
    const { scheme, params } = parseChallenge(header);
    const c = this.o.credentials;
    const basic = c?.username !== undefined ? `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64')}` : undefined;
    if (scheme === 'basic') {
      if (c?.identityToken) throw new AuthError('unauthorized: the credentials are an identity token, and this registry asks for basic auth (no token service to trade it at)');
      if (!basic) throw new AuthError('unauthorized: authentication required (no credentials for this registry)');
      this.authorization = basic;
      return;
    }
    if (scheme !== 'bearer' || !params.realm) throw new AuthError(`unauthorized: authentication required (challenge "${header.slice(0, 100)}")`);
    if (c?.token) {
      this.authorization = `Bearer ${c.token}`;
      return;
    }
    const scope = params.scope ?? `repository:${this.o.repository}:pull`;
    let res: IncomingMessage | undefined;
    const realm = new URL(params.realm);
    if (c?.identityToken) {
      // OAuth2's refresh-token grant, as Docker and containerd send it; a realm without it (404) gets the GET below.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: c.identityToken, client_id: 'podkit', scope });
      if (params.service) form.set('service', params.service);
      res = await this.request(realm, {}, form);
      if (res.statusCode === 404) {
        res.resume();
        res = undefined;
      }
    }
    if (!res) {
      const url = new URL(realm);
      if (params.service) url.searchParams.set('service', params.service);
      url.searchParams.set('scope', scope);
      res = await this.request(url, basic ? { authorization: basic } : {});
    }
    const body = await readCapped(res, MAX_SMALL, 'the token response');
    if (res.statusCode !== 200) throw new AuthError(`unauthorized: the token service ${realm.host} answered ${res.statusCode} (${errorWords(body)})`);
    let token: string | undefined;
    try {
      const j = JSON.parse(body.toString('utf8')) as { token?: string; access_token?: string };
      token = j.token ?? j.access_token;
    } catch {
      // reported below
    }
    if (!token) throw new UpstreamError(`the token service ${realm.host} sent no token`);
    this.authorization = `Bearer ${token}`;
  }
}

/** A short explanation for common transport failures, put before the failure's own words. */
export function explain(msg: string): string {
  // Digests first: their hex may hold any number.
  if (/digest mismatch|size mismatch/i.test(msg)) return 'a blob did not match its digest; nothing of it was stored';
  if (/unauthorized|authentication required|\b401\b|denied/i.test(msg)) return 'authentication failed (check the credentials in the docker config or imagePullSecrets)';
  if (/manifest unknown|name unknown|blob unknown|not found|\b404\b/i.test(msg)) return 'not found in the registry';
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ECONNRESET|socket hang up|i\/o timeout/i.test(msg)) return 'the registry cannot be reached';
  if (/certificate|self[- ]signed|CERT_|SSL/i.test(msg)) return 'TLS certificate not trusted (give the registry CA with --ca-file)';
  if (/no space left|ENOSPC/i.test(msg)) return 'the disk is full';
  return 'pull failed';
}
