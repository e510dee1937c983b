/**
 * @module The runner's view of its pods in Kubernetes' own words: a v1 PodList whose `status` has PodStatus's field
 * names (phase, conditions, containerStatuses[].state/lastState/restartCount), plus what the status page shows
 * beside it (published ports, recent events, the last lines of each container). Pure.
 */
import type { PodStatus } from '../runtime/pod.js';
import type { ContainerStatus, Termination } from '../runtime/container.js';
import type { JobStatus } from './job-controller.js';

/** What the runner keeps about a pod besides its status. */
export interface PodExtras {
  /** hostPorts: where a browser reaches the pod from the host. */
  ports: { container: string; name?: string; hostIP: string; hostPort: number; containerPort: number }[];
  /** The latest events, oldest first. */
  events: { t: number; container: string; event: string; detail?: string }[];
  /** The last lines each container wrote. */
  logs: Map<string, string[]>;
  createdAt: number;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function terminated(t: Termination) {
  return { terminated: { exitCode: t.exitCode, reason: t.reason, message: t.detail, startedAt: iso(t.startedAt), finishedAt: iso(t.finishedAt) } };
}

/** Kubernetes' ContainerStatus: state is exactly one of waiting, running, terminated; lastState the termination before. */
export function containerStatus(c: ContainerStatus, now = Date.now()) {
  let state: object;
  let last = c.lastTermination;
  if (c.state === 'running') state = { running: { startedAt: iso(c.startedAt) } };
  else if (c.reason === 'CrashLoopBackOff' && c.restartAt !== undefined) {
    const left = Math.max(0, Math.ceil((c.restartAt - now) / 1000));
    state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off: restarting in ${left}s` } };
  } else if (c.state === 'terminated' && c.lastTermination) {
    state = terminated(c.lastTermination);
    last = c.previousTermination;
  } else state = { waiting: { reason: c.reason || 'ContainerCreating' } };
  return {
    name: c.name,
    state,
    lastState: last ? terminated(last) : {},
    ready: c.ready,
    started: c.started,
    restartCount: c.restarts,
    ...(c.pid !== undefined ? { pid: c.pid } : {}),
  };
}

/** kubectl's AGE: 45s, 3m12s, 2h5m, 3d4h. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600) ? `${Math.floor((s % 86400) / 3600)}h` : ''}`;
}

/** kubectl's STATUS column: a container's back-off or config error wins over the phase (the page's pod row). */
export function podDisplayStatus(p: PodStatus): string {
  if (p.reason) return p.reason;
  if (p.message) return 'ContainerCreating';
  if (p.containers.some((c) => c.reason === 'CrashLoopBackOff')) return 'CrashLoopBackOff';
  const bad = p.containers.find((c) => ['CreateContainerConfigError', 'ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName'].includes(c.reason));
  if (bad) return bad.reason;
  return p.phase;
}

/** Kubernetes has no Terminating or Stopped phase: a terminating pod is still Running, a stopped one has ended. */
function k8sPhase(p: PodStatus): string {
  if (p.phase === 'Terminating') return 'Running';
  if (p.phase === 'Stopped') return 'Succeeded';
  return p.phase;
}

export function podObject(p: PodStatus, x?: PodExtras, now = Date.now()) {
  const inits = p.containers.filter((c) => c.kind !== 'main');
  const mains = p.containers.filter((c) => c.kind === 'main');
  const cond = (type: string, ok: boolean) => ({ type, status: ok ? 'True' : 'False' });
  const initialized = inits.every((c) => (c.kind === 'sidecar' ? c.started : c.state === 'terminated' && c.exitCode === 0));
  const containersReady = p.containers.filter((c) => c.kind !== 'init').every((c) => c.ready);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    // A terminating pod is marked as Kubernetes marks it: a deletionTimestamp, its phase still Running.
    metadata: { name: p.name, namespace: p.namespace, ...(x ? { creationTimestamp: iso(x.createdAt) } : {}), ...(p.phase === 'Terminating' ? { deletionTimestamp: iso(now) } : {}) },
    status: {
      phase: k8sPhase(p),
      conditions: [cond('PodScheduled', true), cond('Initialized', initialized), cond('ContainersReady', containersReady), cond('Ready', p.ready)],
      ...(p.reason ? { reason: p.reason, message: p.message } : {}),
      podIP: p.podIP,
      ...(x ? { startTime: iso(x.createdAt) } : {}),
      initContainerStatuses: inits.map((c) => containerStatus(c, now)),
      containerStatuses: mains.map((c) => containerStatus(c, now)),
    },
  };
}

/** A batch/v1 Job with its status (counters, completedIndexes, the Complete or Failed condition), as the API server shows it. */
export function jobObject(j: JobStatus) {
  const c = j.condition;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: j.name, namespace: j.namespace },
    spec: { ...(j.completions !== undefined ? { completions: j.completions } : {}), parallelism: j.parallelism },
    status: {
      startTime: iso(j.startTime),
      ...(j.completionTime !== undefined ? { completionTime: iso(j.completionTime) } : {}),
      active: j.active,
      succeeded: j.succeeded,
      failed: j.failed,
      ...(j.completedIndexes !== undefined ? { completedIndexes: j.completedIndexes } : {}),
      conditions: c ? [{ type: c.type, status: 'True', ...(c.reason ? { reason: c.reason, message: c.message } : {}), lastTransitionTime: iso(c.at) }] : [],
    },
  };
}

/** kubectl get jobs' STATUS: Complete, Failed (with the reason), or Running. */
export function jobDisplayStatus(j: JobStatus): string {
  if (j.condition?.type === 'Failed') return `Failed (${j.condition.reason})`;
  return j.condition?.type ?? 'Running';
}

/** `/status.json`: a v1 List of the Pods (and Jobs), as `kubectl get pods,jobs -o json` prints one. */
export function podList(pods: { status: PodStatus; extras?: PodExtras }[], now = Date.now(), jobs: JobStatus[] = []) {
  return { apiVersion: 'v1', kind: 'List', items: [...pods.map((p) => podObject(p.status, p.extras, now)), ...jobs.map(jobObject)] };
}
