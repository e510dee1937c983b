/** @module Pod spec validation: the schema walk plus Kubernetes' semantic rules (names, volumes, probes, env), each issue naming its YAML path. */
import { podSpec, SUBSTITUTED_VOLUME_SOURCES, type Field } from './schema.js';
import type { Issue } from './types.js';
import { featureGateWarnings } from './gates.js';
import { isQuantity, quantity } from './resources.js';
import { isObject, walk } from './walk.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const VOLUME_SOURCES = ['emptyDir', 'hostPath', 'configMap', 'secret', 'downwardAPI', 'projected', 'persistentVolumeClaim', 'image'];
const HANDLERS = ['exec', 'httpGet', 'tcpSocket'];

/** Field paths podkit can resolve for `fieldRef` (env and downwardAPI files). */
export const FIELD_PATHS = /^(metadata\.(name|namespace|uid|labels|annotations)|metadata\.(labels|annotations)\['[^']+'\]|status\.(podIP|podIPs|hostIP|hostIPs)|spec\.(nodeName|serviceAccountName))$/;

export interface ValidateOptions {
  /**
   * Add the rules that only matter when podkit runs the pod itself: a container that runs as a host process (no
   * image, or the `host-process.podkit.io/<container>` annotation) needs `command` or `args` unless its image is
   * podkit's. Off for manifests meant for a cluster.
   */
  local?: boolean;
  /** The pod's (or pod template's) annotations, for the host-process opt-in. */
  annotations?: Record<string, string>;
  /** The runner runs containers from their images (otherwise every container is a host process). */
  images?: boolean;
  /** Volumes the pods get besides spec.volumes: a StatefulSet's volumeClaimTemplates. */
  claimTemplates?: string[];
}

/** True when the image maps to the local podkit CLI. */
export function isPodkitImage(image: string | undefined): boolean {
  return image !== undefined && /podkit/.test(image);
}

/** Where a rule reports: an error or a warning at a YAML path. */
type Report = (p: string, message: string) => void;

/** What every container of one pod is checked against, and the names and ports its containers have claimed so far. */
interface PodContext {
  /** The PodSpec's path (`spec`, `spec.template.spec`). */
  path: string;
  opts: ValidateOptions;
  volumeNames: Set<string>;
  containerNames: Map<string, string>;
  hostPorts: Map<string, string>;
  err: Report;
  warn: Report;
}

/**
 * Validate a PodSpec (the value at `path`, e.g. `spec` or `spec.template.spec`). Returns every error and warning;
 * stricter than a JSON schema: unknown fields, duplicate names, undefined volumes, probe rules.
 */
export function validatePodSpec(spec: unknown, path = 'spec', opts: ValidateOptions = {}): Issue[] {
  const out: Issue[] = [];
  walk(spec, { ...podSpec, required: true } as Field, path, out);
  if (!isObject(spec)) {
    if (spec === undefined || spec === null) out.push({ severity: 'error', path, message: 'is required' });
    return out;
  }
  const err: Report = (p, message) => out.push({ severity: 'error', path: p, message });
  const warn: Report = (p, message) => out.push({ severity: 'warning', path: p, message });

  const volumeNames = new Set<string>(opts.claimTemplates ?? []);
  const volumes = Array.isArray(spec.volumes) ? spec.volumes : [];
  volumes.forEach((v, i) => {
    if (isObject(v)) checkVolume(v, `${path}.volumes[${i}]`, volumeNames, err, warn);
  });

  const ctx: PodContext = { path, opts, volumeNames, containerNames: new Map(), hostPorts: new Map(), err, warn };
  const lists: [string, unknown][] = [['initContainers', spec.initContainers], ['containers', spec.containers]];
  if (Array.isArray(spec.containers) && spec.containers.length === 0) err(`${path}.containers`, 'must have at least one container');
  for (const [listName, list] of lists) {
    if (!Array.isArray(list)) continue;
    list.forEach((c, i) => {
      if (isObject(c)) checkContainer(c, `${path}.${listName}[${i}]`, listName === 'initContainers', ctx);
    });
  }
  out.push(...featureGateWarnings(spec, path));
  return out;
}

/** One volume: a valid unique name, exactly one source we know (or substitute), and its items' paths. */
function checkVolume(v: Record<string, unknown>, vp: string, volumeNames: Set<string>, err: Report, warn: Report): void {
  const name = v.name;
  if (typeof name === 'string') {
    if (!DNS_LABEL.test(name) || name.length > 63) err(`${vp}.name`, `"${name}" is not a valid name (lowercase letters, digits and '-', at most 63)`);
    if (volumeNames.has(name)) err(`${vp}.name`, `duplicate volume name "${name}"`);
    volumeNames.add(name);
  }
  const sources = Object.keys(v).filter((k) => k !== 'name');
  const known = sources.filter((k) => VOLUME_SOURCES.includes(k));
  const substituted = sources.filter((k) => SUBSTITUTED_VOLUME_SOURCES.includes(k));
  for (const k of sources) if (!known.includes(k) && !substituted.includes(k)) err(`${vp}.${k}`, 'unknown field');
  if (known.length + substituted.length === 0) err(vp, 'must set one volume source (emptyDir, hostPath, configMap, secret, downwardAPI, …)');
  else if (known.length + substituted.length > 1) err(vp, `must set only one volume source, got ${[...known, ...substituted].join(', ')}`);
  for (const k of substituted) warn(`${vp}.${k}`, `the ${k} volume source is not available locally; podkit uses an empty directory instead`);
  if (isObject(v.configMap) && typeof v.configMap.name !== 'string') err(`${vp}.configMap.name`, 'is required');
  if (isObject(v.secret) && typeof v.secret.secretName !== 'string') err(`${vp}.secret.secretName`, 'is required');
  if (isObject(v.downwardAPI)) checkDownwardItems(v.downwardAPI.items, `${vp}.downwardAPI.items`, err);
  for (const src of ['configMap', 'secret'] as const) {
    const s = v[src];
    if (isObject(s)) checkKeyToPaths(s.items, `${vp}.${src}.items`, err);
  }
  if (isObject(v.persistentVolumeClaim) && v.persistentVolumeClaim.claimName === '') err(`${vp}.persistentVolumeClaim.claimName`, 'must not be empty');
  if (isObject(v.projected) && Array.isArray(v.projected.sources)) checkProjectedSources(v.projected.sources, `${vp}.projected.sources`, err);
}

/** A projected volume's sources: one kind each, and every file path unique across all of them. */
function checkProjectedSources(sources: unknown[], p: string, err: Report): void {
  const paths = new Set<string>();
  sources.forEach((ps, j) => {
    if (!isObject(ps)) return;
    const sp = `${p}[${j}]`;
    const set = Object.keys(ps);
    if (set.length !== 1) err(sp, `must set exactly one source (configMap, secret, downwardAPI, serviceAccountToken, clusterTrustBundle, podCertificate)${set.length ? `, got ${set.join(', ')}` : ''}`);
    for (const k of ['configMap', 'secret'] as const) if (isObject(ps[k])) checkKeyToPaths(ps[k].items, `${sp}.${k}.items`, err, paths);
    if (isObject(ps.downwardAPI)) checkDownwardItems(ps.downwardAPI.items, `${sp}.downwardAPI.items`, err, paths);
    for (const k of ['serviceAccountToken', 'clusterTrustBundle'] as const) if (isObject(ps[k])) checkPath(ps[k].path, `${sp}.${k}.path`, err, paths);
  });
}

/** One container (or init container): its name and role, then its ports, mounts, env, probes and hooks. */
function checkContainer(c: Record<string, unknown>, cp: string, isInit: boolean, ctx: PodContext): void {
  const { err } = ctx;
  const name = c.name;
  if (typeof name === 'string') {
    if (!DNS_LABEL.test(name) || name.length > 63) err(`${cp}.name`, `"${name}" is not a valid container name (lowercase letters, digits and '-', at most 63)`);
    const prev = ctx.containerNames.get(name);
    if (prev) err(`${cp}.name`, `duplicate container name "${name}" (also ${prev})`);
    else ctx.containerNames.set(name, cp);
  }
  checkRole(c, cp, isInit, err);
  checkLocal(c, cp, ctx.opts, err);
  const portNames = checkPorts(c.ports, cp, ctx.hostPorts, err, ctx.warn);
  checkMounts(c.volumeMounts, cp, ctx, err);
  checkEnv(c, cp, err);
  checkResources(c.resources, `${cp}.resources`, err);
  for (const k of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const pr = c[k];
    if (!isObject(pr)) continue;
    const pp = `${cp}.${k}`;
    checkHandler(pr, pp, [...HANDLERS, 'grpc'], portNames, err);
    if (k !== 'readinessProbe' && pr.successThreshold !== undefined && pr.successThreshold !== 1) err(`${pp}.successThreshold`, `must be 1 for a ${k}`);
    if (k === 'readinessProbe' && pr.terminationGracePeriodSeconds !== undefined) err(`${pp}.terminationGracePeriodSeconds`, 'must not be set on a readinessProbe');
  }
  if (isObject(c.lifecycle)) {
    for (const k of ['postStart', 'preStop']) {
      if (isObject(c.lifecycle[k])) checkHandler(c.lifecycle[k] as Record<string, unknown>, `${cp}.lifecycle.${k}`, [...HANDLERS, 'sleep'], portNames, err);
    }
  }
}

/** restartPolicy belongs to init containers (Always: a native sidecar); a plain init container has no probes or hooks. */
function checkRole(c: Record<string, unknown>, cp: string, isInit: boolean, err: Report): void {
  const sidecar = isInit && c.restartPolicy === 'Always';
  if (!isInit && c.restartPolicy !== undefined) err(`${cp}.restartPolicy`, 'may only be set on init containers (restartPolicy: Always makes a native sidecar)');
  if (isInit && !sidecar) {
    for (const k of ['livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle']) {
      if (c[k] !== undefined) err(`${cp}.${k}`, `must not be set on an init container (only on a sidecar with restartPolicy: Always)`);
    }
  }
}

/** What running the container locally needs: a command for a host process, an absolute workingDir. */
function checkLocal(c: Record<string, unknown>, cp: string, opts: ValidateOptions, err: Report): void {
  const hostProcess = !opts.images || typeof c.image !== 'string' || opts.annotations?.[`host-process.podkit.io/${String(c.name)}`] === 'true';
  if (opts.local && hostProcess && c.command === undefined && c.args === undefined && !isPodkitImage(typeof c.image === 'string' ? c.image : undefined)) {
    err(cp, 'needs command or args: it runs as a host process (no image entrypoint applies)');
  }
  if (opts.local && typeof c.workingDir === 'string' && !c.workingDir.startsWith('/')) err(`${cp}.workingDir`, 'must be an absolute path');
}

/** Port names (valid, unique in the container) and hostPorts (unique in the pod); returns the names, for probes' named ports. */
function checkPorts(ports: unknown, cp: string, hostPorts: Map<string, string>, err: Report, warn: Report): Set<string> {
  const portNames = new Set<string>();
  if (!Array.isArray(ports)) return portNames;
  ports.forEach((p, j) => {
    if (!isObject(p)) return;
    const pp = `${cp}.ports[${j}]`;
    if (typeof p.name === 'string') {
      if (p.name.length > 15 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p.name) || !/[a-z]/.test(p.name)) err(`${pp}.name`, `"${p.name}" is not a valid port name (at most 15 lowercase letters, digits, '-', with a letter)`);
      if (portNames.has(p.name)) err(`${pp}.name`, `duplicate port name "${p.name}"`);
      portNames.add(p.name);
    }
    if (typeof p.hostPort === 'number') {
      const key = `${p.protocol ?? 'TCP'}/${p.hostIP ?? ''}/${p.hostPort}`;
      if (hostPorts.has(key)) err(`${pp}.hostPort`, `hostPort ${p.hostPort} is already used by ${hostPorts.get(key)}`);
      hostPorts.set(key, pp);
      if (p.protocol && p.protocol !== 'TCP') warn(`${pp}.hostPort`, `only TCP hostPorts are published locally; this ${p.protocol} port is not`);
    }
  });
  return portNames;
}

