/** @module Pulling one image into the store: resolve the reference, choose the host's platform, fetch its blobs (registry.ts). */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describeError, ImageError } from '../../core/errors.js';
import { formatRef, isLoopbackRegistry, registryEndpoint, type ImageRef } from './reference.js';
import { resolveCredentials, type Fail } from './credentials.js';
import { explain, RegistryClient } from './registry.js';
import type { ImageRecord, ImageStore } from './store.js';

export interface PullOptions {
  /** Registries reached over plain HTTP (or TLS without verification) besides loopback ones. */
  insecureRegistries?: readonly string[];
  /** A directory of CA certificates (`*.crt`) for private registries. */
  certDir?: string;
  /** One CA certificate file (PEM) for private registries; used with the certificates of `certDir`. */
  caFile?: string;
  /** Docker config file (`auths`, `credHelpers`, `credsStore`). Default: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
  dockerConfig?: string;
  /** Platform to choose from an index. Default linux/amd64 (the host's). */
  platform?: { os: string; architecture: string };
  /** Called about four times a second during a copy, and once at its end. */
  onProgress?: (p: PullProgress) => void;
  /** A registry that sends nothing for this long fails the pull. Default 30 s. */
  idleTimeoutMs?: number;
}

export interface PullProgress {
  ref: string;
  layers: { digest: string; size: number; done: boolean }[];
  /** Bytes in the store so far (finished layers and those being written). */
  bytes: number;
  total: number;
  finished: boolean;
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  [k: string]: unknown;
}

interface RawManifest {
  mediaType?: string;
  schemaVersion?: number;
  manifests?: { digest: string; mediaType?: string; platform?: { os?: string; architecture?: string; variant?: string } }[];
  config?: Descriptor;
  layers?: Descriptor[];
}

const hostArch = () => ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' })[process.arch as string] ?? process.arch;

function dockerConfigFile(o: PullOptions): string {
  return o.dockerConfig ?? join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

/** The transport for `ref`: TLS verified against the given CAs, or insecure (plain HTTP allowed) for loopback and named registries without one. */
async function clientFor(ref: ImageRef, secrets: readonly string[], o: PullOptions, fail: Fail): Promise<RegistryClient> {
  const ca: string[] = [];
  if (o.certDir && existsSync(o.certDir)) for (const f of readdirSync(o.certDir)) if (f.endsWith('.crt')) ca.push(readFileSync(join(o.certDir, f), 'utf8'));
  if (o.caFile) {
    try {
      ca.push(readFileSync(o.caFile, 'utf8'));
    } catch (e) {
      throw fail(`cannot read the CA file ${o.caFile}: ${describeError(e)}`, e);
    }
  }
  // A CA given means TLS is wanted and verified, even on loopback; without one, loopback and named registries may be plain HTTP.
  const insecure = !o.caFile && !o.certDir && (isLoopbackRegistry(ref.registry) || !!o.insecureRegistries?.includes(ref.registry));
  const credentials = await resolveCredentials(ref.registry, secrets, dockerConfigFile(o), fail);
  return new RegistryClient({ endpoint: registryEndpoint(ref), repository: ref.repository, insecure, ca, ...(credentials ? { credentials } : {}), ...(o.idleTimeoutMs ? { idleTimeoutMs: o.idleTimeoutMs } : {}) });
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

const DOCKER_TO_OCI: Record<string, string> = {
  'application/vnd.docker.distribution.manifest.v2+json': 'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.container.image.v1+json': 'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar': 'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
};

/**
 * The manifest as the store's OCI layout holds it: an OCI manifest as it came (its digest kept), a Docker v2 one
 * with OCI media types, as skopeo writes a Docker image into an OCI layout.
 */
function ociManifest(raw: Buffer, m: RawManifest, mediaType: string): Buffer {
  const type = m.mediaType ?? mediaType;
  if (type !== 'application/vnd.docker.distribution.manifest.v2+json') return raw;
  const conv = (d: Descriptor): Descriptor => ({ ...d, mediaType: DOCKER_TO_OCI[d.mediaType ?? ''] ?? d.mediaType });
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_TO_OCI[type], config: conv(m.config!), layers: m.layers!.map(conv) }));
}

