/**
 * @module The host sandbox (degraded mode, no root needed): containers are plain host processes sharing the host's
 * network and pid space; volumes appear at mountPath as symlinks podkit creates (only where nothing exists) and
 * removes at teardown; readOnly is not enforced. Documented in docs/pod.md.
 */
import { existsSync, lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { SandboxError } from '../../core/errors.js';
import { execBounded, spawnContainer } from './proc.js';
import type { ContainerProcess, ExecResult, LaunchSpec, Sandbox } from './sandbox.js';

export class HostSandbox implements Sandbox {
  readonly kind = 'host';
  readonly podIP = '127.0.0.1';
  readonly hostIP = '127.0.0.1';
  /** Symlinks this sandbox created, removed at teardown. */
  readonly links = new Map<string, string>();

  async setup(): Promise<void> {}

  spawn(spec: LaunchSpec): ContainerProcess {
    for (const m of spec.mounts) {
      const have = this.links.get(m.target);
      if (have === m.source) continue;
      if (have !== undefined || existsSync(m.target) || isLink(m.target)) {
        if (!(isLink(m.target) && readlinkSync(m.target) === m.source)) {
          throw new SandboxError(`host sandbox: cannot mount volume at ${m.target}: the path exists on the host (use a path that does not exist, or the namespaced sandbox)`);
        }
      }
      mkdirSync(dirname(m.target), { recursive: true });
      if (!isLink(m.target)) symlinkSync(m.source, m.target);
      this.links.set(m.target, m.source);
    }
    return spawnContainer(spec.argv, spec.env, spec.cwd ?? '/');
  }

  exec(_t: ContainerProcess, argv: string[], env: Record<string, string>, cwd: string | undefined, timeoutMs: number): Promise<ExecResult> {
    return execBounded(argv, env, timeoutMs, cwd);
  }

  async teardown(): Promise<void> {
    for (const [target, source] of this.links) {
      if (isLink(target) && readlinkSync(target) === source) rmSync(target);
    }
    this.links.clear();
  }
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
