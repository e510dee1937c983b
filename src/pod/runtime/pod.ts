/**
 * @module One pod: sandbox, volumes, hostPorts, init containers in order, native sidecars gated on their startup
 * probe, main containers; shutdown stops mains first, then sidecars in reverse order, then tears the sandbox down.
 */
import { CHANNELS, podkitChannel } from '../../core/diagnostics.js';
import { appendFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxError } from '../../core/errors.js';
import { expandArgv, isPodkitImage, resolveEnv, type PodContext } from '../spec/index.js';
import type { ConfigMapData, Container, PodPlan } from '../spec/types.js';
import type { BackoffOptions } from './backoff.js';
import { realClock, type Clock, type Timer } from './clock.js';
import { ContainerRunner, type ContainerKind, type ContainerStatus, type PodEvent } from './container.js';
import { forwardPort, type Forwarder } from './forward.js';
import { baseEnv, tool } from './proc.js';
import { RotatingLog, type LogLimits } from './logfile.js';
import type { LaunchSpec, Sandbox } from './sandbox.js';
import { containerMounts, prepareVolumes, type PreparedVolume } from './volumes.js';
import type { ImageProvider, UnpackedImage } from '../images/types.js';
import { defaultPullPolicy } from '../images/reference.js';
import { hostProcessOptIn, imageLaunch, runsFromImage } from './oci/launch.js';

/** This machine as the pods' node: what an unset limit reads as through resourceFieldRef. */
const NODE = { cpu: availableParallelism(), memory: totalmem() };

/** Every pod lifecycle event is published here (convention 7): `{t, pod, container, event, detail}`. */
export const podEvents = podkitChannel(CHANNELS.podEvent);

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Terminating' | 'Stopped';

export interface PodStatus {
  name: string;
  namespace: string;
  phase: PodPhase;
  podIP: string;
  ready: boolean;
  containers: ContainerStatus[];
  /** Whether the sandbox, volumes and hostPorts are set up yet (`failed`: see `message`). */
  setup: 'pending' | 'ready' | 'failed';
  /** Why the pod's sandbox or volumes could not be set up (it stays Pending, its containers ContainerCreating), or why it failed. */
  message?: string;
  /** Why the kubelet failed the pod (DeadlineExceeded: past `activeDeadlineSeconds`). */
  reason?: string;
}

export interface PodRunnerOptions {
  plan: PodPlan;
  configMaps: Map<string, ConfigMapData>;
  secrets: Map<string, ConfigMapData>;
  sandbox: Sandbox;
  /** The pod's state directory: volumes/, logs/, events.log. */
  dir: string;
  clock?: Clock;
  backoff?: BackoffOptions;
  /** Every container output line. */
  output?(container: string, stream: 'stdout' | 'stderr', line: string): void;
  /** Every lifecycle event (also appended to events.log). */
  event?(e: PodEvent & { pod: string; t: number }): void;
  /** Any status change. */
  changed?(): void;
  /** Env for podkit's own containers unless their spec sets it (PODKIT_LOG_FORMAT=text when the runner's output is a terminal). */
  podkitEnv?: Record<string, string>;
  /** Each container log's rotation (the kubelet's 10 MiB × 5 files by default). */
  logLimits?: LogLimits;
  /** tmpfs mounts made for emptyDir medium Memory (for the state file). */
  onMount?(path: string): void;
  /**
   * Where images come from. With one (and a sandbox that runs images), every container runs from its image on the
   * OCI runtime, except those opted out by annotation and podkit's own image when the store has no such image.
   */
  images?: ImageProvider;
}

/** The local podkit CLI for containers whose image is podkit's. */
export function podkitArgv(): string[] {
  // Built: dist/pod/runtime → dist/cli/main.js. From source (tsx, tests): src/pod/runtime → the built dist/cli/main.js.
  const built = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
  return [process.execPath, existsSync(built) ? built : fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url))];
}

