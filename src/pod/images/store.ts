/**
 * @module The content-addressed image store under the state dir: `oci/` is an OCI image layout (each blob once, by
 * digest), `layers/<hex>/` each layer unpacked once, `images.json` the names, digests and last use.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, ImageError } from '../../core/errors.js';
import type { ImageRunConfig, UnpackedImage } from './types.js';
import { followFile } from './follow.js';
import { unpackLayer, type UnpackResult } from './unpack.js';

export interface ImageRecord {
  /** Normalized reference the image was pulled or loaded as. */
  ref: string;
  /** Config digest. */
  id: string;
  /** Digest the registry gave for `ref` (an index's, for multi-platform images); the manifest's for loaded images. */
  digest: string;
  /** Digest of the platform manifest in `oci/`. */
  manifest: string;
  /** Layer blob digests, lowest first. */
  layers: string[];
  /** Compressed bytes: config + layers. */
  size: number;
  pulled: string;
  lastUsed?: string;
  /** Who uses it (pod names), for rmi/prune. */
  users?: string[];
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

function statOr0(p: string): number {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}

const hex = (d: string) => d.replace(/^sha256:/, '');

/** The OCI layout's annotation naming a manifest in index.json (the image spec's annotations.md). */
export const REF_NAME = 'org.opencontainers.image.ref.name';

/** Blobs being written into `oci/` (by a pull, or skopeo for a load) are files named so, renamed into place once verified. */
const TEMP_BLOB = 'oci-put-blob';

function inodeOf(p: string): number | undefined {
  try {
    return statSync(p).ino;
  } catch {
    return undefined;
  }
}

/** Early unpacks at once while a copy runs: gunzip is the cost, and the machine's cores are few. */
const EARLY_UNPACKS = 3;

export class ImageStore {
  readonly root: string;
  readonly oci: string;
  readonly layersDir: string;
  readonly lockFile: string;
  /** skopeo's signature policy: the store takes what the registry's TLS and digests vouch for. */
  readonly policy: string;

