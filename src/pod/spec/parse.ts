/** @module Multi-document YAML → manifests → pods to run (workloads expanded to `replicas` pods), ConfigMaps and Secrets. Pure. */
import { apiVersionError } from './apiversions.js';
import { configMap as configMapSchema, objectMeta, persistentVolumeClaim as pvcSchema, secret as secretSchema, workloadSpecs, type Field } from './schema.js';
import { serviceFrom } from './services.js';
import type { ClaimInfo, ConfigMapData, Container, Issue, JobPlan, Manifest, ObjectMeta, PodPlan, PodSpec, ServiceInfo } from './types.js';
import { jobPlan } from './job.js';
import { podCountError, podCounts } from './limits.js';
import { configMapKeyErrors, validatePodSpec, type ValidateOptions } from './validate.js';
import { isObject, walk } from './walk.js';
import { documentValue, parseYamlStream } from '../../core/yaml.js';

/** Kinds podkit runs or uses. Anything else is skipped with one warning ("ignored locally"). */
export const RUNNABLE_KINDS = ['Pod', 'Deployment', 'StatefulSet', 'Job', 'ReplicaSet', 'ReplicationController', 'DaemonSet', 'ConfigMap', 'Secret', 'Service', 'PersistentVolumeClaim'] as const;

/** Workload kinds whose pod template podkit runs (a DaemonSet as one pod: this machine is its one node). */
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'Job', 'ReplicaSet', 'ReplicationController', 'DaemonSet']);

/**
 * Split a multi-document YAML text into manifests. YAML syntax errors and documents that are not
 * Kubernetes objects are errors; empty documents are skipped.
 */
/** A YAML syntax error as compilers print one: `file:line:column: message`, then the offending line and a caret. */
function yamlIssue(e: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }, text: string, sourceName: string, source: string): Issue {
  const message = `YAML: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`;
  const pos = e.linePos?.[0];
  if (!pos) return { severity: 'error', path: '', source, message };
  const whole = (text.split('\n')[pos.line - 1] ?? '').replace(/\r$/, '');
  // A long line (a minified or hostile file) is shown as the 100 characters before the error and 60 after.
  const from = Math.max(0, pos.col - 1 - 100);
  const line = `${from > 0 ? '…' : ''}${whole.slice(from, pos.col - 1 + 60)}${whole.length > pos.col - 1 + 60 ? '…' : ''}`;
  const caret = pos.col - 1 - from + (from > 0 ? 1 : 0);
  return { severity: 'error', path: '', source: `${sourceName}:${pos.line}:${pos.col}`, message: `${message}\n  ${line}\n  ${' '.repeat(Math.max(0, caret))}^` };
}

export function parseManifests(text: string, sourceName = '<stdin>'): { objects: Manifest[]; issues: Issue[] } {
  const objects: Manifest[] = [];
  const issues: Issue[] = [];
  // YAML 1.1 as Kubernetes reads it (sigs.k8s.io/yaml): `defaultMode: 0400` is octal, `on`/`yes` are booleans.
  const list = parseYamlStream(text, { uniqueKeys: true, version: '1.1' });
  list.forEach((d, i) => {
    const source = `${sourceName}#${i + 1}`;
    for (const e of d.errors) issues.push(yamlIssue(e, text, sourceName, source));
    for (const w of d.warnings) issues.push({ severity: 'warning', path: '', source, message: `YAML: ${w.message.split('\n')[0]}` });
    if (d.errors.length) return;
    const read = documentValue(d);
    if (read.error !== undefined) {
      issues.push({ severity: 'error', path: '', source, message: `YAML: ${read.error}` });
      return;
    }
    const body = read.value;
    if (body === null || body === undefined) return;
    if (!isObject(body)) {
      issues.push({ severity: 'error', path: '', source, message: 'document must be a mapping (a Kubernetes object)' });
      return;
    }
    if (typeof body.kind !== 'string') issues.push({ severity: 'error', path: 'kind', source, message: 'is required' });
    if (typeof body.apiVersion !== 'string') issues.push({ severity: 'error', path: 'apiVersion', source, message: 'is required' });
    if (typeof body.kind !== 'string' || typeof body.apiVersion !== 'string') return;
    if (body.kind === 'List' && Array.isArray(body.items)) {
      issues.push({ severity: 'error', path: 'items', source, message: 'kind List is not supported; write one document per object' });
      return;
    }
    objects.push({ apiVersion: body.apiVersion, kind: body.kind, metadata: (isObject(body.metadata) ? body.metadata : {}) as ObjectMeta, body, source, doc: i + 1 });
  });
  return { objects, issues };
}

