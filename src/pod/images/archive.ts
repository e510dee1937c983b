/** @module `load` and `save`: docker save tars and OCI image layouts (directory or tar) in and out of the store, via skopeo. */
import { createReadStream, existsSync, readFileSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { describeError, ImageError, UsageError } from '../../core/errors.js';
import { formatRef, parseRef } from './reference.js';
import { skopeo } from './skopeo.js';
import { REF_NAME, type ImageRecord, type ImageStore } from './store.js';
import { readTar } from './tar.js';

type Kind = 'docker-archive' | 'oci-archive' | 'oci';

/** The largest manifest.json or index.json `load` reads (skopeo's own limit for a docker save manifest.json is 1 MiB). */
const MAX_JSON = 4 << 20;

const tooLarge = (file: string, what: string) => new UsageError(`${file}: its ${what} is larger than ${MAX_JSON >> 20} MiB`);

/** What a path that is not a regular file is, for the error. */
function otherKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'an unknown kind of file';
}

/**
 * `file`'s stat (through symlinks), refused unless it is a regular file or a directory. Load reads its input twice
 * (here for its kind and names, then skopeo copies it), which a pipe or a device cannot give; and opening a FIFO
 * waits for a writer that may never come. stat opens nothing, so this answers at once.
 */
function statInput(file: string): Stats {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: ${code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file or directory' : describeError(e)}`);
  }
  if (!st.isFile() && !st.isDirectory()) throw new UsageError(`${file}: is ${otherKind(st)}; load takes a tar file or an OCI layout directory`);
  return st;
}

/** What `file` is: an OCI layout directory, or a tar holding a docker save (`manifest.json`) or an OCI layout. */
async function kindOf(file: string): Promise<{ kind: Kind; names: string[] }> {
  if (statInput(file).isDirectory()) {
    if (!existsSync(join(file, 'oci-layout'))) throw new UsageError(`${file}: a directory to load must be an OCI image layout (it has no oci-layout file)`);
    const index = statSync(join(file, 'index.json'), { throwIfNoEntry: false });
    if (!index) throw new UsageError(`${file}: the OCI image layout has no index.json`);
    // It is read whole: as a FIFO it would wait for a writer, as a link to /dev/zero (size 0) fill memory.
    if (!index.isFile()) throw new UsageError(`${file}: the OCI image layout's index.json is ${otherKind(index)}; it must be a file`);
    if (index.size > MAX_JSON) throw tooLarge(file, 'index.json');
    return { kind: 'oci', names: namesOfIndex(readFileSync(join(file, 'index.json'), 'utf8'), file) };
  }
  const manifest: Buffer[] = [];
  const index: Buffer[] = [];
  let layout = false;
  let want: Buffer[] | null = null;
  let bytes = 0;
  await readTar(createReadStream(file) as AsyncIterable<Buffer>, {
    async entry(h) {
      const n = h.name.replace(/^\.\//, '');
      want = n === 'manifest.json' ? manifest : n === 'index.json' ? index : null;
      if (n === 'oci-layout') layout = true;
    },
    async data(c) {
      if (!want) return;
      bytes += c.length;
      if (bytes > MAX_JSON) throw tooLarge(file, want === manifest ? 'manifest.json' : 'index.json');
      want.push(Buffer.from(c));
    },
    async end() {
      want = null;
    },
  }).catch((e: unknown) => {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${file}: not a docker save tar or an OCI layout tar (${describeError(e)})`);
  });
  if (manifest.length && !layout) return { kind: 'docker-archive', names: namesOfManifest(Buffer.concat(manifest).toString('utf8'), file) };
  if (layout) return { kind: 'oci-archive', names: namesOfIndex(Buffer.concat(index).toString('utf8'), file) };
  throw new UsageError(`${file}: not a docker save tar or an OCI layout tar (no manifest.json, no oci-layout)`);
}

function parseJson(text: string, file: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: its ${what} is not valid JSON (${describeError(e)})`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The image names a docker save manifest.json gives: each item's RepoTags. */
function namesOfManifest(text: string, file: string): string[] {
  const items = parseJson(text, file, 'manifest.json');
  if (!Array.isArray(items) || !items.every((e) => isObject(e) && (e.RepoTags == null || isStrings(e.RepoTags)))) {
    throw new UsageError(`${file}: its manifest.json is not a docker save manifest (a list of {Config, RepoTags, Layers})`);
  }
  return items.flatMap((e: { RepoTags?: string[] | null }) => e.RepoTags ?? []);
}

/** The image names an OCI index.json gives in its manifests' annotations. */
function namesOfIndex(text: string, file: string): string[] {
  const idx = parseJson(text || '{}', file, 'index.json');
  const manifests = isObject(idx) ? (idx.manifests ?? []) : null;
  if (!Array.isArray(manifests) || !manifests.every((m) => isObject(m) && (m.annotations === undefined || isObject(m.annotations)))) {
    throw new UsageError(`${file}: its index.json is not an OCI image index (an object with a list of manifests)`);
  }
  return manifests
    .map((m: { annotations?: Record<string, unknown> }) => m.annotations?.['io.containerd.image.name'] ?? m.annotations?.[REF_NAME])
    .filter((n): n is string => typeof n === 'string' && n !== '');
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
