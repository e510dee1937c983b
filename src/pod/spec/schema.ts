/** @module The field tables the validator walks: every field podkit knows, its type, and whether podkit honours it locally. */

export type Schema =
  | { t: 'string'; enum?: readonly string[] }
  | { t: 'int'; min?: number; max?: number; bits?: 32 | 64 }
  | { t: 'bool' }
  | { t: 'intOrString' }
  | { t: 'quantity' }
  | { t: 'map' }
  | { t: 'array'; of: Field }
  | { t: 'object'; fields: Record<string, Field> }
  | { t: 'any' };

/** A field: its schema, plus `required`, and `ignored` (why podkit cannot honour it locally → a warning). */
export type Field = Schema & { required?: boolean; ignored?: string };

const str = (extra: Partial<Field> = {}): Field => ({ t: 'string', ...extra }) as Field;
/** An int32 field (most of Kubernetes' integers); `int64` for the few the API declares int64 (seconds, ids). */
const int = (min?: number, max?: number, extra: Partial<Field> = {}): Field => ({ t: 'int', min, max, ...extra }) as Field;
export const int64 = (min?: number, max?: number, extra: Partial<Field> = {}): Field => ({ t: 'int', min, max, bits: 64, ...extra }) as Field;
const bool = (extra: Partial<Field> = {}): Field => ({ t: 'bool', ...extra }) as Field;
const map = (extra: Partial<Field> = {}): Field => ({ t: 'map', ...extra }) as Field;
const anyF = (ignored?: string): Field => ({ t: 'any', ignored });
const arr = (of: Field, extra: Partial<Field> = {}): Field => ({ t: 'array', of, ...extra }) as Field;
const obj = (fields: Record<string, Field>, extra: Partial<Field> = {}): Field => ({ t: 'object', fields, ...extra }) as Field;
const strs = (extra: Partial<Field> = {}) => arr(str(), extra);
const ios = (extra: Partial<Field> = {}): Field => ({ t: 'intOrString', ...extra }) as Field;

const NOT_LOCAL = 'not enforced by podkit locally';

export const objectMeta = obj({
  name: str(),
  generateName: str(),
  namespace: str(),
  uid: str(),
  labels: map(),
  annotations: map(),
  resourceVersion: str({ ignored: 'server-managed' }),
  creationTimestamp: anyF('server-managed'),
  deletionTimestamp: anyF('server-managed'),
  generation: int64(0, undefined, { ignored: 'server-managed' }),
  ownerReferences: anyF('no garbage collector locally'),
  finalizers: anyF('no garbage collector locally'),
  managedFields: anyF('server-managed'),
  selfLink: str({ ignored: 'server-managed' }),
});

const keySelector = obj({ name: str(), key: str({ required: true }), optional: bool() });
const fieldRef = obj({ fieldPath: str({ required: true }), apiVersion: str() });
const resourceFieldRef = obj({ resource: str({ required: true }), containerName: str(), divisor: { t: 'quantity' } });

const handlerFields: Record<string, Field> = {
  exec: obj({ command: strs() }),
  httpGet: obj({
    path: str(),
    port: ios({ required: true }),
    host: str(),
    scheme: str({ enum: ['HTTP', 'HTTPS'] }),
    httpHeaders: arr(obj({ name: str({ required: true }), value: str({ required: true }) })),
  }),
  tcpSocket: obj({ port: ios({ required: true }), host: str() }),
  sleep: obj({ seconds: int64(0, undefined, { required: true }) }),
};

export const handler = obj(handlerFields);

export const probe = obj({
  ...handlerFields,
  grpc: obj({ port: int(1, 65535, { required: true }), service: str() }, { ignored: 'gRPC probes are not run locally; the probe is treated as succeeding' }),
  initialDelaySeconds: int(0),
  timeoutSeconds: int(1),
  periodSeconds: int(1),
  successThreshold: int(1),
  failureThreshold: int(1),
  terminationGracePeriodSeconds: int64(0),
});

