/** @module Types for the parts of Kubernetes manifests podkit understands (Pod, workloads, ConfigMap, Secret). */

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ExecAction {
  command?: string[];
}
export interface HTTPGetAction {
  path?: string;
  port: number | string;
  host?: string;
  scheme?: 'HTTP' | 'HTTPS';
  httpHeaders?: { name: string; value: string }[];
}
export interface TCPSocketAction {
  port: number | string;
  host?: string;
}

/** A lifecycle hook or probe handler: exactly one of these is set. */
export interface Handler {
  exec?: ExecAction;
  httpGet?: HTTPGetAction;
  tcpSocket?: TCPSocketAction;
  sleep?: { seconds: number };
}

export interface Probe extends Handler {
  grpc?: { port: number; service?: string };
  initialDelaySeconds?: number;
  /** Default 1. */
  timeoutSeconds?: number;
  /** Default 10. */
  periodSeconds?: number;
  /** Default 1 (must be 1 for liveness and startup probes). */
  successThreshold?: number;
  /** Default 3. */
  failureThreshold?: number;
  terminationGracePeriodSeconds?: number;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  hostPort?: number;
  hostIP?: string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

export interface KeySelector {
  name?: string;
  key: string;
  optional?: boolean;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string; apiVersion?: string };
    resourceFieldRef?: { resource: string; containerName?: string; divisor?: string | number };
    configMapKeyRef?: KeySelector;
    secretKeyRef?: KeySelector;
  };
}

export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  subPathExpr?: string;
  readOnly?: boolean;
  mountPropagation?: string;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  ports?: ContainerPort[];
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  volumeMounts?: VolumeMount[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { postStart?: Handler; preStop?: Handler };
  /** Only on init containers: `Always` makes it a native sidecar. */
  restartPolicy?: 'Always';
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
  securityContext?: ContainerSecurityContext;
}

/** securityContext fields of a container (the pod level has the user and group ones). */
export interface ContainerSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  procMount?: string;
}

export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

export interface DownwardAPIFile {
  path: string;
  fieldRef?: { fieldPath: string; apiVersion?: string };
  resourceFieldRef?: { resource: string; containerName?: string; divisor?: string | number };
  mode?: number;
}

/** One source of a projected volume: exactly one field set. */
export interface ProjectedSource {
  configMap?: { name?: string; items?: KeyToPath[]; optional?: boolean };
  secret?: { name?: string; items?: KeyToPath[]; optional?: boolean };
  downwardAPI?: { items?: DownwardAPIFile[] };
  serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
  clusterTrustBundle?: { path: string };
  podCertificate?: unknown;
}

export interface Volume {
  name: string;
  emptyDir?: { medium?: '' | 'Memory'; sizeLimit?: string | number; mode?: number };
  hostPath?: { path: string; type?: string };
  configMap?: { name?: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean };
  secret?: { secretName?: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean };
  downwardAPI?: { items?: DownwardAPIFile[]; defaultMode?: number };
  projected?: { defaultMode?: number; sources?: ProjectedSource[] };
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  /** Any other source (persistentVolumeClaim, nfs, …) is run as an emptyDir with a warning. */
  [other: string]: unknown;
}

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  restartPolicy?: RestartPolicy;
  /** Default 30. */
  terminationGracePeriodSeconds?: number;
  /** The kubelet fails the pod (DeadlineExceeded) this long after it started. */
  activeDeadlineSeconds?: number;
  shareProcessNamespace?: boolean;
  hostNetwork?: boolean;
  enableServiceLinks?: boolean;
  hostname?: string;
  /** With a headless Service of that name: `<hostname>.<subdomain>` resolves to the pod (StatefulSets set it). */
  subdomain?: string;
  securityContext?: { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean; supplementalGroups?: number[]; fsGroup?: number };
  imagePullSecrets?: { name: string }[];
}

export interface PodTemplate {
  metadata?: ObjectMeta;
  spec: PodSpec;
}

/** One parsed YAML document with where it came from. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  /** The raw document (validated before use). */
  body: Record<string, unknown>;
  /** File name (or `<stdin>`) and 1-based document number, for messages. */
  source: string;
  doc: number;
}

export interface ConfigMapData {
  name: string;
  namespace: string;
  /** Text values and decoded binaryData. */
  data: Record<string, Buffer>;
}

/** A pod ready to run: concrete name, metadata and spec. */
export interface PodPlan {
  name: string;
  namespace: string;
  uid: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: PodSpec;
  /** `Deployment/web` when it came from a workload. */
  owner?: string;
  /** StatefulSet OrderedReady: start only once this pod (the previous ordinal) is Ready. */
  startAfter?: string;
  /** A Job's pod: which Job (`namespace/name`, a key of `LoadedManifests.jobs`) and its completion slot. */
  job?: { key: string; index: number };
  source: string;
}

/** A Job as its controller runs it locally: its pods are the plans whose `job.key` names it. */
export interface JobPlan {
  name: string;
  namespace: string;
  /** Unset: a work queue (parallelism pods; done once one succeeds and none runs). */
  completions?: number;
  /** At most this many pods at once (at least 1). */
  parallelism: number;
  indexed: boolean;
  /** Failed pods (Never) or container restarts (OnFailure) the Job tolerates (Kubernetes' default: 6). */
  backoffLimit: number;
  /** The Job fails (DeadlineExceeded) once active this long. */
  activeDeadlineSeconds?: number;
  restartPolicy: 'Never' | 'OnFailure';
  source: string;
}

/** The parts of a Service podkit uses locally: its name resolves (through /etc/hosts) to the IPs of its pods. */
export interface ServiceInfo {
  name: string;
  namespace: string;
  selector: Record<string, string>;
  ports: { port: number; targetPort?: number | string; name?: string; protocol?: string }[];
}

/** A PersistentVolumeClaim: locally, a directory under the state folder that outlives its pods. */
export interface ClaimInfo {
  name: string;
  namespace: string;
  /** The file and document that define it (or the pod that named it). */
  source: string;
}

/** A validation finding. `path` is the YAML path inside the document, e.g. `spec.containers[1].volumeMounts[0].name`. */
export interface Issue {
  severity: 'error' | 'warning';
  path: string;
  message: string;
  /** File and document, when known. */
  source?: string;
  /** The feature gate a cluster needs for this field (a warning locally and from inject, never a refusal). */
  gate?: string;
}
