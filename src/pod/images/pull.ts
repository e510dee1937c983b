/** @module Pulling one image into the store: resolve the reference, choose the host's platform, copy its blobs with skopeo. */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describeError, ImageError } from '../../core/errors.js';
import { formatRef, isLoopbackRegistry, type ImageRef } from './reference.js';
import { explain, skopeo } from './skopeo.js';
import type { ImageRecord, ImageStore } from './store.js';

export interface PullOptions {
  /** Registries reached over plain HTTP (or TLS without verification) besides loopback ones. */
  insecureRegistries?: readonly string[];
  /** A directory of CA certificates (`*.crt`) for private registries. */
  certDir?: string;
  /** One CA certificate file (PEM) for private registries; used with the certificates of `certDir`. */
  caFile?: string;
  /** Docker config file with `auths`. Default: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
  dockerConfig?: string;
  /** Platform to choose from an index. Default linux/amd64 (the host's). */
  platform?: { os: string; architecture: string };
  /** Called about four times a second during a copy, and once at its end. */
  onProgress?: (p: PullProgress) => void;
}

export interface PullProgress {
  ref: string;
  layers: { digest: string; size: number; done: boolean }[];
  /** Bytes in the store so far (finished layers and those being written). */
  bytes: number;
  total: number;
  finished: boolean;
}

interface RawManifest {
  mediaType?: string;
  schemaVersion?: number;
  manifests?: { digest: string; mediaType?: string; platform?: { os?: string; architecture?: string; variant?: string } }[];
  layers?: { digest: string; size: number }[];
}

const hostArch = () => ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' })[process.arch as string] ?? process.arch;

