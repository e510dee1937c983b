/**
 * @module Pod fields a cluster accepts only with a feature gate on (alpha, or beta and off by default): each use gets
 * one warning naming the gate, locally and from `podkit inject`, instead of a refusal. Pure.
 */
import type { Issue } from './types.js';
import { isObject } from './walk.js';

type Check = (spec: Record<string, unknown>, path: string, warn: (p: string, gate: string, what: string) => void) => void;

function each(list: unknown, fn: (item: Record<string, unknown>, i: number) => void): void {
  if (Array.isArray(list)) list.forEach((x, i) => isObject(x) && fn(x, i));
}

const CHECKS: Check[] = [
  (spec, path, warn) =>
    each(spec.volumes, (v, i) => {
      const vp = `${path}.volumes[${i}]`;
      if (isObject(v.emptyDir) && v.emptyDir.mode !== undefined) warn(`${vp}.emptyDir.mode`, 'EmptyDirVolumeMode', 'emptyDir mode');
      if (v.image !== undefined) warn(`${vp}.image`, 'ImageVolume', 'image volumes');
      if (isObject(v.projected)) {
        each(v.projected.sources, (s, j) => {
          if (s.clusterTrustBundle !== undefined) warn(`${vp}.projected.sources[${j}].clusterTrustBundle`, 'ClusterTrustBundleProjection', 'clusterTrustBundle projections');
          if (s.podCertificate !== undefined) warn(`${vp}.projected.sources[${j}].podCertificate`, 'PodCertificateRequest', 'podCertificate projections');
        });
      }
    }),
  (spec, path, warn) =>
    each(spec.tolerations, (t, i) => {
      if (t.operator === 'Gt' || t.operator === 'Lt') warn(`${path}.tolerations[${i}].operator`, 'TaintTolerationComparisonOperators', `the ${t.operator} toleration operator`);
    }),
  (spec, path, warn) => {
    for (const list of ['initContainers', 'containers']) {
      each(spec[list], (c, i) => {
        const cp = `${path}.${list}[${i}]`;
        if (isObject(c.securityContext) && c.securityContext.cgroupOptions !== undefined) warn(`${cp}.securityContext.cgroupOptions`, 'WritableCgroups', 'cgroupOptions');
        each(c.env, (e, j) => {
          if (isObject(e.valueFrom) && e.valueFrom.fileKeyRef !== undefined) warn(`${cp}.env[${j}].valueFrom.fileKeyRef`, 'EnvFiles', 'fileKeyRef');
        });
        each(c.restartPolicyRules, (r, j) => {
          if (r.action === 'RestartAllContainers') warn(`${cp}.restartPolicyRules[${j}].action`, 'RestartAllContainersOnContainerExits', 'the RestartAllContainers action');
        });
      });
    }
  },
];

/** One warning per feature-gated field in the PodSpec at `path`. */
export function featureGateWarnings(spec: unknown, path: string): Issue[] {
  const out: Issue[] = [];
  if (!isObject(spec)) return out;
  const warn = (p: string, gate: string, what: string) => out.push({ severity: 'warning', path: p, gate, message: `${what}: feature gate ${gate} (a cluster without it enabled refuses this pod)` });
  for (const c of CHECKS) c(spec, path, warn);
  return out;
}
