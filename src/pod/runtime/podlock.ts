/**
 * @module One runner per pod name: the runner that owns a pod binds an abstract Unix socket named after the state
 * folder and the pod. Binding is exclusive, and the kernel frees the name the moment that process dies — even when
 * nobody reaps it (a zombie under a PID 1 that does not wait) — so the same name answers "is its runner alive?".
 */
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { SystemError } from '../../core/errors.js';

/** The abstract socket name (without the leading NUL) for a pod of a state folder. */
export function podLockName(root: string, pod: string): string {
  let dir: string;
  try {
    dir = realpathSync(root);
  } catch {
    dir = resolve(root);
  }
  return `podkit-pod-${createHash('sha256').update(`${dir}\0${pod}`).digest('hex').slice(0, 40)}`;
}

export interface PodLock {
  release(): Promise<void>;
}

/** Take the pod's lock; undefined when another live process holds it. */
export function lockPod(root: string, pod: string): Promise<PodLock | undefined> {
  return new Promise((done, fail) => {
    // Node opens sockets close-on-exec, so no container inherits the lock and outlives its runner holding it.
    const server = createServer((c) => c.destroy());
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') done(undefined);
      else fail(new SystemError('bind', e.code ?? 'EIO', `(the lock of pod "${pod}")`, { cause: e }));
    });
    server.listen(`\0${podLockName(root, pod)}`, () => {
      server.unref();
      done({ release: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

/** The lock names bound right now (this network namespace's abstract Unix sockets). */
export function heldPodLocks(): Set<string> {
  const held = new Set<string>();
  let text = '';
  try {
    text = readFileSync('/proc/net/unix', 'utf8');
  } catch {
    return held;
  }
  for (const line of text.split('\n')) {
    const i = line.indexOf(' @podkit-pod-');
    // Node binds the whole sun_path, so the name shows padded with NULs (printed as '@').
    if (i >= 0) held.add(line.slice(i + 2).trim().replace(/@+$/, ''));
  }
  return held;
}
