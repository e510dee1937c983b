/**
 * @module Storage with real pods, as root, through the built CLI: PersistentVolumeClaims (from the files and from a
 * StatefulSet's volumeClaimTemplates) as directories under the state folder that outlive `down` and go with
 * `down --volumes`; projected volumes; ConfigMap keys and paths that try to leave their volume.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { downAllPods, podStateDir, pollUntil, runPodkit, stopAll, tempDir, yamlFile } from './helpers/index.js';
import { loadManifests, parseManifests, type ConfigMapData, type PodPlan } from '../src/pod/spec/index.js';
import { prepareVolumes } from '../src/pod/runtime/volumes.js';

after(async () => {
  await downAllPods();
  await stopAll();
});

/** A pod's log once it holds `want`. */
async function logOf(dir: string, pod: string, want: RegExp): Promise<string> {
  return pollUntil(
    async () => {
      const r = await runPodkit(['logs', '--state-dir', dir, pod, 'app']);
      return want.test(r.stdout) ? r.stdout : undefined;
    },
    { timeoutMs: 30_000, what: `${pod}'s log to match ${want}` },
  );
}

const STATEFUL = `apiVersion: apps/v1
kind: StatefulSet
metadata: { name: web }
spec:
  serviceName: web
  replicas: 2
  podManagementPolicy: Parallel
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
      - name: app
        command: [sh, -c, 'cat /data/seen 2>/dev/null || echo first-run; hostname >> /data/seen; echo ready; sleep 3600']
        volumeMounts: [{ name: www, mountPath: /data }]
  volumeClaimTemplates:
  - metadata: { name: www }
    spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Gi } } }
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: shared }
spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Gi } } }
---
apiVersion: v1
kind: Pod
metadata: { name: user }
spec:
  volumes: [{ name: s, persistentVolumeClaim: { claimName: shared } }]
  containers:
  - name: app
    command: [sh, -c, 'ls /s; echo kept > /s/file; echo ready; sleep 3600']
    volumeMounts: [{ name: s, mountPath: /s }]
---
apiVersion: v1
kind: Pod
metadata: { name: reader }
spec:
  volumes: [{ name: s, persistentVolumeClaim: { claimName: shared } }]
  containers:
  - name: app
    command: [sh, -c, 'echo ready; sleep 3600']
    volumeMounts: [{ name: s, mountPath: /s }]
`;