/** Each mount names a defined volume at an absolute path of its own (not /, no ':'), with a relative subPath. */
function checkMounts(mounts: unknown, cp: string, ctx: Pick<PodContext, 'path' | 'volumeNames'>, err: Report): void {
  if (!Array.isArray(mounts)) return;
  const mountPaths = new Set<string>();
  mounts.forEach((m, j) => {
    if (!isObject(m)) return;
    const mp = `${cp}.volumeMounts[${j}]`;
    if (typeof m.name === 'string' && !ctx.volumeNames.has(m.name)) err(`${mp}.name`, `volume "${m.name}" is not defined in ${ctx.path}.volumes`);
    if (typeof m.mountPath === 'string') {
      if (!m.mountPath.startsWith('/')) err(`${mp}.mountPath`, 'must be an absolute path');
      if (m.mountPath.includes(':')) err(`${mp}.mountPath`, "must not contain ':'");
      const norm = m.mountPath.replace(/\/+$/, '') || '/';
      if (norm === '/') err(`${mp}.mountPath`, 'must not be /');
      if (mountPaths.has(norm)) err(`${mp}.mountPath`, `duplicate mountPath "${m.mountPath}"`);
      mountPaths.add(norm);
    }
    if (m.subPath !== undefined && m.subPath !== '') checkRelative(m.subPath, `${mp}.subPath`, err);
  });
}

