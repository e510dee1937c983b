/** @module Unit tests for pod manifest parsing, validation (paths named) and env expansion. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expand, hostsLines, loadManifests, parseManifests, resolveEnv, serviceEnv, targetPortOn, validatePodSpec, type PodPlan } from './index.js';

function load(text: string) {
  const p = parseManifests(text, 'pod.yaml');
  const l = loadManifests(p.objects);
  return { ...l, issues: [...p.issues, ...l.issues] };
}
const errors = (text: string) => load(text).issues.filter((i) => i.severity === 'error').map((i) => `${i.path}: ${i.message}`);
const warnings = (text: string) => load(text).issues.filter((i) => i.severity === 'warning').map((i) => `${i.path}: ${i.message}`);

const POD = `apiVersion: v1
kind: Pod
metadata: { name: web, labels: { app: web } }
spec:
  volumes: [{ name: data, emptyDir: {} }]
  containers:
  - name: a
    command: [sh, -c, 'sleep 1']
    volumeMounts: [{ name: data, mountPath: /data }]
`;

test('a valid pod loads with no issues', () => {
  const l = load(POD);
  assert.deepEqual(l.issues, []);
  assert.equal(l.pods.length, 1);
  assert.equal(l.pods[0].name, 'web');
  assert.equal(l.pods[0].namespace, 'default');
});

test('unknown field names its YAML path and suggests the spelling', () => {
  const e = errors(POD.replace('volumeMounts:', 'volumeMount:'));
  assert.ok(e.some((x) => x.startsWith('spec.containers[0].volumeMount: unknown field (did you mean "volumeMounts"?)')), e.join('\n'));
});

test('mount of an undefined volume, duplicate names, bad types', () => {
  const text = `apiVersion: v1
kind: Pod
metadata: { name: p }
spec:
  volumes: [{ name: v, emptyDir: {} }, { name: v, emptyDir: {} }]
  containers:
  - { name: a, command: [x], volumeMounts: [{ name: v, mountPath: /v }] }
  - { name: a, command: [x], ports: [{ containerPort: "80" }], volumeMounts: [{ name: v, mountPath: /v }, { name: nope, mountPath: /w }] }
`;
  const e = errors(text);
  assert.ok(e.includes('spec.volumes[1].name: duplicate volume name "v"'), e.join('\n'));
  assert.ok(e.some((x) => x.startsWith('spec.containers[1].name: duplicate container name "a"')), e.join('\n'));
  assert.ok(e.includes('spec.containers[1].volumeMounts[1].name: volume "nope" is not defined in spec.volumes'), e.join('\n'));
  assert.ok(e.includes('spec.containers[1].ports[0].containerPort: must be an integer, got string "80"'), e.join('\n'));
});

test('probe rules: one handler, successThreshold 1 for liveness, none on plain init containers', () => {
  const issues = validatePodSpec({
    initContainers: [{ name: 'i', command: ['x'], readinessProbe: { exec: { command: ['true'] } } }],
    containers: [{ name: 'a', command: ['x'], livenessProbe: { exec: { command: ['true'] }, tcpSocket: { port: 1 }, successThreshold: 2 }, readinessProbe: { httpGet: { port: 'web' } } }],
  });
  const e = issues.map((i) => `${i.path}: ${i.message}`);
  assert.ok(e.includes('spec.initContainers[0].readinessProbe: must not be set on an init container (only on a sidecar with restartPolicy: Always)'), e.join('\n'));
  assert.ok(e.some((x) => x.startsWith('spec.containers[0].livenessProbe: must set exactly one handler')), e.join('\n'));
  assert.ok(e.includes('spec.containers[0].livenessProbe.successThreshold: must be 1 for a livenessProbe'), e.join('\n'));
  assert.ok(e.includes('spec.containers[0].readinessProbe.httpGet.port: no container port named "web"'), e.join('\n'));
});

test('sidecars may have probes; restartPolicy only on init containers', () => {
  const issues = validatePodSpec({
    initContainers: [{ name: 's', command: ['x'], restartPolicy: 'Always', startupProbe: { exec: { command: ['true'] } } }],
    containers: [{ name: 'a', command: ['x'], restartPolicy: 'Always' }],
  });
  assert.deepEqual(issues.map((i) => i.path), ['spec.containers[0].restartPolicy']);
});

test('fields podkit cannot honour are warnings naming the path, never dropped silently', () => {
  const w = warnings(POD.replace("    command: [sh, -c, 'sleep 1']", "    command: [sh]\n    resources: { limits: { cpu: '1' } }"));
  assert.ok(w.some((x) => x.startsWith('spec.containers[0].resources: ignored: resource requests and limits are not enforced locally')), w.join('\n'));
  assert.ok(warnings(POD.replace('spec:\n', 'spec:\n  nodeSelector: { a: b }\n')).some((x) => x.startsWith('spec.nodeSelector: ignored')));
  assert.ok(warnings(POD.replace('emptyDir: {}', 'nfs: { server: s, path: /x }')).some((x) => x.startsWith('spec.volumes[0].nfs:')));
});

test('from images, resources and securityContext are honoured (no warning) except on a host-process container (no image, or the annotation)', () => {
  const text = `${POD.replace("    command: [sh, -c, 'sleep 1']", "    image: busybox\n    command: [sh]\n    resources: { limits: { cpu: '1' } }\n    securityContext: { runAsUser: 1000 }")}  - name: b
    image: busybox
    resources: { limits: { cpu: '1' } }
`;
  const warned = (t: string) =>
    loadManifests(parseManifests(t, 'pod.yaml').objects, { local: true, images: true })
      .issues.filter((i) => i.severity === 'warning')
      .map((i) => i.path);
  assert.deepEqual(warned(text), []);
  const optedIn = text.replace('labels: { app: web } }', "labels: { app: web }, annotations: { host-process.podkit.io/a: 'true' } }");
  assert.deepEqual(warned(optedIn), ['spec.containers[0].resources', 'spec.containers[0].securityContext']);
  assert.deepEqual(warned(text.replace('    image: busybox\n    command: [sh]', '    command: [sh]')), ['spec.containers[0].resources', 'spec.containers[0].securityContext']);
});

test('local rule: a host-process container (no image, or the annotation) needs command or args unless its image is podkit', () => {
  const spec = { containers: [{ name: 'a', image: 'nginx' }, { name: 'b', image: 'ghcr.io/x/podkit:1', args: ['git-sync'] }, { name: 'c', image: 'redis' }] };
  const annotations = { 'host-process.podkit.io/a': 'true' };
  assert.deepEqual(validatePodSpec(spec, 'spec', { local: true, images: true, annotations }).map((i) => i.path), ['spec.containers[0]']);
  assert.deepEqual(validatePodSpec(spec, 'spec', { local: true, images: true }), [], 'from images: the entrypoint applies');
  assert.deepEqual(validatePodSpec(spec, 'spec', { local: true }).map((i) => i.path), ['spec.containers[0]', 'spec.containers[2]'], 'no image store: host processes');
  assert.deepEqual(validatePodSpec(spec, 'spec'), []);
});

test('workloads expand to replicas pods; Job restartPolicy checked; selector must match', () => {
  const dep = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: a, command: [x] }] }
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db }
spec:
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec: { containers: [{ name: a, command: [x] }] }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: cfg }
data: { k: v }
---
apiVersion: v1
kind: Secret
metadata: { name: s }
data: { pw: c2VjcmV0 }
`;
  const l = load(dep);
  assert.deepEqual(l.issues, []);
  // The template's pod spec is checked once (no duplicate findings).
  const w = warnings(dep.replace('spec: { containers: [{ name: a, command: [x] }] }', 'spec: { containers: [{ name: a, command: [x], resources: {} }] }'));
  assert.equal(w.filter((x) => x.startsWith('spec.template.spec.containers[0].resources')).length, 1, w.join('\n'));
  assert.deepEqual(l.pods.map((p) => p.name), ['web-0', 'web-1', 'db-0']);
  assert.equal(l.configMaps.get('default/cfg')?.data.k.toString(), 'v');
  assert.equal(l.secrets.get('default/s')?.data.pw.toString(), 'secret');
  const job = `apiVersion: batch/v1
kind: Job
metadata: { name: j }
spec: { template: { spec: { containers: [{ name: a, command: [x] }] } } }
`;
  assert.ok(errors(job).some((x) => x.startsWith('spec.template.spec.restartPolicy: a Job')));
  assert.ok(errors(dep.replace('labels: { app: web } }', 'labels: { app: other } }')).includes('spec.selector.matchLabels.app: does not match spec.template.metadata.labels'));
});

test('YAML errors and non-objects are errors; other kinds are skipped with a warning', () => {
  assert.ok(errors('a: [1').length > 0);
  assert.ok(errors('- 1\n').some((x) => x.includes('must be a mapping')));
  assert.ok(warnings('apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: { name: s }\n').some((x) => x.includes('kind Ingress: ignored locally')));
});

test('$(VAR) expansion: defined replaced, $$ escapes, unresolved kept', () => {
  const vars: Record<string, string> = { A: 'x', B: 'y' };
  const f = (s: string) => expand(s, (n) => vars[n]);
  assert.equal(f('$(A)-$(B)'), 'x-y');
  assert.equal(f('$$(A)'), '$(A)');
  assert.equal(f('$(NOPE)'), '$(NOPE)');
  assert.equal(f('$A $'), '$A $');
  assert.equal(f('$(A'), '$(A');
  assert.equal(f('$$$(A)'), '$x');
});

test('resolveEnv: order, valueFrom fieldRef/configMap/secret, envFrom, missing keys', () => {
  const pod: PodPlan = { name: 'p', namespace: 'ns', uid: 'u', labels: { app: 'w' }, annotations: {}, spec: { containers: [] }, source: 's' };
  const cm = new Map([['ns/c', { name: 'c', namespace: 'ns', data: { K: Buffer.from('kv'), OTHER: Buffer.from('o') } }]]);
  const sec = new Map([['ns/s', { name: 's', namespace: 'ns', data: { pw: Buffer.from('hunter2') } }]]);
  const ctx = { pod, podIP: '10.244.0.5', hostIP: '10.244.0.1', configMaps: cm, secrets: sec };
  const r = resolveEnv(
    {
      name: 'a',
      envFrom: [{ configMapRef: { name: 'c' }, prefix: 'CM_' }],
      env: [
        { name: 'LATER', value: '$(FIRST)' },
        { name: 'FIRST', value: 'one' },
        { name: 'BOTH', value: '$(FIRST)/$(CM_K)' },
        { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'PW', valueFrom: { secretKeyRef: { name: 's', key: 'pw' } } },
        { name: 'MISS', valueFrom: { configMapKeyRef: { name: 'c', key: 'nope' } } },
        { name: 'OPT', valueFrom: { configMapKeyRef: { name: 'c', key: 'nope', optional: true } } },
      ],
    },
    ctx,
  );
  assert.equal(r.env.LATER, '$(FIRST)');
  assert.equal(r.env.BOTH, 'one/kv');
  assert.equal(r.env.NAME, 'p');
  assert.equal(r.env.IP, '10.244.0.5');
  assert.equal(r.env.APP, 'w');
  assert.equal(r.env.PW, 'hunter2');
  assert.equal(r.env.CM_OTHER, 'o');
  assert.equal('OPT' in r.env, false);
  assert.deepEqual(r.errors, ['configMap key "c/nope" not found (env MISS)']);
});

test('YAML 1.1 as Kubernetes reads it: 0400 is octal', () => {
  const l = load(POD.replace('emptyDir: {}', 'secret: { secretName: s, defaultMode: 0400 }'));
  assert.equal((l.pods[0].spec.volumes![0].secret as { defaultMode: number }).defaultMode, 0o400);
});

test('StatefulSet OrderedReady chains pods; a hostPort published by two pods is an error', () => {
  const sts = `apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db }
spec:
  replicas: 3
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec: { containers: [{ name: a, command: [x], ports: [{ containerPort: 80 }] }] }
`;
  assert.deepEqual(load(sts).pods.map((p) => p.startAfter), [undefined, 'db-0', 'db-1']);
  assert.deepEqual(load(sts.replace('replicas: 3', 'replicas: 2\n  podManagementPolicy: Parallel')).pods.map((p) => p.startAfter), [undefined, undefined]);
  const e = errors(sts.replace('containerPort: 80', 'containerPort: 80, hostPort: 8080'));
  assert.ok(e.some((x) => x.includes('hostPort 8080 is also published by pod "db-0"')), e.join('\n'));
});

test('Services and StatefulSet subdomains become /etc/hosts lines', () => {
  const l = load(`apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db }
spec:
  serviceName: db
  replicas: 2
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec: { containers: [{ name: a, command: [x] }] }
---
apiVersion: v1
kind: Service
metadata: { name: db-primary }
spec: { selector: { app: db }, ports: [{ port: 80, targetPort: 8080 }] }
`);
  assert.deepEqual(l.pods.map((p) => p.spec.subdomain), ['db', 'db']);
  assert.equal(l.services.length, 1);
  const lines = hostsLines(l.pods.map((plan, i) => ({ plan, ip: `10.244.0.${i + 2}` })), l.services);
  assert.deepEqual(lines, [
    '10.244.0.2\tdb-0.db.default.svc.cluster.local db-0.db.default db-0.db',
    '10.244.0.3\tdb-1.db.default.svc.cluster.local db-1.db.default db-1.db',
    '10.244.0.2\tdb-primary.default.svc.cluster.local db-primary.default.svc db-primary.default db-primary',
  ]);
  // With a local cluster IP, the Service's name resolves to it (its forwarder sends port 80 to the pod's 8080).
  const withIP = hostsLines(l.pods.map((plan, i) => ({ plan, ip: `10.244.0.${i + 2}` })), l.services, new Map([['default/db-primary', '10.96.7.9']]));
  assert.equal(withIP[2], '10.96.7.9\tdb-primary.default.svc.cluster.local db-primary.default.svc db-primary.default db-primary');
});

test('Service variables as the kubelet sets them, docker-link style, beside the kubernetes Service; named targetPorts resolve on the pod', () => {
  const env = serviceEnv([{ name: 'redis-master', ip: '10.96.1.2', ports: [{ port: 6379, name: 'redis', protocol: 'TCP' }, { port: 9121, protocol: 'TCP' }] }], true);
  assert.deepEqual(env, {
    KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443', KUBERNETES_SERVICE_PORT_HTTPS: '443', KUBERNETES_PORT: 'tcp://10.96.0.1:443',
    KUBERNETES_PORT_443_TCP: 'tcp://10.96.0.1:443', KUBERNETES_PORT_443_TCP_PROTO: 'tcp', KUBERNETES_PORT_443_TCP_PORT: '443', KUBERNETES_PORT_443_TCP_ADDR: '10.96.0.1',
    REDIS_MASTER_SERVICE_HOST: '10.96.1.2', REDIS_MASTER_SERVICE_PORT: '6379', REDIS_MASTER_SERVICE_PORT_REDIS: '6379', REDIS_MASTER_PORT: 'tcp://10.96.1.2:6379',
    REDIS_MASTER_PORT_6379_TCP: 'tcp://10.96.1.2:6379', REDIS_MASTER_PORT_6379_TCP_PROTO: 'tcp', REDIS_MASTER_PORT_6379_TCP_PORT: '6379', REDIS_MASTER_PORT_6379_TCP_ADDR: '10.96.1.2',
    REDIS_MASTER_PORT_9121_TCP: 'tcp://10.96.1.2:9121', REDIS_MASTER_PORT_9121_TCP_PROTO: 'tcp', REDIS_MASTER_PORT_9121_TCP_PORT: '9121', REDIS_MASTER_PORT_9121_TCP_ADDR: '10.96.1.2',
  });
  assert.deepEqual(Object.keys(serviceEnv([{ name: 'x', ip: '10.96.0.9', ports: [{ port: 1 }] }], false)).filter((k) => !k.startsWith('KUBERNETES_')), []);
  const plan: PodPlan = { name: 'p', namespace: 'ns', uid: 'u', labels: {}, annotations: {}, spec: { containers: [{ name: 'a', ports: [{ name: 'http', containerPort: 8080 }] }] }, source: 's' };
  assert.equal(targetPortOn({ port: 80, targetPort: 'http' }, plan), 8080);
  assert.equal(targetPortOn({ port: 80, targetPort: 81 }, plan), 81);
  assert.equal(targetPortOn({ port: 80 }, plan), 80);
  assert.equal(targetPortOn({ port: 80, targetPort: 'nope' }, plan), undefined);
});

test('resourceFieldRef: requests/limits with their divisor, unset limits read as the node, requests default to limits', async () => {
  const { resourceFieldValue } = await import('./resources.js');
  const plan: PodPlan = { name: 'p', namespace: 'ns', uid: 'u', labels: {}, annotations: {}, spec: { containers: [] }, source: 's' };
  const env = resolveEnv(
    { name: 'x', resources: { limits: { memory: '32Mi' } }, env: [{ name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } }, { name: 'BAD', valueFrom: { resourceFieldRef: { resource: 'limits.nope' } } }] },
    { pod: plan, podIP: '', hostIP: '', configMaps: new Map(), secrets: new Map(), node: { cpu: 1, memory: 1 } },
  );
  assert.equal(env.env.MEM, '32');
  assert.match(env.errors.join(), /unsupported resource "limits.nope" \(env BAD\)/);
  const c = { name: 'a', resources: { limits: { cpu: '500m', memory: '64Mi' }, requests: { cpu: '250m' } } };
  const pod = { containers: [c, { name: 'b' }] };
  const node = { cpu: 2, memory: 8 * 2 ** 30 };
  assert.equal(resourceFieldValue({ resource: 'limits.cpu' }, c, pod, node), '1', 'ceil(0.5 / 1)');
  assert.equal(resourceFieldValue({ resource: 'limits.cpu', divisor: '1m' }, c, pod, node), '500');
  assert.equal(resourceFieldValue({ resource: 'requests.cpu', divisor: '1m' }, c, pod, node), '250');
  assert.equal(resourceFieldValue({ resource: 'limits.memory', divisor: '1Mi' }, c, pod, node), '64');
  assert.equal(resourceFieldValue({ resource: 'requests.memory', divisor: '1Mi' }, c, pod, node), '64', 'request defaults to the limit');
  assert.equal(resourceFieldValue({ resource: 'limits.cpu', containerName: 'b' }, undefined, pod, node), '2', 'unset limit: the node');
  assert.equal(resourceFieldValue({ resource: 'requests.memory', containerName: 'b' }, undefined, pod, node), '0');
  assert.throws(() => resourceFieldValue({ resource: 'limits.gpu' }, c, pod, node), /unsupported resource/);
  assert.throws(() => resourceFieldValue({ resource: 'limits.cpu', containerName: 'zz' }, c, pod, node), /container "zz" not found/);
});

test('running from images: resources, securityContext, imagePullPolicy and imagePullSecrets are no longer warned of', () => {
  const yaml = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  securityContext: {fsGroup: 1}
  imagePullSecrets: [{name: s}]
  containers:
  - name: a
    image: busybox
    imagePullPolicy: Always
    resources: {limits: {memory: 1Mi}}
    securityContext: {runAsUser: 1}
    stdin: true
`;
  const paths = (images: boolean) => loadManifests(parseManifests(yaml, 'p.yaml').objects, { local: true, images }).issues.filter((i) => i.severity === 'warning').map((i) => i.path);
  assert.deepEqual(paths(true), ['spec.containers[0].stdin']);
  assert.ok(paths(false).includes('spec.containers[0].resources'));
});