export class PodRunner {
  phase: PodPhase = 'Pending';
  readonly containers: ContainerRunner[] = [];
  private readonly clock: Clock;
  private volumes = new Map<string, PreparedVolume>();
  /** The image each container runs from (absent: a host process). */
  private readonly images = new Map<string, UnpackedImage>();
  private tmpfs: string[] = [];
  private hostsFile?: string;
  private starting?: Promise<void>;
  private preparing?: Promise<void>;
  private extraHosts: string[] = [];
  private serviceEnv: Record<string, string> = {};
  private logs: RotatingLog[] = [];
  private forwarders: Forwarder[] = [];
  private stopRequested = false;
  private stopping?: Promise<void>;
  private endPhase?: PodPhase;
  private setupError?: string;
  private setupDone = false;
  private failure?: { reason: string; message: string };
  private deadline?: Timer;
  private finished!: (phase: PodPhase) => void;
  /** Resolves when the pod ends on its own (Succeeded/Failed) or is stopped. */
  readonly done: Promise<PodPhase>;

  constructor(private readonly o: PodRunnerOptions) {
    this.clock = o.clock ?? realClock;
    this.done = new Promise((r) => (this.finished = r));
    const spec = o.plan.spec;
    for (const c of spec.initContainers ?? []) this.containers.push(this.make(c, c.restartPolicy === 'Always' ? 'sidecar' : 'init'));
    for (const c of spec.containers) this.containers.push(this.make(c, 'main'));
  }

  get name(): string {
    return this.o.plan.name;
  }

  status(): PodStatus {
    const serving = this.containers.filter((c) => c.kind !== 'init');
    return {
      name: this.o.plan.name,
      namespace: this.o.plan.namespace,
      phase: this.phase,
      podIP: this.o.sandbox.podIP,
      ready: this.phase === 'Running' && serving.every((c) => c.status.ready),
      containers: this.containers.map((c) => c.status),
      setup: this.setupError ? 'failed' : this.setupDone ? 'ready' : 'pending',
      ...(this.setupError ? { message: this.setupError } : {}),
      ...(this.failure ? { reason: this.failure.reason, message: this.failure.message } : {}),
    };
  }

  /** Why setup failed, if it did. */
  get failedSetup(): string | undefined {
    return this.setupError;
  }

  /**
   * Set up the sandbox and volumes; a failure leaves this pod Pending with its containers ContainerCreating and the
   * reason, as the kubelet leaves a pod whose volume cannot be mounted — the pod's siblings run on. Resolves either way.
   */
  async prepareOrWait(): Promise<void> {
    try {
      await this.prepare();
    } catch (e) {
      this.setupError = (e as Error).message;
      this.emit({ container: '', event: 'setup-failed', detail: this.setupError });
      this.o.changed?.();
    }
  }

  private ctx(): PodContext {
    return { pod: this.o.plan, podIP: this.o.sandbox.podIP, hostIP: this.o.sandbox.hostIP, configMaps: this.o.configMaps, secrets: this.o.secrets, node: NODE, serviceEnv: this.serviceEnv };
  }

  private emit(e: PodEvent): void {
    const rec = { t: Date.now(), pod: this.o.plan.name, ...e };
    if (podEvents.hasSubscribers) podEvents.publish(rec);
    try {
      appendFileSync(join(this.o.dir, 'events.log'), JSON.stringify(rec) + '\n');
    } catch {
      // the state dir is gone during teardown; the callback still sees it
    }
    this.o.event?.(rec);
  }

  private make(c: Container, kind: ContainerKind): ContainerRunner {
    const logFile = join(this.o.dir, 'logs', `${c.name}.log`);
    let log: RotatingLog | undefined;
    return new ContainerRunner(c, kind, {
      sandbox: this.o.sandbox,
      clock: this.clock,
      backoff: this.o.backoff,
      restartPolicy: this.o.plan.spec.restartPolicy ?? 'Always',
      graceMs: (this.o.plan.spec.terminationGracePeriodSeconds ?? 30) * 1000,
      launch: () => this.launchSpec(c),
      beforeStart: () => this.pending(c),
      probeTarget: (proc) => ({
        host: this.o.sandbox.podIP,
        ports: Object.fromEntries((c.ports ?? []).filter((p) => p.name).map((p) => [p.name!, p.containerPort])),
        exec: async (argv, timeoutMs) => {
          const p = proc();
          if (!p) return { code: null, output: 'not running' };
          return this.o.sandbox.exec(p, argv, this.launchSpec(c).env, c.workingDir, timeoutMs);
        },
      }),
      event: (e) => this.emit(e),
      output: (stream, line) => {
        // One append stream per container (survives restarts); errors after teardown removed the folder are ignored.
        if (!log) {
          log = new RotatingLog(logFile, this.o.logLimits);
          this.logs.push(log);
        }
        log.write(line);
        this.o.output?.(c.name, stream, line);
      },
      changed: () => this.o.changed?.(),
    });
  }

