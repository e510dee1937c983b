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
import { documentValue, parseYamlStream } from '../src/core/yaml.js';
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

/** `podkit inject`'s refusal, or undefined when it accepted the text. */
function injectError(text: string): string | undefined {
  try {
    injectText(text, { source: 'in.yaml' });
    return undefined;
  } catch (e) {
    assert.equal((e as { exitCode?: number }).exitCode, 2, (e as Error).stack);
    return (e as Error).message;
  }
}

const POD = 'apiVersion: v1\nkind: Pod\nmetadata: { name: p }\nspec:\n  containers: [{ name: c, image: busybox, command: [sh] }]\n';

test('10,000 levels of nesting are refused at the level past 256 (was: RangeError, exit 1), in a document or in a field', async () => {
  const inputs = ['['.repeat(10_000) + ']'.repeat(10_000), `a: ${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}`, `${POD}status: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`];
  for (const text of inputs) {
    const [e] = errors(text);
    assert.match(e.split('\n')[0], /^in\.yaml:\d+:\d+: : YAML: nested more than 256 levels deep$/);
    // The offending line is shown clipped around the error, the caret under it.
    const [, line, caret] = e.split('\n');
    assert.ok(line.length < 170, line);
    assert.equal(line[caret.indexOf('^')], text.includes('{a:') ? '{' : '[');
    assert.match(injectError(text)!, /^in\.yaml: document 1: YAML: nested more than 256 levels deep at line \d+, column \d+$/);
  }
  // 256 levels are read (and written back by inject) as any other document.
  assert.deepEqual(errors(`${POD}status: ${'['.repeat(255)}${']'.repeat(255)}\n`), []);
  const dir = tempDir('podkit-hostile-');
  const f = join(dir, 'deep.yaml');
  writeFileSync(f, inputs[0]);
  for (const args of [['up', '--dry-run', f], ['inject', '-f', f]]) {
    const r = await runPodkit(args, { timeoutMs: 20_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr.trimEnd().split('\n').pop()!, new RegExp(`^podkit (up|inject): ${f}.*nested more than 256 levels deep`));
  }
});

test('an alias bomb, an unresolved alias and a merge key of a non-mapping are YAML errors naming the document (were: thrown from toJS, exit 1)', () => {
  const laughs = `${POD}status:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 8 }, (_, i) => `  ${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`).join('\n')}\n`;
  const cases: [string, RegExp][] = [
    [laughs, /YAML: Excessive alias count indicates a resource exhaustion attack/],
    ['a: *nope\n', /YAML: Unresolved alias \(the anchor must be set before the alias\): nope/],
    ['apiVersion: v1\nkind: Pod\nmetadata:\n  <<: 5\n  name: p\n', /YAML: Merge sources must be maps or map aliases/],
  ];
  for (const [text, want] of cases) {
    assert.deepEqual(errors(text), [`in.yaml#1: : ${want.source.replace(/\\/g, '')}`]);
    assert.match(injectError(text)!, new RegExp(`^in\\.yaml: document 1: ${want.source}$`));
  }
  // A merge of mappings is YAML 1.1, as Kubernetes reads it.
  assert.deepEqual(errors('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  <<: { name: c }\ndata: { <<: { a: b } }\n'), []);
});

test('plain scalars read as go-yaml v2 reads them for Kubernetes: 12:30 and E1 are strings (were: the number 750 and NaN, refused as "must be a string")', () => {
  const pod = 'apiVersion: v1\nkind: Pod\nmetadata: { name: p, labels: { e: E1, t: 12:30 } }\nspec:\n  containers:\n  - name: c\n    image: busybox\n    command: [sleep, 1:20]\n    env: [{ name: E1, value: e5 }, { name: AT, value: 1:20:30 }, { name: DOT, value: . }]\n';
  assert.deepEqual(errors(pod), []);
  const p = parseManifests(pod, 'in.yaml');
  const c = (p.objects[0].body.spec as { containers: { command: string[]; env: { name: string; value: string }[] }[] }).containers[0];
  assert.deepEqual(c.command, ['sleep', '1:20']);
  assert.deepEqual(c.env, [{ name: 'E1', value: 'e5' }, { name: 'AT', value: '1:20:30' }, { name: 'DOT', value: '.' }]);
  assert.deepEqual(p.objects[0].metadata.labels, { e: 'E1', t: '12:30' });
  // Numbers stay numbers: 1e3, .5, 0x1F, 017 (octal), 1_000, and y/off are booleans, as in go-yaml v2.
  const [doc] = parseYamlStream('[1e3, .5, 0x1F, 017, 1_000, y, off, E1, 1:20]\n', { version: '1.1' });
  assert.deepEqual(documentValue(doc), { value: [1000, 0.5, 31, 15, 1000, true, false, 'E1', '1:20'] });
  assert.equal(injectText(pod, { source: 'in.yaml' }), pod);
});

test('an env chain that doubles ($(E2) = $(E1)$(E1), …) stops at the kernel\'s limit on one variable instead of growing to 2^39 KB', () => {
  const plan = { name: 'p', namespace: 'default', uid: 'u', labels: {}, annotations: {}, spec: { containers: [] }, source: 'in.yaml#1' } as unknown as PodPlan;
  const env = [{ name: 'E0', value: 'x'.repeat(1000) }, ...Array.from({ length: 39 }, (_, i) => ({ name: `E${i + 1}`, value: `$(E${i})$(E${i})` }))];
  const r = resolveEnv({ name: 'c', env }, { pod: plan, podIP: '10.0.0.2', hostIP: '10.0.0.1', configMaps: new Map(), secrets: new Map() });
  assert.equal(r.env.E7.length, 128_000);
  assert.equal(r.env.E8, undefined);
  assert.equal(r.env.E9, '$(E8)$(E8)');
  // The unresolved text doubles again from there; every value stays within the limit.
  assert.equal(r.errors[0], "env E8 expands to 256000 characters; one variable holds at most 131072 (the kernel's MAX_ARG_STRLEN)");
  assert.ok(Object.values(r.env).every((v) => v.length <= 131_072));
});

test("inject's refusal of an invalid manifest is one line led by the first issue's file and field (was: 'invalid manifest:' then a line per issue)", () => {
  const text = 'apiVersion: v1\nkind: Pod\nmetadata: { name: P }\nspec: { containers: [{ name: c, image: busybox, imagePullPolicyy: Always }] }\n';
  assert.equal(
    injectError(text),
    `in.yaml#1: spec.containers[0].imagePullPolicyy: unknown field (did you mean "imagePullPolicy"?); also in.yaml#1: metadata.name: "P" is not a valid name (lowercase letters, digits, '-' and '.')`,
  );
});

test('requests and limits must be quantities (were accepted by the dry run, then `podkit up` failed at container start reading them)', () => {
  const pod = (resources: string) => `apiVersion: v1\nkind: Pod\nmetadata: { name: p }\nspec:\n  containers: [{ name: c, image: busybox, command: [sh], resources: ${resources} }]\n`;
  assert.deepEqual(errors(pod('{ limits: { memory: 64Mi, cpu: 500m }, requests: { cpu: .5, memory: 1e3 } }')), []);
  assert.deepEqual(errors(pod('{ limits: { memory: lots, cpu: 1.2.3 }, requests: { cpu: -1, memory: 1e400 } }')), [
    'in.yaml#1: spec.containers[0].resources.limits.memory: must be a quantity like 100m, 1, 64Mi (got "lots")',
    'in.yaml#1: spec.containers[0].resources.limits.cpu: must be a quantity like 100m, 1, 64Mi (got "1.2.3")',
    'in.yaml#1: spec.containers[0].resources.requests.cpu: must be greater than or equal to 0',
    'in.yaml#1: spec.containers[0].resources.requests.memory: must be a quantity like 100m, 1, 64Mi (got Infinity)',
  ]);
  assert.match(injectError(pod('{ limits: { memory: lots } }'))!, /^in\.yaml#1: spec\.containers\[0\]\.resources\.limits\.memory: must be a quantity like 100m, 1, 64Mi \(got "lots"\)$/);
});

test('a bare date or timestamp is the string it is written as, as go-yaml gives it to the API server: accepted where a string goes, kept by inject', async () => {
  const text = `apiVersion: v1
kind: Pod
metadata:
  name: dated
  labels: { released: 2021-01-01 }
  annotations: { when: 2001-12-14t21:59:43.10-05:00, spaced: 2001-12-14 21:59:43.10 -5 }
spec:
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'echo $D']
    env: [{ name: D, value: 2021-01-01 }]
`;
  assert.deepEqual(errors(text), []);
  const p = parseManifests(text, 'in.yaml');
  const pod = p.objects[0].body as unknown as { metadata: { labels: Record<string, unknown>; annotations: Record<string, unknown> }; spec: { containers: { env: { value: unknown }[] }[] } };
  assert.deepEqual(pod.metadata.labels, { released: '2021-01-01' });
  assert.deepEqual(pod.metadata.annotations, { when: '2001-12-14t21:59:43.10-05:00', spaced: '2001-12-14 21:59:43.10 -5' });
  assert.equal(pod.spec.containers[0].env[0].value, '2021-01-01');
  const f = join(tempDir(), 'dated.yaml');
  writeFileSync(f, text);
  const up = await runPodkit(['up', '--dry-run', '-f', f]);
  assert.equal(up.code, 0, up.stderr);
  const inj = await runPodkit(['inject', '-f', f]);
  assert.equal(inj.code, 0, inj.stderr);
  assert.match(inj.stdout, /released: 2021-01-01\b/);
  assert.match(inj.stdout, /value: 2021-01-01\b/);
});
