/** @module A Job's spec as its controller reads it (defaults included), and the replacement of a failed Job pod. Pure. */
import type { JobPlan, Manifest, PodPlan, PodSpec } from './types.js';

/** Kubernetes' default `backoffLimit`. */
const DEFAULT_BACKOFF_LIMIT = 6;

/** The Job controller's view of a validated Job manifest. */
export function jobPlan(m: Manifest, namespace: string): JobPlan {
  const spec = m.body.spec as { completions?: number; parallelism?: number; completionMode?: string; backoffLimit?: number; activeDeadlineSeconds?: number; template: { spec: PodSpec } };
  return {
    name: m.metadata.name as string,
    namespace,
    ...(spec.completions !== undefined ? { completions: spec.completions } : {}),
    parallelism: Math.max(1, spec.parallelism ?? 1),
    indexed: spec.completionMode === 'Indexed',
    backoffLimit: spec.backoffLimit ?? DEFAULT_BACKOFF_LIMIT,
    ...(spec.activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds: spec.activeDeadlineSeconds } : {}),
    restartPolicy: spec.template.spec.restartPolicy === 'OnFailure' ? 'OnFailure' : 'Never',
    source: m.source,
  };
}

/**
 * The pod the controller makes in place of a failed one: the same template (and, for an Indexed Job, the same
 * completion index and hostname `<job>-<index>`), a fresh uid and a fresh name `<pod>-<5 random characters>`, as
 * `generateName` gives one.
 */
export function replacementPod(failed: PodPlan, job: JobPlan, suffix: string): PodPlan {
  const base = failed.job ? `${job.name}-${failed.job.index}` : failed.name;
  const spec = job.indexed && !failed.spec.hostname ? { ...failed.spec, hostname: base } : failed.spec;
  return { ...failed, name: `${base}-${suffix}`, uid: globalThis.crypto.randomUUID(), spec, labels: { ...failed.labels }, annotations: { ...failed.annotations } };
}
