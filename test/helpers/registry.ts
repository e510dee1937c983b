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
  /** Token auth: the registry trusts tokens signed by this certificate, from this realm. */
  token?: { realm: string; service: string; issuer: string; certFile: string };
}

/** Starts a registry; `stop()` (or the test process's exit) ends it. */
export async function startRegistry(o: RegistryOptions = {}): Promise<Registry> {
  requireBinary('docker-registry');
  const dir = tempDir('podkit-registry-');
  const storage = join(dir, 'storage');
  mkdirSync(storage);
  const port = await freePort();
  const lines = ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem:', `    rootdirectory: ${storage}`, '  delete:', '    enabled: true', 'http:', `  addr: 127.0.0.1:${port}`];
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
  if (ca) reg.ca = ca;
  if (o.htpasswd) reg.user = o.htpasswd;
  if (password) reg.password = password;
  return reg;
}

/** Pushes the image tagged `img.tag` in an OCI layout to `registry` as `repo:tag` with skopeo (`--all` for an index; `format` v2s2 for Docker manifests). */
export async function pushImage(img: { layout: string; tag: string }, reg: Registry, repo: string, tag = img.tag, format?: 'v2s2' | 'oci'): Promise<string> {
  const args = ['copy', '--quiet', '--all', '--dest-tls-verify=false'];
  if (format) args.push('--format', format);
  if (reg.user) args.push('--dest-creds', `${reg.user}:${reg.password}`);
  if (reg.ca) args.push('--dest-cert-dir', reg.ca.dir);
  args.push(`oci:${img.layout}:${img.tag}`, `docker://${reg.host}/${repo}:${tag}`);
  await run('skopeo', args, { timeoutMs: 120_000 });
  return `${reg.host}/${repo}:${tag}`;
}

/** The blob files of `repo`'s registry storage for a digest (for corrupting one). */
export function registryBlobPath(reg: Registry, digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  return join(reg.storage, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}
