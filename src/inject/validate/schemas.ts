/** @module Field tables for the cluster kinds src/pod/spec does not cover (DaemonSet, ReplicaSet, CronJob, Service, ServiceAccount, Namespace, MutatingWebhookConfiguration). */
import { int64, objectMeta, podTemplate, workloadSpecs, type Field } from '../../pod/spec/schema.js';

const str = (extra: Partial<Field> = {}): Field => ({ t: 'string', ...extra }) as Field;
const int = (min?: number, max?: number, extra: Partial<Field> = {}): Field => ({ t: 'int', min, max, ...extra }) as Field;
const bool = (): Field => ({ t: 'bool' });
const map = (): Field => ({ t: 'map' });
const anyF = (): Field => ({ t: 'any' });
const arr = (of: Field, extra: Partial<Field> = {}): Field => ({ t: 'array', of, ...extra }) as Field;
const obj = (fields: Record<string, Field>, extra: Partial<Field> = {}): Field => ({ t: 'object', fields, ...extra }) as Field;
const strs = () => arr(str());
const ios = (extra: Partial<Field> = {}): Field => ({ t: 'intOrString', ...extra }) as Field;
const req = (f: Field): Field => ({ ...f, required: true });

const labelSelector = obj({
  matchLabels: map(),
  matchExpressions: arr(obj({ key: req(str()), operator: req(str({ enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] })), values: strs() })),
});

/** `apiVersion`, `kind`, `metadata`, `spec` (+ server-written `status`). */
export function top(spec: Field, extra: Record<string, Field> = {}): Field {
  return obj({ apiVersion: req(str()), kind: req(str()), metadata: req(objectMeta), spec, status: anyF(), ...extra });
}

const rollingUpdate = obj({ maxUnavailable: ios(), maxSurge: ios(), partition: int(0) });

export const clusterWorkloadSpecs: Record<string, Field> = {
  DaemonSet: obj({
    selector: req(labelSelector),
    template: req(podTemplate),
    updateStrategy: obj({ type: str({ enum: ['RollingUpdate', 'OnDelete'] }), rollingUpdate }),
    minReadySeconds: int(0),
    revisionHistoryLimit: int(0),
  }),
  ReplicaSet: obj({ replicas: int(0), selector: req(labelSelector), template: podTemplate, minReadySeconds: int(0) }),
  CronJob: obj({
    schedule: req(str()),
    timeZone: str(),
    startingDeadlineSeconds: int64(0),
    concurrencyPolicy: str({ enum: ['Allow', 'Forbid', 'Replace'] }),
    suspend: bool(),
    jobTemplate: req(obj({ metadata: objectMeta, spec: req(workloadSpecs.Job) })),
    successfulJobsHistoryLimit: int(0),
    failedJobsHistoryLimit: int(0),
  }),
};

export const service = top(
  obj({
    type: str({ enum: ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] }),
    selector: map(),
    ports: arr(
      obj({
        name: str(),
        protocol: str({ enum: ['TCP', 'UDP', 'SCTP'] }),
        appProtocol: str(),
        port: req(int(1, 65535)),
        targetPort: ios(),
        nodePort: int(1, 65535),
      }),
    ),
    clusterIP: str(),
    clusterIPs: strs(),
    externalIPs: strs(),
    externalName: str(),
    externalTrafficPolicy: str({ enum: ['Cluster', 'Local'] }),
    internalTrafficPolicy: str({ enum: ['Cluster', 'Local'] }),
    healthCheckNodePort: int(1, 65535),
    ipFamilies: strs(),
    ipFamilyPolicy: str({ enum: ['SingleStack', 'PreferDualStack', 'RequireDualStack'] }),
    loadBalancerIP: str(),
    loadBalancerClass: str(),
    loadBalancerSourceRanges: strs(),
    allocateLoadBalancerNodePorts: bool(),
    publishNotReadyAddresses: bool(),
    sessionAffinity: str({ enum: ['None', 'ClientIP'] }),
    sessionAffinityConfig: obj({ clientIP: obj({ timeoutSeconds: int(1, 86400) }) }),
    trafficDistribution: str(),
  }),
);

export const serviceAccount = obj({
  apiVersion: req(str()),
  kind: req(str()),
  metadata: req(objectMeta),
  secrets: arr(obj({ name: str(), namespace: str(), kind: str(), apiVersion: str(), uid: str(), fieldPath: str(), resourceVersion: str() })),
  imagePullSecrets: arr(obj({ name: str() })),
  automountServiceAccountToken: bool(),
});

export const namespace = top(obj({ finalizers: strs() }));

const webhook = obj({
  name: req(str()),
  clientConfig: req(
    obj({
      url: str(),
      service: obj({ namespace: req(str()), name: req(str()), path: str(), port: int(1, 65535) }),
      caBundle: str(),
    }),
  ),
  rules: arr(
    obj({
      apiGroups: strs(),
      apiVersions: strs(),
      operations: arr(str({ enum: ['*', 'CREATE', 'UPDATE', 'DELETE', 'CONNECT'] })),
      resources: strs(),
      scope: str({ enum: ['*', 'Cluster', 'Namespaced'] }),
    }),
  ),
  failurePolicy: str({ enum: ['Ignore', 'Fail'] }),
  matchPolicy: str({ enum: ['Exact', 'Equivalent'] }),
  namespaceSelector: labelSelector,
  objectSelector: labelSelector,
  sideEffects: req(str({ enum: ['None', 'NoneOnDryRun', 'Some', 'Unknown'] })),
  timeoutSeconds: int(1, 30),
  admissionReviewVersions: req(strs()),
  reinvocationPolicy: str({ enum: ['Never', 'IfNeeded'] }),
  matchConditions: arr(obj({ name: req(str()), expression: req(str()) })),
});

export const mutatingWebhookConfiguration = obj({
  apiVersion: req(str()),
  kind: req(str()),
  metadata: req(objectMeta),
  webhooks: arr(webhook),
});