/** env: a name, a value or one valueFrom source (fieldRef paths podkit can fill); envFrom: one of configMapRef, secretRef. */
function checkEnv(c: Record<string, unknown>, cp: string, err: Report): void {
  if (Array.isArray(c.env)) {
    c.env.forEach((e, j) => {
      if (!isObject(e)) return;
      const ep = `${cp}.env[${j}]`;
      if (e.name === '') err(`${ep}.name`, 'must not be empty');
      if (e.value !== undefined && e.valueFrom !== undefined) err(ep, 'may not set both value and valueFrom');
      if (isObject(e.valueFrom)) {
        const set = Object.keys(e.valueFrom);
        if (set.length !== 1) err(`${ep}.valueFrom`, 'must set exactly one of fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef');
        const fr = e.valueFrom.fieldRef;
        if (isObject(fr) && typeof fr.fieldPath === 'string' && (!FIELD_PATHS.test(fr.fieldPath) || /^metadata\.(labels|annotations)$/.test(fr.fieldPath))) {
          err(`${ep}.valueFrom.fieldRef.fieldPath`, `unsupported field path "${fr.fieldPath}"`);
        }
      }
    });
  }
  if (Array.isArray(c.envFrom)) {
    c.envFrom.forEach((e, j) => {
      if (isObject(e) && (e.configMapRef === undefined) === (e.secretRef === undefined)) err(`${cp}.envFrom[${j}]`, 'must set exactly one of configMapRef, secretRef');
    });
  }
}