describe('PersistentVolumeClaims', () => {
  test('claims are directories under the state folder: they survive down and up, and down --volumes removes them', async () => {
    const dir = podStateDir();
    const f = yamlFile(STATEFUL);
    const claims = join(dir, 'volumes', 'default');
    const up = await runPodkit(['up', '-d', '--state-dir', dir, f], { timeoutMs: 60_000 });
    assert.equal(up.code, 0, up.stderr);
    assert.match(await logOf(dir, 'web-0', /ready/), /^first-run$/m);
    await logOf(dir, 'user', /ready/);
    assert.deepEqual(readdirSync(claims).sort(), ['shared', 'www-web-0', 'www-web-1']);
    assert.equal(statSync(join(claims, 'shared')).mode & 0o777, 0o777);

    const down = await runPodkit(['down', '--all', '--state-dir', dir], { timeoutMs: 60_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(readFileSync(join(claims, 'www-web-0', 'seen'), 'utf8'), 'web-0\n');
    assert.equal(readFileSync(join(claims, 'shared', 'file'), 'utf8'), 'kept\n');

    const again = await runPodkit(['up', '-d', '--state-dir', dir, f], { timeoutMs: 60_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.match(await logOf(dir, 'web-1', /ready/), /^web-1$/m);
    assert.match(await logOf(dir, 'user', /ready/), /^file$/m);

    // down POD --volumes removes that pod's claims only, and not while another running pod mounts one (PVC protection).
    await logOf(dir, 'reader', /ready/);
    const one = await runPodkit(['down', '--volumes', '--state-dir', dir, 'user'], { timeoutMs: 60_000 });
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /persistentvolumeclaim default\/shared: kept \(pod reader still uses it\)/);
    assert.equal(readFileSync(join(claims, 'shared', 'file'), 'utf8'), 'kept\n');
    const two = await runPodkit(['down', '--volumes', '--state-dir', dir, 'reader'], { timeoutMs: 60_000 });
    assert.equal(two.code, 0, two.stderr);
    assert.match(two.stdout, /persistentvolumeclaim default\/shared: deleted/);
    assert.deepEqual(readdirSync(claims).sort(), ['www-web-0', 'www-web-1']);
    const all = await runPodkit(['down', '--all', '--volumes', '--state-dir', dir], { timeoutMs: 60_000 });
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(readdirSync(claims), []);
  });

  test('podkit up of a file with only a claim makes the claim and runs nothing', async () => {
    const dir = podStateDir();
    const r = await runPodkit(['up', '--state-dir', dir, yamlFile(STATEFUL.split('---\n')[1])], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /no pod to run .*; claims provisioned: shared/);
    assert.ok(statSync(join(dir, 'volumes', 'default', 'shared')).isDirectory());
  });
});

describe('projected volumes', () => {
  test('configMap, secret, downwardAPI and serviceAccountToken sources render with items, mode and defaultMode; emptyDir mode', async () => {
    const dir = podStateDir();
    const yaml = `apiVersion: v1
kind: Pod
metadata: { name: proj, labels: { app: proj } }
spec:
  serviceAccountName: builder
  volumes:
  - name: all
    projected:
      defaultMode: 0440
      sources:
      - configMap: { name: cfg, items: [{ key: a, path: conf/a.txt, mode: 0400 }] }
      - secret: { name: sec }
      - downwardAPI: { items: [{ path: labels, fieldRef: { fieldPath: metadata.labels } }] }
      - serviceAccountToken: { path: token, audience: vault, expirationSeconds: 3600 }
  - { name: tmp, emptyDir: { mode: 01777 } }
  containers:
  - name: app
    command: [sh, -c, 'echo "tmp $(stat -c %a /t)"; cd /p; for f in conf/a.txt password labels token; do echo "$f $(stat -c %a $f) $(cat $f)"; done; ls; echo done; sleep 3600']
    volumeMounts: [{ name: all, mountPath: /p }, { name: tmp, mountPath: /t }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: cfg }
data: { a: alpha, b: beta }
---
apiVersion: v1
kind: Secret
metadata: { name: sec }
stringData: { password: hunter2 }
`;
    const up = await runPodkit(['up', '-d', '--state-dir', dir, yamlFile(yaml)], { timeoutMs: 60_000 });
    assert.equal(up.code, 0, up.stderr);
    const log = await logOf(dir, 'proj', /^done$/m);
    assert.match(log, /^tmp 1777$/m, 'emptyDir mode (behind the EmptyDirVolumeMode gate on a cluster) is honoured');
    assert.match(log, /^conf\/a\.txt 400 alpha$/m);
    assert.match(log, /^password 440 hunter2$/m);
    assert.match(log, /^labels 440 app="proj"$/m);
    assert.doesNotMatch(log, /^b$/m);
    const token = /^token 440 (\S+)$/m.exec(log)?.[1];
    assert.ok(token, log);
    const [header, claims, signature] = token.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), { alg: 'none', typ: 'JWT' });
    const c = JSON.parse(Buffer.from(claims, 'base64url').toString());
    assert.equal(c.sub, 'system:serviceaccount:default:builder');
    assert.deepEqual(c.aud, ['vault']);
    assert.equal(c['kubernetes.io'].pod.name, 'proj');
    assert.equal(c.exp - c.iat, 3600);
    assert.equal(signature, '');
  });
});

describe('keys and paths cannot leave their volume', () => {
  const ESCAPE = '../../../../../../../up7';

  test(`a ConfigMap key ${ESCAPE} is refused by validation (exit 2), and nothing is written`, async () => {
    const dir = podStateDir();
    const yaml = `apiVersion: v1
kind: ConfigMap
metadata: { name: evil }
data: { "${ESCAPE}": pwned, "/etc/abs": x, "ok-key_1.conf": fine }
---
apiVersion: v1
kind: Pod
metadata: { name: victim }
spec:
  volumes: [{ name: c, configMap: { name: evil } }]
  containers: [{ name: app, command: [sleep, '3600'], volumeMounts: [{ name: c, mountPath: /c }] }]
`;
    const r = await runPodkit(['up', '-d', '--state-dir', dir, yamlFile(yaml)], { timeoutMs: 30_000 });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /data\["\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/up7"\]: "[^"]+" is not a valid key: letters, digits, '-', '_' or '\.' only/);
    assert.match(r.stderr, /must not start with '\.\.'/);
    assert.match(r.stderr, /data\["\/etc\/abs"\]: "\/etc\/abs" is not a valid key/);
    assert.doesNotMatch(r.stderr, /ok-key_1\.conf/);
    assert.ok(!existsSync('/up7') && !existsSync(join(dir, 'up7')));
    assert.ok(!existsSync(join(dir, 'pods', 'victim')));
  });

  test('items paths with .. or absolute are refused, as Kubernetes refuses them', async () => {
    for (const path of ['../x', 'a/../../x', '/etc/x', '..x']) {
      const yaml = `apiVersion: v1
kind: Pod
metadata: { name: p }
spec:
  volumes: [{ name: c, projected: { sources: [{ configMap: { name: m, items: [{ key: k, path: "${path}" }] } }] } }]
  containers: [{ name: app, command: [sleep, '1'] }]
`;
      const r = await runPodkit(['up', '--dry-run', '--state-dir', podStateDir(), yamlFile(yaml)]);
      assert.equal(r.code, 2, path);
      assert.match(r.stderr, /spec\.volumes\[0\]\.projected\.sources\[0\]\.configMap\.items\[0\]\.path: must (be a relative path|not contain '\.\.'|not start with '\.\.')/, path);
    }
  });

  test('the runtime refuses a key that would leave the volume even if validation was skipped', async () => {
    const root = tempDir('podkit-state-');
    const p = parseManifests(`apiVersion: v1
kind: Pod
metadata: { name: direct }
spec:
  volumes: [{ name: c, configMap: { name: evil } }]
  containers: [{ name: app, command: [sleep, '1'] }]
`);
    const plan: PodPlan = loadManifests(p.objects).pods[0];
    const evil: ConfigMapData = { name: 'evil', namespace: 'default', data: { [ESCAPE]: Buffer.from('pwned'), good: Buffer.from('ok') } };
    const podDir = join(root, 'pods', 'direct');
    const ctx = { pod: plan, podIP: '10.0.0.2', hostIP: '10.0.0.1', configMaps: new Map([['default/evil', evil]]), secrets: new Map() };
    await assert.rejects(prepareVolumes(plan.spec.volumes ?? [], join(podDir, 'volumes'), ctx), /volume "c": refusing to write "\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/up7" outside the volume/);
    assert.ok(!existsSync('/up7'));
    assert.ok(!existsSync(join(root, 'up7')));
  });
});