  private launchSpec(c: Container): LaunchSpec {
    const r = resolveEnv(c, this.ctx());
    if (r.errors.length) throw new SandboxError(r.errors.join('; '));
    const hostname = (this.o.plan.spec.hostname ?? this.o.plan.name).slice(0, 63);
    const img = this.images.get(c.name);
    if (img) {
      const l = imageLaunch(c, this.o.plan.spec, img, { HOSTNAME: hostname, ...r.env });
      const mounts = containerMounts(c, this.volumes);
      if (this.hostsFile && !mounts.some((m) => m.target === '/etc/hosts')) mounts.push({ source: this.hostsFile, target: '/etc/hosts', readOnly: false });
      return { name: c.name, argv: l.argv, env: l.env, cwd: l.cwd, mounts, oci: l.oci };
    }
    // Kubernetes truncates the pod hostname to 63 characters.
    const env = { ...baseEnv(hostname), ...r.env };
    let argv: string[] = c.command ? [...expandArgv(c.command, env), ...expandArgv(c.args, env)] : expandArgv(c.args, env);
    if (isPodkitImage(c.image) && (!c.command || c.command[0] === 'podkit' || c.command[0].endsWith('/podkit'))) {
      argv = [...podkitArgv(), ...(c.command ? argv.slice(1) : argv)];
      for (const [k, v] of Object.entries(this.o.podkitEnv ?? {})) if (!(k in r.env)) env[k] = v;
    }
    if (argv.length === 0) throw new SandboxError(`container "${c.name}" has no command`);
    const mounts = containerMounts(c, this.volumes);
    if (this.hostsFile && !mounts.some((m) => m.target === '/etc/hosts')) mounts.push({ source: this.hostsFile, target: '/etc/hosts', readOnly: false });
    return { name: c.name, argv, env, cwd: c.workingDir, mounts };
  }

  /** Set up the sandbox and start the pod's containers in Kubernetes order (resolves once the sandbox is ready). */
  start(): Promise<void> {
    this.starting ??= this.prepare().then(() => {
      this.watchDeadline();
      void this.run();
    });
    return this.starting;
  }