  constructor(root: string) {
    this.root = root;
    this.oci = join(root, 'oci');
    this.layersDir = join(root, 'layers');
    this.lockFile = join(root, 'lock');
    this.policy = join(root, 'policy.json');
    mkdirSync(this.layersDir, { recursive: true });
    mkdirSync(join(this.oci, 'blobs', 'sha256'), { recursive: true });
    if (!existsSync(join(this.oci, 'oci-layout'))) writeFileSync(join(this.oci, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    if (!existsSync(this.policy)) writeFileSync(this.policy, '{"default":[{"type":"insecureAcceptAnything"}]}');
    if (!existsSync(join(this.oci, 'index.json'))) writeFileSync(join(this.oci, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
  }

  blobPath(digest: string): string {
    return join(this.oci, 'blobs', 'sha256', hex(digest));
  }

  readJson<T>(digest: string): T {
    return JSON.parse(readFileSync(this.blobPath(digest), 'utf8')) as T;
  }

  records(): ImageRecord[] {
    try {
      return JSON.parse(readFileSync(join(this.root, 'images.json'), 'utf8')) as ImageRecord[];
    } catch {
      return [];
    }
  }

  /** Writes the records atomically (temp + rename); callers hold the store lock. */
  saveRecords(list: ImageRecord[]): void {
    const tmp = join(this.root, `.images.json.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(list, null, 1));
    renameSync(tmp, join(this.root, 'images.json'));
  }

  find(ref: string): ImageRecord | undefined {
    return this.records().find((r) => r.ref === ref || r.id === ref || r.digest === ref || (ref.length >= 12 && hex(r.id).startsWith(hex(ref))));
  }

  /** Removes what an interrupted pull or load left: temp blobs, half-unpacked layer dirs (and credential files pulls once wrote). */
  cleanPartial(): void {
    for (const f of readdirSync(this.root)) if (f.startsWith('.auth-') && !f.startsWith(`.auth-${process.pid}-`)) rmSync(join(this.root, f), { force: true });
    for (const f of this.tempBlobs()) rmSync(join(this.oci, f), { force: true });
    for (const f of readdirSync(this.layersDir)) if (f.startsWith('.tmp-')) rmSync(join(this.layersDir, f), { recursive: true, force: true });
  }

  /** How far a fetch of `layers` into the store is: finished blobs, and bytes in the temp files being written. */
  progress(layers: readonly { digest: string; size: number }[]): { layers: { digest: string; size: number; done: boolean }[]; bytes: number; total: number } {
    let bytes = 0;
    for (const f of this.tempBlobs()) bytes += statOr0(join(this.oci, f));
    const out = layers.map((l) => ({ digest: l.digest, size: l.size, done: existsSync(this.blobPath(l.digest)) }));
    for (const l of out) if (l.done) bytes += l.size;
    return { layers: out, bytes, total: layers.reduce((a, l) => a + l.size, 0) };
  }

  /** The names of the blobs being written into `oci/` now (or left by a writer that died). */
  tempBlobs(): string[] {
    return readdirSync(this.oci).filter((f) => f.startsWith(TEMP_BLOB));
  }

  /** A new temp file path for a blob being written, which `cleanPartial` removes if it is never renamed into place. */
  tempBlobPath(): string {
    return join(this.oci, `${TEMP_BLOB}${randomBytes(8).toString('hex')}`);
  }

  /** Writes `bytes` as the blob `digest` (temp + rename), unless it is there. */
  putBlob(digest: string, bytes: Buffer): void {
    if (existsSync(this.blobPath(digest))) return;
    const tmp = this.tempBlobPath();
    writeFileSync(tmp, bytes);
    renameSync(tmp, this.blobPath(digest));
  }

  private readIndex(): { schemaVersion?: number; manifests: Descriptor[] } {
    return JSON.parse(readFileSync(join(this.oci, 'index.json'), 'utf8')) as { schemaVersion?: number; manifests: Descriptor[] };
  }

  /** Writes the layout's index.json atomically (temp + rename); callers hold the store lock. */
  private writeIndex(idx: { manifests: Descriptor[] }): void {
    const file = join(this.oci, 'index.json');
    writeFileSync(`${file}.tmp`, JSON.stringify(idx));
    renameSync(`${file}.tmp`, file);
  }

  /** The manifest digest the OCI layout holds under `name`. */
  manifestFor(name: string): string | undefined {
    return this.readIndex().manifests.find((m) => m.annotations?.[REF_NAME] === name)?.digest;
  }

  /** Names the manifest `digest` (of `size` bytes) `name` in the layout, in place of what had that name (as skopeo's oci: destination does). */
  tag(name: string, digest: string, size: number): void {
    const idx = this.readIndex();
    idx.manifests = idx.manifests.filter((d) => d.annotations?.[REF_NAME] !== name);
    idx.manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size, annotations: { [REF_NAME]: name } });
    this.writeIndex(idx);
  }

  /** Records the image `manifest` (in `oci/`) as `ref`; with `unpack`, unpacks its layers that are not unpacked yet. */
  async commit(ref: string, manifest: string, digest: string, unpack = true): Promise<ImageRecord> {
    const m = this.readJson<{ config: Descriptor; layers: Descriptor[] }>(manifest);
    const size = m.config.size + m.layers.reduce((a, l) => a + l.size, 0);
    const rec: ImageRecord = { ref, id: m.config.digest, digest, manifest, layers: m.layers.map((l) => l.digest), size, pulled: new Date().toISOString() };
    const diffIds = this.diffIds(rec);
    if (unpack) await this.unpackImage(rec, diffIds);
    const old = this.records().find((r) => r.ref === ref);
    if (old?.users) rec.users = old.users;
    if (old?.lastUsed) rec.lastUsed = old.lastUsed;
    this.saveRecords([...this.records().filter((r) => r.ref !== ref), rec]);
    return rec;
  }

  /** The config's DiffID for each layer of `rec`: as containerd refuses it, an image without one per layer is refused, its layers' unpacked bytes unchecked. */
  private diffIds(rec: ImageRecord): string[] {
    const cfg = this.readJson<{ rootfs?: { diff_ids?: string[] } }>(rec.id);
    const diffIds = cfg.rootfs?.diff_ids ?? [];
    if (diffIds.length !== rec.layers.length) throw new ImageError('ErrImagePull', `${rec.ref}: the image config lists ${diffIds.length} layer DiffIDs for the manifest's ${rec.layers.length} layers`);
    return diffIds;
  }

  /** True when each layer of `rec` is unpacked. */
  isUnpacked(rec: ImageRecord): boolean {
    return rec.layers.every((l) => existsSync(join(this.layersDir, hex(l))));
  }

  /**
   * Unpacks the layers of `rec` not unpacked yet (callers hold the store lock), each checked against its DiffID: a pull
   * stores blobs, and the first container to use an image unpacks them, once per layer however many images share it.
   */
  async unpackImage(rec: ImageRecord, diffIds = this.diffIds(rec)): Promise<ImageRecord> {
    await this.settleStreams();
    // Layers unpack side by side: each is its own directory, and gunzip is the cost. A layer the image holds twice
    // unpacks once (two unpacks of one digest shared a temp directory, each removing what the other wrote).
    const once = new Map<string, Promise<void>>();
    for (const [i, l] of rec.layers.entries()) {
      const before = once.get(l);
      once.set(l, before ? before.then(() => this.unpackOnce(rec.ref, l, diffIds[i])) : this.unpackOnce(rec.ref, l, diffIds[i]));
    }
    await Promise.all(once.values());
    return rec;
  }

  /** Layer unpacks started while their image was still being copied: digest → the diffId (undefined: was there). */
  private readonly early = new Map<string, Promise<string | undefined>>();
  /** Unpacks of blobs still being downloaded, by the inode of their temp file (the blob's, once renamed into place). */
  private readonly following = new Map<number, Promise<void>>();
  private running = 0;

  /** True while fewer than EARLY_UNPACKS early unpacks run. */
  get earlyRoom(): boolean {
    return this.running < EARLY_UNPACKS;
  }

  /**
   * Starts unpacking a layer whose blob is in the store (verified and renamed into place by the copy) while the
   * rest of its image is still coming, so download and gunzip overlap; `commit` waits for it and checks its diffId.
   */
  unpackSoon(digest: string): void {
    if (this.early.has(digest) || existsSync(join(this.layersDir, hex(digest)))) return;
    const ino = inodeOf(this.blobPath(digest));
    if (ino === undefined || this.following.has(ino)) return;
    this.running++;
    const p = this.unpackNow(digest).finally(() => this.running--);
    p.catch(() => undefined);
    this.early.set(digest, p);
  }

  /**
   * Starts unpacking the blob a copy is writing to the temp file `name` (in `oci/`) as its bytes arrive. The result
   * becomes a layer's directory only once the copy has verified the blob and renamed it into place as one of
   * `layers()`; anything else (the config blob, a blob the copy refused, a copy that failed) leaves nothing behind.
   * `copyOver` says the copy has ended, whatever its outcome.
   */
  follow(name: string, layers: () => readonly { digest: string }[], copyOver: () => boolean): void {
    const path = join(this.oci, name);
    const ino = inodeOf(path);
    if (ino === undefined || this.following.has(ino)) return;
    this.running++;
    const p = this.unpackFollowing(path, ino, layers, copyOver).finally(() => this.running--);
    this.following.set(ino, p);
  }

  private async unpackFollowing(path: string, ino: number, layers: () => readonly { digest: string }[], copyOver: () => boolean): Promise<void> {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(path, 'r');
    } catch {
      return; // renamed or removed meanwhile: unpackSoon takes the stored blob
    }
    const tmp = join(this.layersDir, `.tmp-f${ino}-${process.pid}`);
    const written = () => copyOver() || !existsSync(path);
    try {
      if ((await fh.stat()).ino !== ino) return;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { mode: 0o755 });
      // A failure here (not a layer, a broken one) is not reported: the unpack from the stored blob reports it.
      const r: UnpackResult | null = await unpackLayer(followFile(fh, written), tmp).catch(() => null);
      // The directory is the layer's only once the copy has renamed this very file into place (verified).
      while (!written()) await sleep(4);
      const hit = r && layers().find((l) => inodeOf(this.blobPath(l.digest)) === ino);
      const dir = hit && join(this.layersDir, hex(hit.digest));
      if (!hit || !dir || this.early.has(hit.digest) || existsSync(dir)) return;
      renameSync(tmp, dir);
      this.early.set(hit.digest, Promise.resolve(r.diffId));
    } finally {
      // FileHandle.close waits for a read still under way, so the descriptor cannot be reused under it.
      await fh.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** Waits for the early unpacks still running (before a failed copy's leftovers are removed). */
  async settleEarly(): Promise<void> {
    await this.settleStreams();
    await Promise.allSettled(this.early.values());
  }

  /** Waits for the unpacks that followed a copy's downloads, which have then put their layer in `early` or nothing. */
  private async settleStreams(): Promise<void> {
    await Promise.allSettled(this.following.values());
    this.following.clear();
  }

  private async unpackOnce(ref: string, digest: string, diffId: string | undefined): Promise<void> {
    const dir = join(this.layersDir, hex(digest));
    const started = this.early.get(digest);
    this.early.delete(digest);
    // null: none started, or it failed (done again here, where its error is reported); a finished one whose directory
    // went since (rmi in between) is done again too.
    const early = started ? await started.catch(() => null) : null;
    // Its failure names the image and the layer (a tar or gzip error alone says neither).
    const now = () => this.unpackNow(digest).catch((e: unknown) => Promise.reject(new ImageError('ErrImagePull', `${ref}: layer ${digest}: ${describeError(e)}`, { cause: e })));
    let got = early !== null && existsSync(dir) ? early : await now();
    if (diffId && got && diffId !== got && started) {
      // An early unpack that disagrees is done again from the stored, verified blob before the image is refused.
      rmSync(dir, { recursive: true, force: true });
      got = await now();
    }
    if (diffId && got && diffId !== got) {
      rmSync(dir, { recursive: true, force: true });
      throw new ImageError('ErrImagePull', `${ref}: layer ${digest} unpacks to ${got}, but the image config says ${diffId}`);
    }
  }

  /** Unpacks a layer blob into `layers/<hex>` through a temp dir; resolves with its diffId, undefined when it was there. */
  private async unpackNow(digest: string): Promise<string | undefined> {
    const dir = join(this.layersDir, hex(digest));
    if (existsSync(dir)) return undefined;
    const tmp = join(this.layersDir, `.tmp-${hex(digest).slice(0, 16)}-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { mode: 0o755 });
    try {
      const r = await unpackLayer(this.blobPath(digest), tmp);
      renameSync(tmp, dir);
      return r.diffId;
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** What the runtime needs of a recorded image. */
  unpacked(rec: ImageRecord): UnpackedImage {
    const cfg = this.readJson<{ config?: ImageRunConfig }>(rec.id);
    return { ref: rec.ref, id: rec.id, digest: rec.digest, layers: rec.layers.map((l) => join(this.layersDir, hex(l))), config: cfg.config ?? {} };
  }

  /** True when every blob of `rec` is present (a half-removed image is not); its layers may still need unpacking. */
  complete(rec: ImageRecord): boolean {
    return existsSync(this.blobPath(rec.manifest)) && existsSync(this.blobPath(rec.id)) && rec.layers.every((l) => existsSync(this.blobPath(l)));
  }

  /** Drops the records of `refs`, then every blob and layer dir no remaining image refers to. Returns bytes freed. */
  remove(refs: Set<string>): number {
    const keep = this.records().filter((r) => !refs.has(r.ref));
    this.saveRecords(keep);
    const idx = this.readIndex();
    const live = new Set<string>();
    for (const r of keep) for (const d of [r.manifest, r.id, ...r.layers]) live.add(hex(d));
    idx.manifests = idx.manifests.filter((m) => live.has(hex(m.digest)));
    this.writeIndex(idx);
    let freed = 0;
    const blobs = join(this.oci, 'blobs', 'sha256');
    for (const f of readdirSync(blobs)) {
      if (live.has(f)) continue;
      freed += statSync(join(blobs, f)).size;
      rmSync(join(blobs, f), { force: true });
    }
    for (const f of readdirSync(this.layersDir)) if (!live.has(f)) rmSync(join(this.layersDir, f), { recursive: true, force: true });
    return freed;
  }
}
