/** @module Strict validation: a misspelled field is an error (a JSON schema without additionalProperties:false accepts it), plus the semantic rules. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { validateObject } from './index.js';

const pod = (spec: Record<string, unknown>, meta: Record<string, unknown> = { name: 'p' }) => ({ apiVersion: 'v1', kind: 'Pod', metadata: meta, spec });
const c = (extra: Record<string, unknown> = {}) => ({ name: 'app', image: 'example/app:1', ...extra });
const errors = (o: unknown) => validateObject(o).filter((i) => i.severity === 'error').map((i) => `${i.path}: ${i.message}`);

function rejects(o: unknown, re: RegExp): void {
  const e = errors(o);
  assert.ok(e.some((m) => re.test(m)), `want ${re}, got ${JSON.stringify(e)}`);
}

describe('strict Kubernetes validation', () => {
  test('a valid pod has no errors', () => {
    assert.deepEqual(errors(pod({ containers: [c({ imagePullPolicy: 'Always' })] })), []);
  });
  test('a misspelled field (imagePullPolicyy) is rejected, naming the path, with a suggestion', () => {
    rejects(pod({ containers: [c({ imagePullPolicyy: 'Always' })] }), /^spec\.containers\[0\]\.imagePullPolicyy: unknown field \(did you mean "imagePullPolicy"\?\)$/);
  });
  test('misspellings everywhere: pod spec, probe, volume, workload, service, webhook config', () => {
    rejects(pod({ containers: [c()], restartPolicyy: 'Never' }), /^spec\.restartPolicyy: unknown field/);
    rejects(pod({ containers: [c({ readinessProbe: { httpGet: { path: '/', port: 80 }, periodSecond: 5 } })] }), /readinessProbe\.periodSecond: unknown field/);
    rejects(pod({ containers: [c()], volumes: [{ name: 'v', emptyDir: { medum: 'Memory' } }] }), /volumes\[0\]\.emptyDir\.medum: unknown field/);
    rejects(pod({ containers: [c()], volumes: [{ name: 'v', projected: { sorces: [] } }] }), /volumes\[0\]\.projected\.sorces: unknown field/);
    const ds = { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'd' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [c()] } }, updateStrategyy: {} } };
    rejects(ds, /^spec\.updateStrategyy: unknown field/);
    rejects({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 80, targetport: 8080 }] } }, /spec\.ports\[0\]\.targetport: unknown field/);
    rejects({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'm' }, webhooks: [{ name: 'a.b.c', clientConfig: { url: 'https://x' }, sideEffects: 'None', admissionReviewVersions: ['v1'], failurPolicy: 'Fail' }] }, /webhooks\[0\]\.failurPolicy: unknown field/);
  });
  test('security contexts and resources are checked strictly on a cluster', () => {
    rejects(pod({ containers: [c({ securityContext: { runAsNonRoo: true } })] }), /containers\[0\]\.securityContext\.runAsNonRoo: unknown field \(did you mean "runAsNonRoot"\?\)/);
    rejects(pod({ containers: [c()], securityContext: { fsGroup: 'staff' } }), /^spec\.securityContext\.fsGroup: must be an integer/);
    rejects(pod({ containers: [c({ resources: { limts: { cpu: '1' } } })] }), /resources\.limts: unknown field/);
    rejects(pod({ containers: [c({ resources: { limits: { memory: '64 megs' } } })] }), /resources\.limits\.memory: must be a quantity/);
    rejects(pod({ containers: [c()], tolerations: [{ key: 'a', operator: 'Equals' }] }), /tolerations\[0\]\.operator: must be one of/);
    assert.deepEqual(errors(pod({ containers: [c({ resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: 256 } }, securityContext: { capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } } })] })), []);
  });
  test('duplicate names', () => {
    rejects(pod({ containers: [c(), c()] }), /containers\[1\]\.name: duplicate container name "app"/);
    rejects(pod({ initContainers: [c()], containers: [c()] }), /duplicate container name "app"/);
    rejects(pod({ containers: [c()], volumes: [{ name: 'v', emptyDir: {} }, { name: 'v', emptyDir: {} }] }), /volumes\[1\]\.name: duplicate volume name "v"/);
    rejects({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ name: 'a', port: 80 }, { name: 'a', port: 81 }] } }, /duplicate port name "a"/);
  });
  test('mounts of undefined volumes', () => {
    rejects(pod({ containers: [c({ volumeMounts: [{ name: 'nope', mountPath: '/x' }] })] }), /volumeMounts\[0\]\.name: volume "nope" is not defined/);
  });
  test('probe rules', () => {
    rejects(pod({ initContainers: [c({ name: 'init', readinessProbe: { exec: { command: ['true'] } } })], containers: [c()] }), /initContainers\[0\]\.readinessProbe: must not be set on an init container/);
    rejects(pod({ initContainers: [c({ name: 'init', startupProbe: { exec: { command: ['true'] } } })], containers: [c()] }), /initContainers\[0\]\.startupProbe: must not be set/);
    assert.deepEqual(errors(pod({ initContainers: [c({ name: 'side', restartPolicy: 'Always', startupProbe: { exec: { command: ['true'] } } })], containers: [c()] })), []);
    rejects(pod({ containers: [c({ livenessProbe: { exec: { command: ['true'] }, tcpSocket: { port: 1 } } })] }), /livenessProbe: must set exactly one handler/);
    rejects(pod({ containers: [c({ livenessProbe: { exec: { command: ['true'] }, successThreshold: 2 } })] }), /livenessProbe\.successThreshold: must be 1/);
    rejects(pod({ containers: [c({ readinessProbe: { httpGet: { port: 'web' } } })] }), /no container port named "web"/);
    rejects(pod({ containers: [c({ restartPolicy: 'Always' })] }), /containers\[0\]\.restartPolicy: may only be set on init containers/);
  });
  test('cluster rules: image required, selector matches labels, Job restart policy, webhook names', () => {
    rejects(pod({ containers: [{ name: 'app', command: ['x'] }] }), /containers\[0\]\.image: is required/);
    const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'r' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'c' } }, spec: { containers: [c()] } } } };
    rejects(rs, /spec\.selector\.matchLabels\.a: does not match/);
    const cj = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'j' }, spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { spec: { containers: [c()] } } } } } };
    rejects(cj, /jobTemplate\.spec\.template\.spec\.restartPolicy: a Job's pods need restartPolicy Never or OnFailure/);
    rejects({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'm' }, webhooks: [{ name: 'inject', clientConfig: {}, sideEffects: 'None', admissionReviewVersions: ['v1beta1'] }] }, /webhooks\[0\]\.name: "inject" must be fully qualified/);
    assert.deepEqual(errors({ apiVersion: 'v1', kind: 'Widget', metadata: { name: 'w' } }), []);
    rejects(pod({ containers: [c()] }, {}), /^metadata\.name: is required/);
  });
  test('the API server\'s defaulted fields and projected token volume are accepted', () => {
    const spec = {
      volumes: [{ name: 'kube-api-access-x', projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }, { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } }] } }],
      containers: [c({ terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', resources: {}, volumeMounts: [{ name: 'kube-api-access-x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }] })],
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      securityContext: {},
      tolerations: [],
      enableServiceLinks: true,
    };
    assert.deepEqual(errors(pod(spec)), []);
  });
});
