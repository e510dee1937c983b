/**
 * @module The namespaced sandbox: a named netns (owned by the runner, not a container) with loopback up and a veth
 * on the podkit0 bridge; each container gets its own mount namespace (volumes bind-mounted at mountPath, readOnly
 * remounted ro) and its own pid namespace, or the pod's shared one held by a pause process (shareProcessNamespace).
 */
import { readFileSync, statSync } from 'node:fs';
import { claimMountpoint, releaseMountpoints } from './mountpoints.js';
import { SandboxError } from '../../core/errors.js';
import { createPodNetwork, deletePodNetwork, leaseIP, releaseIP, GATEWAY } from './net.js';
import { execBounded, firstChild, spawnContainer } from './proc.js';
import { shq, type ContainerProcess, type ExecResult, type LaunchSpec, type Mount, type Sandbox } from './sandbox.js';
import { waitFor } from '../../core/wait.js';

export interface NamespacedOptions {
  /** Short id; names are `podkit-<id>` (netns) and `pk<id>` (host veth). */
  id: string;
  hostNetwork?: boolean;
  shareProcessNamespace?: boolean;
  /** Called with every pid the sandbox itself starts (pause), for the state file. */
  onPid?: (pid: number) => void;
}

/** The shell prologue run inside a container's fresh mount namespace before `exec "$@"`. */
export function launchScript(mounts: Mount[], cwd: string | undefined, mountProc: boolean, setHostname = false): string {
  const lines = ['set -e'];
  if (mountProc) lines.push('mount -t proc proc /proc');
  // Own UTS namespace: the container's hostname is the pod's (HOSTNAME is set in its environment).
  if (setHostname) lines.push('if [ -n "${HOSTNAME:-}" ]; then hostname "$HOSTNAME"; fi');
  lines.push(
    'm() { if [ -d "$1" ]; then mkdir -p "$2"; else mkdir -p "$(dirname "$2")"; [ -e "$2" ] || : > "$2"; fi; mount --bind "$1" "$2"; if [ "$3" = 1 ]; then mount -o remount,bind,ro "$2"; fi; }',
  );
  for (const m of mounts) lines.push(`m ${shq(m.source)} ${shq(m.target)} ${m.readOnly ? 1 : 0}`);
  lines.push(`cd ${shq(cwd ?? '/')}`, 'exec "$@"');
  return lines.join('\n');
}

/** True while `pid` is still on its way to the container's command (nsenter, unshare, the launch script). */
function launching(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline) return cmdline.split('\0').includes('podkit-launch');
    // Mid-execve (between nsenter, unshare, sh and the command) the new image's arguments are not yet in place and
    // cmdline reads empty: still launching, unless the process is a zombie.
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export class NamespacedSandbox implements Sandbox {
  readonly kind = 'namespaced';
  podIP = '';
  readonly hostIP = GATEWAY;
  readonly netns: string;
  readonly veth: string;
  private pause?: ContainerProcess;
  private pausePid?: number;

  constructor(private readonly opts: NamespacedOptions) {
    this.netns = `podkit-${opts.id}`;
    this.veth = `pk${opts.id}`;
    if (opts.hostNetwork) this.podIP = '127.0.0.1';
  }

  /** The pod's shared pid namespace (shareProcessNamespace), held by the pause process. */
  get pidNamespace(): string | undefined {
    return this.pausePid ? `/proc/${this.pausePid}/ns/pid` : undefined;
  }

  private get netnsArgs(): string[] {
    return this.opts.hostNetwork ? [] : ['nsenter', `--net=/run/netns/${this.netns}`, '--'];
  }

  async setup(): Promise<void> {
    if (process.getuid?.() !== 0) throw new SandboxError('the namespaced sandbox needs root');
    try {
      if (!this.opts.hostNetwork) {
        this.podIP = leaseIP(this.netns);
        await createPodNetwork(this.netns, this.veth, this.podIP);
      }
      if (this.opts.shareProcessNamespace) {
        // The pause process is pid 1 of the pod's pid namespace and reaps orphans, like Kubernetes' pause container.
        this.pause = spawnContainer([...this.netnsArgs, 'unshare', '--pid', '--fork', '--mount-proc', 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 3600 & wait; done'], { PATH: process.env.PATH ?? '/usr/bin:/bin' });
        this.opts.onPid?.(this.pause.pid);
        const pause = this.pause;
        const started = await waitFor(() => Boolean((this.pausePid = firstChild(pause.pid, (p) => readFileSync(p, 'utf8')))), { timeoutMs: 5000, intervalMs: 2 });
        if (!started) throw new SandboxError('pause process did not start');
      }
    } catch (e) {
      await this.teardown();
      throw e instanceof SandboxError ? e : new SandboxError(`sandbox setup failed: ${(e as Error).message}`, { cause: e });
    }
  }

  spawn(spec: LaunchSpec): ContainerProcess {
    for (const m of spec.mounts) claimMountpoint(m.target, statSync(m.source).isDirectory(), this.netns);
    if (this.pausePid) {
      // Join the pod's pid namespace (nsenter forks into it), then a private mount namespace of our own.
      const uts = !this.opts.hostNetwork;
      const script = launchScript(spec.mounts, spec.cwd, true, uts);
      const ns = this.opts.hostNetwork ? [] : ['--net'];
      return spawnContainer(['nsenter', `--target=${this.pausePid}`, '--pid', ...ns, '--', 'unshare', '--mount', ...(uts ? ['--uts'] : []), '--propagation', 'private', 'sh', '-c', script, 'podkit-launch', ...spec.argv], spec.env, undefined, true);
    }
    const uts = !this.opts.hostNetwork;
    const script = launchScript(spec.mounts, spec.cwd, false, uts);
    return spawnContainer([...this.netnsArgs, 'unshare', '--mount', ...(uts ? ['--uts'] : []), '--propagation', 'private', '--pid', '--fork', '--mount-proc', 'sh', '-c', script, 'podkit-launch', ...spec.argv], spec.env, undefined, true);
  }

  async exec(target: ContainerProcess, argv: string[], env: Record<string, string>, _cwd: string | undefined, timeoutMs: number): Promise<ExecResult> {
    let inner: number | undefined;
    // Right after spawn the container init may not have been forked yet.
    await waitFor(() => Boolean((inner = firstChild(target.pid, (p) => readFileSync(p, 'utf8')))) || target.child.exitCode !== null, { timeoutMs: 100, intervalMs: 2 });
    if (!inner) return { code: null, output: 'container is not running', timedOut: false };
    // Until the launch script has mounted the volumes and exec'd the container's command, its mount namespace shows
    // the host's folders: a postStart hook run then would write onto the host. Wait for the exec.
    const pid = inner;
    const settled = await waitFor(() => !launching(pid) || target.child.exitCode !== null, { timeoutMs, intervalMs: 5 });
    if (launching(pid)) return { code: null, output: 'container is still starting', timedOut: !settled };
    return execBounded(['nsenter', `--target=${inner}`, '--mount', '--net', '--pid', ...(this.opts.hostNetwork ? [] : ['--uts']), '--wd', '--', ...argv], env, timeoutMs);
  }

  async teardown(): Promise<void> {
    if (this.pause) {
      this.pause.signal('SIGKILL');
      await this.pause.exited;
      this.pause = undefined;
    }
    releaseMountpoints(this.netns);
    if (!this.opts.hostNetwork) {
      await deletePodNetwork(this.netns, this.veth);
      if (this.podIP) releaseIP(this.podIP, this.netns);
    }
  }
}