describe('workload kinds', () => {
  test('a ReplicaSet and a ReplicationController run their replicas, a DaemonSet one pod; other kinds are ignored with one warning', async () => {
    const dir = podStateDir();
    const tmpl = (app: string) => `template:
    metadata: { labels: { app: ${app} } }
    spec: { containers: [{ name: app, command: [sh, -c, 'echo up; sleep 3600'] }] }`;
    const yaml = `apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: rs }
spec:
  replicas: 2
  selector: { matchLabels: { app: rs } }
  ${tmpl('rs')}
---
apiVersion: v1
kind: ReplicationController
metadata: { name: rc }
spec:
  replicas: 2
  selector: { app: rc }
  ${tmpl('rc')}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: ds }
spec:
  selector: { matchLabels: { app: ds } }
  ${tmpl('ds')}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: pdb }
spec: { minAvailable: 1, selector: { matchLabels: { app: rs } } }
`;
    const up = await runPodkit(['up', '-d', '--state-dir', dir, yamlFile(yaml)], { timeoutMs: 60_000 });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stderr.match(/kind PodDisruptionBudget: ignored locally/g)?.length, 1, up.stderr);
    for (const pod of ['rs-0', 'rs-1', 'rc-0', 'rc-1', 'ds-0']) await logOf(dir, pod, /^up$/m);
    const ps = await runPodkit(['ps', '--json', '--state-dir', dir]);
    assert.deepEqual((JSON.parse(ps.stdout) as { name: string; phase: string }[]).map((p) => `${p.name} ${p.phase}`).sort(), ['ds-0 Running', 'rc-0 Running', 'rc-1 Running', 'rs-0 Running', 'rs-1 Running']);
  });
});
