/** @module Debian's docker-registry (CNCF distribution) on a free loopback port: plain HTTP, TLS + htpasswd, or token auth. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { waitForPort } from './poll.js';
import { run, startProcess, tempDir, type Proc } from './proc.js';
import { requireBinary } from './redis.js';
import { issueCert, makeCA, type TestCA } from './tls.js';

export interface Registry {
  /** `127.0.0.1:PORT`, the host part of image references. */
  host: string;
  port: number;
  /** The registry's storage root (filesystem driver): tests corrupt blobs here. */
  storage: string;
  proc: Proc;
  /** Set for TLS registries: the CA that signed the registry's certificate. */
  ca?: TestCA;
  /** A directory holding only the CA certificate (skopeo's and podkit's --cert-dir). */
  caDir?: string;
  /** Set with `htpasswd`: the user and password the registry accepts. */
  user?: string;
  password?: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** Serve TLS with a certificate from a new test CA. */
  tls?: boolean;
  /** Require basic auth (htpasswd, bcrypt) for this user; the password is `secret-<user>`. */
  htpasswd?: string;
  /** Token auth: the registry trusts tokens signed by this certificate, from this realm (see startTokenService). */
  token?: { realm: string; service: string; issuer: string; certFile: string };
  /** Log every request (level info) to the process's stderr, for counting fetches. */
  accessLog?: boolean;
  /** Credentials pushImage uses (token auth). */
  pushCreds?: { user: string; password: string };
}

/** Starts a registry; `stop()` (or the test process's exit) ends it. */
export async function startRegistry(o: RegistryOptions = {}): Promise<Registry> {
  requireBinary('docker-registry');
  const dir = tempDir('podkit-registry-');
  const storage = join(dir, 'storage');
  mkdirSync(storage);
  const port = await freePort();
  const lines = ['version: 0.1', 'log:', `  level: ${o.accessLog ? 'info' : 'warn'}`, 'storage:', '  filesystem:', `    rootdirectory: ${storage}`, '  delete:', '    enabled: true', 'http:', `  addr: 127.0.0.1:${port}`];
  let ca: TestCA | undefined;
  if (o.tls) {
    ca = await makeCA('podkit-registry-ca');
    const cert = await issueCert(ca, ['127.0.0.1', 'localhost'], 'registry');
    lines.push('  tls:', `    certificate: ${cert.certFile}`, `    key: ${cert.keyFile}`);
  }
  let password: string | undefined;
  if (o.htpasswd) {
    requireBinary('htpasswd');
    password = `secret-${o.htpasswd}`;
    const file = join(dir, 'htpasswd');
    await run('htpasswd', ['-Bbc', file, o.htpasswd, password]);
    lines.push('auth:', '  htpasswd:', '    realm: podkit-test', `    path: ${file}`);
  } else if (o.token) {
    lines.push('auth:', '  token:', `    realm: ${o.token.realm}`, `    service: ${o.token.service}`, `    issuer: ${o.token.issuer}`, `    rootcertbundle: ${o.token.certFile}`);
  }
  const config = join(dir, 'config.yml');
  writeFileSync(config, lines.join('\n') + '\n');
  const proc = startProcess('docker-registry', ['serve', config], { name: 'docker-registry' });
  await waitForPort(port, '127.0.0.1', 15_000);
  const reg: Registry = { host: `127.0.0.1:${port}`, port, storage, proc, stop: () => proc.stop() };
  if (ca) {
    reg.ca = ca;
    reg.caDir = join(dir, 'certs');
    mkdirSync(reg.caDir);
    writeFileSync(join(reg.caDir, 'ca.crt'), ca.cert);
  }
  if (o.htpasswd) reg.user = o.htpasswd;
  if (password) reg.password = password;
  if (o.pushCreds) Object.assign(reg, { user: o.pushCreds.user, password: o.pushCreds.password });
  return reg;
}

/**
 * Pushes the image tagged `img.tag` in an OCI layout to `registry` as `repo:tag` with skopeo (`--all` for an index;
 * `format` v2s2 for Docker manifests). skopeo gzips uncompressed layers on the way unless `uncompressed`.
 */
