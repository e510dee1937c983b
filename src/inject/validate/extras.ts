/**
 * @module Pod fields the local runtime accepts as free-form (it does not enforce them) but a cluster does: security
 * contexts, resources, tolerations, image pull secrets, host aliases, DNS config. Checked strictly here so a
 * misspelled `runAsNonRoot` is an error, not a silently weaker pod.
 */
import { int64, type Field } from '../../pod/spec/schema.js';
import type { Issue } from '../../pod/spec/types.js';
import { isObject, walk } from '../../pod/spec/walk.js';

const str = (extra: Partial<Field> = {}): Field => ({ t: 'string', ...extra }) as Field;
const bool = (): Field => ({ t: 'bool' });
const obj = (fields: Record<string, Field>): Field => ({ t: 'object', fields });
const arr = (of: Field): Field => ({ t: 'array', of });

const seLinux = obj({ user: str(), role: str(), type: str(), level: str() });
const seccomp = obj({ type: str({ enum: ['RuntimeDefault', 'Unconfined', 'Localhost'], required: true }), localhostProfile: str() });
const appArmor = obj({ type: str({ enum: ['RuntimeDefault', 'Unconfined', 'Localhost'], required: true }), localhostProfile: str() });
const windows = obj({ gmsaCredentialSpecName: str(), gmsaCredentialSpec: str(), runAsUserName: str(), hostProcess: bool() });

export const containerSecurityContext = obj({
  allowPrivilegeEscalation: bool(),
  appArmorProfile: appArmor,
  capabilities: obj({ add: arr(str()), drop: arr(str()) }),
  cgroupOptions: obj({ mountMode: str({ enum: ['ReadOnly', 'ReadWrite'] }) }),
  privileged: bool(),
  procMount: str({ enum: ['Default', 'Unmasked'] }),
  readOnlyRootFilesystem: bool(),
  runAsGroup: int64(0),
  runAsNonRoot: bool(),
  runAsUser: int64(0),
  seLinuxOptions: seLinux,
  seccompProfile: seccomp,
  windowsOptions: windows,
});

export const podSecurityContext = obj({
  appArmorProfile: appArmor,
  fsGroup: int64(0),
  fsGroupChangePolicy: str({ enum: ['OnRootMismatch', 'Always'] }),
  runAsGroup: int64(0),
  runAsNonRoot: bool(),
  runAsUser: int64(0),
  seLinuxChangePolicy: str(),
  seLinuxOptions: seLinux,
  seccompProfile: seccomp,
  supplementalGroups: arr(int64(0)),
  supplementalGroupsPolicy: str({ enum: ['Merge', 'Strict'] }),
  sysctls: arr(obj({ name: str({ required: true }), value: str({ required: true }) })),
  windowsOptions: windows,
});

// limits/requests are maps of resource name → quantity, checked with the pod rules (src/pod/spec/validate.ts).
const resources = obj({ limits: { t: 'any' }, requests: { t: 'any' }, claims: arr(obj({ name: str({ required: true }), request: str() })) });
const toleration = obj({ key: str(), operator: str({ enum: ['Exists', 'Equal', 'Lt', 'Gt'] }), value: str(), effect: str({ enum: ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'] }), tolerationSeconds: int64() });

const req = (f: Field): Field => ({ ...f, required: true });
const nodeSelectorRequirement = obj({ key: req(str()), operator: req(str({ enum: ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'] })), values: arr(str()) });
const nodeSelectorTerm = obj({ matchExpressions: arr(nodeSelectorRequirement), matchFields: arr(nodeSelectorRequirement) });
const labelSelector = obj({ matchLabels: { t: 'map' }, matchExpressions: arr(obj({ key: req(str()), operator: req(str({ enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] })), values: arr(str()) })) });
const podAffinityTerm = obj({ labelSelector, namespaceSelector: labelSelector, namespaces: arr(str()), topologyKey: req(str()), matchLabelKeys: arr(str()), mismatchLabelKeys: arr(str()) });
const weighted = (key: string, term: Field): Field => arr(obj({ weight: req({ t: 'int', min: 1, max: 100 }), [key]: req(term) }));
const podAffinity = obj({ requiredDuringSchedulingIgnoredDuringExecution: arr(podAffinityTerm), preferredDuringSchedulingIgnoredDuringExecution: weighted('podAffinityTerm', podAffinityTerm) });

/** The API server's shape of `affinity` (the local runtime ignores it: one node). */
export const affinity = obj({
  nodeAffinity: obj({
    requiredDuringSchedulingIgnoredDuringExecution: obj({ nodeSelectorTerms: req(arr(nodeSelectorTerm)) }),
    preferredDuringSchedulingIgnoredDuringExecution: weighted('preference', nodeSelectorTerm),
  }),
  podAffinity,
  podAntiAffinity: podAffinity,
});

const POD_FIELDS: Record<string, Field> = {
  affinity,
  securityContext: podSecurityContext,
  tolerations: arr(toleration),
  imagePullSecrets: arr(obj({ name: str() })),
  hostAliases: arr(obj({ ip: str({ required: true }), hostnames: arr(str()) })),
  dnsConfig: obj({ nameservers: arr(str()), searches: arr(str()), options: arr(obj({ name: str(), value: str() })) }),
};

/** Operators and their values, as the API server checks node selector, label selector and toleration requirements. */
function checkRequirements(v: unknown, path: string, out: Issue[]): void {
  if (Array.isArray(v)) return v.forEach((x, i) => checkRequirements(x, `${path}[${i}]`, out));
  if (!isObject(v)) return;
  if (typeof v.operator === 'string' && 'key' in v && !('effect' in v) && !('tolerationSeconds' in v)) {
    const values = Array.isArray(v.values) ? v.values : [];
    const err = (message: string) => out.push({ severity: 'error', path: `${path}.values`, message });
    if ((v.operator === 'In' || v.operator === 'NotIn') && values.length === 0) err(`must be non-empty when operator is ${v.operator}`);
    if ((v.operator === 'Exists' || v.operator === 'DoesNotExist') && values.length > 0) err(`must be empty when operator is ${v.operator}`);
    if ((v.operator === 'Gt' || v.operator === 'Lt') && (values.length !== 1 || !/^-?\d+$/.test(String(values[0])))) err(`must be one integer when operator is ${v.operator}`);
  }
  for (const [k, x] of Object.entries(v)) if (typeof x === 'object') checkRequirements(x, `${path}.${k}`, out);
}

/** Walk the cluster-only pod and container fields of the PodSpec at `path`. */
export function checkClusterFields(spec: unknown, path: string): Issue[] {
  const out: Issue[] = [];
  if (!isObject(spec)) return out;
  for (const [k, f] of Object.entries(POD_FIELDS)) walk(spec[k], f, `${path}.${k}`, out);
  checkRequirements(spec.affinity, `${path}.affinity`, out);
  if (isObject(spec.affinity) && isObject(spec.affinity.nodeAffinity) && isObject(spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution)) {
    const terms = spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
    if (Array.isArray(terms) && terms.length === 0) out.push({ severity: 'error', path: `${path}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`, message: 'must have at least one node selector term' });
  }
  for (const list of ['initContainers', 'containers']) {
    const cs = spec[list];
    if (!Array.isArray(cs)) continue;
    cs.forEach((c, i) => {
      if (!isObject(c)) return;
      const cp = `${path}.${list}[${i}]`;
      walk(c.securityContext, containerSecurityContext, `${cp}.securityContext`, out);
      walk(c.resources, resources, `${cp}.resources`, out);
    });
  }
  return out;
}
