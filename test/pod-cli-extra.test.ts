/** @module More podkit up UX: logs -f on a detached pod, --color, the host sandbox end to end, hostNetwork, postStart, force stop. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { downAllPods, freePort, podStateDir, pollUntil, runPodkit, startPodkit, stopAll, tempDir, waitForOutput, withTimeout, yamlFile } from './helpers/index.js';

after(async () => {
  await downAllPods();
  await stopAll();
});

test('logs -f follows a detached pod until it is gone', async () => {
  const dir = podStateDir();
  const f = yamlFile(`apiVersion: v1
kind: Pod
metadata: { name: ticker }
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - { name: tick, command: [sh, -c, 'trap "echo bye; exit 0" TERM; i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done'] }
`);
  const up = await runPodkit(['up', '-d', '--state-dir', dir, f], { timeoutMs: 60_000 });
  assert.equal(up.code, 0, up.stderr);
  const follow = startPodkit(['logs', '-f', '--state-dir', dir, 'ticker']);
  await waitForOutput(follow, /ticker\/tick \| tick 3/, 15_000);
  const down = await runPodkit(['down', 'ticker', '--state-dir', dir], { timeoutMs: 30_000 });
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /ticker: stopped/);
  assert.equal(await withTimeout(follow.exited, 10_000, 'logs -f exit'), 0);
});

test('--color always colours the pod/container prefix; a second Ctrl-C forces the stop', async () => {
  const dir = podStateDir();
  const f = yamlFile(`apiVersion: v1
kind: Pod
metadata: { name: stubborn }
spec:
  terminationGracePeriodSeconds: 600
  containers:
  - { name: s, command: [sh, -c, 'trap "" TERM; echo started; while :; do sleep 0.1; done'] }
`);
  const p = startPodkit(['up', '--color', 'always', '--status-bind', '', '--state-dir', dir, f]);
  await waitForOutput(p, /started/, 15_000);
  assert.match(p.stdout(), /\x1b\[\d+mstubborn\/s\x1b\[0m \| started/);
  p.signal('SIGINT');
  await waitForOutput(p, /stopping pods/, 10_000);
  p.signal('SIGINT');
  await withTimeout(p.exited, 20_000, 'forced exit');
  assert.match(p.stderr(), /forcing/);
  assert.equal(existsSync(join(dir, 'pods', 'stubborn')), false);
});

test('--sandbox=host runs plain processes: volumes as symlinks, hostPort forwarded, postStart runs', async () => {
  const dir = podStateDir();
  const port = await freePort();
  const hostPort = await freePort();
  const mnt = `/tmp/podkit-host-sandbox-${process.pid}`;
  const f = yamlFile(`apiVersion: v1
kind: Pod
metadata: { name: plain }
spec:
  terminationGracePeriodSeconds: 2
  volumes: [{ name: v, emptyDir: {} }]
  containers:
  - name: web
    command: [python3, -m, http.server, '${port}', --bind, 127.0.0.1, --directory, ${mnt}]
    ports: [{ containerPort: ${port}, hostPort: ${hostPort} }]
    volumeMounts: [{ name: v, mountPath: ${mnt} }]
    lifecycle: { postStart: { exec: { command: [sh, -c, 'echo post > ${mnt}/index.html'] } } }
    readinessProbe: { httpGet: { port: ${port}, path: /index.html }, periodSeconds: 1 }
`);
  const p = startPodkit(['up', '--sandbox', 'host', '--status-bind', '', '--state-dir', dir, f]);
  await waitForOutput(p, /plain\/web ready/, 20_000);
  assert.equal(await (await fetch(`http://127.0.0.1:${hostPort}/index.html`)).text(), 'post\n');
  p.signal('SIGINT');
  await withTimeout(p.exited, 20_000, 'exit');
  assert.equal(existsSync(mnt), false, 'symlink removed');
});

test('hostNetwork: the pod shares the host network', async () => {
  const dir = podStateDir();
  const port = await freePort();
  const f = yamlFile(`apiVersion: v1
kind: Pod
metadata: { name: hostnet }
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 2
  containers:
  - { name: web, command: [python3, -m, http.server, '${port}', --bind, 127.0.0.1], readinessProbe: { tcpSocket: { port: ${port} }, periodSeconds: 1 } }
`);
  const p = startPodkit(['up', '--status-bind', '', '--state-dir', dir, f]);
  await waitForOutput(p, /hostnet\/web ready/, 20_000);
  assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200);
  const st = JSON.parse(readFileSync(join(dir, 'pods', 'hostnet', 'state.json'), 'utf8')) as { netns?: string };
  assert.equal(st.netns, undefined);
  p.signal('SIGINT');
  await withTimeout(p.exited, 20_000, 'exit');
});

test('StatefulSet pods start in order, each once the previous is Ready; -d reads manifests from stdin', async () => {
  const dir = podStateDir();
  const marks = tempDir('podkit-marks-');
  const yaml = `apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db }
spec:
  replicas: 2
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: c
        command: [sh, -c, 'trap "exit 0" TERM; sleep 0.3; touch ${marks}/ready-$(HOSTNAME); while :; do sleep 0.05; done']
        env: [{ name: HOSTNAME, valueFrom: { fieldRef: { fieldPath: metadata.name } } }]
        readinessProbe: { exec: { command: [sh, -c, 'test -f ${marks}/ready-$HOSTNAME'] }, periodSeconds: 1 }
`;
  const up = await runPodkit(['up', '-d', '--state-dir', dir, '-'], { input: yaml, timeoutMs: 60_000 });
  assert.equal(up.code, 0, up.stderr);
  const log = up.stderr.match(/runner log (\S+?);/)![1];
  await pollUntil(() => /db-1\/c ready/.test(readFileSync(log, 'utf8')) || undefined, { timeoutMs: 30_000, what: 'db-1 ready' });
  const text = readFileSync(log, 'utf8');
  assert.ok(text.indexOf('db-0/c ready') < text.indexOf('db-1/c start'), text);
  const down = await runPodkit(['down', '--all', '--state-dir', dir], { timeoutMs: 30_000 });
  assert.equal(down.code, 0, down.stderr);
});

test('pods reach each other by Service name and StatefulSet pod name (pod-managed /etc/hosts)', async () => {
  const f = yamlFile(`apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db }
spec:
  serviceName: db
  podManagementPolicy: Parallel
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec:
      terminationGracePeriodSeconds: 2
      containers: [{ name: srv, command: [python3, -m, http.server, '8080'], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }]
---
apiVersion: v1
kind: Service
metadata: { name: api }
spec: { selector: { app: db }, ports: [{ port: 8080 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: client }
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    command: [sh, -c, 'getent hosts api db-0.db; for i in $(seq 100); do python3 -c "import urllib.request; print(urllib.request.urlopen(\\"http://api:8080/\\").status)" 2>/dev/null && break; sleep 0.2; done; sleep 60']
`);
  const p = startPodkit(['up', '--max-backoff', '1s', '--status-bind', '', '--state-dir', podStateDir(), f]);
  await waitForOutput(p, /client\/c \| 200/, 30_000);
  // The Service name resolves to its local cluster IP (forwarded to a pod), the StatefulSet pod name to the pod.
  assert.match(p.stdout(), /client\/c \| 10\.96\.\d+\.\d+\s+api/);
  assert.match(p.stdout(), /client\/c \| 10\.244\.0\.\d+\s+db-0\.db/);
  p.signal('SIGINT');
  await withTimeout(p.exited, 30_000, 'exit');
});