/**
 * Fetches the config and layer blobs the store lacks, side by side, reporting progress; with `unpack`, each layer
 * unpacks while it downloads (store.follow) or as soon as it is stored. On a failure its unpacks have settled, and
 * the caller removes what it left.
 */
async function fetchBlobs(store: ImageStore, client: RegistryClient, name: string, m: RawManifest, o: PullOptions, unpack: boolean): Promise<void> {
  const layers = m.layers ?? [];
  const want = [m.config!, ...layers].filter((d, i, all) => all.findIndex((x) => x.digest === d.digest) === i && !existsSync(store.blobPath(d.digest)));
  store.cleanPartial();
  const report = (finished: boolean) => o.onProgress?.({ ref: name, ...store.progress(layers), finished });
  const timer = o.onProgress ? setInterval(() => report(false), 250) : undefined;
  let over = false;
  const early = unpack
    ? setInterval(() => {
        for (const f of store.tempBlobs()) if (store.earlyRoom) store.follow(f, () => layers, () => over);
        for (const l of layers) if (store.earlyRoom && existsSync(store.blobPath(l.digest))) store.unpackSoon(l.digest);
      }, 10)
    : undefined;
  const abort = new AbortController();
  try {
    const got = await Promise.allSettled(
      want.map((d) =>
        client.blob(d.digest, d.size, store.tempBlobPath(), store.blobPath(d.digest), abort.signal).catch((e: unknown) => {
          abort.abort(e);
          throw e;
        }),
      ),
    );
    const failed = got.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    report(true);
  } catch (e) {
    over = true;
    clearInterval(early);
    // Before the caller removes what the fetch left: an unpack still reading a temp file would race it.
    await store.settleEarly();
    throw e;
  } finally {
    over = true;
    clearInterval(timer);
    clearInterval(early);
  }
}

/** Fetches `ref` from its registry into the store (callers hold the store lock) and records it; with `unpack`, its layers unpack too. */
export async function pull(store: ImageStore, ref: ImageRef, secrets: readonly string[], o: PullOptions, unpack = true): Promise<ImageRecord> {
  const name = formatRef(ref);
  const where = ref.registry;
  const fail: Fail = (why, cause) => new ImageError('ErrImagePull', `pull ${name} from ${where}: ${why}`, { cause });
  const client = await clientFor(ref, secrets, o, fail);
  try {
    const top = await client.manifest(ref.digest ?? ref.tag ?? 'latest');
    if (ref.digest && ref.digest !== top.digest) throw fail(`the registry sent a manifest with digest ${top.digest}`);
    let m = JSON.parse(top.raw.toString('utf8')) as RawManifest;
    if (m.schemaVersion === 1) throw fail('Docker schema 1 manifests are not supported (push the image again with a current client)');
    const existing = store.records().find((r) => r.ref === name);
    // Up to date: what is not unpacked yet is unpacked by whoever runs it (ImageService.ensure).
    if (existing && existing.digest === top.digest && store.complete(existing)) return existing;
    let manifest = top;
    const platformDigest = platformManifest(m, top.digest, o, fail);
    if (platformDigest !== top.digest) {
      manifest = await client.manifest(platformDigest);
      if (manifest.digest !== platformDigest) throw fail(`the registry sent manifest ${manifest.digest} for ${platformDigest}`);
      m = JSON.parse(manifest.raw.toString('utf8')) as RawManifest;
    }
    if (!m.config || !Array.isArray(m.layers)) throw fail(`manifest ${manifest.digest} is not an image manifest (no config or layers)`);
    await fetchBlobs(store, client, name, m, o, unpack);
    const local = ociManifest(manifest.raw, m, manifest.mediaType);
    const localDigest = local === manifest.raw ? manifest.digest : `sha256:${createHash('sha256').update(local).digest('hex')}`;
    store.putBlob(localDigest, local);
    store.tag(name, localDigest, local.length);
    return await store.commit(name, localDigest, top.digest, unpack);
  } catch (e) {
    store.cleanPartial();
    if (e instanceof ImageError) throw e;
    const msg = describeError(e);
    throw fail(`${explain(msg)} (${msg})`, e);
  } finally {
    client.close();
  }
}
