/**
 * @module The container sandbox: the namespaced sandbox's pod network (and pause process), plus pod-wide IPC and UTS
 * namespaces bound to files and a /dev/shm tmpfs, all owned by the runner; containers with an image run on the OCI
 * runtime with their own root filesystem and join these namespaces by path. A container without one (the
 * host-process opt-in) runs as the namespaced sandbox runs it.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from '../../core/errors.js';
import { execProcess, ociConfig, type BindMount, type OciConfigInput } from './oci/spec.js';
import { cgroupMode, execOci, launchOci, memoryCgroup, ociCleanup, settleHybridCgroups, type OciProcess, type OciRuntime } from './oci/runtime.js';
import { tool } from './proc.js';
import { shq, type ContainerProcess, type ExecResult, type LaunchSpec, type Sandbox } from './sandbox.js';
import { NamespacedSandbox, type NamespacedOptions } from './sandbox-ns.js';

export interface ContainerSandboxOptions extends NamespacedOptions {
  /** The pod's state folder: ns/, shm/, containers/<name>/ (bundle, overlay upper and root), etc/. */
  dir: string;
  runtime: OciRuntime;
  /** The pod's hostname (set in its UTS namespace and written to /etc/hostname). */
  hostname: string;
  /** Called with anything worth telling (a cgroup controller moved for crun). */
  notice?: (msg: string) => void;
}

const FILES = ['/etc/hostname', '/etc/resolv.conf'];

export class ContainerSandbox implements Sandbox {
  /** Pod-level behaviour (tmpfs, /etc/hosts) is the namespaced sandbox's. */
  readonly kind = 'namespaced';
  readonly ns: NamespacedSandbox;
  private readonly configs = new Map<string, Record<string, unknown>>();
  private readonly started = new Set<string>();
  private ready = false;

  constructor(private readonly o: ContainerSandboxOptions) {
    this.ns = new NamespacedSandbox(o);
  }

  get podIP(): string {
    return this.ns.podIP;
  }

  get hostIP(): string {
    return this.ns.hostIP;
  }

  private path(...p: string[]): string {
    return join(this.o.dir, ...p);
  }

  async setup(): Promise<void> {
    // The pod network and the pod's own namespaces and files need nothing of each other: made side by side.
    const done = await Promise.allSettled([this.ns.setup(), this.podNamespaces()]);
    const failed = done.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return void (this.ready = true);
    await this.teardown();
    const e: unknown = failed.reason;
    throw e instanceof SandboxError ? e : new SandboxError(`container sandbox setup failed: ${(e as Error).message}`, { cause: e });
  }

  /** IPC and UTS namespaces bound to files (containers join them by path, a restart finds them again), /dev/shm, /etc files. */
  private async podNamespaces(): Promise<void> {
    if (this.o.runtime.bin.endsWith('crun')) for (const c of await settleHybridCgroups()) this.o.notice?.(`moved the unused cgroup controller ${c} from cgroup2 to a v1 hierarchy (crun refuses hybrid cgroups with controllers on v2)`);
    mkdirSync(this.path('ns'), { recursive: true });
    mkdirSync(this.path('shm'), { recursive: true });
    mkdirSync(this.path('etc'), { recursive: true });
    mkdirSync(this.o.runtime.root, { recursive: true });
    const uts = !this.o.hostNetwork;
    for (const t of uts ? ['ipc', 'uts'] : ['ipc']) closeSync(openSync(this.path('ns', t), 'a'));
    writeFileSync(this.path('etc', 'hostname'), this.o.hostname + '\n');
    let resolv = 'nameserver 127.0.0.1\n';
    try {
      resolv = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      // no resolver configured on the host
    }
    writeFileSync(this.path('etc', 'resolv.conf'), resolv);
    // The namespaces and the pod's /dev/shm in one spawn: spawning is most of the setup's cost.
    const unshare = ['unshare', `--ipc=${this.path('ns', 'ipc')}`, ...(uts ? [`--uts=${this.path('ns', 'uts')}`, 'hostname', this.o.hostname] : ['true'])];
    await tool(['sh', '-c', `set -e; ${unshare.map(shq).join(' ')}; mount -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=65536k shm ${shq(this.path('shm'))}`]);
  }

