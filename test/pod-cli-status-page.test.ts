/** @module The `podkit up` status page in a real headless Chromium, and /status.json in Kubernetes' PodStatus words. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { dumpDom, freePort, podStateDir, pollUntil, runPodkit, startPodkit, stopAll, waitForOutput, withTimeout, yamlFile } from './helpers/index.js';

after(() => stopAll());

interface K8sContainerStatus {
  name: string;
  state: { running?: { startedAt: string }; waiting?: { reason: string; message?: string }; terminated?: { exitCode: number } };
  lastState: { terminated?: { exitCode: number; reason: string; finishedAt: string } };
  restartCount: number;
  ready: boolean;
}
interface K8sPod {
  kind: string;
  metadata: { name: string };
  status: { phase: string; conditions: { type: string; status: string }[]; podIP: string; containerStatuses: K8sContainerStatus[] };
}

test('status page: the pod, its published port as a link, a crash-looping container marked with its last lines; status.json as a v1 PodList', { timeout: 120_000 }, async () => {
  const web = await freePort();
  const status = await freePort();
  const file = yamlFile(`apiVersion: v1
kind: Pod
metadata: {name: shop}
spec:
  containers:
    - name: web
      image: busybox
      command: ["sh", "-c", "exec python3 -m http.server ${web} --bind 127.0.0.1"]
      ports: [{containerPort: ${web}, hostPort: ${web}}]
    - name: crashy
      image: busybox
      command: ["sh", "-c", "echo 'connecting to the database'; echo 'fatal: database <unreachable>' >&2; exit 3"]
`, 'shop.yaml');
  const dir = podStateDir();
  const p = startPodkit(['up', '--sandbox=host', '--state-dir', dir, `--status-bind=127.0.0.1:${status}`, '--max-backoff=20s', file]);
  await waitForOutput(p, /shop\/crashy backoff/, 30_000);
  const base = `http://127.0.0.1:${status}`;

  // status.json: Kubernetes' field names and states.
  const list = await pollUntil(async () => {
    const l = (await (await fetch(`${base}/status.json`)).json()) as { kind: string; items: K8sPod[] };
    const crashy = l.items[0]?.status.containerStatuses.find((c) => c.name === 'crashy');
    return crashy?.state.waiting?.reason === 'CrashLoopBackOff' && crashy.restartCount >= 1 ? l : undefined;
  }, { timeoutMs: 30_000, what: 'crashy in CrashLoopBackOff after a restart' });
  assert.equal(list.kind, 'List');
  const pod = list.items[0];
  assert.equal(pod.kind, 'Pod');
  assert.equal(pod.metadata.name, 'shop');
  assert.equal(pod.status.phase, 'Running');
  assert.deepEqual(pod.status.conditions.map((c) => c.type), ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']);
  assert.equal(pod.status.conditions.find((c) => c.type === 'Ready')?.status, 'False');
  const crashy = pod.status.containerStatuses.find((c) => c.name === 'crashy')!;
  assert.match(crashy.state.waiting!.message!, /back-off: restarting in \d+s/);
  assert.equal(crashy.lastState.terminated?.exitCode, 3);
  assert.equal(crashy.lastState.terminated?.reason, 'Error');
  assert.ok(!Number.isNaN(Date.parse(crashy.lastState.terminated!.finishedAt)));
  const webStatus = pod.status.containerStatuses.find((c) => c.name === 'web')!;
  assert.ok(webStatus.state.running, JSON.stringify(webStatus));
  assert.equal(webStatus.restartCount, 0);

  // The page, as a browser renders it.
  const dom = await dumpDom(`${base}/`);
  assert.match(dom, /<h1>podkit up<\/h1>/);
  const head = /<h2 class="([^"]*)" data-pod="shop">default\/shop <span class="status">([^<]*)<\/span><\/h2>/.exec(dom);
  assert.ok(head, dom.slice(0, 3000));
  assert.equal(head[2], 'CrashLoopBackOff');
  assert.match(head[1], /\bfailing\b/);
  assert.match(dom, new RegExp(`<a href="http://127\\.0\\.0\\.1:${web}/">127\\.0\\.0\\.1:${web}</a> → web:${web}`));
  const crashRow = /<tr class="([^"]*)" data-container="crashy">(.*?)<\/tr>/.exec(dom);
  assert.ok(crashRow);
  assert.match(crashRow[1], /\bfailing\b/);
  assert.match(crashRow[2], /CrashLoopBackOff \(restart in \d+s, last exit 3\)/);
  assert.match(dom, /fatal: database &lt;unreachable&gt;/);
  const webRow = /<tr class="([^"]*)" data-container="web">(.*?)<\/tr>/.exec(dom);
  assert.ok(webRow);
  assert.doesNotMatch(webRow[1], /failing/);
  assert.match(webRow[2], /<td>0<\/td><td>\d+s<\/td>/, 'restarts 0 and an age');
  assert.match(dom, /recent events/);
  assert.match(dom, /<td>crashy<\/td><td>backoff<\/td>/);

  // podkit ps reads the same way as kubectl get pods.
  const ps = await runPodkit(['ps', '--state-dir', dir]);
  assert.match(ps.stdout, /^shop\s+1\/2\s+CrashLoopBackOff\s+[1-9]/m, ps.stdout);

  p.signal('SIGINT');
  assert.equal(await withTimeout(p.exited, 30_000, 'runner exit'), 0);
});
