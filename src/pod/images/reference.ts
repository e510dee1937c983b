/** @module Image references as Docker and Kubernetes read them: short names, default registry, tags, digests; pull policy defaults. */
import { ImageError } from '../../core/errors.js';

export interface ImageRef {
  /** Registry host (with port), `docker.io` for short names. */
  registry: string;
  /** Repository path inside the registry (`library/nginx`). */
  repository: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Parses `ref` with Docker's normalisation (`nginx` → `docker.io/library/nginx:latest`); throws InvalidImageName. */
export function parseRef(ref: string): ImageRef {
  const bad = (why: string) => new ImageError('InvalidImageName', `invalid image name "${ref}": ${why}`);
  if (!ref || /\s/.test(ref)) throw bad('empty or contains spaces');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad('a digest is sha256: and 64 hex digits');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`bad tag "${tag}"`);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  if (parts.length > 1 && (/[.:]/.test(parts[0]!) || parts[0] === 'localhost')) registry = parts.shift()!;
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  for (const p of parts) if (!COMPONENT.test(p)) throw bad(`"${p}" is not a valid repository component (lowercase letters, digits, . _ -)`);
  if (!tag && !digest) tag = 'latest';
  const out: ImageRef = { registry, repository: parts.join('/') };
  if (tag) out.tag = tag;
  if (digest) out.digest = digest;
  return out;
}

/** The full name: `registry/repository[:tag][@digest]`. */
export function formatRef(r: ImageRef): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** Where the registry is reached: Docker Hub's API host for docker.io. */
export function registryEndpoint(r: ImageRef): string {
  return r.registry === 'docker.io' ? 'registry-1.docker.io' : r.registry;
}

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/**
 * Kubernetes' default imagePullPolicy (SetDefaults_Container): Always when the tag is `latest`, written or implied by
 * neither tag nor digest (so `nginx:latest@sha256:…` too); IfNotPresent otherwise.
 */
export function defaultPullPolicy(ref: string): PullPolicy {
  return parseRef(ref).tag === 'latest' ? 'Always' : 'IfNotPresent';
}

/** True for registries reached over plain HTTP without asking: loopback hosts. */
export function isLoopbackRegistry(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}
