/**
 * @module One container's life: spawn, postStart, startup/readiness/liveness probes, restart policy with back-off,
 * and Kubernetes termination (preStop, SIGTERM, SIGKILL at the grace period).
 */
import type { Container, RestartPolicy } from '../spec/types.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { Clock, Timer } from './clock.js';
import { ProbeWorker, runHandler, type ProbeResult, type ProbeState, type ProbeTarget } from './probes.js';
import type { ContainerProcess, LaunchSpec, Sandbox } from './sandbox.js';

export type ContainerKind = 'init' | 'sidecar' | 'main';

export interface ContainerStatus {
  name: string;
  kind: ContainerKind;
  state: 'waiting' | 'running' | 'terminated';
  reason: string;
  exitCode?: number;
  restarts: number;
  started: boolean;
  ready: boolean;
  pid?: number;
  probes: ProbeState[];
  /** Wall-clock ms of the current (or last) start. */
  startedAt?: number;
  /** Wall-clock ms at which a container in back-off restarts. */
  restartAt?: number;
  /** The latest termination, and the one before it (Kubernetes' state.terminated / lastState.terminated). */
  lastTermination?: Termination;
  previousTermination?: Termination;
}

export interface Termination {
  exitCode: number;
  reason: string;
  /** How it ended, in words: `exit 1`, `killed by SIGKILL`. */
  detail: string;
  startedAt: number;
  finishedAt: number;
}

export interface PodEvent {
  container: string;
  event: string;
  detail?: string;
}

export interface ContainerDeps {
  sandbox: Sandbox;
  clock: Clock;
  backoff?: BackoffOptions;
  restartPolicy: RestartPolicy;
  /** Pod terminationGracePeriodSeconds × 1000. */
  graceMs: number;
  /** Builds the launch spec (env, argv, mounts) each time the container starts; throws when it cannot start. */
  launch(): LaunchSpec;
  /** Work to finish before a start (the image pull); its failure is ErrImagePull, retried with back-off. */
  beforeStart?(): Promise<void> | undefined;
  probeTarget(proc: () => ContainerProcess | undefined): ProbeTarget;
  event(e: PodEvent): void;
  output(stream: 'stdout' | 'stderr', line: string): void;
  changed(): void;
}

export class ContainerRunner {
  readonly status: ContainerStatus;
  private proc?: ContainerProcess;
  /** Created ahead of its start, its process held (`hold()`); `gone` once it ended before being let run. */
  private held?: { proc: ContainerProcess; gone: boolean };
  private probes: ProbeWorker[] = [];
  private restartTimer?: Timer;
  private readonly backoff: Backoff;
  private readonly pullBackoff: Backoff;
  private stopping = false;
  private startedAt = 0;
  private startedWaiters: ((ok: boolean) => void)[] = [];
  private doneWaiters: ((code: number) => void)[] = [];
  private exitWaiters: (() => void)[] = [];

