/** @module Unit tests: annotation errors name the annotation; secrets never become flag values; status and uninject edge cases. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { ConfigError } from '../core/errors.js';
import { components } from './components.js';
import { injectText } from './index.js';

const pod = (annotations: Record<string, unknown>, extra = '') => `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations: ${JSON.stringify(annotations)}
spec:
  containers:
    - name: app
      image: example/app:1
${extra}`;

function fails(text: string, re: RegExp): ConfigError {
  try {
    injectText(text, { source: 'in.yaml' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `want a ConfigError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, re);
    return err;
  }
  assert.fail(`no error; want ${re}`);
}

describe('annotation errors name the annotation (exit 2)', () => {
  test('unknown option, with a suggestion', () => {
    fails(pod({ 'podkit.io/git-sync.repoo': 'https://x/y.git' }), /in\.yaml: document 1: metadata\.annotations\["podkit\.io\/git-sync\.repoo"\]: unknown option "repoo" for git-sync \(did you mean "repo"\?\)/);
  });
  test('unknown component or global annotation', () => {
    fails(pod({ 'podkit.io/gitsync.repo': 'x' }), /annotations\["podkit\.io\/gitsync\.repo"\]: unknown podkit annotation/);
    fails(pod({ 'podkit.io/sidecar': 'x' }), /annotations\["podkit\.io\/sidecar"\]: unknown podkit annotation/);
  });
  test('badly typed values', () => {
    fails(pod({ 'podkit.io/git-sync.repo': 'https://x/y.git', 'podkit.io/git-sync.depth': 'deep' }), /annotations\["podkit\.io\/git-sync\.depth"\]: expected an integer \(got "deep"\)/);
    fails(pod({ 'podkit.io/git-sync.repo': 'https://x/y.git', 'podkit.io/git-sync.period': '5 parsecs' }), /git-sync\.period"\]: expected a duration/);
    fails(pod({ 'podkit.io/redis-ambassador.master': 'no-port' }), /redis-ambassador\.master"\]: expected HOST:PORT/);
    fails(pod({ 'podkit.io/redis-ambassador.master': 'r:6379', 'podkit.io/redis-ambassador.read-policy': 'sometimes' }), /read-policy"\]: expected one of replica\|prefer-replica\|master/);
    fails(pod({ 'podkit.io/redis-ambassador.master': 'r:6379', 'podkit.io/redis-ambassador.replica': 'a:1,b' }), /redis-ambassador\.replica"\]: expected HOST:PORT \(got "b"\)/);
    fails(pod({ 'podkit.io/sidecar-mode': 'sometimes', 'podkit.io/redis-ambassador.master': 'r:6379' }), /podkit\.io\/sidecar-mode.*expected one of native\|classic/);
  });
  test('a value YAML reads as a number must be quoted', () => {
    fails(pod({ 'podkit.io/git-sync.repo': 'https://x/y.git', 'podkit.io/git-sync.depth': 1 }), /git-sync\.depth"\]: annotation values must be strings/);
  });
  test('a required option is missing', () => {
    fails(pod({ 'podkit.io/git-sync.period': '10s' }), /annotations\["podkit\.io\/git-sync\.repo"\]: is required to inject git-sync/);
  });
  test('the ambassador\'s --sentinel / --master rule is the component\'s own, applied to the annotations', () => {
    fails(pod({ 'podkit.io/redis-ambassador.master': 'r:6379', 'podkit.io/redis-ambassador.sentinel': 's:26379', 'podkit.io/redis-ambassador.master-name': 'm' }), /redis-ambassador\.sentinel"\]: give either --sentinel .* not both/);
    fails(pod({ 'podkit.io/redis-ambassador.sentinel': 's:26379' }), /redis-ambassador\.master-name"\]: required with --sentinel/);
    fails(pod({ 'podkit.io/redis-ambassador.master': 'r:6379', 'podkit.io/redis-ambassador.master-name': 'm' }), /redis-ambassador\.master-name"\]: only with --sentinel/);
  });
  test('flags podkit owns cannot be annotated', () => {
    fails(pod({ 'podkit.io/git-sync.repo': 'https://x/y.git', 'podkit.io/git-sync.root': '/tmp' }), /git-sync\.root"\]: cannot be set by annotation/);
  });
  test('annotations on the workload instead of its pod template', () => {
    const text = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
  annotations: {"podkit.io/git-sync.repo": "https://x/y.git"}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: app, image: i}]}
`;
    fails(text, /metadata\.annotations\["podkit\.io\/git-sync\.repo"\]: podkit annotations belong on the pod template \(spec\.template\.metadata\.annotations\)/);
  });
  test('git-sync.containers names an existing container', () => {
    fails(pod({ 'podkit.io/git-sync.repo': 'https://x/y.git', 'podkit.io/git-sync.mount-path': '/srv', 'podkit.io/git-sync.containers': 'web' }), /git-sync\.containers"\]: names no container "web"/);
    fails(pod({ 'podkit.io/git-sync.repo': 'https://x/y.git', 'podkit.io/git-sync.mount-path': 'srv' }), /mount-path"\]: must be an absolute path/);
  });
  test('names podkit needs are taken', () => {
    const extra = '    - name: podkit-git-sync\n      image: other\n';
    fails(pod({ 'podkit.io/git-sync.repo': 'https://x/y.git' }, extra), /spec\.containers: a container named "podkit-git-sync" already exists/);
  });
  test('a corrupt status annotation', () => {
    fails(pod({ 'podkit.io/status': '{nope' }), /annotations\["podkit\.io\/status"\]: is not valid JSON/);
  });
  test('a YAML syntax error names the document', () => {
    fails('a: 1\n---\nb: [\n', /in\.yaml: document 2: YAML:/);
  });
});

describe('secrets never become flag values', () => {
  test('a secret flag in an annotation is refused without echoing it', () => {
    const err = fails(pod({ 'podkit.io/git-sync.repo': 'https://x/y.git', 'podkit.io/git-sync.password': 'hunter2' }), /git-sync\.password"\]: .*(secret|password-secret)/);
    assert.doesNotMatch(err.message, /hunter2/);
  });
  test('a password inside a URL is refused', () => {
    const err = fails(pod({ 'podkit.io/git-sync.repo': 'https://bob:hunter2@x/y.git' }), /git-sync\.repo"\]: must not carry a password in the URL/);
    assert.doesNotMatch(err.message, /hunter2/);
    const typed = fails(pod({ 'podkit.io/redis-ambassador.master': 'redis://u:hunter2@r:6379' }), /redis-ambassador\.master"\]: must not carry a password/);
    assert.doesNotMatch(typed.message, /hunter2/);
  });
  test('password-secret mounts the Secret and passes --password-file', () => {
    const out = parse(injectText(pod({ 'podkit.io/redis-ambassador.master': 'r:6379', 'podkit.io/redis-ambassador.password-secret': 'redis-auth/pw' })));
    const c = out.spec.initContainers[0];
    assert.ok(c.args.includes('--password-file=/etc/podkit/redis-ambassador/password/pw'));
    assert.deepEqual(out.spec.volumes, [{ name: 'podkit-redis-ambassador-password', secret: { secretName: 'redis-auth' } }]);
    assert.deepEqual(c.volumeMounts, [{ name: 'podkit-redis-ambassador-password', mountPath: '/etc/podkit/redis-ambassador/password', readOnly: true }]);
    assert.equal(JSON.stringify(out).includes('"env"'), false);
  });
  test('a bad Secret reference is an error', () => {
    fails(pod({ 'podkit.io/redis-ambassador.master': 'r:6379', 'podkit.io/redis-ambassador.password-secret': 'Not A Name' }), /password-secret"\]: expected a secret name/);
  });
});

describe('behaviour', () => {
  test('podkit.io/inject: "false" leaves the pod alone', () => {
    const text = pod({ 'podkit.io/inject': 'false', 'podkit.io/git-sync.repo': 'https://x/y.git' });
    assert.equal(injectText(text), text);
  });
  test('a pod without podkit annotations is unchanged byte for byte', () => {
    const text = '# hi\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: b}] # keep\n';
    assert.equal(injectText(text), text);
  });
  test('changing an annotation and injecting again updates the container', () => {
    const once = injectText(pod({ 'podkit.io/redis-ambassador.master': 'a:1' }));
    const doc = parse(once);
    doc.metadata.annotations['podkit.io/redis-ambassador.master'] = 'b:2';
    const again = parse(injectText(JSON.stringify(doc)));
    assert.deepEqual(again.spec.initContainers[0].args.slice(0, 1), ['--master=b:2']);
    assert.equal(again.spec.initContainers.length, 1);
  });
  test('a List (kubectl get -o yaml) is injected item by item, errors name the item', () => {
    const item = parse(pod({ 'podkit.io/redis-ambassador.master': 'a:1' }));
    const list = { apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }, item] };
    const out = parse(injectText(JSON.stringify(list)));
    assert.equal(out.items[1].spec.initContainers[0].name, 'podkit-redis-ambassador');
    assert.deepEqual(parse(injectText(injectText(JSON.stringify(list)), { direction: 'uninject' })), list);
    item.metadata.annotations['podkit.io/redis-ambassador.master'] = 'nope';
    fails(JSON.stringify(list), /document 1: items\[1\]\.metadata\.annotations\["podkit\.io\/redis-ambassador\.master"\]: expected HOST:PORT/);
    item.metadata.annotations['podkit.io/redis-ambassador.master'] = 'a:1';
    item.spec.containers[0].imagePullPolicyy = 'Always';
    fails(JSON.stringify(list), /items\[1\]\.spec\.containers\[0\]\.imagePullPolicyy: unknown field/);
  });
  test('the status annotation records what was added', () => {
    const out = parse(injectText(pod({ 'podkit.io/git-sync.repo': 'https://x/y.git', 'podkit.io/git-sync.mount-path': '/srv' })));
    const status = JSON.parse(out.metadata.annotations['podkit.io/status']);
    assert.deepEqual(status.containers, ['podkit-git-sync']);
    assert.deepEqual(status.volumes, ['podkit-git-sync']);
    assert.deepEqual(status.mounts, { app: ['podkit-git-sync'] });
    assert.equal(typeof status.version, 'string');
  });
  test('uninject keeps what the user added after injection', () => {
    const once = injectText(pod({ 'podkit.io/redis-ambassador.master': 'a:1' }));
    const doc = parse(once);
    doc.spec.initContainers.push({ name: 'mine', image: 'x' });
    const back = parse(injectText(JSON.stringify(doc), { direction: 'uninject' }));
    assert.deepEqual(back.spec.initContainers, [{ name: 'mine', image: 'x' }]);
    assert.equal(back.metadata.annotations['podkit.io/status'], undefined);
  });
  test('every component option an annotation may set exists in its flag spec, and no wiring annotation shadows a flag', () => {
    for (const c of components) {
      for (const r of Object.values(c.refs)) assert.ok(c.spec[r.flag], `${c.name}: ref flag --${r.flag}`);
      for (const k of Object.keys(c.defaults)) assert.ok(c.spec[k], `${c.name}: default --${k}`);
      for (const m of [...c.meta, ...Object.keys(c.refs)]) if (c.refs[m]?.flag !== m) assert.equal(c.spec[m], undefined, `${c.name}.${m} shadows a flag`);
    }
  });
});