const POD_TOP: Field = { t: 'object', fields: { apiVersion: { t: 'string' }, kind: { t: 'string' }, metadata: { ...objectMeta, required: true }, spec: { t: 'any', required: true }, status: { t: 'any', ignored: 'status is written by the runtime' } } };
const WORKLOAD_TOP: Field = { ...POD_TOP };

/** What running from images honours, though the field table warns of it for host processes (still warned for a container without an image or opted in by annotation). */
const HONOURED_WITH_IMAGES = /(?:^|\.)(?:(?:initContainers|containers)\[\d+\]\.(?:resources|securityContext|imagePullPolicy)|spec\.(?:securityContext|imagePullSecrets))$/;

/** Whether a warning's path is under a container that runs as a host process (no image, or the annotation): nothing of it is honoured. */
function underHostProcess(path: string, pod: { spec: unknown; annotations?: Record<string, string> } | undefined): boolean {
  const m = /(initContainers|containers)\[(\d+)\]\.[^.]+$/.exec(path);
  const list = m && pod && isObject(pod.spec) ? pod.spec[m[1]] : undefined;
  const c: unknown = Array.isArray(list) ? list[Number(m![2])] : undefined;
  return isObject(c) && (typeof c.image !== 'string' || pod?.annotations?.[`host-process.podkit.io/${String(c.name)}`] === 'true');
}

function annotationsOf(meta: unknown): Record<string, string> | undefined {
  return isObject(meta) && isObject(meta.annotations) ? (meta.annotations as Record<string, string>) : undefined;
}

/** The names of a StatefulSet's volumeClaimTemplates: volumes its pods get besides spec.template.spec.volumes. */
function claimTemplateNames(spec: unknown): string[] {
  const t = isObject(spec) && Array.isArray(spec.volumeClaimTemplates) ? spec.volumeClaimTemplates : [];
  return t.map((c) => (isObject(c) && isObject(c.metadata) ? c.metadata.name : undefined)).filter((n): n is string => typeof n === 'string');
}