  constructor(
    readonly spec: Container,
    readonly kind: ContainerKind,
    private readonly deps: ContainerDeps,
  ) {
    this.backoff = new Backoff({ ...deps.backoff, immediateFirst: true });
    this.pullBackoff = new Backoff(deps.backoff);
    this.status = { name: spec.name, kind, state: 'waiting', reason: 'PodInitializing', restarts: 0, started: false, ready: false, probes: [] };
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** Resolves true once started (startup probe passed, or running when there is none); false if it ended first. */
  whenStarted(): Promise<boolean> {
    if (this.status.started) return Promise.resolve(true);
    if (this.status.state === 'terminated' && !this.restartTimer) return Promise.resolve(false);
    return new Promise((r) => this.startedWaiters.push(r));
  }

  /** Resolves with the exit code once the container has terminated for good (no restart coming). */
  whenDone(): Promise<number> {
    if (this.status.state === 'terminated' && !this.restartTimer && !this.proc) return Promise.resolve(this.status.exitCode ?? 1);
    return new Promise((r) => this.doneWaiters.push(r));
  }

  /**
   * Create the container ahead of its start with its process held, where the sandbox can (a container from an
   * image): start() then only lets the process run. Only a first start is held; what fails here is left to start().
   */
  hold(): void {
    if (this.stopping || this.held || this.proc || this.status.state !== 'waiting' || this.status.restarts > 0) return;
    try {
      const spec = { ...this.deps.launch(), hold: true };
      if (!this.deps.sandbox.canHold?.(spec)) return;
      const held = { proc: this.deps.sandbox.spawn(spec), gone: false };
      void held.proc.exited.then(() => (held.gone = true));
      this.held = held;
    } catch {
      // start() builds the launch again and reports why it cannot start
    }
  }

  start(): void {
    if (this.stopping) return;
    this.restartTimer = undefined;
    const held = this.held;
    this.held = undefined;
    if (held && !held.gone) {
      held.proc.release?.(true);
      return this.track(held.proc);
    }
    if (held) drain(held.proc);
    const before = this.deps.beforeStart?.();
    if (before) return void before.then(() => this.launch(), (e: Error) => this.pullFailed(e));
    this.launch();
  }

  /** Kubernetes' image pull failure: ErrImagePull, then ImagePullBackOff until a retry (with back-off) succeeds. */
  private pullFailed(e: Error): void {
    if (this.stopping) return;
    const reason = (e as Error & { reason?: string }).reason;
    Object.assign(this.status, { state: 'waiting', reason: this.status.reason === 'ErrImagePull' || this.status.reason === 'ImagePullBackOff' ? 'ImagePullBackOff' : (reason ?? 'ErrImagePull') });
    if (reason === 'ErrImageNeverPull' || reason === 'InvalidImageName') this.status.reason = reason;
    const delay = this.pullBackoff.next(0);
    this.status.restartAt = Date.now() + delay;
    this.deps.event({ container: this.spec.name, event: 'error', detail: `${this.status.reason}: ${e.message}` });
    this.restartTimer = this.deps.clock.after(delay, () => this.start());
    this.deps.changed();
  }

  private launch(): void {
    if (this.stopping) return;
    let proc: ContainerProcess;
    try {
      proc = this.deps.sandbox.spawn(this.deps.launch());
    } catch (e) {
      this.status.state = 'waiting';
      this.status.reason = 'CreateContainerConfigError';
      this.deps.event({ container: this.spec.name, event: 'error', detail: (e as Error).message });
      this.exited(1, (e as Error).message);
      return;
    }
    this.track(proc);
  }

  /** From a spawned (or released) process on: status, output, exit, then hooks and probes once it exists. */
  private track(proc: ContainerProcess): void {
    this.proc = proc;
    this.startedAt = this.deps.clock.now();
    Object.assign(this.status, { state: 'running', reason: '', exitCode: undefined, pid: proc.pid, started: false, ready: false, startedAt: Date.now(), restartAt: undefined });
    this.deps.event({ container: this.spec.name, event: 'start', detail: `pid ${proc.pid}` });
    for (const s of ['stdout', 'stderr'] as const) pipeLines(proc.child[s], (l) => this.deps.output(s, l));
    void proc.exited.then(({ code, signal }) => {
      if (this.proc !== proc) return;
      this.proc = undefined;
      for (const w of this.exitWaiters.splice(0)) w();
      this.exited(code ?? 128 + signalNumber(signal), proc.oomKilled ? 'OOMKilled' : signal ? `killed by ${signal}` : `exit ${code}`, proc.oomKilled ? 'OOMKilled' : undefined);
    });
    void this.afterStart(proc);
    this.deps.changed();
  }

  private async afterStart(proc: ContainerProcess): Promise<void> {
    // A hook or probe must not run before the container's root and mounts exist (it would act on the host).
    if (proc.created && !(await proc.created)) return;
    const post = this.spec.lifecycle?.postStart;
    if (post) {
      const r = await runHandler(post, this.deps.probeTarget(() => this.proc), this.deps.graceMs);
      if (this.proc !== proc) return;
      this.deps.event({ container: this.spec.name, event: 'postStart', detail: `${r.result}: ${r.detail}` });
      if (r.result === 'failure') return void this.kill('FailedPostStartHook');
    }
    const target = this.deps.probeTarget(() => this.proc);
    const mk = (kind: ProbeState['kind'], on: (r: ProbeResult, d: string) => void) => {
      const probe = kind === 'startup' ? this.spec.startupProbe : kind === 'readiness' ? this.spec.readinessProbe : this.spec.livenessProbe;
      if (!probe) return undefined;
      const w = new ProbeWorker(kind, probe, target, this.deps.clock, on, () => this.deps.changed());
      this.probes.push(w);
      this.status.probes.push(w.state);
      return w;
    };
    this.status.probes = [];
    const rest = () => {
      this.status.started = true;
      this.deps.event({ container: this.spec.name, event: 'started' });
      for (const w of this.startedWaiters.splice(0)) w(true);
      const rp = mk('readiness', (r, d) => this.setReady(r === 'success', d));
      if (!rp && this.kind !== 'init') this.setReady(true, 'no readiness probe');
      rp?.start();
      mk('liveness', (r, d) => r === 'failure' && this.kill('Unhealthy', `liveness probe failed: ${d}`, this.spec.livenessProbe?.terminationGracePeriodSeconds))?.start();
      this.deps.changed();
    };
    const sp = mk('startup', (r, d) => {
      if (r === 'success') {
        sp?.stop();
        rest();
      } else void this.kill('Unhealthy', `startup probe failed: ${d}`, this.spec.startupProbe?.terminationGracePeriodSeconds);
    });
    if (sp) sp.start();
    else rest();
  }

  private setReady(ready: boolean, detail: string): void {
    if (this.status.ready === ready) return;
    // Init containers that run to completion never report ready; sidecars and main containers do.
    this.status.ready = ready;
    this.deps.event({ container: this.spec.name, event: ready ? 'ready' : 'unready', detail });
    this.deps.changed();
  }

  /** Kill for a failed probe/hook: graceful stop, then the normal restart decision. */
  private async kill(reason: string, detail?: string, probeGraceSeconds?: number): Promise<void> {
    this.deps.event({ container: this.spec.name, event: 'kill', detail: `${reason}${detail ? `: ${detail}` : ''}` });
    // A probe-level terminationGracePeriodSeconds overrides the pod's for probe-triggered kills.
    await this.terminate(probeGraceSeconds !== undefined ? probeGraceSeconds * 1000 : this.deps.graceMs);
  }

  private exited(code: number, detail: string, reason?: string): void {
    for (const p of this.probes) p.stop();
    this.probes = [];
    const ran = this.deps.clock.now() - this.startedAt;
    Object.assign(this.status, { state: 'terminated', reason: reason ?? (code === 0 ? 'Completed' : 'Error'), exitCode: code, ready: false, pid: undefined });
    this.status.previousTermination = this.status.lastTermination;
    this.status.lastTermination = { exitCode: code, reason: this.status.reason, detail, startedAt: this.status.startedAt ?? Date.now(), finishedAt: Date.now() };
    this.deps.event({ container: this.spec.name, event: 'exit', detail });
    const restart = !this.stopping && this.shouldRestart(code);
    if (restart) {
      const delay = this.backoff.next(ran);
      const restartNow = () => {
        this.status.restarts++;
        this.start();
      };
      if (delay === 0) {
        // The kubelet restarts a first crash at once; CrashLoopBackOff begins with the second.
        this.deps.event({ container: this.spec.name, event: 'restart', detail: 'at once (first crash)' });
        restartNow();
        this.deps.changed();
        return;
      }
      this.status.reason = 'CrashLoopBackOff';
      this.status.restartAt = Date.now() + delay;
      this.deps.event({ container: this.spec.name, event: 'backoff', detail: `${delay}ms` });
      this.restartTimer = this.deps.clock.after(delay, restartNow);
    } else {
      for (const w of this.startedWaiters.splice(0)) w(false);
      for (const w of this.doneWaiters.splice(0)) w(code);
    }
    this.deps.changed();
  }

  private shouldRestart(code: number): boolean {
    if (this.kind === 'sidecar') return true;
    if (this.kind === 'init') return code !== 0 && this.deps.restartPolicy !== 'Never';
    if (this.deps.restartPolicy === 'Always') return true;
    return this.deps.restartPolicy === 'OnFailure' && code !== 0;
  }

  /** preStop, then SIGTERM, then SIGKILL when the grace period runs out. Resolves once the process is gone. */
  private async terminate(graceMs: number): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    const gone = new Promise<void>((r) => this.exitWaiters.push(r));
    const deadline = this.deps.clock.now() + graceMs;
    const killTimer = this.deps.clock.after(graceMs, () => {
      this.deps.event({ container: this.spec.name, event: 'sigkill' });
      proc.signal('SIGKILL');
    });
    const pre = this.spec.lifecycle?.preStop;
    if (pre) {
      this.deps.event({ container: this.spec.name, event: 'preStop' });
      const budget = Math.max(1, deadline - this.deps.clock.now());
      await Promise.race([pre.sleep ? new Promise<void>((r) => this.deps.clock.after(pre.sleep!.seconds * 1000, r)) : runHandler(pre, this.deps.probeTarget(() => this.proc), budget), gone]);
    }
    if (this.proc === proc) {
      this.deps.event({ container: this.spec.name, event: 'sigterm', detail: `SIGKILL in ${Math.max(0, Math.round(deadline - this.deps.clock.now()))}ms` });
      proc.signal('SIGTERM');
    }
    await gone;
    killTimer.cancel();
  }

