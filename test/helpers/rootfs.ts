/** @module Unpacked images made from directories for container tests: a busybox-static root (applets, /etc/passwd) as a layer, extra layers on top. */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ImageProvider, ImageRunConfig, UnpackedImage } from '../../src/pod/images/types.js';
import { tempDir } from './proc.js';

let busyboxLayer: string | undefined;

/** A layer with /bin/busybox (static), a link per applet, /etc/passwd and /etc/group (root, nobody, app=1000), /tmp. Made once per test process. */
export function busyboxLayerDir(): string {
  if (busyboxLayer) return busyboxLayer;
  const d = tempDir('podkit-layer-busybox-');
  mkdirSync(join(d, 'bin'));
  copyFileSync('/bin/busybox', join(d, 'bin/busybox'));
  chmodSync(join(d, 'bin/busybox'), 0o755);
  const applets = execFileSync('/bin/busybox', ['--list']).toString().split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(d, 'bin', a));
  mkdirSync(join(d, 'etc'));
  writeFileSync(join(d, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(d, 'etc/group'), 'root:x:0:\napp:x:1000:\nextra:x:2000:app\nnogroup:x:65534:\n');
  for (const p of ['tmp', 'root', 'home/app']) mkdirSync(join(d, p), { recursive: true });
  chmodSync(join(d, 'tmp'), 0o1777);
  busyboxLayer = d;
  return d;
}

/** A layer holding `files` (path → content; a value `{ link }` makes a symlink, `{ mode }` sets the mode). */
export function layerDir(files: Record<string, string | { content?: string | Buffer; link?: string; mode?: number }>): string {
  const d = tempDir('podkit-layer-');
  for (const [p, v] of Object.entries(files)) {
    const f = join(d, p);
    mkdirSync(dirname(f), { recursive: true });
    if (typeof v === 'string') writeFileSync(f, v);
    else if (v.link !== undefined) symlinkSync(v.link, f);
    else {
      writeFileSync(f, v.content ?? '');
      if (v.mode !== undefined) chmodSync(f, v.mode);
    }
  }
  return d;
}

let seq = 0;
/** An UnpackedImage over `layers` (lowest first; the busybox layer when none given). */
export function dirImage(config: ImageRunConfig = {}, layers: string[] = [busyboxLayerDir()], ref = `test.local/image-${seq++}:1`): UnpackedImage {
  return { ref, id: `sha256:${String(seq).padStart(64, '0')}`, digest: `sha256:${String(seq).padStart(64, '1')}`, layers, config };
}

/** An ImageProvider answering from a map of ref → image (a missing ref rejects with ErrImagePull). */
export function mapProvider(images: Record<string, UnpackedImage>): ImageProvider {
  return {
    async ensure(ref) {
      const img = images[ref];
      if (!img) throw Object.assign(new Error(`ErrImagePull: ${ref} not in the test store`), { reason: 'ErrImagePull' });
      return img;
    },
  };
}