/** Validate one manifest of a runnable kind; other kinds get one warning. */
export function validateManifest(m: Manifest, opts: ValidateOptions = {}): Issue[] {
  const out: Issue[] = [];
  const b = m.body;
  let pod: { spec: unknown; annotations?: Record<string, string> } | undefined;
  const versionError = apiVersionError(m.kind, m.apiVersion);
  if (versionError) return [{ severity: 'error', path: 'apiVersion', source: m.source, message: versionError }];
  switch (m.kind) {
    case 'Pod':
      walk(b, POD_TOP, '', out);
      pod = { spec: b.spec, annotations: annotationsOf(b.metadata) };
      out.push(...validatePodSpec(b.spec, 'spec', { ...opts, annotations: pod.annotations }));
      break;
    case 'Deployment':
    case 'StatefulSet':
    case 'Job':
    case 'ReplicaSet':
    case 'ReplicationController':
    case 'DaemonSet': {
      walk(b, WORKLOAD_TOP, '', out);
      const spec = b.spec;
      walk(spec, workloadSpecs[m.kind], 'spec', out);
      if (isObject(spec) && isObject(spec.template)) {
        const claimTemplates = m.kind === 'StatefulSet' ? claimTemplateNames(spec) : undefined;
        pod = { spec: spec.template.spec, annotations: annotationsOf(spec.template.metadata) };
        out.push(...validatePodSpec(spec.template.spec, 'spec.template.spec', { ...opts, annotations: pod.annotations, claimTemplates }));
        const tmplSpec = isObject(spec.template.spec) ? spec.template.spec : {};
        const rp = tmplSpec.restartPolicy;
        if (m.kind === 'Job' && rp !== 'Never' && rp !== 'OnFailure') out.push({ severity: 'error', path: 'spec.template.spec.restartPolicy', message: `a Job's pods need restartPolicy Never or OnFailure${rp === undefined ? '' : `, got ${JSON.stringify(rp)}`}` });
        if (m.kind !== 'Job' && rp !== undefined && rp !== 'Always') out.push({ severity: 'error', path: 'spec.template.spec.restartPolicy', message: `a ${m.kind}'s pods need restartPolicy Always, got ${JSON.stringify(rp)}` });
        const labels = isObject(spec.template.metadata) && isObject(spec.template.metadata.labels) ? spec.template.metadata.labels : {};
        // A ReplicationController's selector is the label map itself.
        const ml = m.kind === 'ReplicationController' ? (isObject(spec.selector) ? spec.selector : undefined) : isObject(spec.selector) && isObject(spec.selector.matchLabels) ? spec.selector.matchLabels : undefined;
        const at = m.kind === 'ReplicationController' ? 'spec.selector' : 'spec.selector.matchLabels';
        if (m.kind !== 'Job' && ml) {
          for (const [k, v] of Object.entries(ml)) {
            if (labels[k] !== v) out.push({ severity: 'error', path: `${at}.${k}`, message: 'does not match spec.template.metadata.labels' });
          }
        }
      }
      break;
    }
    case 'ConfigMap':
      walk(b, configMapSchema, '', out);
      checkData(b.binaryData, 'binaryData', out);
      checkKeys(b, ['data', 'binaryData'], out);
      break;
    case 'Secret':
      walk(b, secretSchema, '', out);
      checkData(b.data, 'data', out);
      checkKeys(b, ['data', 'stringData'], out);
      break;
    case 'PersistentVolumeClaim':
      walk(b, pvcSchema, '', out);
      break;
    case 'Service':
      return [];
    default:
      out.push({ severity: 'warning', path: '', message: `kind ${m.kind}: ignored locally` });
      return out.map((i) => ({ ...i, source: m.source }));
  }
  if (typeof m.metadata.name !== 'string' && !(m.kind === 'Pod' && typeof m.metadata.generateName === 'string')) out.push({ severity: 'error', path: 'metadata.name', message: 'is required' });
  else if (typeof m.metadata.name === 'string' && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(m.metadata.name)) out.push({ severity: 'error', path: 'metadata.name', message: `"${m.metadata.name}" is not a valid name (lowercase letters, digits, '-' and '.')` });
  const kept = opts.images ? out.filter((i) => !(i.severity === 'warning' && i.message.startsWith('ignored:') && HONOURED_WITH_IMAGES.test(i.path) && !underHostProcess(i.path, pod))) : out;
  return kept.map((i) => ({ ...i, source: m.source }));
}

/** ConfigMap and Secret keys become file names in volumes: Kubernetes' key rule, and no key in two maps. */
function checkKeys(b: Record<string, unknown>, maps: string[], out: Issue[]): void {
  const seen = new Map<string, string>();
  for (const p of maps) {
    const v = b[p];
    if (!isObject(v)) continue;
    for (const k of Object.keys(v)) {
      for (const message of configMapKeyErrors(k)) out.push({ severity: 'error', path: `${p}[${JSON.stringify(k)}]`, message });
      // A Secret's stringData is merged into data (and wins), so only a ConfigMap forbids the same key twice.
      if (seen.has(k) && maps[1] === 'binaryData') out.push({ severity: 'error', path: `${p}.${k}`, message: `duplicate of key "${k}" in ${seen.get(k)}` });
      seen.set(k, p);
    }
  }
}

