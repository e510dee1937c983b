/**
 * @module The `podkit up` runner: owns every pod's sandbox, streams logs prefixed pod/container, keeps the state
 * folder current, serves the status page, and stops pods the Kubernetes way when its handle is closed (kill: force).
 */
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, fileErrorReason, PermissionError, UsageError } from '../../core/errors.js';
import { sendText, startHttpServer, type HttpHandle } from '../../core/http.js';
import type { HostPort } from '../../core/parse.js';
import type { ComponentHandle } from '../../core/lifecycle.js';
import { hostsLines, serviceBackend, serviceEnv, type LoadedManifests, type PodPlan } from '../spec/index.js';
import { startClusterIPs, type ClusterIPs } from '../runtime/cluster-ip.js';
import { PodRunner, type PodPhase } from '../runtime/pod.js';
import type { ImageProvider } from '../images/types.js';
import { cleanupPod, listPods, writeJSON, type PodState } from '../runtime/state.js';
import { lockPod, type PodLock } from '../runtime/podlock.js';
import { realClock } from '../runtime/clock.js';
import type { LogLimits } from '../runtime/logfile.js';
import { killCountdown } from './countdown.js';
import { podMetrics } from './metrics.js';
import { podList, type PodExtras } from './pod-status.js';
import { statusPage } from './status-page.js';
import { openPod, type RunnerPod, type RunWiring } from './runner-pod.js';
import { JOB_BACKOFF, JobController, type JobResult } from './job-controller.js';

export interface RunnerOptions {
  /** The validated manifests (loadManifests): their pods run, their Services, ConfigMaps, Secrets and claims serve them. */
  loaded: LoadedManifests;
  /** The state folder (podkit up's --state-dir, default /run/podkit): pods' state, logs, events and locks. */
  root: string;
  /** namespaced (root: network, mount and pid namespaces per pod), host (plain host processes), auto (namespaced). */
  sandbox: 'auto' | 'namespaced' | 'host';
  /** Where the status page, /status.json, /healthz, /readyz and /metrics are served; none when unset. */
  statusBind?: HostPort;
  /** The cap of a container's restart back-off (Kubernetes: 300 s). */
  maxBackoffMs: number;
  /** Colour the pod/container prefixes of `out`. */
  color: boolean;
  /** PODKIT_LOG_FORMAT for podkit's own containers ('text' when the output is a terminal); unset: their default. */
  podkitLogFormat?: string;
  /** Where images come from: with one, containers run from their images on the OCI runtime (namespaced sandbox). */
  images?: ImageProvider;
  /** The OCI runtime binary (`crun`, or `runc`). */
  ociRuntime?: string;
  /** Each container log's rotation (size × files). */
  logLimits?: LogLimits;
  /** A Job's pod replacement back-off (Kubernetes: 10 s doubling to 6 min). */
  jobBackoff?: { firstMs: number; maxMs: number };
  /** Keep a pod that ended on its own (Succeeded/Failed) in the state folder with its status and logs, until `podkit down`. */
  keepFinished?: boolean;
  /** Where container lines and runner events go. */
  out: (line: string) => void;
  err: (line: string) => void;
}

export function chooseSandbox(choice: RunnerOptions['sandbox']): 'namespaced' | 'host' {
  const root = process.getuid?.() === 0;
  if (choice === 'host') return 'host';
  if (!root) throw new PermissionError('root is needed for pod namespaces (network, mount, pid); run as root, or pass --sandbox=host for plain host processes without isolation');
  return 'namespaced';
}

/**
 * The state folder must be writable before anything starts (a non-root `--sandbox=host` run cannot write /run/podkit):
 * a ConfigError (exit 2) naming the flag and the variable, instead of a failure halfway through start-up.
 */
export function checkStateDir(root: string): void {
  try {
    mkdirSync(join(root, 'pods'), { recursive: true });
    accessSync(join(root, 'pods'), constants.W_OK);
  } catch (e) {
    throw new ConfigError('--state-dir', `cannot write the state folder ${root} (${fileErrorReason(e)}): give a writable one with --state-dir DIR or PODKIT_STATE_DIR=DIR`);
  }
}