/** Requests and limits are maps of resource name → quantity; the runtime reads them when running from images. */
function checkResources(r: unknown, p: string, err: Report): void {
  if (!isObject(r)) return;
  for (const k of ['limits', 'requests']) {
    const m = r[k];
    if (!isObject(m)) continue;
    for (const [name, q] of Object.entries(m)) {
      if (!isQuantity(q)) err(`${p}.${k}.${name}`, `must be a quantity like 100m, 1, 64Mi (got ${typeof q === 'number' ? String(q) : JSON.stringify(q)})`);
      else if (quantity(q as string | number) < 0) err(`${p}.${k}.${name}`, 'must be greater than or equal to 0');
    }
  }
}

function checkHandler(h: Record<string, unknown>, p: string, allowed: string[], portNames: Set<string>, err: Report): void {
  const set = allowed.filter((k) => h[k] !== undefined);
  if (set.length !== 1) err(p, `must set exactly one handler (${allowed.join(', ')})${set.length ? `, got ${set.join(', ')}` : ''}`);
  const exec = h.exec;
  if (isObject(exec) && (!Array.isArray(exec.command) || exec.command.length === 0)) err(`${p}.exec.command`, 'is required');
  for (const k of ['httpGet', 'tcpSocket']) {
    const a = h[k];
    if (isObject(a) && typeof a.port === 'string' && !/^\d+$/.test(a.port) && !portNames.has(a.port)) err(`${p}.${k}.port`, `no container port named "${a.port}"`);
    if (isObject(a) && typeof a.port === 'number' && (a.port < 1 || a.port > 65535)) err(`${p}.${k}.port`, `must be between 1 and 65535, got ${a.port}`);
  }
}