  /** A container from an image can be created with its process held; a host process cannot. */
  canHold(spec: LaunchSpec): boolean {
    return !!spec.oci;
  }

  spawn(spec: LaunchSpec): ContainerProcess {
    if (!spec.oci) return this.ns.spawn(spec);
    if (!this.ready) throw new SandboxError('container sandbox is not set up');
    const o = spec.oci;
    const bundle = this.path('containers', spec.name);
    const mounts: BindMount[] = [{ source: this.path('shm'), target: '/dev/shm', readOnly: false }];
    for (const f of FILES) if (!spec.mounts.some((m) => m.target === f)) mounts.push({ source: this.path('etc', f.slice(5)), target: f, readOnly: f === '/etc/resolv.conf' });
    if (this.o.hostNetwork && !spec.mounts.some((m) => m.target === '/etc/hosts')) mounts.push({ source: '/etc/hosts', target: '/etc/hosts', readOnly: true });
    mounts.push(...spec.mounts);
    const namespaces: OciConfigInput['namespaces'] = [{ type: 'ipc', path: this.path('ns', 'ipc') }];
    if (!this.o.hostNetwork) namespaces.push({ type: 'network', path: `/run/netns/${this.ns.netns}` }, { type: 'uts', path: this.path('ns', 'uts') });
    namespaces.push({ type: 'pid', path: this.ns.pidNamespace });
    const memory = o.limits.memory ? memoryCgroup(this.o.id, spec.name) : undefined;
    const config = ociConfig({
      rootfs: join(bundle, 'rootfs'),
      args: spec.argv,
      env: spec.env,
      cwd: spec.cwd ?? '/',
      user: o.user,
      namespaces,
      mounts,
      capabilities: o.capabilities,
      privileged: o.privileged,
      readOnlyRoot: o.readOnlyRoot,
      noNewPrivileges: o.noNewPrivileges,
      limits: o.limits,
      cgroupsPath: cgroupMode() === 'v2' ? `/podkit/${this.o.id}/${spec.name}` : `/podkit/${this.o.id}/${spec.name}/c`,
      runtimeMemory: memory === undefined,
    });
    this.configs.set(spec.name, config);
    const restart = this.started.has(spec.name);
    this.started.add(spec.name);
    return launchOci({
      restart,
      runtime: this.o.runtime,
      id: `${this.o.id}-${spec.name}`,
      bundle,
      layers: o.layers,
      config,
      memory: memory && o.limits.memory ? { dir: memory, limit: o.limits.memory } : undefined,
      env: spec.env,
      hold: spec.hold,
    });
  }

  async exec(target: ContainerProcess, argv: string[], env: Record<string, string>, cwd: string | undefined, timeoutMs: number): Promise<ExecResult> {
    const id = (target as Partial<OciProcess>).ociId;
    if (!id) return this.ns.exec(target, argv, env, cwd, timeoutMs);
    const name = id.slice(this.o.id.length + 1);
    const config = this.configs.get(name);
    if (!config || !(await (target as OciProcess).created)) return { code: null, output: 'container is not running', timedOut: false };
    return execOci(this.o.runtime, this.path('containers', name), id, execProcess(config, argv, env, cwd), timeoutMs);
  }

  async teardown(): Promise<void> {
    await ociCleanup(this.o.runtime, this.o.id, this.path('containers'));
    for (const p of [this.path('shm'), this.path('ns', 'ipc'), this.path('ns', 'uts')]) {
      await tool(['umount', '-l', p]).catch(() => undefined);
    }
    this.ready = false;
    await this.ns.teardown();
  }
}