export async function pushImage(img: { layout: string; tag: string }, reg: Registry, repo: string, tag = img.tag, format?: 'v2s2' | 'oci', uncompressed = false): Promise<string> {
  const args = ['copy', '--quiet', '--all', '--dest-tls-verify=false'];
  if (uncompressed) args.push('--dest-decompress');
  if (format) args.push('--format', format);
  if (reg.user) args.push('--dest-creds', `${reg.user}:${reg.password}`);
  if (reg.ca) args.push('--dest-cert-dir', reg.caDir!);
  args.push(`oci:${img.layout}:${img.tag}`, `docker://${reg.host}/${repo}:${tag}`);
  await run('skopeo', args, { timeoutMs: 120_000 });
  return `${reg.host}/${repo}:${tag}`;
}

/** The blob files of `repo`'s registry storage for a digest (for corrupting one). */
export function registryBlobPath(reg: Registry, digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  return join(reg.storage, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

export interface TokenService {
  /** The realm URL the registry sends clients to. */
  realm: string;
  service: string;
  issuer: string;
  /** The certificate the registry trusts for tokens. */
  certFile: string;
  /** Token requests seen (scope, user, and `refresh_token` for OAuth2's refresh-token grant), for assertions. */
  requests: { scope: string; user: string | null; grant?: string }[];
  close(): Promise<void>;
}

/**
 * A small token service of the test's own (the Docker token auth flow): Basic credentials in, an ES256 JWT out,
 * signed with a key whose certificate the registry is configured to trust. `users`: name → password. A POST is
 * OAuth2's refresh-token grant (what Docker and containerd send for an identity token): `refreshTokens`, token → user.
 */
export async function startTokenService(users: Record<string, string>, refreshTokens: Record<string, string> = {}): Promise<TokenService> {
  const { createServer } = await import('node:http');
  const { createPrivateKey, sign, X509Certificate, randomUUID } = await import('node:crypto');
  const { readFileSync } = await import('node:fs');
  const ca = await makeCA('podkit-token-signer');
  const key = createPrivateKey(readFileSync(ca.keyFile));
  const der = new X509Certificate(readFileSync(ca.certFile)).raw.toString('base64');
  const service = 'podkit-test-registry';
  const issuer = 'podkit-test-token-service';
  const requests: TokenService['requests'] = [];
  const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');
  const answer = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, form: URLSearchParams | null) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scope = (form ?? url.searchParams).get('scope') ?? '';
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    let user: string | null = null;
    if (form) {
      const grant = form.get('grant_type') ?? '';
      user = grant === 'refresh_token' ? (refreshTokens[form.get('refresh_token') ?? ''] ?? null) : null;
      if (!user) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
        return;
      }
      requests.push({ scope, user, grant });
    } else if (basic) {
      const [u, ...p] = Buffer.from(basic[1]!, 'base64').toString().split(':');
      if (users[u!] !== p.join(':')) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
        return;
      }
      user = u!;
    }
    if (!form) requests.push({ scope, user });
    // Only known users get access; anonymous requests get a token with no access (the registry then says unauthorized).
    const access = user && scope ? scope.split(' ').map((s) => { const [type, name, actions] = s.split(':'); return { type, name, actions: (actions ?? '').split(',') }; }) : [];
    const now = Math.floor(Date.now() / 1000);
    const header = b64u(JSON.stringify({ alg: 'ES256', typ: 'JWT', x5c: [der] }));
    const claims = b64u(JSON.stringify({ iss: issuer, sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const sig = sign('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${header}.${claims}.${b64u(sig)}`;
    // OAuth2's answer names it access_token only.
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(form ? { access_token: token, expires_in: 300 } : { token, access_token: token, expires_in: 300 }));
  };
  const server = createServer((req, res) => {
    if (req.method !== 'POST') return answer(req, res, null);
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => answer(req, res, new URLSearchParams(body)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { realm: `http://127.0.0.1:${port}/token`, service, issuer, certFile: ca.certFile, requests, close: () => new Promise((r) => server.close(() => r())) };
}
