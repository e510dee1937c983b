/** @module Reading a file of an image from its unpacked layers (top layer first) without following links out of them. */
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The text of `rel` (e.g. `etc/passwd`) as the container will see it, or undefined. Only regular files under real
 * directories count: a symlinked `etc` or `passwd` in a hostile image never makes podkit read a host file.
 */
export function readLayerFile(layers: string[], rel: string): string | undefined {
  const parts = rel.split('/').filter(Boolean);
  for (const layer of [...layers].reverse()) {
    let p = layer;
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      p = join(p, parts[i]);
      const st = lstatSync(p, { throwIfNoEntry: false });
      ok = !!st && (i < parts.length - 1 ? st.isDirectory() : st.isFile());
    }
    if (ok) return readFileSync(p, 'utf8');
  }
  return undefined;
}