function dockerConfigFile(o: PullOptions): string {
  return o.dockerConfig ?? join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

/** One docker-config `auths` from the pull secrets (first wins) and the user's docker config, or null when empty. */
export function mergeAuths(secrets: readonly string[], configFile: string): { auths: Record<string, unknown> } | null {
  const auths: Record<string, unknown> = {};
  const add = (text: string, what: string) => {
    let parsed: { auths?: Record<string, unknown> };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch (e) {
      throw new ImageError('ErrImagePull', `${what} is not valid JSON: ${describeError(e)}`);
    }
    for (const [k, v] of Object.entries(parsed.auths ?? {})) if (!(k in auths)) auths[k] = v;
  };
  secrets.forEach((s, i) => add(s, `imagePullSecrets[${i}] (.dockerconfigjson)`));
  if (existsSync(configFile)) add(readFileSync(configFile, 'utf8'), configFile);
  return Object.keys(auths).length ? { auths } : null;
}

type Fail = (why: string, cause?: unknown) => ImageError;

/** The flags skopeo reaches the registry with (TLS, credentials), and the files made for them, removed by `cleanup`. */
interface RegistryAccess {
  flags: string[];
  cleanup(): void;
}

/** TLS and credential flags for this pull: a private cert directory when a CA file is given, an auth file from the secrets. */
function registryAccess(store: ImageStore, ref: ImageRef, secrets: readonly string[], o: PullOptions, fail: Fail): RegistryAccess {
  const flags: string[] = [];
  const authFile = join(store.root, `.auth-${process.pid}-${Date.now()}.json`);
  const certDir = o.caFile ? `${authFile.slice(0, -5)}.certs` : o.certDir;
  if (o.caFile) {
    // skopeo takes a directory: this pull's own, with the given CA beside the directory's ones.
    mkdirSync(certDir!, { mode: 0o700 });
    if (o.certDir) for (const f of readdirSync(o.certDir)) if (f.endsWith('.crt')) copyFileSync(join(o.certDir, f), join(certDir!, f));
    try {
      copyFileSync(o.caFile, join(certDir!, 'podkit-ca-file.crt'));
    } catch (e) {
      rmSync(certDir!, { recursive: true, force: true });
      throw fail(`cannot read the CA file ${o.caFile}: ${describeError(e)}`, e);
    }
  }
  // A CA given means TLS is wanted and verified, even on loopback; without one, loopback and named registries may be plain HTTP.
  if (certDir) flags.push('--cert-dir', certDir);
  else if (isLoopbackRegistry(ref.registry) || o.insecureRegistries?.includes(ref.registry)) flags.push('--tls-verify=false');
  const auth = mergeAuths(secrets, dockerConfigFile(o));
  if (auth) {
    writeFileSync(authFile, JSON.stringify(auth), { mode: 0o600 });
    flags.push('--authfile', authFile);
  } else flags.push('--no-creds');
  return {
    flags,
    cleanup() {
      rmSync(authFile, { force: true });
      if (o.caFile) rmSync(certDir!, { recursive: true, force: true });
    },
  };
}

/** The digest of the manifest to copy: the manifest itself, or from an index the one for the wanted platform. */
function platformManifest(m: RawManifest, digest: string, o: PullOptions, fail: Fail): string {
  if (!m.manifests) return digest;
  const want = o.platform ?? { os: 'linux', architecture: hostArch() };
  const hit = m.manifests.find((d) => d.platform?.os === want.os && d.platform.architecture === want.architecture);
  if (!hit) {
    const has = m.manifests.map((d) => `${d.platform?.os ?? '?'}/${d.platform?.architecture ?? '?'}${d.platform?.variant ? `/${d.platform.variant}` : ''}`);
    throw fail(`no image for ${want.os}/${want.architecture} in its index (it has ${has.join(', ') || 'none'})`);
  }
  return hit.digest;
}

/**
 * Copies the manifest `manifestDigest` of `repo` into the store's OCI layout as `name`, reporting progress and
 * unpacking each layer as soon as its blob is stored; a failed copy leaves nothing half-made behind.
 */
async function copyBlobs(store: ImageStore, name: string, repo: string, manifestDigest: string, m: RawManifest, common: string[], o: PullOptions, fail: Fail): Promise<void> {
  const policy = store.policy;
  // The platform manifest's layers (an index costs one more request, made beside the copy, not before it).
  let layers = m.manifests ? [] : (m.layers ?? []);
  const platform = m.manifests
    ? skopeo(['--policy', policy, 'inspect', '--raw', '--retry-times', '0', ...common, `${repo}@${manifestDigest}`]).then((r) => (layers = (JSON.parse(r.stdout) as RawManifest).layers ?? []), () => undefined)
    : undefined;
  store.cleanPartial();
  const report = (finished: boolean) => o.onProgress?.({ ref: name, ...store.progress(layers), finished });
  const timer = o.onProgress ? setInterval(() => report(false), 250) : undefined;
  // Each layer unpacks while it downloads, through the copy's temp file (kept only once the copy has verified the
  // blob), or else as soon as its blob is stored; a few at a time, while the others still download.
  let over = false;
  const early = setInterval(() => {
    for (const f of readdirSync(store.oci)) if (store.earlyRoom && f.startsWith('oci-put-blob')) store.follow(f, () => layers, () => over);
    for (const l of layers) if (store.earlyRoom && existsSync(store.blobPath(l.digest))) store.unpackSoon(l.digest);
  }, 10);
  try {
    await skopeo(['--policy', policy, 'copy', '--retry-times', '0', ...common.map((a) => a.replace(/^--(tls-verify|cert-dir|authfile|no-creds)/, '--src-$1')), `${repo}@${manifestDigest}`, `oci:${store.oci}:${name}`]);
    report(true);
  } catch (e) {
    clearInterval(early);
    over = true;
    await store.settleEarly();
    store.cleanPartial();
    throw fail(`${explain(describeError(e))} (${describeError(e)})`, e);
  } finally {
    over = true;
    clearInterval(timer);
    clearInterval(early);
    await platform;
  }
}

/** Copies `ref` from its registry into the store (callers hold the store lock) and records it. */
export async function pull(store: ImageStore, ref: ImageRef, secrets: readonly string[], o: PullOptions): Promise<ImageRecord> {
  const name = formatRef(ref);
  const where = ref.registry;
  const fail: Fail = (why, cause) => new ImageError('ErrImagePull', `pull ${name} from ${where}: ${why}`, { cause });
  const access = registryAccess(store, ref, secrets, o, fail);
  const common = access.flags;
  const repo = `docker://${ref.registry}/${ref.repository}`;
  try {
    let raw: string;
    try {
      raw = (await skopeo(['--policy', store.policy, 'inspect', '--raw', '--retry-times', '0', ...common, `docker://${name}`])).stdout;
    } catch (e) {
      throw fail(`${explain(describeError(e))} (${describeError(e)})`, e);
    }
    const digest = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
    if (ref.digest && ref.digest !== digest) throw fail(`the registry sent a manifest with digest ${digest}`);
    const m = JSON.parse(raw) as RawManifest;
    if (m.schemaVersion === 1) throw fail('Docker schema 1 manifests are not supported (push the image again with a current client)');
    const manifestDigest = platformManifest(m, digest, o, fail);
    const existing = store.records().find((r) => r.ref === name);
    if (existing && existing.digest === digest && store.complete(existing)) return existing;
    await copyBlobs(store, name, repo, manifestDigest, m, common, o, fail);
    const local = store.manifestFor(name);
    if (!local) throw fail('the copy left no manifest in the store');
    try {
      return await store.commit(name, local, digest);
    } catch (e) {
      store.cleanPartial();
      if (e instanceof ImageError) throw e;
      throw fail(`${explain(describeError(e))} (${describeError(e)})`, e);
    }
  } finally {
    access.cleanup();
  }
}
