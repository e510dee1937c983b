/** @module Services as kube-proxy runs them, on one node: a cluster IP per Service forwarding port → targetPort (numbers and named ports), and the kubelet's Service environment variables. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { downAllPods, podStateDir, pollUntil, psJson, runPodkit, stopAll, yamlFile } from './helpers/index.js';

after(async () => {
  await downAllPods();
  await stopAll();
});

/** The Kubernetes documentation's pods/commands.yaml, unchanged. */
const COMMANDS = new URL('./fixtures/pod/commands.yaml', import.meta.url).pathname;

test('a pod reaches a Service by name on its port: forwarded to the named targetPort and to a numbered one; the Service variables point at the same address', async () => {
  const file = yamlFile(`apiVersion: v1
kind: Service
metadata: { name: web-front }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: http }, { name: alt, port: 9000, targetPort: 8080 }]
---
apiVersion: v1
kind: Pod
metadata: { name: web, labels: { app: web } }
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    command: [sh, -c, 'mkdir -p /tmp/www && echo served-by-web > /tmp/www/index.html && exec busybox httpd -f -p 8080 -h /tmp/www']
    ports: [{ name: http, containerPort: 8080 }]
---
apiVersion: v1
kind: Pod
metadata: { name: client }
spec:
  restartPolicy: Never
  initContainers:
  - name: wait
    command: [sh, -c, 'for i in $(seq 100); do busybox wget -qO- http://web-front/ >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1']
  containers:
  - name: get
    command:
    - sh
    - -c
    - |
      echo "by-name: $(busybox wget -qO- http://web-front/)"
      echo "by-number: $(busybox wget -qO- http://web-front:9000/)"
      echo "by-env: $(busybox wget -qO- http://$WEB_FRONT_SERVICE_HOST:$WEB_FRONT_SERVICE_PORT/)"
      echo "named: $WEB_FRONT_SERVICE_PORT_HTTP $WEB_FRONT_SERVICE_PORT_ALT"
      echo "link: $WEB_FRONT_PORT $WEB_FRONT_PORT_9000_TCP_PORT $WEB_FRONT_PORT_80_TCP_PROTO"
      echo "api: $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT $KUBERNETES_PORT"
      echo "hosts: $(grep -c "^$WEB_FRONT_SERVICE_HOST[[:space:]].*web-front" /etc/hosts)"
`);
  const dir = podStateDir();
  const up = await runPodkit(['up', '-d', '--status-bind', '', '--state-dir', dir, file], { timeoutMs: 60_000 });
  assert.equal(up.code, 0, up.stderr);
  await pollUntil(async () => ['Succeeded', 'Failed'].includes((await psJson(dir)).find((p) => p.name === 'client')?.phase ?? '') || undefined, { timeoutMs: 30_000, what: 'the client done' });
  const out = (await runPodkit(['logs', '--state-dir', dir, 'client', 'get'])).stdout;
  assert.match(out, /by-name: served-by-web\n/);
  assert.match(out, /by-number: served-by-web\n/);
  assert.match(out, /by-env: served-by-web\n/);
  assert.match(out, /named: 80 9000\n/);
  assert.match(out, /link: tcp:\/\/10\.96\.\d+\.\d+:80 9000 tcp\n/);
  assert.match(out, /api: 10\.96\.0\.1:443 tcp:\/\/10\.96\.0\.1:443\n/);
  assert.match(out, /hosts: 1\n/);
  assert.equal((await psJson(dir)).find((p) => p.name === 'client')?.phase, 'Succeeded');
});

test('the documentation\'s pods/commands.yaml completes: printenv finds HOSTNAME and KUBERNETES_PORT', async () => {
  const r = await runPodkit(['up', '--status-bind', '', '--state-dir', podStateDir(), COMMANDS], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /command-demo\/command-demo-container \| command-demo\n/);
  assert.match(r.stdout, /command-demo\/command-demo-container \| tcp:\/\/10\.96\.0\.1:443\n/);
});

test('enableServiceLinks: false keeps only the kubernetes Service variables', async () => {
  const file = yamlFile(`apiVersion: v1
kind: Service
metadata: { name: quiet }
spec:
  selector: { app: quiet }
  ports: [{ port: 80 }]
---
apiVersion: v1
kind: Pod
metadata: { name: quiet, labels: { app: quiet } }
spec:
  restartPolicy: Never
  enableServiceLinks: false
  containers: [{ name: a, command: [sh, -c, 'echo "[$QUIET_SERVICE_HOST] [$KUBERNETES_SERVICE_PORT]"'] }]
`);
  const r = await runPodkit(['up', '--status-bind', '', '--state-dir', podStateDir(), file], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /quiet\/a \| \[\] \[443\]\n/);
});
