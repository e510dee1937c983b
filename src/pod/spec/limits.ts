/** @module How many pods a run may have locally: one node's pod limit, and a bound on the pods a Job plans up front. Pure. */
import type { Issue, Manifest } from './types.js';

/** The one node runs at most this many pods, the kubelet's default `--max-pods` (Kubernetes would leave the rest Pending). */
const MAX_PODS = 110;
/** Kubernetes' limit on an Indexed Job's completions; podkit plans every Job pod up front, so it bounds every Job locally. */
const MAX_JOB_COMPLETIONS = 100_000;

/** How many pods a workload asks for (a Job: completions, else parallelism), and how many of them run at once. */
export function podCounts(m: Manifest): { total: number; atOnce: number } {
  const spec = m.body.spec as { replicas?: number; parallelism?: number; completions?: number };
  if (m.kind === 'DaemonSet') return { total: 1, atOnce: 1 };
  if (m.kind !== 'Job') return { total: spec.replicas ?? 1, atOnce: spec.replicas ?? 1 };
  const total = spec.completions ?? spec.parallelism ?? 1;
  return { total, atOnce: Math.min(total, spec.parallelism ?? 1) };
}

/** Why a workload cannot run locally by its pod count: past the node's pod limit, with the `running` pods of the run before it. */
export function podCountError(m: Manifest, running: number): Pick<Issue, 'path' | 'message'> | undefined {
  const { total, atOnce } = podCounts(m);
  const at = m.kind === 'Job' ? (total > MAX_JOB_COMPLETIONS ? 'spec.completions' : 'spec.parallelism') : 'spec.replicas';
  if (m.kind === 'Job' && total > MAX_JOB_COMPLETIONS) return { path: at, message: `${total} pods: podkit plans a Job's pods up front and runs at most ${MAX_JOB_COMPLETIONS} locally (Kubernetes' limit for an Indexed Job)` };
  if (running + atOnce > MAX_PODS) {
    const others = running ? ` besides the ${running} pods before it` : '';
    return { path: at, message: `${atOnce} pods at once${others}: one node runs at most ${MAX_PODS} pods (the kubelet's default --max-pods); lower it to run locally` };
  }
  return undefined;
}