function checkData(v: unknown, p: string, out: Issue[]): void {
  if (!isObject(v)) return;
  for (const [k, val] of Object.entries(v)) {
    if (typeof val === 'string' && !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(val)) out.push({ severity: 'error', path: `${p}.${k}`, message: 'must be base64' });
  }
}

export interface LoadedManifests {
  pods: PodPlan[];
  /** Services: their names resolve to their pods through each pod's /etc/hosts. */
  services: ServiceInfo[];
  configMaps: Map<string, ConfigMapData>;
  secrets: Map<string, ConfigMapData>;
  /** PersistentVolumeClaims: defined in the files, made from volumeClaimTemplates, or named by a pod. */
  claims: ClaimInfo[];
  /** Jobs, by `namespace/name`: their controller replaces failed pods and decides the run's result. */
  jobs: Map<string, JobPlan>;
  issues: Issue[];
}

/** `generateName`'s random part: characters without vowels or look-alikes, as the API server picks them. */
export function randomSuffix(n: number): string {
  const chars = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < n; i++) s += chars[Math.floor(Math.random() * chars.length)];
  return s;
}

/**
 * Validate every manifest and turn them into pods to run. Workloads give `replicas` pods named
 * `<name>-<ordinal>` (StatefulSet names exactly as Kubernetes, Deployment and Job names simplified).
 * When `issues` holds an error, `pods` must not be run.
 */
export function loadManifests(objects: Manifest[], opts: ValidateOptions = { local: true }): LoadedManifests {
  const issues: Issue[] = [];
  const pods = podList(issues);
  const configMaps = new Map<string, ConfigMapData>();
  const secrets = new Map<string, ConfigMapData>();
  const services: ServiceInfo[] = [];
  const claims = new Map<string, ClaimInfo>();
  const jobs = new Map<string, JobPlan>();
  // Pods of the run that run at once (a Job's at most `parallelism`), against the one node's limit.
  let running = 0;
  for (const m of objects) {
    if (m.kind === 'Service') {
      const r = serviceFrom(m);
      issues.push(...r.issues);
      if (r.service) services.push(r.service);
      continue;
    }
    const found = validateManifest(m, opts);
    issues.push(...found);
    if (found.some((i) => i.severity === 'error')) continue;
    const ns = m.metadata.namespace ?? 'default';
    if (m.kind === 'ConfigMap' || m.kind === 'Secret') (m.kind === 'ConfigMap' ? configMaps : secrets).set(`${ns}/${m.metadata.name}`, configData(m, ns));
    else if (m.kind === 'PersistentVolumeClaim') claims.set(`${ns}/${m.metadata.name}`, { name: m.metadata.name as string, namespace: ns, source: m.source });
    else if (m.kind === 'Pod') {
      running++;
      pods.add(m, ns, m.metadata.name ?? `${m.metadata.generateName}${randomSuffix(5)}`, m.metadata, m.body.spec as PodSpec);
    }
    else if (WORKLOADS.has(m.kind)) {
      const tooMany = podCountError(m, running);
      if (tooMany) {
        issues.push({ severity: 'error', source: m.source, ...tooMany });
        continue;
      }
      running += podCounts(m).atOnce;
      if (m.kind === 'Job') jobs.set(`${ns}/${m.metadata.name}`, jobPlan(m, ns));
      workloadPods(m, ns, claims, pods.add);
    }
  }
  checkHostPorts(pods.list, issues);
  addNamedClaims(pods.list, claims);
  return { pods: pods.list, services, configMaps, secrets, claims: [...claims.values()], jobs, issues };
}