function checkRelative(v: unknown, p: string, err: Report): void {
  if (typeof v !== 'string') return;
  if (v.startsWith('/')) err(p, 'must be a relative path');
  else if (v.split('/').includes('..')) err(p, "must not contain '..'");
}

/** A file a volume writes (Kubernetes' ValidateLocalNonReservedPath): relative, no `..` element, not starting with `..`, unique in its volume. */
function checkPath(v: unknown, p: string, err: Report, seen?: Set<string>): void {
  if (typeof v !== 'string') return;
  if (v === '') return err(p, 'must not be empty');
  checkRelative(v, p, err);
  if (!v.startsWith('/') && !v.split('/').includes('..') && v.startsWith('..')) err(p, "must not start with '..'");
  if (seen) {
    if (seen.has(v)) err(p, `duplicate path "${v}"`);
    seen.add(v);
  }
}

function checkKeyToPaths(items: unknown, p: string, err: Report, seen?: Set<string>): void {
  if (!Array.isArray(items)) return;
  items.forEach((it, j) => {
    if (isObject(it)) checkPath(it.path, `${p}[${j}].path`, err, seen);
  });
}

function checkDownwardItems(items: unknown, p: string, err: Report, seen?: Set<string>): void {
  if (!Array.isArray(items)) return;
  items.forEach((it, j) => {
    if (!isObject(it)) return;
    const ip = `${p}[${j}]`;
    checkPath(it.path, `${ip}.path`, err, seen);
    if (!it.fieldRef === !it.resourceFieldRef) err(ip, 'must set exactly one of fieldRef, resourceFieldRef');
    if (isObject(it.fieldRef) && typeof it.fieldRef.fieldPath === 'string' && !FIELD_PATHS.test(it.fieldRef.fieldPath)) err(`${ip}.fieldRef.fieldPath`, `unsupported field path "${it.fieldRef.fieldPath}"`);
  });
}

/** Kubernetes' IsConfigMapKey: the rule for ConfigMap and Secret keys, which become file names in volumes. */
export function configMapKeyErrors(key: string): string[] {
  const out: string[] = [];
  if (key.length > 253) out.push(`must be no more than 253 characters, got ${key.length}`);
  if (!/^[-._a-zA-Z0-9]+$/.test(key)) out.push(`"${key}" is not a valid key: letters, digits, '-', '_' or '.' only`);
  if (key === '.' || key === '..') out.push(`must not be '${key}'`);
  else if (key.startsWith('..')) out.push("must not start with '..'");
  return out;
}
