/**
 * @module Local name resolution without cluster DNS: Services and StatefulSet pod names become /etc/hosts lines in
 * every pod (`redis-master`, `redis-master.default.svc.cluster.local`, `db-0.db`, …). Pure.
 */
import type { Issue, Manifest, PodPlan, ServiceInfo } from './types.js';
import { isObject } from './walk.js';

/** Read a Service manifest; warns where local resolution differs from a cluster (ports remapped, no selector). */
export function serviceFrom(m: Manifest): { service?: ServiceInfo; issues: Issue[] } {
  const issues: Issue[] = [];
  const spec = isObject(m.body.spec) ? m.body.spec : {};
  const name = m.metadata.name;
  if (typeof name !== 'string') return { issues: [{ severity: 'error', path: 'metadata.name', source: m.source, message: 'is required' }] };
  const selector = isObject(spec.selector) ? (spec.selector as Record<string, string>) : undefined;
  if (!selector) {
    issues.push({ severity: 'warning', path: 'spec.selector', source: m.source, message: 'a Service without a selector does not resolve locally' });
    return { issues };
  }
  const ports = (Array.isArray(spec.ports) ? spec.ports : []).filter(isObject).map((p) => ({ port: Number(p.port), targetPort: p.targetPort as number | string | undefined }));
  ports.forEach((p, i) => {
    if (p.targetPort !== undefined && p.targetPort !== p.port) {
      issues.push({ severity: 'warning', path: `spec.ports[${i}].targetPort`, source: m.source, message: `locally the Service name resolves to the pods' IPs, so clients must use port ${p.targetPort}, not ${p.port}` });
    }
  });
  issues.push({ severity: 'warning', path: '', source: m.source, message: `Service ${name}: resolved through /etc/hosts to its pods' IPs (no cluster IP, no load balancing)` });
  return { service: { name, namespace: m.metadata.namespace ?? 'default', selector, ports }, issues };
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}

/** /etc/hosts lines naming every other pod (by subdomain) and every Service, for pods whose IPs are known. */
export function hostsLines(pods: { plan: PodPlan; ip?: string }[], services: ServiceInfo[]): string[] {
  const lines: string[] = [];
  for (const { plan, ip } of pods) {
    if (!ip || ip === '127.0.0.1') continue;
    const host = (plan.spec.hostname ?? plan.name).slice(0, 63);
    const sub = plan.spec.subdomain;
    if (sub) lines.push(`${ip}\t${host}.${sub}.${plan.namespace}.svc.cluster.local ${host}.${sub}.${plan.namespace} ${host}.${sub}`);
  }
  for (const s of services) {
    // /etc/hosts gives one address per name in practice: the first pod that matches (in manifest order).
    const backend = pods.find((p) => p.ip && p.ip !== '127.0.0.1' && p.plan.namespace === s.namespace && matches(s.selector, p.plan.labels));
    if (backend) lines.push(`${backend.ip}\t${s.name}.${s.namespace}.svc.cluster.local ${s.name}.${s.namespace}.svc ${s.name}.${s.namespace} ${s.name}`);
  }
  return lines;
}
