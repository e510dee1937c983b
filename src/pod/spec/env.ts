/** @module Container environment as Kubernetes builds it: envFrom, then env in order with `$(VAR)` expansion, valueFrom sources. Pure. */
import type { ConfigMapData, Container, PodPlan } from './types.js';
import { resourceFieldValue, type NodeCapacity } from './resources.js';
import { own } from './walk.js';

/**
 * Kubernetes' `$(VAR)` expansion: `$(NAME)` → the value when NAME is defined, else kept as written;
 * `$$` → `$` (so `$$(NAME)` stays literal); any other `$` is kept.
 */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      i++;
      continue;
    }
    const n = input[i + 1];
    if (n === '$') {
      out += '$';
      i += 2;
    } else if (n === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      const v = name === '' ? undefined : lookup(name);
      out += v ?? `$(${name})`;
      i = close + 1;
    } else {
      out += c + n;
      i += 2;
    }
  }
  return out;
}

export interface PodContext {
  pod: PodPlan;
  podIP: string;
  hostIP: string;
  configMaps: Map<string, ConfigMapData>;
  secrets: Map<string, ConfigMapData>;
  /** What unset limits read as in resourceFieldRef; without it they read as 0. */
  node?: NodeCapacity;
  /** The Service variables the kubelet sets before the container's own env (see serviceEnv). */
  serviceEnv?: Record<string, string>;
}

/** Resolve a downward-API field path (`metadata.name`, `metadata.labels['app']`, `status.podIP`, …). */
export function fieldValue(path: string, ctx: PodContext): string | undefined {
  const p = ctx.pod;
  const fmtMap = (m: Record<string, string>) =>
    Object.keys(m)
      .sort()
      .map((k) => `${k}=${JSON.stringify(m[k])}`)
      .join('\n');
  const sub = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(path);
  if (sub) return own(sub[1] === 'labels' ? p.labels : p.annotations, sub[2]) ?? '';
  switch (path) {
    case 'metadata.name':
      return p.name;
    case 'metadata.namespace':
      return p.namespace;
    case 'metadata.uid':
      return p.uid;
    case 'metadata.labels':
      return fmtMap(p.labels);
    case 'metadata.annotations':
      return fmtMap(p.annotations);
    case 'status.podIP':
    case 'status.podIPs':
      return ctx.podIP;
    case 'status.hostIP':
    case 'status.hostIPs':
      return ctx.hostIP;
    case 'spec.nodeName':
      return 'localhost';
    case 'spec.serviceAccountName':
      return 'default';
  }
  return undefined;
}

/** The kernel's limit on one `NAME=value` string passed to execve (MAX_ARG_STRLEN, 32 pages). */
const MAX_ENV_VALUE = 128 * 1024;

/** The environment for one container, or the reasons it cannot start (like Kubernetes' CreateContainerConfigError). */
export function resolveEnv(c: Container, ctx: PodContext): { env: Record<string, string>; errors: string[] } {
  const env: Record<string, string> = { ...ctx.serviceEnv };
  const errors: string[] = [];
  const ns = ctx.pod.namespace;
  const source = (kind: 'configMap' | 'secret', name: string | undefined) => (kind === 'configMap' ? ctx.configMaps : ctx.secrets).get(`${ns}/${name ?? ''}`);
  for (const ef of c.envFrom ?? []) {
    const kind = ef.configMapRef ? 'configMap' : 'secret';
    const ref = ef.configMapRef ?? ef.secretRef;
    const data = source(kind, ref?.name);
    if (!data) {
      if (!ref?.optional) errors.push(`${kind} "${ref?.name}" not found`);
      continue;
    }
    for (const [k, v] of Object.entries(data.data)) env[(ef.prefix ?? '') + k] = v.toString('utf8');
  }
  const lookup = (name: string) => own(env, name);
  for (const e of c.env ?? []) {
    if (e.valueFrom) {
      const vf = e.valueFrom;
      if (vf.fieldRef) {
        env[e.name] = fieldValue(vf.fieldRef.fieldPath, ctx) ?? '';
      } else if (vf.configMapKeyRef || vf.secretKeyRef) {
        const kind = vf.configMapKeyRef ? 'configMap' : 'secret';
        const ref = (vf.configMapKeyRef ?? vf.secretKeyRef)!;
        const data = source(kind, ref.name)?.data;
        const v = data && own(data, ref.key);
        if (v !== undefined) env[e.name] = v.toString('utf8');
        else if (!ref.optional) errors.push(`${kind} key "${ref.name}/${ref.key}" not found (env ${e.name})`);
      } else if (vf.resourceFieldRef) {
        try {
          env[e.name] = resourceFieldValue(vf.resourceFieldRef, c, ctx.pod.spec, ctx.node ?? { cpu: 0, memory: 0 });
        } catch (err) {
          errors.push(`${(err as Error).message} (env ${e.name})`);
        }
      }
    } else {
      const v = expand(e.value ?? '', lookup);
      // Past the kernel's limit execve fails (E2BIG); refusing here also stops `$(A)$(A)` chains doubling without bound.
      if (v.length > MAX_ENV_VALUE) errors.push(`env ${e.name} expands to ${v.length} characters; one variable holds at most ${MAX_ENV_VALUE} (the kernel's MAX_ARG_STRLEN)`);
      else env[e.name] = v;
    }
  }
  return { env, errors };
}

/** Expand `$(VAR)` in command and args with the container's environment. */
export function expandArgv(list: readonly string[] | undefined, env: Record<string, string>): string[] {
  return (list ?? []).map((a) => expand(a, (n) => own(env, n)));
}