  /** `activeDeadlineSeconds`: from its start, the kubelet gives the pod that long, then fails it (DeadlineExceeded). */
  private watchDeadline(): void {
    const s = this.o.plan.spec.activeDeadlineSeconds;
    if (s === undefined || this.stopRequested) return;
    this.deadline = this.clock.after(s * 1000, () => {
      if (this.stopRequested) return;
      this.failure = { reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' };
      this.emit({ container: '', event: 'deadline', detail: `DeadlineExceeded after ${s}s` });
      void this.finish('Failed');
    });
  }

  /**
   * Set up the sandbox, volumes and hostPorts without starting containers (memoized). A runner with several pods
   * prepares them all first, so every pod's /etc/hosts can name the others before any container starts.
   */
  prepare(): Promise<void> {
    this.preparing ??= this.doPrepare();
    return this.preparing;
  }

  /** The Service variables every container of this pod starts with (set before the containers start). */
  setServiceEnv(env: Record<string, string>): void {
    this.serviceEnv = env;
  }

  /** Lines added to the pod-managed /etc/hosts (other pods, Services); rewritten in place so mounts see it. */
  setHosts(extra: string[]): void {
    this.extraHosts = extra;
    if (!this.hostsFile) return;
    const hostname = (this.o.plan.spec.hostname ?? this.o.plan.name).slice(0, 63);
    const sub = this.o.plan.spec.subdomain;
    const own = sub ? `${hostname}.${sub}.${this.o.plan.namespace}.svc.cluster.local ${hostname}.${sub} ${hostname}` : hostname;
    const text = `# podkit-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${this.o.sandbox.podIP}\t${own}\n${extra.map((l) => l + '\n').join('')}`;
    try {
      writeFileSync(this.hostsFile, text);
    } catch {
      // folder removed at teardown
    }
  }

  private async doPrepare(): Promise<void> {
    mkdirSync(join(this.o.dir, 'logs'), { recursive: true });
    for (const c of this.containers) appendFileSync(join(this.o.dir, 'logs', `${c.spec.name}.log`), '');
    this.emit({ container: '', event: 'sandbox-setup' });
    await this.o.sandbox.setup();
    try {
      const mountTmpfs =
        this.o.sandbox.kind === 'namespaced'
          ? async (p: string) => {
              await tool(['mount', '-t', 'tmpfs', '-o', 'mode=0777', 'tmpfs', p]);
              this.o.onMount?.(p);
            }
          : undefined;
      if (this.o.sandbox.kind === 'namespaced' && !this.o.plan.spec.hostNetwork) {
        // Like the kubelet: a pod-managed /etc/hosts so the pod's hostname resolves without DNS.
        this.hostsFile = join(this.o.dir, 'hosts');
        this.setHosts(this.extraHosts);
      }
      const vr = await prepareVolumes(this.o.plan.spec.volumes ?? [], join(this.o.dir, 'volumes'), this.ctx(), mountTmpfs, this.o.plan.spec.securityContext?.fsGroup);
      this.volumes = vr.volumes;
      await this.ensureImages();
      this.tmpfs = vr.tmpfs;
      for (const w of vr.warnings) this.emit({ container: '', event: 'warning', detail: w });
      await this.publishPorts();
    } catch (e) {
      await this.cleanup();
      throw e;
    }
    this.setupDone = true;
    this.emit({ container: '', event: 'sandbox-ready', detail: this.o.sandbox.podIP });
    this.o.changed?.();
  }

  /** Pull (as imagePullPolicy says) the image of every container that runs from one; a failure waits for its container's start. */
  private async ensureImages(): Promise<void> {
    const spec = this.o.plan.spec;
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) await this.ensureImage(c).catch(() => undefined);
  }

  /** The image of `c` into `images` (nothing to do for a host process); rejects as the store does (ErrImagePull…). */
  private async ensureImage(c: Container): Promise<void> {
    const provider = this.o.images;
    if (!provider || !c.image || this.images.has(c.name) || hostProcessOptIn(c.name, this.o.plan.annotations)) return;
    if (isPodkitImage(c.image)) {
      // podkit's own image runs as the local CLI unless a real image by that name is in the store.
      const local = await provider.ensure(c.image, 'Never').catch(() => undefined);
      if (local) this.images.set(c.name, local);
      return;
    }
    const spec = this.o.plan.spec;
    const secrets = (spec.imagePullSecrets ?? []).map((s) => this.o.secrets.get(`${this.o.plan.namespace}/${s.name}`)?.data['.dockerconfigjson']?.toString('utf8')).filter((x): x is string => !!x);
    let policy = c.imagePullPolicy;
    try {
      policy ??= defaultPullPolicy(c.image);
    } catch {
      policy = 'IfNotPresent'; // a bad reference: ensure() names what is wrong with it
    }
    this.emit({ container: c.name, event: 'pulling', detail: c.image });
    const img = await provider.ensure(c.image, policy, secrets);
    this.images.set(c.name, img);
    await provider.touch?.(img.id, `${this.o.plan.namespace}/${this.o.plan.name}`);
    this.emit({ container: c.name, event: 'pulled', detail: `${img.ref} ${img.id}` });
  }

