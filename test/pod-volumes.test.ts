/** @module Pod volumes with real processes in a namespaced sandbox: emptyDir shared at different paths, tmpfs, configMap, secret, downwardAPI, hostPath, subPath, readOnly. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopAll, tempDir, withTimeout } from './helpers/index.js';
import { loadManifests, parseManifests } from '../src/pod/spec/index.js';
import { PodRunner } from '../src/pod/runtime/pod.js';
import { NamespacedSandbox } from '../src/pod/runtime/sandbox-ns.js';

after(stopAll);

test('volumes appear at each container mountPath with Kubernetes semantics', async () => {
  const host = tempDir('podkit-hostpath-');
  const yaml = `apiVersion: v1
kind: Pod
metadata: { name: vols, labels: { app: demo, tier: web } }
spec:
  restartPolicy: Never
  volumes:
  - { name: shared, emptyDir: {} }
  - { name: mem, emptyDir: { medium: Memory } }
  - { name: cfg, configMap: { name: app-config, items: [{ key: app.conf, path: conf/app.conf }] } }
  - { name: creds, secret: { secretName: app-secret, defaultMode: 0400 } }
  - { name: info, downwardAPI: { items: [{ path: labels, fieldRef: { fieldPath: metadata.labels } }, { path: name, fieldRef: { fieldPath: metadata.name } }] } }
  - { name: host, hostPath: { path: ${host}, type: Directory } }
  initContainers:
  - name: writer
    command: [sh, -c, 'echo from-writer > /out/file && mkdir -p /out/sub && echo in-sub > /out/sub/f && echo tmp > /fast/x && grep -q " /fast tmpfs" /proc/mounts && echo ok > /host/writer']
    volumeMounts: [{ name: shared, mountPath: /out }, { name: mem, mountPath: /fast }, { name: host, mountPath: /host }]
  containers:
  - name: reader
    command: [sh, -c, 'set -e; hostname; grep -c "	vols$" /etc/hosts; cat /in/file; cat /only-sub/f; cat /etc/app/conf/app.conf; echo; cat /opt/podkit-vol-test/app.conf; echo; cat /secrets/password; echo; stat -c %a /secrets/password; cat /podinfo/name; echo; cat /podinfo/labels; echo; cat /fast2/x; if touch /in/nope 2>/dev/null; then echo WRITABLE; else echo read-only; fi; if touch /etc/app/x 2>/dev/null; then echo CFG-WRITABLE; else echo cfg-read-only; fi']
    volumeMounts:
    - { name: shared, mountPath: /in, readOnly: true }
    - { name: shared, mountPath: /only-sub, subPath: sub }
    - { name: cfg, mountPath: /etc/app }
    - { name: cfg, mountPath: /opt/podkit-vol-test/app.conf, subPath: conf/app.conf }
    - { name: creds, mountPath: /secrets }
    - { name: info, mountPath: /podinfo }
    - { name: mem, mountPath: /fast2 }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: app-config }
data: { app.conf: "port=8080", unused: "x" }
---
apiVersion: v1
kind: Secret
metadata: { name: app-secret }
stringData: { password: hunter2 }
`;
  const p = parseManifests(yaml, 'vols.yaml');
  const l = loadManifests(p.objects);
  assert.deepEqual([...p.issues, ...l.issues].filter((i) => i.severity === 'error'), []);
  const dir = tempDir('podkit-pod-');
  const lines: string[] = [];
  const r = new PodRunner({
    plan: l.pods[0],
    configMaps: l.configMaps,
    secrets: l.secrets,
    sandbox: new NamespacedSandbox({ id: `vo${process.pid.toString(16).slice(-5)}` }),
    dir,
    output: (c, _s, line) => lines.push(`${c}: ${line}`),
  });
  await r.start();
  const phase = await withTimeout(r.done, 20_000, 'pod done');
  assert.equal(phase, 'Succeeded', lines.join('\n'));
  assert.deepEqual(
    lines.filter((x) => x.startsWith('reader:')),
    ['vols', '1', 'from-writer', 'in-sub', 'port=8080', 'port=8080', 'hunter2', '400', 'vols', 'app="demo"', 'tier="web"', 'tmp', 'read-only', 'cfg-read-only'].map((x) => `reader: ${x}`),
  );
  assert.equal(readFileSync(join(host, 'writer'), 'utf8'), 'ok\n');
  assert.equal(existsSync(join(dir, 'volumes')), false, 'emptyDir volumes removed with the pod');
  assert.doesNotMatch(readFileSync('/proc/mounts', 'utf8'), new RegExp(dir));
  for (const m of ['/opt/podkit-vol-test', '/out', '/fast', '/in', '/only-sub', '/podinfo', '/fast2', '/secrets']) assert.equal(existsSync(m), false, `${m} mount point left on the host`);
});

test('a missing configMap keeps the container from starting, with the reason', async () => {
  const p = parseManifests(`apiVersion: v1
kind: Pod
metadata: { name: nocm }
spec:
  restartPolicy: Never
  containers: [{ name: a, command: ['true'], env: [{ name: X, valueFrom: { configMapKeyRef: { name: nope, key: k } } }] }]
`);
  const l = loadManifests(p.objects);
  const events: string[] = [];
  const r = new PodRunner({ plan: l.pods[0], configMaps: l.configMaps, secrets: l.secrets, sandbox: new NamespacedSandbox({ id: `nc${process.pid.toString(16).slice(-5)}` }), dir: tempDir('podkit-pod-'), event: (e) => events.push(`${e.event} ${e.detail ?? ''}`) });
  await r.start();
  assert.equal(await withTimeout(r.done, 10_000, 'pod done'), 'Failed');
  assert.ok(events.some((e) => e.includes('configMap key "nope/k" not found')), events.join('\n'));
  assert.equal(r.status().containers[0].reason, 'Error');
});
