/** @module The image service the pod runtime and the image commands use: ensure (policy), pull, list, remove, prune. */
import { join } from 'node:path';
import { listPods } from '../runtime/state.js';
import { ImageError } from '../../core/errors.js';
import { load, save } from './archive.js';
import { withLock } from './lock.js';
import { pull, type PullOptions } from './pull.js';
import { formatRef, parseRef, type PullPolicy } from './reference.js';
import { ImageStore, type ImageRecord } from './store.js';
import type { ImageProvider, UnpackedImage } from './types.js';

export interface ImageServiceOptions extends PullOptions {
  /** Names of the pods that are running now; an image whose users are all gone is free to remove. Default: all users count. */
  livePods?: () => Set<string>;
}

export class ImageService implements ImageProvider {
  readonly store: ImageStore;
  readonly options: ImageServiceOptions;
  private readonly inflight = new Map<string, Promise<ImageRecord>>();

  /** `root` is the store directory (`<state dir>/images`). */
  constructor(root: string, options: ImageServiceOptions = {}) {
    this.store = new ImageStore(root);
    this.options = options;
  }

  async ensure(ref: string, policy: PullPolicy, pullSecrets: string[] = []): Promise<UnpackedImage> {
    const name = formatRef(parseRef(ref));
    const have = this.present(name);
    if (have && policy !== 'Always') return this.unpack(have);
    if (policy === 'Never') {
      if (have) return this.unpack(have);
      throw new ImageError('ErrImageNeverPull', `Container image "${ref}" is not present with pull policy of Never`);
    }
    return this.unpack(await this.pull(name, pullSecrets, policy === 'IfNotPresent', true));
  }

  /** The image as a container runs it, its layers unpacked first if a pull or load only stored them. */
  private async unpack(rec: ImageRecord): Promise<UnpackedImage> {
    if (!this.store.isUnpacked(rec)) await withLock(this.store.lockFile, () => this.store.unpackImage(rec));
    return this.store.unpacked(rec);
  }

  /**
   * Pulls `ref` (once, however many ask at the same time, in this process or others): its blobs into the store, and
   * with `unpack` its layers unpacked as they arrive (what a container about to start wants); without, the first
   * container to use the image unpacks them.
   */
  pull(ref: string, pullSecrets: string[] = [], ifMissing = false, unpack = false): Promise<ImageRecord> {
    const parsed = parseRef(ref);
    const name = formatRef(parsed);
    const key = `${name}\0${ifMissing}\0${unpack}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = withLock(this.store.lockFile, async () => {
        // Another process may have pulled it while we waited for the lock.
        const have = ifMissing ? this.present(name) : undefined;
        return have ?? pull(this.store, parsed, pullSecrets, this.options, unpack);
      }).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private present(name: string): ImageRecord | undefined {
    const rec = this.store.records().find((r) => r.ref === name);
    return rec && this.store.complete(rec) ? rec : undefined;
  }

  async touch(id: string, user: string): Promise<void> {
    await withLock(this.store.lockFile, async () => {
      const list = this.store.records();
      for (const r of list)
        if (r.id === id || r.ref === id) {
          r.lastUsed = new Date().toISOString();
          r.users = [...new Set([...(r.users ?? []), user])];
        }
      this.store.saveRecords(list);
    });
  }

  /** Forgets `user` (a pod that went away) on every image. */
  async release(user: string): Promise<void> {
    await withLock(this.store.lockFile, async () => {
      const list = this.store.records();
      for (const r of list) if (r.users) r.users = r.users.filter((u) => u !== user);
      this.store.saveRecords(list);
    });
  }

  /** Imports a docker save tar or an OCI layout (directory or tar); `name` names an image the file leaves unnamed. */
  load(file: string, name?: string): Promise<ImageRecord[]> {
    return withLock(this.store.lockFile, () => load(this.store, file, name));
  }

  /** Writes a stored image to `file`. */
  async save(ref: string, file: string, format: 'docker' | 'oci' = 'docker'): Promise<void> {
    const rec = this.store.find(ref) ?? this.store.find(safeName(ref));
    if (!rec) throw new ImageError('ErrImagePull', `no such image: ${ref} (podkit images lists them)`);
    await save(this.store, rec, file, format);
  }

  /** The pods using `rec` that still run (`namespace/name`; a pod folder is named by the pod's name). */
  users(rec: ImageRecord): string[] {
    const live = this.options.livePods?.();
    return (rec.users ?? []).filter((u) => !live || live.has(u) || live.has(u.split('/').pop()!));
  }

  list(): ImageRecord[] {
    return this.store.records();
  }

  /** Removes images by reference or ID; refuses one a pod uses unless `force`. Returns the references removed. */
  async remove(refs: readonly string[], force = false): Promise<string[]> {
    return withLock(this.store.lockFile, async () => {
      const gone = new Set<string>();
      for (const r of refs) {
        const rec = this.store.find(r) ?? this.store.find(safeName(r));
        if (!rec) throw new ImageError('ErrImagePull', `no such image: ${r}`);
        const users = this.users(rec);
        if (users.length && !force) throw new ImageError('ErrImagePull', `image ${rec.ref} is in use by ${users.join(', ')} (stop them first, or --force)`);
        gone.add(rec.ref);
      }
      this.store.remove(gone);
      return [...gone];
    });
  }

  /** Removes every image no pod uses; returns the references removed and the bytes freed. */
  async prune(): Promise<{ removed: string[]; freed: number }> {
    return withLock(this.store.lockFile, async () => {
      const removed = this.store.records().filter((r) => !this.users(r).length).map((r) => r.ref);
      const freed = this.store.remove(new Set(removed));
      return { removed, freed };
    });
  }
}

function safeName(ref: string): string {
  try {
    return formatRef(parseRef(ref));
  } catch {
    return ref;
  }
}

/**
 * The image service for a podkit state dir (the store lives in `<stateDir>/images`). Options not given come from
 * PODKIT_INSECURE_REGISTRIES (comma-separated), PODKIT_REGISTRY_CERT_DIR and PODKIT_REGISTRY_CA_FILE, so `podkit up` honours them too.
 */
export function imageServiceFor(stateDir: string, options: ImageServiceOptions = {}): ImageService {
  const env = process.env;
  const o: ImageServiceOptions = { livePods: () => new Set(listPods(stateDir).filter((p) => !p.orphaned).map((p) => p.name)), ...options };
  if (!o.insecureRegistries && env.PODKIT_INSECURE_REGISTRIES) o.insecureRegistries = env.PODKIT_INSECURE_REGISTRIES.split(',').map((s) => s.trim()).filter(Boolean);
  if (!o.certDir && env.PODKIT_REGISTRY_CERT_DIR) o.certDir = env.PODKIT_REGISTRY_CERT_DIR;
  if (!o.caFile && env.PODKIT_REGISTRY_CA_FILE) o.caFile = env.PODKIT_REGISTRY_CA_FILE;
  return new ImageService(join(stateDir, 'images'), o);
}
