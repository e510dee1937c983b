/**
 * @module Services as kube-proxy would run them, for one node: each Service gets a local cluster IP in 10.96.0.0/16
 * (routed to the host as a whole, so any address in it can be bound without configuring it) and a TCP forwarder per
 * port, from `clusterIP:port` to its pod's `targetPort` (a number or a container port's name). Pods reach it through
 * their default route, the host through its local route.
 */
import { createHash } from 'node:crypto';
import type { PodPlan, ServiceInfo } from '../spec/types.js';
import { serviceBackend, targetPortOn } from '../spec/index.js';
import { forwardPort, type Forwarder } from './forward.js';
import { tool } from './proc.js';

export const SERVICE_CIDR = '10.96.0.0/16';

export interface ClusterIPs {
  /** `namespace/name` → the Service's cluster IP. */
  ips: Map<string, string>;
  /** What could not be set up, one line each (the Service then resolves to its pod, as before). */
  problems: string[];
  close(): Promise<void>;
}

let routed: Promise<void> | undefined;

/** The local route that makes the whole Service range the host's own (once per process; kept, like the bridge). */
function routeServiceRange(): Promise<void> {
  routed ??= tool(['ip', 'route', 'replace', 'local', SERVICE_CIDR, 'dev', 'lo', 'table', 'local']).then(() => undefined);
  return routed;
}

/** An address for a Service: from its name and `salt` (the runner), the next one on a clash. */
function addressFor(key: string, attempt: number): string {
  const h = createHash('sha256').update(`${key}\0${attempt}`).digest();
  return `10.96.${1 + (h[0] % 254)}.${1 + (h[1] % 254)}`;
}

/** Start a cluster IP with its forwarders for every Service that has a pod with an address. */
export async function startClusterIPs(services: ServiceInfo[], pods: { plan: PodPlan; ip?: string }[], salt: string): Promise<ClusterIPs> {
  const ips = new Map<string, string>();
  const problems: string[] = [];
  const forwarders: Forwarder[] = [];
  const wanted = services.map((s) => ({ s, backend: serviceBackend(s, pods) })).filter((x) => x.backend);
  if (wanted.length) {
    try {
      await routeServiceRange();
    } catch (e) {
      return { ips, problems: [`no local cluster IPs (${(e as Error).message})`], close: async () => undefined };
    }
  }
  for (const { s, backend } of wanted) {
    const key = `${s.namespace}/${s.name}`;
    const ports = s.ports.filter((p) => (p.protocol ?? 'TCP') === 'TCP');
    for (let attempt = 0; attempt < 8 && !ips.has(key); attempt++) {
      const ip = addressFor(`${salt}\0${key}`, attempt);
      const mine: Forwarder[] = [];
      try {
        for (const p of ports) {
          const target = targetPortOn(p, backend!.plan);
          if (target === undefined) {
            problems.push(`Service ${s.name}: port ${p.port}: pod ${backend!.plan.name} has no container port named "${p.targetPort}"`);
            continue;
          }
          mine.push(await forwardPort(ip, p.port, backend!.ip!, target));
        }
        forwarders.push(...mine);
        ips.set(key, ip);
      } catch {
        // Taken by another runner's Service: try the next address.
        for (const f of mine) await f.close();
      }
    }
    if (!ips.has(key)) problems.push(`Service ${s.name}: no free local cluster IP`);
  }
  return {
    ips,
    problems,
    close: async () => {
      for (const f of forwarders.splice(0)) await f.close();
    },
  };
}