/** A ConfigMap's or Secret's keys as bytes (binaryData or a Secret's data decoded; data or stringData as text, which wins). */
function configData(m: Manifest, ns: string): ConfigMapData {
  const b = m.body;
  const data: Record<string, Buffer> = {};
  const text = (m.kind === 'ConfigMap' ? b.data : b.stringData) as Record<string, string> | undefined;
  const bin = (m.kind === 'ConfigMap' ? b.binaryData : b.data) as Record<string, string> | undefined;
  for (const [k, v] of Object.entries(bin ?? {})) data[k] = Buffer.from(v, 'base64');
  for (const [k, v] of Object.entries(text ?? {})) data[k] = Buffer.from(v, 'utf8');
  return { name: m.metadata.name as string, namespace: ns, data };
}

/** Adds a pod of manifest `m` to the run. */
type AddPod = (m: Manifest, ns: string, name: string, meta: ObjectMeta, spec: PodSpec, owner?: string, startAfter?: string, job?: PodPlan['job']) => void;

/** The run's pods, each under a name no other pod of the run has; a name refused is an issue. */
function podList(issues: Issue[]): { list: PodPlan[]; add: AddPod } {
  const list: PodPlan[] = [];
  const podNames = new Map<string, string>();
  const add: AddPod = (m, ns, name, meta, spec, owner, startAfter, job) => {
    // One state folder per pod name: locally, names are unique across namespaces.
    const prev = podNames.get(name);
    // A pod name is a DNS subdomain (at most 253 characters); it also names the pod's folder in the state dir.
    if (name.length > 253) {
      issues.push({ severity: 'error', path: 'metadata.name', source: m.source, message: `pod name "${name.slice(0, 40)}…" is ${name.length} characters; Kubernetes allows at most 253` });
      return;
    }
    if (prev) {
      issues.push({ severity: 'error', path: 'metadata.name', source: m.source, message: `pod name "${name}" is also used by ${prev}` });
      return;
    }
    podNames.set(name, m.source);
    list.push({ name, namespace: ns, uid: globalThis.crypto.randomUUID(), labels: { ...(meta.labels ?? {}) }, annotations: { ...(meta.annotations ?? {}) }, spec, owner, startAfter, ...(job ? { job } : {}), source: m.source });
  };
  return { list, add };
}

/** A workload's pods from its template: `replicas` of them (a Job's completions, a DaemonSet's one), named `<name>-<ordinal>`. */
function workloadPods(m: Manifest, ns: string, claims: Map<string, ClaimInfo>, add: AddPod): void {
  const spec = m.body.spec as { replicas?: number; parallelism?: number; completions?: number; completionMode?: string; template: { metadata?: ObjectMeta; spec: PodSpec }; ordinals?: { start?: number }; serviceName?: string };
  // A StatefulSet's pods are `<pod>.<serviceName>` (the kubelet sets hostname and subdomain).
  const podSpec = m.kind === 'StatefulSet' && spec.serviceName && !spec.template.spec.subdomain ? { ...spec.template.spec, subdomain: spec.serviceName } : spec.template.spec;
  // A Job with completions runs that many pods, at most parallelism at once; without, parallelism pods (a work queue).
  const n = m.kind === 'Job' ? (spec.completions ?? spec.parallelism ?? 1) : m.kind === 'DaemonSet' ? 1 : (spec.replicas ?? 1);
  const indexed = m.kind === 'Job' && spec.completionMode === 'Indexed';
  const templates = m.kind === 'StatefulSet' ? claimTemplateNames(spec) : [];
  const start = m.kind === 'StatefulSet' ? (spec.ordinals?.start ?? 0) : 0;
  const meta = spec.template.metadata ?? {};
  for (let i = start; i < start + n; i++) {
    const labels = { ...(meta.labels ?? {}) };
    if (m.kind === 'StatefulSet') labels['statefulset.kubernetes.io/pod-name'] = `${m.metadata.name}-${i}`;
    if (m.kind === 'Job') labels['job-name'] = m.metadata.name as string;
    const ordered = m.kind === 'StatefulSet' && (spec as { podManagementPolicy?: string }).podManagementPolicy !== 'Parallel' && i > start;
    const podMeta = indexed ? jobIndex(meta, labels, i) : { ...meta, labels };
    const thisSpec = indexed ? withIndexEnv(podSpec) : podSpec;
    add(m, ns, `${m.metadata.name}-${i}`, podMeta, withClaims(thisSpec, templates, `${m.metadata.name}-${i}`, ns, m.source, claims), `${m.kind}/${m.metadata.name}`, ordered ? `${m.metadata.name}-${i - 1}` : undefined, m.kind === 'Job' ? { key: `${ns}/${m.metadata.name}`, index: i } : undefined);
  }
}

