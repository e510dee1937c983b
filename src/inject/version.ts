/** @module podkit's version and default image, read once from package.json (the same file `podkit --version` reads). */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function podkitVersion(): string {
  if (!cached) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    cached = pkg.version;
  }
  return cached;
}

/** The image injected containers run; the Dockerfile in deploy/ builds it. */
export function defaultImage(): string {
  return `ghcr.io/podkit/podkit:${podkitVersion()}`;
}
