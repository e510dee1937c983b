/** @module Resource quantities and the downward API's resourceFieldRef (requests/limits with a divisor), as the kubelet computes them. Pure. */
import { ConfigError } from '../../core/errors.js';
import type { Container, PodSpec } from './types.js';

/** Kubernetes' quantity syntax: a signed decimal, then an exponent, a decimal SI suffix (n u m k M G T P E) or a binary one (Ki … Ei). */
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;

/** Whether `q` is a quantity as the API server parses one (a YAML number must be finite: 1e400 is refused). */
export function isQuantity(q: unknown): boolean {
  return typeof q === 'number' ? Number.isFinite(q) : typeof q === 'string' && QUANTITY.test(q);
}

/** A Kubernetes quantity (`128Mi`, `1G`, `500m`, `0.5`, `2`) as a number of base units (bytes, cores). */
export function quantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = QUANTITY.exec(q.trim());
  if (!m) throw new ConfigError('', `bad quantity "${q}"`);
  const mult: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
  return Number(m[1]) * (m[2] ? mult[m[2]] : 1);
}

/** What the node offers (the kubelet's allocatable): a limit left unset reads as this. */
export interface NodeCapacity {
  cpu: number;
  memory: number;
  ephemeralStorage?: number;
}

/**
 * The value of `resourceFieldRef` for `container` (its own, or `ref.containerName`'s): `limits.*` default to the
 * node's capacity, `requests.*` to the limit when only a limit is set (else 0); the result is ceil(value / divisor)
 * — the kubelet's rule, so `limits.cpu` with divisor `1m` gives millicores. Throws on an unknown resource.
 */
export function resourceFieldValue(ref: { resource: string; containerName?: string; divisor?: string | number }, container: Container | undefined, pod: PodSpec, node: NodeCapacity): string {
  const c = ref.containerName ? [...(pod.initContainers ?? []), ...pod.containers].find((x) => x.name === ref.containerName) : container;
  if (!c) throw new ConfigError('', `resourceFieldRef: container "${ref.containerName ?? ''}" not found`);
  const m = /^(limits|requests)\.(cpu|memory|ephemeral-storage)$/.exec(ref.resource);
  if (!m) throw new ConfigError('', `resourceFieldRef: unsupported resource "${ref.resource}"`);
  const [, kind, name] = m;
  const key = name === 'ephemeral-storage' ? 'ephemeralStorage' : (name as 'cpu' | 'memory');
  const limit = c.resources?.limits?.[name];
  const request = c.resources?.requests?.[name];
  let value: number;
  if (kind === 'limits') value = limit !== undefined ? quantity(limit) : (node[key] ?? 0);
  else value = request !== undefined ? quantity(request) : limit !== undefined ? quantity(limit) : 0;
  const divisor = quantity(ref.divisor ?? '1');
  if (divisor <= 0) throw new ConfigError('', `resourceFieldRef: divisor must be positive`);
  // Millicore precision for CPU (as the kubelet's MilliValue), whole units otherwise.
  return String(name === 'cpu' ? Math.ceil(Math.round(value * 1000) / Math.round(divisor * 1000)) : Math.ceil(value / divisor));
}