export const container = obj({
  name: str({ required: true }),
  image: str(),
  imagePullPolicy: str({ enum: ['Always', 'IfNotPresent', 'Never'], ignored: 'images are not pulled locally' }),
  command: strs(),
  args: strs(),
  workingDir: str(),
  ports: arr(
    obj({
      name: str(),
      containerPort: int(1, 65535, { required: true }),
      hostPort: int(1, 65535),
      hostIP: str(),
      protocol: str({ enum: ['TCP', 'UDP', 'SCTP'] }),
    }),
  ),
  env: arr(
    obj({
      name: str({ required: true }),
      value: str(),
      valueFrom: obj({
        fieldRef,
        resourceFieldRef,
        configMapKeyRef: keySelector,
        secretKeyRef: keySelector,
        fileKeyRef: obj({ volumeName: str({ required: true }), path: str({ required: true }), key: str({ required: true }), optional: bool() }, { ignored: 'variables from env files are not set locally' }),
      }),
    }),
  ),
  envFrom: arr(obj({ prefix: str(), configMapRef: obj({ name: str({ required: true }), optional: bool() }), secretRef: obj({ name: str({ required: true }), optional: bool() }) })),
  volumeMounts: arr(
    obj({
      name: str({ required: true }),
      mountPath: str({ required: true }),
      subPath: str(),
      subPathExpr: str({ ignored: 'subPathExpr is not expanded locally' }),
      readOnly: bool(),
      recursiveReadOnly: str({ ignored: NOT_LOCAL }),
      mountPropagation: str({ ignored: 'mounts are always private locally' }),
    }),
  ),
  volumeDevices: anyF('block devices are not attached locally'),
  livenessProbe: probe,
  readinessProbe: probe,
  startupProbe: probe,
  lifecycle: obj({ postStart: handler, preStop: handler, stopSignal: str({ ignored: 'the stop signal is always SIGTERM locally' }) }),
  restartPolicy: str({ enum: ['Always'] }),
  restartPolicyRules: arr(
    obj({
      action: str({ enum: ['Restart', 'RestartAllContainers'], required: true }),
      exitCodes: obj({ operator: str({ enum: ['In', 'NotIn'], required: true }), values: arr(int()) }),
      onExit: obj({ exitCodes: obj({ operator: str({ enum: ['In', 'NotIn'], required: true }), values: arr(int()) }) }),
    }),
    { ignored: 'restart rules are not applied locally (the restartPolicy is)' },
  ),
  resources: anyF('resource requests and limits are not enforced locally'),
  resizePolicy: anyF(NOT_LOCAL),
  securityContext: anyF('containers run as the runner user locally'),
  terminationMessagePath: str({ ignored: 'termination messages are not collected locally' }),
  terminationMessagePolicy: str({ ignored: 'termination messages are not collected locally' }),
  stdin: bool({ ignored: 'stdin is not attached locally' }),
  stdinOnce: bool({ ignored: 'stdin is not attached locally' }),
  tty: bool({ ignored: 'no TTY is allocated locally' }),
});

const keyToPath = arr(obj({ key: str({ required: true }), path: str({ required: true }), mode: int(0, 0o777) }));
const downwardAPIItems = arr(obj({ path: str({ required: true }), fieldRef, resourceFieldRef, mode: int(0, 0o777) }));

/** What a claim asks of its volume; locally every claim is a directory, so only its name matters. */
export const persistentVolumeClaimSpec = obj({
  accessModes: strs(),
  resources: obj({ requests: map(), limits: map() }),
  storageClassName: str(),
  volumeMode: str({ enum: ['Filesystem', 'Block'] }),
  volumeName: str({ ignored: 'claims are local directories' }),
  selector: anyF('claims are local directories'),
  dataSource: anyF('claims start empty locally'),
  dataSourceRef: anyF('claims start empty locally'),
  volumeAttributesClassName: str({ ignored: 'claims are local directories' }),
});