  /** For a container whose image is not in hand yet: the pull to wait for before it starts. */
  private pending(c: Container): Promise<void> | undefined {
    if (!this.o.images || this.images.has(c.name) || !runsFromImage(c, this.o.plan.annotations)) return undefined;
    return this.ensureImage(c);
  }

  private async publishPorts(): Promise<void> {
    const nsNet = this.o.sandbox.kind === 'namespaced' && this.o.sandbox.podIP !== '127.0.0.1';
    for (const c of [...(this.o.plan.spec.initContainers ?? []), ...this.o.plan.spec.containers]) {
      for (const p of c.ports ?? []) {
        if (!p.hostPort || (p.protocol ?? 'TCP') !== 'TCP') continue;
        if (!nsNet && p.hostPort === p.containerPort) continue;
        this.forwarders.push(await forwardPort(p.hostIP ?? '127.0.0.1', p.hostPort, this.o.sandbox.podIP, p.containerPort));
      }
    }
  }

  private async run(): Promise<void> {
    this.phase = 'Pending';
    const ahead = this.containers.filter((x) => x.kind !== 'main');
    const mains = this.containers.filter((x) => x.kind === 'main');
    for (const [i, c] of ahead.entries()) {
      if (this.stopRequested) return;
      c.start();
      // Once only sidecars are left ahead of them, the mains are created while the sidecars start up: only their
      // processes wait for the sidecars, as in Kubernetes. A subPath is made when its container is, so a container
      // with one is created at its start, after the sidecars (which may make that path themselves).
      if (ahead.slice(i).every((x) => x.kind === 'sidecar')) for (const m of mains) if (!usesSubPath(m.spec)) m.hold();
      if (c.kind === 'sidecar') {
        if (!(await c.whenStarted())) return;
      } else {
        const code = await c.whenDone();
        if (code !== 0) {
          if (!this.stopRequested) void this.finish('Failed');
          return;
        }
      }
    }
    if (this.stopRequested) return;
    for (const c of mains) c.start();
    this.phase = 'Running';
    this.o.changed?.();
    const codes = await Promise.all(mains.map((c) => c.whenDone()));
    if (!this.stopRequested) void this.finish(codes.every((x) => x === 0) ? 'Succeeded' : 'Failed');
  }

  private async finish(phase: PodPhase): Promise<void> {
    this.emit({ container: '', event: 'pod-finished', detail: phase });
    this.endPhase = phase;
    await this.stop();
  }

  /** Kubernetes shutdown: main containers (and a running init container) in parallel, then sidecars in reverse order. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopRequested = true;
      this.deadline?.cancel();
      // Never tear down a sandbox that is still being set up: let setup finish (or fail) first.
      await (this.starting ?? this.preparing)?.catch(() => undefined);
      this.phase = 'Terminating';
      this.o.changed?.();
      const deadline = this.clock.now() + (this.o.plan.spec.terminationGracePeriodSeconds ?? 30) * 1000;
      const left = (min: number) => Math.max(min, deadline - this.clock.now());
      await Promise.all(this.containers.filter((c) => c.kind !== 'sidecar').map((c) => c.stop(left(1000))));
      // The kubelet's minimum grace (2 s) for each sidecar once the pod's grace period has run out.
      for (const c of this.containers.filter((x) => x.kind === 'sidecar').reverse()) await c.stop(left(2000));
      await this.cleanup();
      this.emit({ container: '', event: 'sandbox-removed' });
      this.phase = this.endPhase ?? 'Stopped';
      this.finished(this.phase);
      this.o.changed?.();
    })();
    return this.stopping;
  }

  private async cleanup(): Promise<void> {
    for (const l of this.logs.splice(0)) await l.close();
    for (const f of this.forwarders.splice(0)) await f.close();
    await this.o.sandbox.teardown();
    for (const p of this.tmpfs.splice(0)) await tool(['umount', '-l', p]).catch(() => undefined);
    rmSync(join(this.o.dir, 'volumes'), { recursive: true, force: true });
  }
}

function usesSubPath(c: Container): boolean {
  return (c.volumeMounts ?? []).some((m) => m.subPath || m.subPathExpr);
}
