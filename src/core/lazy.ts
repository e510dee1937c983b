/** @module Libraries loaded on first use: a sidecar pays for one (its code, its heap) only when a run needs it. */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

/** A getter that requires the CommonJS package `id` on its first call (synchronously, so callers need not change). */
export function lazy<T>(id: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= load(id) as T);
}
