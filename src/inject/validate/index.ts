/**
 * @module Strict cluster-side validation of every manifest podkit emits: src/pod/spec's schema walk and pod rules
 * (unknown fields, duplicate names, undefined volumes, probe rules) for the kinds it runs, plus the other kinds
 * podkit writes (DaemonSet, ReplicaSet, CronJob, Service, ServiceAccount, Namespace, MutatingWebhookConfiguration).
 */
import { ConfigError } from '../../core/errors.js';
import { validateManifest, validatePodSpec, type Issue, type Manifest, type ObjectMeta } from '../../pod/spec/index.js';
import { apiVersionError } from '../../pod/spec/apiversions.js';
import { isObject, walk } from '../../pod/spec/walk.js';
import { checkClusterFields } from './extras.js';
import { checkClusterVolumes } from './volumes.js';
import { clusterWorkloadSpecs, mutatingWebhookConfiguration, namespace, service, serviceAccount, top } from './schemas.js';

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Kinds podkit knows how to validate. Anything else is an error: podkit emits nothing it cannot check. */
export const KNOWN_KINDS = ['Pod', 'Deployment', 'StatefulSet', 'Job', 'ReplicationController', 'DaemonSet', 'ReplicaSet', 'CronJob', 'ConfigMap', 'Secret', 'Service', 'ServiceAccount', 'Namespace', 'MutatingWebhookConfiguration'];

/**
 * Validate one Kubernetes object as a cluster would see it. Returns errors, and warnings only for fields a cluster
 * accepts behind a feature gate: the local runtime's "not honoured locally" warnings do not apply to a cluster.
 */
export function validateObject(body: unknown, source = ''): Issue[] {
  const out: Issue[] = [];
  if (!isObject(body)) return [{ severity: 'error', path: '', source, message: 'document must be a mapping (a Kubernetes object)' }];
  const kind = body.kind;
  if (typeof kind !== 'string' || typeof body.apiVersion !== 'string') {
    if (typeof kind !== 'string') out.push({ severity: 'error', path: 'kind', message: 'is required' });
    if (typeof body.apiVersion !== 'string') out.push({ severity: 'error', path: 'apiVersion', message: 'is required' });
    return finish(out, source);
  }
  const meta = (isObject(body.metadata) ? body.metadata : {}) as ObjectMeta;
  const err = (path: string, message: string) => out.push({ severity: 'error', path, message });
  const versionError = apiVersionError(kind, body.apiVersion);
  if (versionError) return finish([{ severity: 'error', path: 'apiVersion', message: versionError }], source);
  switch (kind) {
    case 'Pod':
    case 'Deployment':
    case 'StatefulSet':
    case 'Job':
    case 'ReplicationController':
    case 'ConfigMap':
    case 'Secret': {
      const m: Manifest = { apiVersion: body.apiVersion, kind, metadata: meta, body, source, doc: 0 };
      out.push(...validateManifest(m, { local: false }));
      if (kind === 'ConfigMap' || kind === 'Secret') return finish(out, source);
      const specPath = kind === 'Pod' ? 'spec' : 'spec.template.spec';
      const spec = kind === 'Pod' ? body.spec : getIn(body, ['spec', 'template', 'spec']);
      podTemplateRules(spec, specPath, err);
      out.push(...checkClusterFields(spec, specPath));
      return finish(checkClusterVolumes(spec, specPath, out), source);
    }
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'CronJob': {
      walk(body, top({ ...clusterWorkloadSpecs[kind], required: true }), '', out);
      const tplPath = kind === 'CronJob' ? ['spec', 'jobTemplate', 'spec', 'template'] : ['spec', 'template'];
      const tpl = getIn(body, tplPath);
      const p = tplPath.join('.');
      if (isObject(tpl)) {
        out.push(...checkClusterVolumes(tpl.spec, `${p}.spec`, validatePodSpec(tpl.spec, `${p}.spec`, { local: false })));
        podTemplateRules(tpl.spec, `${p}.spec`, err);
        out.push(...checkClusterFields(tpl.spec, `${p}.spec`));
        const rp = isObject(tpl.spec) ? tpl.spec.restartPolicy : undefined;
        if (kind === 'CronJob' && rp !== 'Never' && rp !== 'OnFailure') err(`${p}.spec.restartPolicy`, `a Job's pods need restartPolicy Never or OnFailure${rp === undefined ? '' : `, got ${JSON.stringify(rp)}`}`);
        if (kind !== 'CronJob' && rp !== undefined && rp !== 'Always') err(`${p}.spec.restartPolicy`, `a ${kind}'s pods need restartPolicy Always, got ${JSON.stringify(rp)}`);
        if (kind !== 'CronJob') selectorMatches(getIn(body, ['spec', 'selector', 'matchLabels']), getIn(tpl, ['metadata', 'labels']), err);
      } else if (kind === 'ReplicaSet') err(`${p}`, 'is required');
      break;
    }
    case 'Service':
      walk(body, service, '', out);
      servicePorts(getIn(body, ['spec', 'ports']), err);
      break;
    case 'ServiceAccount':
      walk(body, serviceAccount, '', out);
      break;
    case 'Namespace':
      walk(body, namespace, '', out);
      break;
    case 'MutatingWebhookConfiguration':
      walk(body, mutatingWebhookConfiguration, '', out);
      webhookRules(body.webhooks, err);
      break;
    default:
      // The API server validates kinds podkit does not know (RBAC, PVCs, HPAs…); inject passes them through unchanged.
      return finish(out, source);
  }
  if (typeof meta.name !== 'string') err('metadata.name', 'is required');
  else if (!NAME.test(meta.name) || meta.name.length > 253) err('metadata.name', `"${meta.name}" is not a valid name (lowercase letters, digits, '-' and '.')`);
  return finish(out, source);
}

