/** @module podkit's version, from its package.json (dist/core and src/core both sit two folders below it). */
import { readFileSync } from 'node:fs';

export function podkitVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