export const volume = obj({
  name: str({ required: true }),
  emptyDir: obj({ medium: str({ enum: ['', 'Memory'] }), sizeLimit: { t: 'quantity', ignored: 'sizeLimit is not enforced locally' } as Field, mode: int(0, 0o1777) }),
  hostPath: obj({ path: str({ required: true }), type: str({ enum: ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] }) }),
  configMap: obj({ name: str(), items: keyToPath, defaultMode: int(0, 0o777), optional: bool() }),
  secret: obj({ secretName: str(), items: keyToPath, defaultMode: int(0, 0o777), optional: bool() }),
  downwardAPI: obj({ items: downwardAPIItems, defaultMode: int(0, 0o777) }),
  projected: obj({
    defaultMode: int(0, 0o777),
    sources: arr(
      obj({
        configMap: obj({ name: str(), items: keyToPath, optional: bool() }),
        secret: obj({ name: str(), items: keyToPath, optional: bool() }),
        downwardAPI: obj({ items: downwardAPIItems }),
        serviceAccountToken: obj({ audience: str(), expirationSeconds: int64(600, 2 ** 32), path: str({ required: true }) }),
        clusterTrustBundle: obj({ name: str(), signerName: str(), labelSelector: anyF(), optional: bool(), path: str({ required: true }) }, { ignored: 'there are no cluster trust bundles locally; nothing is written' }),
        podCertificate: obj(
          { signerName: str({ required: true }), keyType: str({ required: true }), maxExpirationSeconds: int(3600), credentialBundlePath: str(), keyPath: str(), certificateChainPath: str(), userAnnotations: map() },
          { ignored: 'no certificates are issued locally; nothing is written' },
        ),
      }),
    ),
  }),
  persistentVolumeClaim: obj({ claimName: str({ required: true }), readOnly: bool() }),
  image: obj({ reference: str(), pullPolicy: str({ enum: ['Always', 'IfNotPresent', 'Never'] }) }, { ignored: 'image volumes are empty directories locally' }),
});

/** Volume sources podkit runs as an empty directory, with a warning. */
export const SUBSTITUTED_VOLUME_SOURCES = [
  'ephemeral', 'nfs', 'csi', 'iscsi', 'awsElasticBlockStore', 'gcePersistentDisk',
  'azureDisk', 'azureFile', 'cephfs', 'rbd', 'glusterfs', 'gitRepo', 'fc', 'flocker', 'flexVolume', 'portworxVolume',
  'quobyte', 'scaleIO', 'storageos', 'vsphereVolume', 'photonPersistentDisk', 'cinder',
];

export const podSpec = obj({
  containers: arr(container, { required: true }),
  initContainers: arr(container),
  ephemeralContainers: anyF('ephemeral containers are not run locally'),
  volumes: arr(volume),
  restartPolicy: str({ enum: ['Always', 'OnFailure', 'Never'] }),
  terminationGracePeriodSeconds: int64(0),
  activeDeadlineSeconds: int64(1),
  shareProcessNamespace: bool(),
  hostNetwork: bool(),
  hostPID: bool({ ignored: NOT_LOCAL }),
  hostIPC: bool({ ignored: NOT_LOCAL }),
  hostUsers: bool({ ignored: NOT_LOCAL }),
  hostname: str(),
  subdomain: str(),
  setHostnameAsFQDN: bool({ ignored: 'no cluster DNS locally' }),
  hostAliases: anyF('/etc/hosts is not rewritten locally'),
  dnsPolicy: str({ ignored: 'containers use the host resolver locally' }),
  dnsConfig: anyF('containers use the host resolver locally'),
  nodeName: str({ ignored: 'there is one node locally' }),
  nodeSelector: map({ ignored: 'there is one node locally' }),
  affinity: anyF('there is one node locally'),
  tolerations: anyF('there is one node locally'),
  topologySpreadConstraints: anyF('there is one node locally'),
  schedulerName: str({ ignored: 'there is no scheduler locally' }),
  schedulingGates: anyF('there is no scheduler locally'),
  priority: int(undefined, undefined, { ignored: 'there is no scheduler locally' }),
  priorityClassName: str({ ignored: 'there is no scheduler locally' }),
  preemptionPolicy: str({ ignored: 'there is no scheduler locally' }),
  runtimeClassName: str({ ignored: 'containers are host processes locally' }),
  overhead: anyF(NOT_LOCAL),
  os: anyF(NOT_LOCAL),
  readinessGates: anyF('readiness gates have no controller locally'),
  resourceClaims: anyF(NOT_LOCAL),
  resources: anyF('resource requests and limits are not enforced locally'),
  securityContext: anyF('containers run as the runner user locally'),
  serviceAccountName: str({ ignored: 'no API server locally' }),
  serviceAccount: str({ ignored: 'no API server locally' }),
  automountServiceAccountToken: bool({ ignored: 'no API server locally' }),
  enableServiceLinks: bool(),
  imagePullSecrets: anyF('images are not pulled locally'),
});

/** The pod spec inside a template is walked by validatePodSpec (with the semantic rules), so here it is opaque. */
export const podTemplate = obj({ metadata: objectMeta, spec: { t: 'any', required: true } });

const selector = obj({ matchLabels: map(), matchExpressions: anyF('matchExpressions are not evaluated locally') });

