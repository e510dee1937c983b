/**
 * @module One `podkit up` run of its pods: the registry of every pod (the files' and a Job's replacements), the
 * status page and status files, the Job controllers, and the end of the run (each pod's folder removed or kept).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { sendText, startHttpServer, type HttpHandle } from '../../core/http.js';
import type { HostPort } from '../../core/parse.js';
import { hostsLines, serviceBackend, serviceEnv, type PodPlan } from '../spec/index.js';
import { startClusterIPs, type ClusterIPs } from '../runtime/cluster-ip.js';
import type { PodPhase, PodRunner } from '../runtime/pod.js';
import { cleanupPod, writeJSON, type PodState } from '../runtime/state.js';
import { lockPod, type PodLock } from '../runtime/podlock.js';
import { realClock } from '../runtime/clock.js';
import { killCountdown } from './countdown.js';
import { podMetrics } from './metrics.js';
import { podList, type PodExtras } from './pod-status.js';
import { statusPage } from './status-page.js';
import { openPod, type RunnerPod, type RunWiring } from './runner-pod.js';
import { JOB_BACKOFF, JobController, type JobResult } from './job-controller.js';
import type { PodsHandle, RunnerOptions, StopReason } from './runner.js';

/** What a pod made after the start (a Job's replacement) is given: the pods' /etc/hosts and Service variables. */
type Net = Awaited<ReturnType<typeof preparePods>>;

export class PodsRun {
  readonly runners: PodRunner[] = [];
  readonly controllers: JobController[] = [];
  readonly stop: ReturnType<typeof stopper>;
  http?: HttpHandle;
  private readonly extras = new Map<PodRunner, PodExtras>();
  private readonly states = new Map<PodRunner, { state: PodState; dir: string }>();
  private readonly plans = new Map<PodRunner, PodPlan>();
  private readonly jobOf = new Map<PodRunner, JobController>();
  /** Finished pods kept (detached) with their folders: `podkit down` of one of a Job's removes it and asks us. */
  private readonly kept = new Map<PodRunner, string>();
  private readonly countdown: ReturnType<typeof killCountdown>;
  private readonly status: ReturnType<typeof statusWriter>;
  private wiring!: RunWiring;
  private cluster?: ClusterIPs;

  constructor(
    private readonly o: RunnerOptions,
    private readonly kind: 'namespaced' | 'host',
    private readonly locks: PodLock[],
  ) {
    this.countdown = killCountdown((l) => o.err(l));
    this.status = statusWriter(this.runners, this.states, this.record);
    this.stop = stopper(o, this.runners, this.controllers);
    process.on('SIGUSR2', this.onUsr2);
  }

  private readonly record = (r: PodRunner) => ({ ...r.status(), ...(this.jobOf.has(r) ? { job: this.jobOf.get(r)!.status() } : {}), updatedAt: Date.now() });

  private readonly onUsr2 = () => {
    // `podkit down POD` asks for one pod by dropping a file in its folder. Listening from the start: SIGUSR2's
    // default action would end a runner that `down` asks while it is still setting up.
    for (const r of this.runners) {
      const s = this.states.get(r);
      if (s && existsStop(s.dir)) void r.stop();
    }
    for (const [r, dir] of this.kept) if (!existsSync(dir)) void this.jobOf.get(r)?.halt();
  };

  /** The status page and a runner for every pod of the files; when that fails, nothing is left open or locked. */
  async open(): Promise<void> {
    const { o } = this;
    try {
      this.http = o.statusBind ? await statusServer(o.statusBind, this.runners, this.extras, this.controllers) : undefined;
      const statusURL = this.http ? `http://${this.http.address.host}:${this.http.address.port}/` : undefined;
      if (statusURL) o.err(`podkit: status page ${statusURL}`);
      this.wiring = { kind: this.kind, statusURL, countdown: this.countdown, changed: () => (this.status.write(), this.controllers.forEach((c) => c.observe())) };
      for (const plan of o.loaded.pods) this.register(plan, openPod(o, plan, this.wiring));
    } catch (e) {
      // Nothing has started yet: free the status page's port so the error ends the process.
      await this.http?.close();
      process.off('SIGUSR2', this.onUsr2);
      for (const l of this.locks) await l.release();
      throw e;
    }
  }

  private register(plan: PodPlan, pod: RunnerPod): void {
    this.runners.push(pod.runner);
    this.extras.set(pod.runner, pod.extras);
    this.states.set(pod.runner, { state: pod.state, dir: pod.dir });
    this.plans.set(pod.runner, plan);
  }