  /** Stop for good (pod shutdown): no restart afterwards. */
  async stop(graceMs = this.deps.graceMs): Promise<void> {
    this.stopping = true;
    this.restartTimer?.cancel();
    if (this.restartTimer) {
      this.restartTimer = undefined;
      for (const w of this.doneWaiters.splice(0)) w(this.status.exitCode ?? 0);
    }
    for (const p of this.probes) p.stop();
    await this.dropHeld();
    await this.terminate(graceMs);
  }

  /** A held container that never ran is abandoned: the runtime removes it and no exit is reported. */
  private async dropHeld(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    if (!held) return;
    held.proc.release?.(false);
    drain(held.proc);
    await held.proc.exited;
  }
}

/** Read a process's output to its end unseen (a paused pipe would keep it, and the runner's event loop, alive). */
function drain(proc: ContainerProcess): void {
  proc.child.stdout?.resume();
  proc.child.stderr?.resume();
}

/**
 * What one container's output may cost the runner: past this many bytes a second its pipe is paused until the next
 * tenth of a second, so a container writing without pause waits on its own writes (as it would on a slow terminal)
 * instead of taking a core from the runner.
 */
export const LOG_BYTES_PER_SECOND = 4 * 1024 * 1024;

function pipeLines(stream: NodeJS.ReadableStream | null, fn: (line: string) => void): void {
  if (!stream) return;
  let buf = '';
  let windowStart = Date.now();
  let windowBytes = 0;
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    buf += d;
    let from = 0;
    let i: number;
    while ((i = buf.indexOf('\n', from)) >= 0) {
      fn(buf.slice(from, i));
      from = i + 1;
    }
    buf = buf.slice(from);
    if (buf.length > 65536) {
      fn(buf);
      buf = '';
    }
    const now = Date.now();
    if (now - windowStart >= 100) {
      windowStart = now;
      windowBytes = 0;
    }
    windowBytes += d.length;
    if (windowBytes >= LOG_BYTES_PER_SECOND / 10) {
      stream.pause();
      setTimeout(() => stream.resume(), Math.max(1, windowStart + 100 - now)).unref();
    }
  });
  stream.on('end', () => buf && fn(buf));
}

function signalNumber(sig: NodeJS.Signals | null): number {
  const n: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
  return sig ? (n[sig] ?? 0) : 0;
}