function finish(out: Issue[], source: string): Issue[] {
  const seen = new Set<string>();
  return out
    .filter((i) => i.severity === 'error' || i.gate !== undefined)
    .filter((i) => {
      const k = `${i.path}\0${i.message}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .map((i) => ({ ...i, source: i.source || source }));
}

function getIn(v: unknown, path: readonly string[]): unknown {
  let cur = v;
  for (const k of path) cur = isObject(cur) ? cur[k] : undefined;
  return cur;
}

/** Rules a cluster enforces beyond what the local runtime needs: every container names an image. */
function podTemplateRules(spec: unknown, path: string, err: (p: string, m: string) => void): void {
  if (!isObject(spec)) return;
  for (const list of ['initContainers', 'containers']) {
    const cs = spec[list];
    if (!Array.isArray(cs)) continue;
    cs.forEach((c, i) => {
      if (isObject(c) && (typeof c.image !== 'string' || c.image.trim() === '')) err(`${path}.${list}[${i}].image`, 'is required');
    });
  }
}

function selectorMatches(ml: unknown, labels: unknown, err: (p: string, m: string) => void): void {
  if (!isObject(ml)) return;
  const l = isObject(labels) ? labels : {};
  for (const [k, v] of Object.entries(ml)) if (l[k] !== v) err(`spec.selector.matchLabels.${k}`, 'does not match spec.template.metadata.labels');
}

function servicePorts(ports: unknown, err: (p: string, m: string) => void): void {
  if (!Array.isArray(ports)) return;
  const names = new Set<string>();
  ports.forEach((p, i) => {
    if (!isObject(p)) return;
    if (ports.length > 1 && typeof p.name !== 'string') err(`spec.ports[${i}].name`, 'is required when a Service has more than one port');
    if (typeof p.name === 'string') {
      if (!DNS_LABEL.test(p.name)) err(`spec.ports[${i}].name`, `"${p.name}" is not a valid port name`);
      if (names.has(p.name)) err(`spec.ports[${i}].name`, `duplicate port name "${p.name}"`);
      names.add(p.name);
    }
  });
}

function webhookRules(hooks: unknown, err: (p: string, m: string) => void): void {
  if (!Array.isArray(hooks)) return;
  const names = new Set<string>();
  hooks.forEach((h, i) => {
    if (!isObject(h)) return;
    const p = `webhooks[${i}]`;
    if (typeof h.name === 'string') {
      if (h.name.split('.').length < 3) err(`${p}.name`, `"${h.name}" must be fully qualified (at least three segments, e.g. inject.podkit.io)`);
      if (names.has(h.name)) err(`${p}.name`, `duplicate webhook name "${h.name}"`);
      names.add(h.name);
    }
    const cc = h.clientConfig;
    if (isObject(cc) && (cc.url === undefined) === (cc.service === undefined)) err(`${p}.clientConfig`, 'must set exactly one of url, service');
    if (Array.isArray(h.admissionReviewVersions) && !h.admissionReviewVersions.includes('v1')) err(`${p}.admissionReviewVersions`, 'must include v1 (podkit speaks AdmissionReview v1)');
  });
}

/**
 * Throw a ConfigError (exit 2) listing every error of every object; `what` names the input in the message. Returns
 * the warnings (fields behind a feature gate) otherwise.
 */
export function assertValid(objects: readonly { doc: number; value: unknown }[], what: string): Issue[] {
  let issues = objects.flatMap((o) => {
    const v = o.value as { kind?: unknown; items?: unknown };
    // A List is validated item by item, each named by its index.
    if (v && v.kind === 'List' && Array.isArray(v.items)) return v.items.flatMap((item, i) => validateObject(item, `${what}#${o.doc}`).map((x) => ({ ...x, path: `items[${i}].${x.path}` })));
    return validateObject(o.value, `${what}#${o.doc}`);
  });
  const warnings = issues.filter((i) => i.severity === 'warning');
  issues = issues.filter((i) => i.severity === 'error');
  if (issues.length === 0) return warnings;
  // One line, as every refusal of the CLI: the first issue's file and field lead, the others follow it.
  const [first, ...rest] = issues;
  const others = rest.slice(0, 19).map((i) => `${i.source}: ${i.path ? `${i.path}: ` : ''}${i.message}`);
  if (rest.length > 19) others.push(`… and ${rest.length - 19} more`);
  throw new ConfigError([first.source, first.path].filter(Boolean).join(': '), `${first.message.split('\n')[0]}${others.length ? `; also ${others.join('; ')}` : ''}`);
}
