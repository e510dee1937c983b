/**
 * @module Mount points for volumes that do not exist on the host are created there (containers share the host's
 * root filesystem) and removed again when the last pod that needed them is gone. Claims are machine-wide files so
 * a pod never removes a directory another pod still mounts on (rmdir would detach that pod's mount).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const CLAIM_DIR = '/run/podkit-mnt';

function claimDir(path: string): string {
  return `${CLAIM_DIR}/${createHash('sha256').update(path).digest('hex').slice(0, 16)}`;
}

/** Create the directories missing on the way to `target` and claim them (and any another pod created) for `owner`. */
export function claimMountpoint(target: string, isDir: boolean, owner: string): void {
  const created: string[] = [];
  let p = isDir ? target : dirname(target);
  while (p !== '/' && !existsSync(p)) {
    created.unshift(p);
    p = dirname(p);
  }
  for (const d of created) {
    mkdirSync(d, { recursive: true });
    mkdirSync(claimDir(d), { recursive: true });
    writeFileSync(`${claimDir(d)}/${owner}`, d);
  }
  // A file mount (subPath of a file, a single configMap key) needs an empty file to mount on.
  if (!isDir && !existsSync(target)) {
    closeSync(openSync(target, 'a', 0o644));
    mkdirSync(claimDir(target), { recursive: true });
    writeFileSync(`${claimDir(target)}/${owner}`, target);
  } else if (!isDir && existsSync(claimDir(target))) writeFileSync(`${claimDir(target)}/${owner}`, target);
  // A path another pod created is claimed too, so it survives until both are done.
  for (let q = isDir ? target : dirname(target); q !== '/' && !created.includes(q); q = dirname(q)) {
    if (existsSync(claimDir(q))) writeFileSync(`${claimDir(q)}/${owner}`, q);
  }
}

/** Drop every claim of `owner` and remove each directory (or empty file) nobody claims any more, deepest first, only if empty. */
export function releaseMountpoints(owner: string): void {
  const paths: string[] = [];
  let dirs: string[] = [];
  try {
    dirs = readdirSync(CLAIM_DIR);
  } catch {
    return;
  }
  for (const h of dirs) {
    try {
      paths.push(readFileSync(`${CLAIM_DIR}/${h}/${owner}`, 'utf8'));
    } catch {
      // not ours
    }
  }
  for (const d of paths.sort((a, b) => b.length - a.length)) {
    const cd = claimDir(d);
    rmSync(`${cd}/${owner}`, { force: true });
    let left: string[] = [];
    try {
      left = readdirSync(cd);
    } catch {
      // no claim dir: nothing recorded
    }
    if (left.length) continue;
    try {
      rmdirSync(cd);
      if (statSync(d).isDirectory()) rmdirSync(d);
      else if (statSync(d).size === 0) rmSync(d);
    } catch {
      // not empty (someone wrote there) or gone: leave it
    }
  }
}
