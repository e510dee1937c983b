/**
 * @module Unpacking one layer into its own directory, confined: no entry lands outside it (`../`, absolute paths, links
 * through symlinked parents), OCI whiteouts become overlayfs whiteouts, ownership and modes are kept.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createReadStream, promises as fsp, linkSync, lstatSync, mkdirSync, rmSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { describeError, fileErrorReason, ImageError, PodkitError, ProtocolError } from '../../core/errors.js';
import { readTar, type TarHeader } from './tar.js';

export interface UnpackResult {
  /** sha256 of the uncompressed tar (the layer's DiffID). */
  diffId: string;
  /** Entries left out, with why (device nodes, FIFOs, writes through a symlinked parent). */
  skipped: string[];
}

const isRoot = process.getuid?.() === 0;

/** Linux's longest path, its NUL included. */
const PATH_MAX = 4096;
/** How many skipped entries a result lists by name. */
const MAX_SKIPPED = 100;

/** The bytes of `src` until it ends, `head` first. */
async function* prepend(head: Buffer, it: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  if (head.length) yield head;
  for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
}

/** The decompressed bytes of a layer blob (a file, or its bytes as they come): gzip or plain tar by their first bytes; zstd where Node has it. */
async function* decompressed(blob: string | AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const file = typeof blob === 'string' ? createReadStream(blob, { highWaterMark: 1 << 20 }) : null;
  const it = (file ?? (blob as AsyncIterable<Buffer>))[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let raw: Readable | null = null;
  try {
    let head = Buffer.alloc(0);
    while (head.length < 4) {
      const r = await it.next();
      if (r.done) break;
      head = Buffer.concat([head, r.value]);
    }
    raw = Readable.from(prepend(head, it), { objectMode: false });
    let stream: Readable = raw;
    // 1 MiB output chunks: a quarter of the round trips between the zlib thread and the tar reader that 256 KiB takes.
    if (head[0] === 0x1f && head[1] === 0x8b) stream = raw.pipe(zlib.createGunzip({ chunkSize: 1 << 20 }));
    else if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) {
      const z = (zlib as unknown as { createZstdDecompress?: () => NodeJS.ReadWriteStream }).createZstdDecompress;
      if (!z) throw new ImageError('ErrImagePull', `zstd-compressed layers need Node 22.15 or newer (this is ${process.version})`);
      stream = raw.pipe(z()) as unknown as Readable;
    }
    raw.on('error', (e) => stream.destroy(e));
    for await (const c of stream) yield c as Buffer;
  } finally {
    // A reader that stops early (a failed write, the archive's end) lets go of the blob's file at once, not at GC.
    raw?.destroy();
    file?.destroy();
  }
}

