/**
 * @module Manifests under hostile input (`podkit up --dry-run`, `podkit inject`): each input here once crashed,
 * hung or was wrongly accepted; now it is refused with exit 2 naming the file and the field, or read as Kubernetes
 * reads it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expandArgv, loadManifests, parseManifests, resolveEnv, type PodPlan } from '../src/pod/spec/index.js';
import { injectText } from '../src/inject/index.js';
import { realClock } from '../src/pod/runtime/clock.js';
import { runPodkit, tempDir } from './helpers/index.js';

function errors(text: string): string[] {
  const p = parseManifests(text, 'in.yaml');
  const l = loadManifests(p.objects, { local: true, images: true });
  return [...p.issues, ...l.issues].filter((i) => i.severity === 'error').map((i) => `${i.source}: ${i.path}: ${i.message}`);
}

const deployment = (name: string, replicas: number | string) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers: [{ name: c, image: busybox, command: [sh] }]
`;

const job = (spec: string) => `apiVersion: batch/v1
kind: Job
metadata: { name: j }
spec:
  ${spec}
  template:
    spec:
      restartPolicy: Never
      containers: [{ name: c, image: busybox, command: [sh] }]
`;

test('replicas: 2147483647 is refused at once (it planned 2^31 pods: minutes and gigabytes), naming spec.replicas', async () => {
  const e = errors(deployment('web', 2147483647));
  assert.deepEqual(e, ["in.yaml#1: spec.replicas: 2147483647 pods at once: one node runs at most 110 pods (the kubelet's default --max-pods); lower it to run locally"]);
  const dir = tempDir('podkit-hostile-');
  const f = join(dir, 'big.yaml');
  writeFileSync(f, deployment('web', 2147483647));
  const r = await runPodkit(['up', '--dry-run', f], { timeoutMs: 20_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr.trimEnd().split('\n').pop()!, new RegExp(`^podkit up: ${f}#1: spec\\.replicas: 2147483647 pods at once: one node runs at most 110 pods`));
});

test('integers wider than their Kubernetes field are refused as the API server refuses them (int32, int64)', () => {
  assert.ok(errors(deployment('web', 2147483648)).includes('in.yaml#1: spec.replicas: must be at most 2147483647 (a 32-bit integer), got 2147483648'));
  assert.ok(errors(deployment('web', '1e400')).some((x) => x.includes('spec.replicas: must be an integer, got number Infinity')));
  const pod = (field: string) => `apiVersion: v1\nkind: Pod\nmetadata: { name: p }\nspec:\n  ${field}\n  containers: [{ name: c, image: busybox, command: [sh] }]\n`;
  // terminationGracePeriodSeconds is an int64: 2^40 seconds is valid, 2^64 is not.
  assert.deepEqual(errors(pod('terminationGracePeriodSeconds: 1099511627776')), []);
  assert.ok(errors(pod('terminationGracePeriodSeconds: 18446744073709551616')).some((x) => x.includes('spec.terminationGracePeriodSeconds: must be at most 9223372036854776000 (a 64-bit integer)')));
  assert.ok(errors(pod('priority: -2147483649')).some((x) => x.includes('spec.priority: must be at least -2147483648 (a 32-bit integer), got -2147483649')));
});

test("pods of a run count against the one node's limit together; a Job counts its parallelism, and at most 100000 completions", () => {
  assert.deepEqual(errors(`${deployment('a', 100)}---\n${deployment('b', 10)}`), []);
  assert.deepEqual(errors(`${deployment('a', 100)}---\n${deployment('b', 11)}`), ["in.yaml#2: spec.replicas: 11 pods at once besides the 100 pods before it: one node runs at most 110 pods (the kubelet's default --max-pods); lower it to run locally"]);
  assert.deepEqual(errors(job('completions: 5000\n  parallelism: 2')), []);
  assert.deepEqual(errors(job('parallelism: 111')), ["in.yaml#1: spec.parallelism: 111 pods at once: one node runs at most 110 pods (the kubelet's default --max-pods); lower it to run locally"]);
  assert.deepEqual(errors(job('completions: 2147483647')), ["in.yaml#1: spec.completions: 2147483647 pods: podkit plans a Job's pods up front and runs at most 100000 locally (Kubernetes' limit for an Indexed Job)"]);
});

test('a kind, apiVersion or field named like an Object.prototype member is an ordinary unknown word (was: TypeError served.includes)', () => {
  const text = 'apiVersion: v1\nkind: toString\nmetadata: { name: x }\n';
  assert.deepEqual(errors(text), []);
  assert.deepEqual(errors('apiVersion: constructor\nkind: Pod\nmetadata: { name: x }\nspec: { containers: [{ name: c, command: [x] }] }\n'), ['in.yaml#1: apiVersion: no kind Pod is served in version "constructor"; use apiVersion v1']);
  assert.deepEqual(errors('apiVersion: v1\nkind: Pod\nmetadata: { name: x }\nspec: { containers: [{ name: c, command: [x], constructor: 1, toString: 2 }] }\n'), [
    'in.yaml#1: spec.containers[0].constructor: unknown field',
    'in.yaml#1: spec.containers[0].toString: unknown field',
  ]);
  assert.equal(injectText(text, { source: 'in.yaml' }), text);
  assert.equal(injectText('apiVersion: v1\nkind: constructor\nmetadata: { name: x }\n', { source: 'in.yaml' }), 'apiVersion: v1\nkind: constructor\nmetadata: { name: x }\n');
});

test('$(constructor) stays as written and a key named toString is not found: the environment has only its own variables', () => {
  assert.deepEqual(expandArgv(['$(constructor)', '$(toString)', '$(A)'], { A: 'a' }), ['$(constructor)', '$(toString)', 'a']);
  const plan = { name: 'p', namespace: 'default', uid: 'u', labels: {}, annotations: {}, spec: { containers: [] }, source: 'in.yaml#1' } as unknown as PodPlan;
  const ctx = { pod: plan, podIP: '10.0.0.2', hostIP: '10.0.0.1', configMaps: new Map([['default/cm', { name: 'cm', namespace: 'default', data: {} }]]), secrets: new Map() };
  const r = resolveEnv(
    {
      name: 'c',
      env: [
        { name: 'X', value: '$(hasOwnProperty)' },
        { name: 'Y', valueFrom: { configMapKeyRef: { name: 'cm', key: 'toString' } } },
        { name: 'Z', valueFrom: { fieldRef: { fieldPath: "metadata.labels['constructor']" } } },
      ],
    },
    ctx,
  );
  assert.deepEqual(r.env, { X: '$(hasOwnProperty)', Z: '' });
  assert.deepEqual(r.errors, ['configMap key "cm/toString" not found (env Y)']);
});

test('a timer past setTimeout\'s 2^31-1 ms waits (Node fires such a timer after 1 ms): a 30-day terminationGracePeriodSeconds', async () => {
  let fired = false;
  const long = realClock.after(30 * 86_400_000, () => (fired = true));
  await new Promise<void>((resolve) => realClock.after(50, resolve));
  long.cancel();
  assert.equal(fired, false);
});
