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
  const ports = (Array.isArray(spec.ports) ? spec.ports : []).filter(isObject).map((p) => ({
    port: Number(p.port),
    targetPort: p.targetPort as number | string | undefined,
    ...(typeof p.name === 'string' ? { name: p.name } : {}),
    protocol: typeof p.protocol === 'string' ? p.protocol : 'TCP',
  }));
  issues.push({ severity: 'warning', path: '', source: m.source, message: `Service ${name}: a local cluster IP forwards each TCP port to the first matching pod (no load balancing; with --sandbox=host the name resolves to the pods' addresses)` });
  return { service: { name, namespace: m.metadata.namespace ?? 'default', selector, ports }, issues };
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}

/** /etc/hosts lines naming every other pod (by subdomain) and every Service, for pods whose IPs are known. */
export function hostsLines(pods: { plan: PodPlan; ip?: string }[], services: ServiceInfo[], clusterIPs?: Map<string, string>): string[] {
  const lines: string[] = [];
  for (const { plan, ip } of pods) {
    if (!ip || ip === '127.0.0.1') continue;
    const host = (plan.spec.hostname ?? plan.name).slice(0, 63);
    const sub = plan.spec.subdomain;
    if (sub) lines.push(`${ip}\t${host}.${sub}.${plan.namespace}.svc.cluster.local ${host}.${sub}.${plan.namespace} ${host}.${sub}`);
  }
  for (const s of services) {
    // /etc/hosts gives one address per name: the Service's local cluster IP, else its first pod (manifest order).
    const ip = clusterIPs?.get(`${s.namespace}/${s.name}`) ?? serviceBackend(s, pods)?.ip;
    if (ip) lines.push(`${ip}\t${s.name}.${s.namespace}.svc.cluster.local ${s.name}.${s.namespace}.svc ${s.name}.${s.namespace} ${s.name}`);
  }
  return lines;
}

/** The pod a Service sends to locally: the first pod (in manifest order) of its namespace that its selector matches. */
export function serviceBackend<P extends { plan: PodPlan; ip?: string }>(s: ServiceInfo, pods: P[]): P | undefined {
  return pods.find((p) => p.ip && p.ip !== '127.0.0.1' && p.plan.namespace === s.namespace && matches(s.selector, p.plan.labels));
}

/** A Service port's target on a pod: a number, a container port's name on that pod, or (unset) the port itself. */
export function targetPortOn(port: ServiceInfo['ports'][number], pod: PodPlan): number | undefined {
  const t = port.targetPort ?? port.port;
  if (typeof t === 'number') return t;
  if (/^\d+$/.test(t)) return Number(t);
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    const found = (c.ports ?? []).find((p) => p.name === t);
    if (found) return found.containerPort;
  }
  return undefined;
}

/** Where the API server would be: there is none locally, so the kubelet's variables name a documented placeholder. */
export const KUBERNETES_SERVICE = { host: '10.96.0.1', port: 443 };

/**
 * The environment the kubelet gives every container for the Services of its namespace (docker-link style
 * `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT[_<PORT NAME>]`, `<NAME>_PORT[_<port>_<PROTO>[_PROTO|_PORT|_ADDR]]`), and
 * always the `kubernetes` Service's. `links` false (enableServiceLinks: false) keeps only the latter.
 */
export function serviceEnv(services: { name: string; ip: string; ports: ServiceInfo['ports'] }[], links: boolean): Record<string, string> {
  const env: Record<string, string> = {};
  const all = [{ name: 'kubernetes', ip: KUBERNETES_SERVICE.host, ports: [{ port: KUBERNETES_SERVICE.port, name: 'https', protocol: 'TCP' }] }, ...(links ? services : [])];
  for (const s of all) {
    const n = s.name.toUpperCase().replace(/-/g, '_');
    if (s.ports.length === 0) continue;
    env[`${n}_SERVICE_HOST`] = s.ip;
    env[`${n}_SERVICE_PORT`] = String(s.ports[0].port);
    for (const p of s.ports) if (p.name) env[`${n}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(p.port);
    const proto = (p: ServiceInfo['ports'][number]) => (p.protocol ?? 'TCP').toLowerCase();
    env[`${n}_PORT`] = `${proto(s.ports[0])}://${s.ip}:${s.ports[0].port}`;
    for (const p of s.ports) {
      const k = `${n}_PORT_${p.port}_${proto(p).toUpperCase()}`;
      Object.assign(env, { [k]: `${proto(p)}://${s.ip}:${p.port}`, [`${k}_PROTO`]: proto(p), [`${k}_PORT`]: String(p.port), [`${k}_ADDR`]: s.ip });
    }
  }
  return env;
}