/** One node locally: a hostPort can be published by one pod only (Kubernetes would leave the others Pending). */
function checkHostPorts(pods: PodPlan[], issues: Issue[]): void {
  const hostPorts = new Map<string, string>();
  for (const p of pods) {
    for (const c of [...(p.spec.initContainers ?? []), ...p.spec.containers]) {
      for (const port of c.ports ?? []) {
        if (!port.hostPort) continue;
        const key = `${port.protocol ?? 'TCP'}/${port.hostIP ?? ''}/${port.hostPort}`;
        const other = hostPorts.get(key);
        if (other && other !== p.name) issues.push({ severity: 'error', path: 'spec', source: p.source, message: `pod "${p.name}": hostPort ${port.hostPort} is also published by pod "${other}" (one node locally; lower replicas or drop hostPort)` });
        else hostPorts.set(key, p.name);
      }
    }
  }
}

/** A claim no file defines may exist from an earlier run (or be made now, as a provisioner would make it). */
function addNamedClaims(pods: PodPlan[], claims: Map<string, ClaimInfo>): void {
  for (const p of pods) {
    for (const v of p.spec.volumes ?? []) {
      const claim = (v.persistentVolumeClaim as { claimName?: string } | undefined)?.claimName;
      if (claim && !claims.has(`${p.namespace}/${claim}`)) claims.set(`${p.namespace}/${claim}`, { name: claim, namespace: p.namespace, source: p.source });
    }
  }
}

/** A StatefulSet pod's claims, `<template>-<pod>` as the controller names them, as volumes (replacing a volume of the same name). */
function withClaims(spec: PodSpec, templates: string[], pod: string, ns: string, source: string, claims: Map<string, ClaimInfo>): PodSpec {
  if (templates.length === 0) return spec;
  const volumes = (spec.volumes ?? []).filter((v) => !templates.includes(v.name));
  for (const t of templates) {
    const claimName = `${t}-${pod}`;
    volumes.push({ name: t, persistentVolumeClaim: { claimName } });
    claims.set(`${ns}/${claimName}`, { name: claimName, namespace: ns, source });
  }
  return { ...spec, volumes };
}

/** One line per issue: `file#doc: path: message`. */
export function formatIssue(i: Issue): string {
  const where = [i.source, i.path].filter(Boolean).join(': ');
  return `${i.severity}: ${where ? `${where}: ` : ''}${i.message}`;
}

const INDEX_KEY = 'batch.kubernetes.io/job-completion-index';

/** An Indexed Job's pod carries its completion index as an annotation and a label, as the Job controller sets them. */
function jobIndex(meta: ObjectMeta, labels: Record<string, string>, i: number): ObjectMeta {
  return { ...meta, labels: { ...labels, [INDEX_KEY]: String(i) }, annotations: { ...(meta.annotations ?? {}), [INDEX_KEY]: String(i) } };
}

/** Every container of an Indexed Job's pod gets JOB_COMPLETION_INDEX from that annotation (unless it sets it). */
function withIndexEnv(spec: PodSpec): PodSpec {
  const add = (c: Container): Container =>
    (c.env ?? []).some((e) => e.name === 'JOB_COMPLETION_INDEX') ? c : { ...c, env: [{ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${INDEX_KEY}']` } } }, ...(c.env ?? [])] };
  return { ...spec, containers: spec.containers.map(add), ...(spec.initContainers ? { initContainers: spec.initContainers.map(add) } : {}) };
}
