/** @module Test images: layers written entry by entry (ustar), OCI layouts around them, busybox and host-binary images. */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tempDir } from './proc.js';

/** One tar entry. `type`: 0 file, 1 hard link, 2 symlink, 3 char device, 4 block device, 5 directory. */
export interface TarEntry {
  name: string;
  type?: '0' | '1' | '2' | '3' | '4' | '5' | '6' | 'x' | 'g' | 'L' | 'K';
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  data?: Buffer | string;
  devmajor?: number;
  devminor?: number;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.name, 0, 100);
  h.write(octal(e.mode ?? (e.type === '5' ? 0o755 : 0o644), 8), 100);
  h.write(octal(e.uid ?? 0, 8), 108);
  h.write(octal(e.gid ?? 0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(1_700_000_000, 12), 136);
  h.write('        ', 148);
  h.write(e.type ?? '0', 156);
  h.write(e.linkname ?? '', 157, 100);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write(octal(e.devmajor ?? 0, 8), 329);
  h.write(octal(e.devminor ?? 0, 8), 337);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148);
  return h;
}

/** One pax extended-header record (`<length> <key>=<value>\n`), its length counting itself. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let n = Buffer.byteLength(body) + 1;
  while (String(n).length + Buffer.byteLength(body) !== n) n = String(n).length + Buffer.byteLength(body);
  return `${n}${body}`;
}

/** An uncompressed tar of `entries`, in order, with no normalisation (so tests can write hostile names). */
export function tarOf(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  // Regular files and the metadata entries (pax x/g, GNU L/K) carry data.
  const carries = (e: TarEntry) => e.type === undefined || ['0', 'x', 'g', 'L', 'K'].includes(e.type);
  const push = (e: TarEntry) => {
    const data = carries(e) ? Buffer.from(e.data ?? '') : Buffer.alloc(0);
    parts.push(header(e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  };
  for (const e of entries) {
    // Names past ustar's 100 bytes go in a pax header, as GNU tar --format=posix writes them.
    if (Buffer.byteLength(e.name) > 100 && e.type !== 'x' && e.type !== 'L') {
      push({ name: 'PaxHeader', type: 'x', data: paxRecord('path', e.name) });
      push({ ...e, name: e.name.slice(0, 100) });
    } else push(e);
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface ImageSpec {
  /** Each layer's entries, lowest first. */
  layers: TarEntry[][];
  config?: Record<string, unknown>;
  /** Layer compression: gzip (default) or none. */
  compression?: 'gzip' | 'none';
  architecture?: string;
}

export interface BuiltImage {
  /** OCI image layout directory holding the image under `tag`. */
  layout: string;
  tag: string;
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
}

function putBlob(layout: string, data: Buffer | string): string {
  const d = sha(data);
  writeFileSync(join(layout, 'blobs', 'sha256', d.slice(7)), data);
  return d;
}

/** Writes an OCI image layout holding one image (and, with `platforms`, an index over several). */
export function buildImage(spec: ImageSpec, tag = 'latest', layout = tempDir('podkit-img-')): BuiltImage {
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const gz = (spec.compression ?? 'gzip') === 'gzip';
  const layers = spec.layers.map((entries) => {
    const tar = tarOf(entries);
    const blob = gz ? gzipSync(tar) : tar;
    return { digest: putBlob(layout, blob), size: blob.length, diffId: sha(tar) };
  });
  const config = JSON.stringify({
    architecture: spec.architecture ?? 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], ...spec.config },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  });
  const configDigest = putBlob(layout, config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: Buffer.byteLength(config) },
    layers: layers.map((l) => ({ mediaType: gz ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size })),
  });
  const manifestDigest = putBlob(layout, manifest);
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: Buffer.byteLength(manifest), annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  return { layout, tag, manifestDigest, configDigest, layerDigests: layers.map((l) => l.digest) };
}

/** Wraps the images of `built` (each its own layout) in one OCI index with the given platforms, in a new layout. */
export function buildIndex(images: { image: BuiltImage; architecture: string }[], tag = 'latest'): BuiltImage {
  const layout = tempDir('podkit-idx-');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const manifests = images.map(({ image, architecture }) => {
    for (const d of [image.configDigest, image.manifestDigest, ...image.layerDigests]) putBlob(layout, readFileSync(join(image.layout, 'blobs', 'sha256', d.slice(7))));
    const size = statSync(join(image.layout, 'blobs', 'sha256', image.manifestDigest.slice(7))).size;
    return { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifestDigest, size, platform: { architecture, os: 'linux' } };
  });
  const index = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests });
  const digest = putBlob(layout, index);
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest, size: Buffer.byteLength(index), annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
  return { layout, tag, manifestDigest: digest, configDigest: '', layerDigests: images.flatMap((i) => i.image.layerDigests) };
}

const dirsOf = (paths: string[]): TarEntry[] => {
  const dirs = new Set<string>();
  for (const p of paths) for (let d = dirname(p); d !== '.' && d !== '/'; d = dirname(d)) dirs.add(d);
  return [...dirs].sort().map((d) => ({ name: `${d}/`, type: '5' as const }));
};

/** Layer entries for busybox-static at /bin/busybox with `applets` as symlinks to it (default: sh, echo, cat, ls, sleep, id, env). */
export function busyboxLayer(applets = ['sh', 'echo', 'cat', 'ls', 'sleep', 'id', 'env', 'hostname', 'wget', 'true', 'false']): TarEntry[] {
  const bin = readFileSync('/bin/busybox');
  return [
    ...dirsOf(['bin/x', 'etc/x', 'tmp/x']),
    { name: 'bin/busybox', mode: 0o755, data: bin },
    ...applets.map((a) => ({ name: `bin/${a}`, type: '2' as const, linkname: 'busybox' })),
    { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' },
    { name: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\n' },
  ];
}

/** Layer entries for host `binaries` (absolute paths) with the shared libraries `ldd` lists, at their host paths. */
export function hostBinariesLayer(binaries: readonly string[]): TarEntry[] {
  const files = new Set<string>();
  for (const b of binaries) {
    files.add(b);
    const out = execFileSync('ldd', [b], { encoding: 'utf8' });
    for (const m of out.matchAll(/(?:=> )?(\/\S+) \(0x/g)) files.add(m[1]!);
  }
  const entries: TarEntry[] = [];
  const names = [...files].map((f) => f.slice(1));
  for (const f of files) {
    const real = realpathSync(f);
    entries.push({ name: f.slice(1), mode: statSync(real).mode & 0o7777, data: readFileSync(real) });
  }
  return [...dirsOf(names), ...entries];
}

/** A busybox image (one layer) in a new OCI layout. */
export function busyboxImage(tag = 'latest', config: Record<string, unknown> = { Cmd: ['sh'] }): BuiltImage {
  return buildImage({ layers: [busyboxLayer()], config }, tag);
}

export const blobPath = (img: BuiltImage, digest: string) => join(img.layout, 'blobs', 'sha256', digest.slice(7));