/** Normalises an archive path to a relative one inside the layer (`../../etc/x` → `etc/x`, `/x` → `x`), as containerd does. */
export function confine(name: string): string {
  return posix.normalize(`/${name}`).replace(/^\/+/, '').replace(/\/+$/, '');
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

/** Makes the parents of `rel` under `dir` real directories; false when one of them is a symlink (the entry is refused), or, with `make` false, is not a directory. */
function realParents(dir: string, rel: string, make = true): boolean {
  const parts = rel.split('/').slice(0, -1);
  let p = dir;
  for (const part of parts) {
    p += `/${part}`;
    const st = lstatOrNull(p);
    if (st?.isDirectory()) continue;
    if (st?.isSymbolicLink() || !make) return false;
    if (st) rmSync(p, { force: true });
    mkdirSync(p, { mode: 0o755 });
  }
  return true;
}

/** Gives `p` the entry's owner (when we may) and mode; a symlink keeps its own mode. */
async function own(p: string, h: TarHeader, link = false): Promise<void> {
  if (isRoot) await (link ? fsp.lchown(p, h.uid, h.gid) : fsp.chown(p, h.uid, h.gid));
  if (!link) await fsp.chmod(p, h.mode & 0o7777);
}

/**
 * Makes the filesystem object of one (non-marker) entry at `rel`; resolves with the open file a regular file's data
 * goes to, null for every other type. What it cannot make goes to `skip`.
 */
async function makeEntry(dir: string, rel: string, h: TarHeader, skip: (why: string) => void): Promise<fsp.FileHandle | null> {
  const target = `${dir}/${rel}`;
  const st = lstatOrNull(target);
  if (st && !(st.isDirectory() && h.type === '5')) rmSync(target, { recursive: true, force: true });
  switch (h.type) {
    case '0':
      return fsp.open(target, 'wx', 0o600);
    case '5':
      if (!st?.isDirectory()) await fsp.mkdir(target);
      await own(target, h);
      break;
    case '2':
      await fsp.symlink(h.linkname, target);
      await own(target, h, true);
      break;
    case '1': {
      const src = confine(h.linkname);
      // Only looked up: a link's source path through a file must not turn that file into a directory.
      const srcSt = src && realParents(dir, src, false) ? lstatOrNull(`${dir}/${src}`) : null;
      if (!srcSt || srcSt.isDirectory()) skip(`${h.name}: hard link to ${h.linkname}, which this layer does not hold`);
      else await fsp.link(`${dir}/${src}`, target);
      break;
    }
    default:
      skip(`${h.name}: ${h.type === '6' ? 'FIFO' : h.type === '3' || h.type === '4' ? 'device node' : `entry type ${h.type}`}`);
  }
  return null;
}

/** `p` with every byte but plain ones as an octal escape, as getfattr --dump writes a name and setfattr --restore reads it. */
const dumpName = (p: string) => [...Buffer.from(p)].map((b) => (/[\w./+-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`)).join('');

/**
 * Turns the layer's OCI whiteouts into overlayfs ones: 0/0 character devices, all hard links of one (as overlayfs
 * makes its own), and an xattr per opaque directory, all set by one setfattr. A process per whiteout made a 14 KB
 * layer of 2000 whiteouts take a minute.
 */
function applyWhiteouts(dir: string, whiteouts: readonly string[], opaque: readonly string[]): void {
  const device = `${dir}/.wh..wh.podkit-whiteout`; // no entry of a layer has such a name: each .wh. entry is a marker
  try {
    for (const w of whiteouts) {
      if (!realParents(dir, w)) continue;
      if (!lstatOrNull(device)) {
        const r = spawnSync('mknod', ['-m', '000', device, 'c', '0', '0']);
        if (r.status !== 0) throw new ImageError('ErrImagePull', `cannot make the whiteout ${w}: ${String(r.stderr).trim() || 'mknod failed'} (unpacking images needs root)`);
      }
      try {
        rmSync(`${dir}/${w}`, { recursive: true, force: true });
        linkSync(device, `${dir}/${w}`);
      } catch (e) {
        throw new ImageError('ErrImagePull', `cannot make the whiteout ${JSON.stringify(w.slice(0, 200))}: ${fileErrorReason(e)}`, { cause: e });
      }
    }
  } finally {
    rmSync(device, { force: true });
  }
  const dirs = [...new Set(opaque)].filter((o) => o === '.' || realParents(dir, `${o}/x`));
  if (!dirs.length) return;
  for (const o of dirs) mkdirSync(`${dir}/${o}`, { recursive: true });
  const dump = dirs.map((o) => `# file: ${dumpName(o)}\ntrusted.overlay.opaque="y"\n`).join('\n');
  const r = spawnSync('setfattr', ['--restore=-'], { cwd: dir, input: dump });
  if (r.status !== 0) throw new ImageError('ErrImagePull', `cannot mark ${dirs.length > 1 ? `${dirs.length} directories` : dirs[0]} opaque: ${String(r.stderr).trim() || 'setfattr failed'}`);
}

/** A catalogue error for what failed while unpacking the entry `at`: a corrupt gzip stream, or a file the entry could not become. */
function unpackError(e: unknown, at: string): unknown {
  if (e instanceof PodkitError) return e;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) return new ProtocolError(`gzip: the layer's compressed bytes are corrupt (${describeError(e)})`, { cause: e });
  // The errno's words, not Node's message: that repeats the (perhaps 4 KiB long) path.
  return new ImageError('ErrImagePull', `cannot unpack ${JSON.stringify(at.slice(0, 200))}: ${fileErrorReason(e)}`, { cause: e });
}

/** Unpacks a layer blob (its file, or its bytes as they come) into the (new, empty) directory `dir`. */
export async function unpackLayer(blob: string | AsyncIterable<Buffer>, dir: string): Promise<UnpackResult> {
  const hash = createHash('sha256');
  const skipped: string[] = [];
  let moreSkipped = 0;
  // The first few say what was left out; a layer of a million FIFOs does not make a list of a million.
  const skip = (why: string) => (skipped.length < MAX_SKIPPED ? skipped.push(why) : moreSkipped++);
  const whiteouts: string[] = [];
  const opaque: string[] = [];
  let out: fsp.FileHandle | null = null;
  let current: TarHeader | null = null;
  let at = ''; // the entry being unpacked, for errors

  const chunks = async function* () {
    for await (const c of decompressed(blob)) {
      hash.update(c);
      yield c;
    }
  };
  try {
    await readTar(chunks(), {
      async entry(h) {
        current = null;
        at = h.name;
        const rel = confine(h.name);
        if (!rel) return; // the layer's root itself
        // No file system takes such a path; refused here, before a pax header's 1 MiB name is kept for the end.
        if (Buffer.byteLength(rel) >= PATH_MAX || Buffer.byteLength(h.linkname) >= PATH_MAX) throw new ImageError('ErrImagePull', `cannot unpack ${JSON.stringify(h.name.slice(0, 200))}: name too long`);
        const base = posix.basename(rel);
        if (!realParents(dir, rel)) skip(`${h.name}: a parent is a symlink`);
        else if (base === '.wh..wh..opq') opaque.push(posix.dirname(rel));
        else if (base.startsWith('.wh.')) {
          // `.wh...` names `..`: it would delete the layer's parent (every other layer); `.wh.` and `.wh..` the marker's own directory.
          const gone = base.slice(4);
          if (gone === '' || gone === '.' || gone === '..' || gone.startsWith('.wh.')) skip(`${h.name}: a whiteout that names no file`);
          else whiteouts.push(posix.join(posix.dirname(rel), gone));
        }
        else {
          out = await makeEntry(dir, rel, h, skip);
          if (out) current = h;
        }
      },
      async data(chunk) {
        if (out) await out.write(chunk);
      },
      async end() {
        if (out && current) {
          const h: TarHeader = current;
          if (isRoot) await out.chown(h.uid, h.gid);
          await out.chmod(h.mode & 0o7777);
          await out.close();
        }
        out = null;
        current = null;
      },
    }, { toEnd: true });
    // Whiteouts last, so a same-named entry of this layer (which the spec forbids anyway) cannot undo one.
    applyWhiteouts(dir, whiteouts, opaque);
  } catch (e) {
    throw unpackError(e, at);
  } finally {
    // A failed unpack (a full disk, a broken archive) closes the file it was writing, or the mount stays busy.
    await (out as fsp.FileHandle | null)?.close().catch(() => undefined);
  }
  if (moreSkipped) skipped.push(`and ${moreSkipped} more`);
  return { diffId: `sha256:${hash.digest('hex')}`, skipped };
}