/**
 * Take every pod's lock (one runner per pod name, however many `podkit up` race), then clean up what a runner that
 * is gone left under these names. Throws UsageError naming the pod another runner holds.
 */
async function lockPods(root: string, names: string[], err: (l: string) => void): Promise<PodLock[]> {
  const locks: PodLock[] = [];
  for (const name of names) {
    const l = await lockPod(root, name);
    if (!l) {
      for (const x of locks) await x.release();
      const pid = listPods(root).find((e) => e.name === name)?.state?.runner.pid;
      throw new UsageError(`pod "${name}" is already running${pid ? ` (runner pid ${pid})` : ''} (podkit down ${name})`);
    }
    locks.push(l);
  }
  for (const e of listPods(root)) {
    // Ours now: whatever is left under these names belongs to a runner that is gone, as unlocked pods do.
    if (!e.orphaned && !names.includes(e.name)) continue;
    await cleanupPod(e);
    err(e.state?.finished ? `podkit: removed finished pod ${e.name}` : `podkit: cleaned up pod ${e.name} left by a runner that is gone`);
  }
  return locks;
}

/** Why the pods are stopped, as the runner says it on `err`. */
export type StopReason = 'SIGINT' | 'SIGTERM' | 'output closed' | 'failed start' | 'closed';

/** What start() resolves with once the pods are set up to start (their containers start in the background). */
export interface PodsHandle extends ComponentHandle {
  /** The pods publish their own hostPorts; the runner has no data plane of its own. */
  readonly address: null;
  /** The status page's server (/, /status.json, /healthz, /readyz, /metrics); null without `statusBind`. */
  readonly httpAddress: HostPort | null;
  /**
   * Resolves with the exit code once every pod has ended and been cleaned up: 0 when each succeeded or was stopped,
   * 1 otherwise. Rejects, after the same clean-up, when the pods could not be started.
   */
  readonly done: Promise<number>;
  /** 'stopping' from the first close() (or a failed start) on, 'cleaning up' once every pod has ended. */
  readonly phase: 'running' | 'stopping' | 'cleaning up';
  /** Stop every pod the Kubernetes way (preStop, SIGTERM, grace period); resolves once all is cleaned up. */
  close(why?: StopReason): Promise<void>;
  /** Kill every container now, without waiting for grace periods (a second Ctrl-C). */
  kill(): void;
}

