/**
 * @module The apiVersion each kind podkit reads is served under, and the group versions Kubernetes has removed: an
 * object in a removed version is refused, naming the release that removed it and the version to use, as the API
 * server refuses it ("no matches for kind … in version …"). Pure.
 */

import { own } from './walk.js';

/** Served versions of the kinds podkit validates. Kinds not listed here are not checked. */
const SERVED: Record<string, string[]> = {
  Pod: ['v1'],
  ConfigMap: ['v1'],
  Secret: ['v1'],
  Service: ['v1'],
  ServiceAccount: ['v1'],
  Namespace: ['v1'],
  PersistentVolumeClaim: ['v1'],
  ReplicationController: ['v1'],
  Deployment: ['apps/v1'],
  StatefulSet: ['apps/v1'],
  DaemonSet: ['apps/v1'],
  ReplicaSet: ['apps/v1'],
  Job: ['batch/v1'],
  CronJob: ['batch/v1'],
  MutatingWebhookConfiguration: ['admissionregistration.k8s.io/v1'],
};

/** Group versions Kubernetes removed, with the release that removed them (kinds moved to the version named). */
const REMOVED: Record<string, { release: string; use?: Record<string, string> }> = {
  'extensions/v1beta1': { release: '1.16 (Ingress 1.22)', use: { Deployment: 'apps/v1', DaemonSet: 'apps/v1', ReplicaSet: 'apps/v1', NetworkPolicy: 'networking.k8s.io/v1', Ingress: 'networking.k8s.io/v1', PodSecurityPolicy: 'none (removed)' } },
  'apps/v1beta1': { release: '1.16', use: { Deployment: 'apps/v1', StatefulSet: 'apps/v1' } },
  'apps/v1beta2': { release: '1.16', use: { Deployment: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1', ReplicaSet: 'apps/v1' } },
  'batch/v1beta1': { release: '1.25', use: { CronJob: 'batch/v1' } },
  'batch/v2alpha1': { release: '1.21', use: { CronJob: 'batch/v1' } },
  'policy/v1beta1': { release: '1.25', use: { PodDisruptionBudget: 'policy/v1', PodSecurityPolicy: 'none (removed)' } },
  'autoscaling/v2beta1': { release: '1.25', use: { HorizontalPodAutoscaler: 'autoscaling/v2' } },
  'autoscaling/v2beta2': { release: '1.26', use: { HorizontalPodAutoscaler: 'autoscaling/v2' } },
  'networking.k8s.io/v1beta1': { release: '1.22', use: { Ingress: 'networking.k8s.io/v1', IngressClass: 'networking.k8s.io/v1' } },
  'rbac.authorization.k8s.io/v1beta1': { release: '1.22', use: { Role: 'rbac.authorization.k8s.io/v1', ClusterRole: 'rbac.authorization.k8s.io/v1', RoleBinding: 'rbac.authorization.k8s.io/v1', ClusterRoleBinding: 'rbac.authorization.k8s.io/v1' } },
  'rbac.authorization.k8s.io/v1alpha1': { release: '1.22' },
  'admissionregistration.k8s.io/v1beta1': { release: '1.22', use: { MutatingWebhookConfiguration: 'admissionregistration.k8s.io/v1', ValidatingWebhookConfiguration: 'admissionregistration.k8s.io/v1' } },
  'apiextensions.k8s.io/v1beta1': { release: '1.22', use: { CustomResourceDefinition: 'apiextensions.k8s.io/v1' } },
  'apiregistration.k8s.io/v1beta1': { release: '1.22', use: { APIService: 'apiregistration.k8s.io/v1' } },
  'authentication.k8s.io/v1beta1': { release: '1.22' },
  'authorization.k8s.io/v1beta1': { release: '1.22' },
  'certificates.k8s.io/v1beta1': { release: '1.22', use: { CertificateSigningRequest: 'certificates.k8s.io/v1' } },
  'coordination.k8s.io/v1beta1': { release: '1.22', use: { Lease: 'coordination.k8s.io/v1' } },
  'scheduling.k8s.io/v1beta1': { release: '1.22', use: { PriorityClass: 'scheduling.k8s.io/v1' } },
  'scheduling.k8s.io/v1alpha1': { release: '1.22', use: { PriorityClass: 'scheduling.k8s.io/v1' } },
  'storage.k8s.io/v1beta1': { release: '1.22 (CSIStorageCapacity 1.27)', use: { StorageClass: 'storage.k8s.io/v1', CSIDriver: 'storage.k8s.io/v1', CSINode: 'storage.k8s.io/v1', VolumeAttachment: 'storage.k8s.io/v1', CSIStorageCapacity: 'storage.k8s.io/v1' } },
  'discovery.k8s.io/v1beta1': { release: '1.25', use: { EndpointSlice: 'discovery.k8s.io/v1' } },
  'events.k8s.io/v1beta1': { release: '1.25', use: { Event: 'events.k8s.io/v1' } },
  'node.k8s.io/v1beta1': { release: '1.25', use: { RuntimeClass: 'node.k8s.io/v1' } },
  'flowcontrol.apiserver.k8s.io/v1beta1': { release: '1.26', use: { FlowSchema: 'flowcontrol.apiserver.k8s.io/v1', PriorityLevelConfiguration: 'flowcontrol.apiserver.k8s.io/v1' } },
  'flowcontrol.apiserver.k8s.io/v1beta2': { release: '1.29', use: { FlowSchema: 'flowcontrol.apiserver.k8s.io/v1', PriorityLevelConfiguration: 'flowcontrol.apiserver.k8s.io/v1' } },
};

/** Why the API server would refuse `kind` in `apiVersion`, or undefined when it serves it. */
export function apiVersionError(kind: string, apiVersion: string): string | undefined {
  const removed = own(REMOVED, apiVersion);
  if (removed) {
    const to = (removed.use && own(removed.use, kind)) ?? own(SERVED, kind)?.[0];
    return `${apiVersion} was removed in Kubernetes ${removed.release}${to ? `; use apiVersion ${to} for ${kind}` : ''}`;
  }
  const served = own(SERVED, kind);
  if (served && !served.includes(apiVersion)) return `no kind ${kind} is served in version ${JSON.stringify(apiVersion)}; use apiVersion ${served[0]}`;
  return undefined;
}
