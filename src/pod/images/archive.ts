/** @module `load` and `save`: docker save tars and OCI image layouts (directory or tar) in and out of the store, via skopeo. */
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, ImageError, UsageError } from '../../core/errors.js';
import { formatRef, parseRef } from './reference.js';
import { skopeo } from './skopeo.js';
import type { ImageRecord, ImageStore } from './store.js';
import { readTar } from './tar.js';

type Kind = 'docker-archive' | 'oci-archive' | 'oci';

/** What `file` is: an OCI layout directory, or a tar holding a docker save (`manifest.json`) or an OCI layout. */
async function kindOf(file: string): Promise<{ kind: Kind; names: string[] }> {
  if (!existsSync(file)) throw new UsageError(`${file}: no such file or directory`);
  if (statSync(file).isDirectory()) {
    if (!existsSync(join(file, 'oci-layout'))) throw new UsageError(`${file}: a directory to load must be an OCI image layout (it has no oci-layout file)`);
    return { kind: 'oci', names: namesOfIndex(readFileSync(join(file, 'index.json'), 'utf8')) };
  }
  let manifest = '';
  let index = '';
  let layout = false;
  let want: 'm' | 'i' | null = null;
  await readTar(createReadStream(file) as AsyncIterable<Buffer>, {
    async entry(h) {
      const n = h.name.replace(/^\.\//, '');
      want = n === 'manifest.json' ? 'm' : n === 'index.json' ? 'i' : null;
      if (n === 'oci-layout') layout = true;
    },
    async data(c) {
      if (want === 'm') manifest += c.toString();
      if (want === 'i') index += c.toString();
    },
    async end() {
      want = null;
    },
  }).catch((e: unknown) => {
    throw new UsageError(`${file}: not a docker save tar or an OCI layout tar (${describeError(e)})`);
  });
  if (manifest && !layout) {
    const entries = JSON.parse(manifest) as { RepoTags?: string[] | null }[];
    return { kind: 'docker-archive', names: entries.flatMap((e) => e.RepoTags ?? []) };
  }
  if (layout) return { kind: 'oci-archive', names: namesOfIndex(index) };
  throw new UsageError(`${file}: not a docker save tar or an OCI layout tar (no manifest.json, no oci-layout)`);
}

function namesOfIndex(text: string): string[] {
  const idx = JSON.parse(text || '{}') as { manifests?: { annotations?: Record<string, string> }[] };
  return (idx.manifests ?? []).map((m) => m.annotations?.['io.containerd.image.name'] ?? m.annotations?.['org.opencontainers.image.ref.name'] ?? '').filter(Boolean);
}

/** Imports every image `file` holds (as `name` when given) into the store; callers hold the store lock. */
export async function load(store: ImageStore, file: string, name?: string): Promise<ImageRecord[]> {
  const { kind, names } = await kindOf(file);
  if (!names.length && !name) throw new UsageError(`${file}: its images have no names; give one with --name IMAGE`);
  const policy = store.policy;
  const out: ImageRecord[] = [];
  const jobs = name ? [{ src: names[0] ?? '', as: name }] : names.map((n) => ({ src: n, as: n }));
  for (const { src, as } of jobs) {
    let ref: string;
    try {
      // An OCI layout's ref.name is often a bare tag (`latest`): such a name needs --name.
      if (!name && kind !== 'docker-archive' && !/[/]/.test(src)) throw new UsageError(`${file}: the image named "${src}" has no repository; give one with --name IMAGE`);
      ref = formatRef(parseRef(as));
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`${file}: ${describeError(e)}`);
    }
    const source = kind === 'oci' || kind === 'oci-archive' ? `${kind}:${file}${src ? `:${src}` : ''}` : `docker-archive:${file}${src ? `:${src}` : ''}`;
    store.cleanPartial();
    try {
      await skopeo(['--policy', policy, 'copy', '--quiet', source, `oci:${store.oci}:${ref}`]);
    } catch (e) {
      store.cleanPartial();
      throw new ImageError('ErrImagePull', `load ${file} (${ref}): ${describeError(e)}`, { cause: e });
    }
    const manifest = store.manifestFor(ref);
    if (!manifest) throw new ImageError('ErrImagePull', `load ${file}: no manifest for ${ref} in the store after the copy`);
    out.push(await store.commit(ref, manifest, manifest));
  }
  return out;
}

/** Writes the stored image `rec` to `file` as a docker save tar or an OCI layout tar. */
export async function save(store: ImageStore, rec: ImageRecord, file: string, format: 'docker' | 'oci'): Promise<void> {
  const policy = store.policy;
  const dest = format === 'docker' ? `docker-archive:${file}:${rec.ref.replace(/^docker\.io\/(library\/)?/, '')}` : `oci-archive:${file}:${rec.ref}`;
  try {
    await skopeo(['--policy', policy, 'copy', '--quiet', `oci:${store.oci}:${rec.ref}`, dest]);
  } catch (e) {
    throw new ImageError('ErrImagePull', `save ${rec.ref} to ${file}: ${describeError(e)}`, { cause: e });
  }
}