/** Lock, set up and start every pod of `o.loaded`; resolves once each has its runner, before their containers start. */
export async function start(o: RunnerOptions): Promise<PodsHandle> {
  const kind = chooseSandbox(o.sandbox);
  checkStateDir(o.root);
  const locks = await lockPods(o.root, o.loaded.pods.map((p) => p.name), o.err);

  const runners: PodRunner[] = [];
  const extras = new Map<PodRunner, PodExtras>();
  const countdown = killCountdown((l) => o.err(l));
  const states = new Map<PodRunner, { state: PodState; dir: string }>();
  const plans = new Map<PodRunner, PodPlan>();
  const jobOf = new Map<PodRunner, JobController>();
  const controllers: JobController[] = [];
  /** Finished pods kept (detached) with their folders: `podkit down` of one of a Job's removes it and asks us. */
  const kept = new Map<PodRunner, string>();
  const record = (r: PodRunner) => ({ ...r.status(), ...(jobOf.has(r) ? { job: jobOf.get(r)!.status() } : {}), updatedAt: Date.now() });
  const onUsr2 = () => {
    // `podkit down POD` asks for one pod by dropping a file in its folder. Listening from the start: SIGUSR2's
    // default action would end a runner that `down` asks while it is still setting up.
    for (const r of runners) {
      const s = states.get(r);
      if (s && existsStop(s.dir)) void r.stop();
    }
    for (const [r, dir] of kept) if (!existsSync(dir)) void jobOf.get(r)?.halt();
  };
  process.on('SIGUSR2', onUsr2);
  const status = statusWriter(runners, states, record);
  const register = (plan: PodPlan, pod: RunnerPod) => {
    runners.push(pod.runner);
    extras.set(pod.runner, pod.extras);
    states.set(pod.runner, { state: pod.state, dir: pod.dir });
    plans.set(pod.runner, plan);
  };
  let http: HttpHandle | undefined;
  let wiring!: RunWiring;
  try {
    http = o.statusBind ? await statusServer(o.statusBind, runners, extras, controllers) : undefined;
    const statusURL = http ? `http://${http.address.host}:${http.address.port}/` : undefined;
    if (statusURL) o.err(`podkit: status page ${statusURL}`);
    wiring = { kind, statusURL, countdown, changed: () => (status.write(), controllers.forEach((c) => c.observe())) };
    for (const plan of o.loaded.pods) register(plan, openPod(o, plan, wiring));
  } catch (e) {
    // Nothing has started yet: free the status page's port so the error ends the process.
    await http?.close();
    process.off('SIGUSR2', onUsr2);
    for (const l of locks) await l.release();
    throw e;
  }

  const stop = stopper(o, runners, controllers);
  const removeDir = async (r: PodRunner) => {
    const dir = states.get(r)?.dir;
    if ((await removePodDir(o, r, states, record)) && dir) kept.set(r, dir);
  };
  const plain = runners.filter((r) => !plans.get(r)?.job);
  const httpAddress = http?.address ?? null;
  let cluster: ClusterIPs | undefined;
  const done = runToEnd();
  // Whoever only closes the handle sees a failed start in done; it must not also end the process as unhandled.
  done.catch(() => undefined);
  return {
    address: null,
    httpAddress,
    done,
    get phase() {
      return stop.phase();
    },
    async close(why = 'closed') {
      await stop.stopAll(why);
      await done.catch(() => undefined);
    },
    kill: stop.force,
  };

  async function runToEnd(): Promise<number> {
    try {
      const net = await preparePods(o, runners, kind, (c) => (cluster = c));
      // A replacement pod is made, locked and prepared as the pods of the files were, with the same hosts and Services.
      const create = async (plan: PodPlan): Promise<PodRunner | undefined> => {
        if (stop.stopping()) return undefined;
        const lock = await lockPod(o.root, plan.name);
        if (!lock) throw new UsageError(`pod "${plan.name}" is already running`);
        locks.push(lock);
        const pod = openPod(o, plan, wiring);
        register(plan, pod);
        await pod.runner.prepareOrWait();
        pod.runner.setHosts(net.lines);
        pod.runner.setServiceEnv(net.envFor(plan));
        return pod.runner;
      };
      for (const [key, job] of o.loaded.jobs) {
        const mine = runners.filter((r) => plans.get(r)?.job?.key === key);
        const c = new JobController(job, mine.map((r) => ({ plan: plans.get(r)!, pod: r })), {
          clock: realClock,
          backoff: o.jobBackoff ?? JOB_BACKOFF,
          start: (p) => startPod(p as PodRunner, stop.stopping),
          create: async (plan) => {
            const r = await create(plan);
            if (r) jobOf.set(r, c);
            return r;
          },
          ended: (p) => removeDir(p as PodRunner),
          stopping: stop.stopping,
          log: o.err,
          changed: status.write,
        });
        for (const r of mine) jobOf.set(r, c);
        controllers.push(c);
      }
      for (const c of controllers) c.run();
      await startPlain(o, plain, stop.stopping);
    } catch (e) {
      await stop.stopAll('failed start');
      await finishAll();
      throw e;
    }
    const [phases, results] = await Promise.all([Promise.all(plain.map((r) => r.done.then(async (phase) => (await removeDir(r), phase)))), Promise.all(controllers.map((c) => c.done))]);
    await finishAll();
    return phases.every((p: PodPhase) => p === 'Succeeded' || p === 'Stopped') && results.every((x: JobResult) => x !== 'Failed') ? 0 : 1;
  }

  async function finishAll() {
    stop.finished();
    countdown.stop();
    process.off('SIGUSR2', onUsr2);
    status.stop();
    await http?.close();
    await cluster?.close();
    for (const r of runners) await removeDir(r);
    for (const l of locks) await l.release();
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