  /** Prepare and start every pod, run the Jobs, and resolve with the exit code once all have ended and are cleaned up. */
  async runToEnd(): Promise<number> {
    const plain = this.runners.filter((r) => !this.plans.get(r)?.job);
    try {
      const net = await preparePods(this.o, this.runners, this.kind, (c) => (this.cluster = c));
      this.startJobs(net);
      await startPlain(this.o, plain, this.stop.stopping);
    } catch (e) {
      await this.stop.stopAll('failed start');
      await this.finishAll();
      throw e;
    }
    const [phases, results] = await Promise.all([Promise.all(plain.map((r) => r.done.then(async (phase) => (await this.removeDir(r), phase)))), Promise.all(this.controllers.map((c) => c.done))]);
    await this.finishAll();
    return phases.every((p: PodPhase) => p === 'Succeeded' || p === 'Stopped') && results.every((x: JobResult) => x !== 'Failed') ? 0 : 1;
  }

  /** One controller per Job, over the pods the files made for it; it starts them and asks for replacements. */
  private startJobs(net: Net): void {
    for (const [key, job] of this.o.loaded.jobs) {
      const mine = this.runners.filter((r) => this.plans.get(r)?.job?.key === key);
      const c = new JobController(job, mine.map((r) => ({ plan: this.plans.get(r)!, pod: r })), {
        clock: realClock,
        backoff: this.o.jobBackoff ?? JOB_BACKOFF,
        start: (p) => startPod(p as PodRunner, this.stop.stopping),
        create: async (plan) => {
          const r = await this.create(plan, net);
          if (r) this.jobOf.set(r, c);
          return r;
        },
        ended: (p) => this.removeDir(p as PodRunner),
        stopping: this.stop.stopping,
        log: this.o.err,
        changed: this.status.write,
      });
      for (const r of mine) this.jobOf.set(r, c);
      this.controllers.push(c);
    }
    for (const c of this.controllers) c.run();
  }

  /** A replacement pod is made, locked and prepared as the pods of the files were, with the same hosts and Services. */
  private async create(plan: PodPlan, net: Net): Promise<PodRunner | undefined> {
    if (this.stop.stopping()) return undefined;
    const lock = await lockPod(this.o.root, plan.name);
    if (!lock) throw new UsageError(`pod "${plan.name}" is already running`);
    this.locks.push(lock);
    const pod = openPod(this.o, plan, this.wiring);
    this.register(plan, pod);
    await pod.runner.prepareOrWait();
    pod.runner.setHosts(net.lines);
    pod.runner.setServiceEnv(net.envFor(plan));
    return pod.runner;
  }

  private async removeDir(r: PodRunner): Promise<void> {
    const dir = this.states.get(r)?.dir;
    if ((await removePodDir(this.o, r, this.states, this.record)) && dir) this.kept.set(r, dir);
  }

  private async finishAll(): Promise<void> {
    this.stop.finished();
    this.countdown.stop();
    process.off('SIGUSR2', this.onUsr2);
    this.status.stop();
    await this.http?.close();
    await this.cluster?.close();
    for (const r of this.runners) await this.removeDir(r);
    for (const l of this.locks) await l.release();
  }
}

/** Stop every pod (and Job) the Kubernetes way, once; or force. Nothing to stop once the run is finishing. */
function stopper(o: RunnerOptions, runners: PodRunner[], jobs: { halt(): Promise<void> }[]) {
  let stopping = false;
  let finished = false;
  const stopAll = async (why: StopReason) => {
    if (stopping || finished) return;
    stopping = true;
    // Only a Ctrl-C is answered with how to force: after SIGTERM or a lost reader there is no keyboard to press.
    o.err(`podkit: stopping pods (${why}${why === 'SIGINT' ? '; Ctrl-C again to force' : ''})`);
    await Promise.all([...runners.map((r) => r.stop()), ...jobs.map((j) => j.halt())]);
  };
  const force = () => {
    if (finished) return;
    o.err('podkit: forcing: killing every container');
    for (const r of runners) for (const c of r.containers) void c.stop(0);
  };
  return {
    stopAll,
    force,
    stopping: () => stopping,
    phase: () => (finished ? 'cleaning up' : stopping ? 'stopping' : 'running') as PodsHandle['phase'],
    finished: () => void (finished = true),
  };
}

/** Each pod's status.json, rewritten at most every 50 ms while statuses change. */
function statusWriter(runners: PodRunner[], states: Map<PodRunner, { dir: string }>, record: (r: PodRunner) => object): { write(): void; stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  return {
    write: () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        for (const r of runners) {
          const s = states.get(r);
          if (!s) continue;
          try {
            writeJSON(join(s.dir, 'status.json'), record(r));
          } catch {
            // folder removed at shutdown
          }
        }
      }, 50);
    },
    stop: () => timer && clearTimeout(timer),
  };
}