export const workloadSpecs: Record<string, Field> = {
  Deployment: obj({
    replicas: int(0),
    selector: { ...selector, required: true },
    template: { ...podTemplate, required: true },
    strategy: anyF('there are no rollouts locally'),
    minReadySeconds: int(0, undefined, { ignored: 'there are no rollouts locally' }),
    revisionHistoryLimit: int(0, undefined, { ignored: 'there are no rollouts locally' }),
    progressDeadlineSeconds: int(0, undefined, { ignored: 'there are no rollouts locally' }),
    paused: bool({ ignored: 'there are no rollouts locally' }),
  }),
  StatefulSet: obj({
    replicas: int(0),
    selector: { ...selector, required: true },
    template: { ...podTemplate, required: true },
    serviceName: str(),
    podManagementPolicy: str({ enum: ['OrderedReady', 'Parallel'] }),
    updateStrategy: anyF('there are no rollouts locally'),
    volumeClaimTemplates: arr(obj({ apiVersion: str(), kind: str(), metadata: { ...objectMeta, required: true }, spec: persistentVolumeClaimSpec, status: anyF('status is written by the cluster') })),
    persistentVolumeClaimRetentionPolicy: obj({ whenDeleted: str({ enum: ['Retain', 'Delete'] }), whenScaled: str({ enum: ['Retain', 'Delete'] }) }, { ignored: 'claims are kept until podkit down --volumes' }),
    ordinals: obj({ start: int(0) }),
    minReadySeconds: int(0, undefined, { ignored: 'there are no rollouts locally' }),
    revisionHistoryLimit: int(0, undefined, { ignored: 'there are no rollouts locally' }),
  }),
  ReplicaSet: obj({
    replicas: int(0),
    selector: { ...selector, required: true },
    template: { ...podTemplate, required: true },
    minReadySeconds: int(0, undefined, { ignored: 'there are no rollouts locally' }),
  }),
  /** The selector is a plain label map; without one, the template's labels are the selector. */
  ReplicationController: obj({
    replicas: int(0),
    selector: map(),
    template: { ...podTemplate, required: true },
    minReadySeconds: int(0, undefined, { ignored: 'there are no rollouts locally' }),
  }),
  DaemonSet: obj({
    selector: { ...selector, required: true },
    template: { ...podTemplate, required: true },
    updateStrategy: anyF('there are no rollouts locally'),
    minReadySeconds: int(0, undefined, { ignored: 'there are no rollouts locally' }),
    revisionHistoryLimit: int(0, undefined, { ignored: 'there are no rollouts locally' }),
  }),
  Job: obj({
    template: { ...podTemplate, required: true },
    parallelism: int(0),
    completions: int(0),
    backoffLimit: int(0),
    backoffLimitPerIndex: int(0, undefined, { ignored: NOT_LOCAL }),
    maxFailedIndexes: int(0, undefined, { ignored: NOT_LOCAL }),
    activeDeadlineSeconds: int64(1),
    ttlSecondsAfterFinished: int(0, undefined, { ignored: NOT_LOCAL }),
    completionMode: str({ enum: ['NonIndexed', 'Indexed'] }),
    suspend: bool({ ignored: NOT_LOCAL }),
    selector: { ...selector, ignored: 'Job selectors are generated' },
    manualSelector: bool({ ignored: 'Job selectors are generated' }),
    podFailurePolicy: anyF(NOT_LOCAL),
    podReplacementPolicy: str({ ignored: NOT_LOCAL }),
    successPolicy: anyF(NOT_LOCAL),
    managedBy: str({ ignored: NOT_LOCAL }),
  }),
};

export const configMap = obj({
  apiVersion: str({ required: true }),
  kind: str({ required: true }),
  metadata: { ...objectMeta, required: true },
  data: map(),
  binaryData: map(),
  immutable: bool(),
});

export const persistentVolumeClaim = obj({
  apiVersion: str({ required: true }),
  kind: str({ required: true }),
  metadata: { ...objectMeta, required: true },
  spec: { ...persistentVolumeClaimSpec, required: true },
  status: anyF('status is written by the cluster'),
});

export const secret = obj({
  apiVersion: str({ required: true }),
  kind: str({ required: true }),
  metadata: { ...objectMeta, required: true },
  data: map(),
  stringData: map(),
  type: str(),
  immutable: bool(),
});