/** The status page, /status.json, /metrics and /readyz of every pod of this run. */
async function statusServer(bind: HostPort, runners: PodRunner[], extras: Map<PodRunner, PodExtras>, jobs: JobController[]): Promise<HttpHandle> {
  const http = await startHttpServer({ bind, bindFlag: '--status-bind', metrics: podMetrics(() => runners.map((r) => r.status())), ready: () => {
    const notReady = runners.filter((r) => !r.status().ready).map((r) => r.name);
    return notReady.length ? { ready: false, reason: `not ready: ${notReady.join(', ')}` } : { ready: true };
  } });
  const views = () => runners.map((r) => ({ status: r.status(), extras: extras.get(r) }));
  const jobViews = () => jobs.map((j) => j.status());
  http.route('GET', '/', (_q, res) => sendText(res, 200, statusPage(views(), Date.now(), jobViews()), 'text/html; charset=utf-8'));
  http.route('GET', '/status.json', (_q, res) => sendText(res, 200, JSON.stringify(podList(views(), Date.now(), jobViews()), null, 1) + '\n', 'application/json'));
  return http;
}

/**
 * Every sandbox first, then the Services' cluster IPs, so each pod's /etc/hosts and Service variables name the other
 * pods and the Services before any container starts. Returns what a pod made later (a Job's replacement) is given.
 */
async function preparePods(o: RunnerOptions, runners: PodRunner[], kind: 'namespaced' | 'host', onCluster: (c: ClusterIPs) => void): Promise<{ lines: string[]; envFor(plan: PodPlan): Record<string, string> }> {
  await Promise.all(runners.map((r) => r.prepareOrWait()));
  const backends = runners.map((r, i) => ({ plan: o.loaded.pods[i], ip: r.failedSetup ? undefined : r.status().podIP }));
  const cluster = kind === 'namespaced' ? await startClusterIPs(o.loaded.services, backends, `${process.pid}`) : undefined;
  if (cluster) onCluster(cluster);
  for (const p of cluster?.problems ?? []) o.err(`podkit: ${p}`);
  const lines = hostsLines(backends, o.loaded.services, cluster?.ips);
  const envFor = (plan: PodPlan) => {
    const links = o.loaded.services.filter((s) => s.namespace === plan.namespace).flatMap((s) => {
      const ip = cluster?.ips.get(`${s.namespace}/${s.name}`) ?? serviceBackend(s, backends)?.ip;
      return ip ? [{ name: s.name, ip, ports: s.ports }] : [];
    });
    return serviceEnv(links, plan.spec.enableServiceLinks !== false);
  };
  for (const [i, r] of runners.entries()) {
    r.setHosts(lines);
    r.setServiceEnv(envFor(o.loaded.pods[i]));
  }
  return { lines, envFor };
}

/** Start a prepared pod unless the run is stopping, its setup failed (it stays ContainerCreating) or it has ended. */
function startPod(r: PodRunner, stopping: () => boolean): Promise<void> {
  return stopping() || r.failedSetup || r.phase !== 'Pending' ? Promise.resolve() : r.start();
}

/** The pods that are not a Job's, each in its order (a StatefulSet ordinal after the previous one is Ready). */
async function startPlain(o: RunnerOptions, runners: PodRunner[], stopping: () => boolean): Promise<void> {
  const byName = new Map(runners.map((r) => [r.name, r]));
  const planOf = new Map(o.loaded.pods.map((p) => [p.name, p]));
  await Promise.all(
    runners.map((r) =>
      startAfter(byName.get(planOf.get(r.name)?.startAfter ?? ''))
        .then(() => startPod(r, stopping))
        .catch(async (e: Error) => {
          o.err(`podkit: ${r.name}: ${e.message}`);
          await r.stop();
          throw e;
        }),
    ),
  );
}

/**
 * A pod's folder goes as soon as the pod is done, so `podkit down POD` sees it gone — unless the pod ended on its
 * own in a detached run: then its status and logs stay (its sandbox is gone) until `podkit down`, as Kubernetes
 * keeps a completed pod.
 */
async function removePodDir(o: RunnerOptions, r: PodRunner, states: Map<PodRunner, { state: PodState; dir: string }>, record: (r: PodRunner) => object): Promise<boolean> {
  const s = states.get(r);
  states.delete(r);
  if (!s) return false;
  const phase = r.status().phase;
  if (o.keepFinished && (phase === 'Succeeded' || phase === 'Failed') && !existsStop(s.dir)) {
    writeJSON(join(s.dir, 'status.json'), record(r));
    writeJSON(join(s.dir, 'state.json'), { ...s.state, pids: [], statusURL: undefined, finished: true });
    return true;
  }
  await cleanupPod({ name: r.name, dir: s.dir, orphaned: false, state: { ...s.state, pids: [] } });
  return false;
}

/** StatefulSet OrderedReady: wait until the previous ordinal is Ready (or has ended). */
async function startAfter(prev: PodRunner | undefined): Promise<void> {
  if (!prev) return;
  let ended = false;
  void prev.done.then(() => (ended = true));
  while (!ended && !prev.status().ready) await new Promise((r) => setTimeout(r, 20));
}

function existsStop(dir: string): boolean {
  return existsSync(join(dir, 'stop-requested'));
}
