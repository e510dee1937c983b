/** @module deploy/: every Kubernetes manifest passes podkit's strict validation, the examples inject cleanly, and the webhook objects agree with each other. */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../src/core/config.js';
import { injectText } from '../src/inject/index.js';
import { spec as webhookSpec } from '../src/inject/webhook-cli.js';
import { formatIssue, loadManifests, parseManifests } from '../src/pod/spec/index.js';
import { validateObject } from '../src/inject/validate/index.js';
import { runPodkit, stopAll, tempDir } from './helpers/index.js';

after(stopAll);

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : []));
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are free-form YAML, read field by field below
type Any = any;
const docs = (text: string): Any[] => parseAllDocuments(text).map((d) => d.toJS() as Any).filter((v) => v !== null);

describe('deploy/ manifests', () => {
  const files = yamlFiles(DEPLOY);

  test('there are manifests: the webhook and one per example', () => {
    const names = files.map((f) => relative(DEPLOY, f)).sort();
    for (const want of ['webhook.yaml', 'examples/push-to-deploy.yaml', 'examples/redis-ambassador.yaml', 'examples/metrics-adapter.yaml', 'examples/all-three.yaml']) assert.ok(names.includes(want), want);
  });

  for (const f of files) {
    test(`${relative(ROOT, f)} passes strict validation, as written and after injection`, () => {
      const text = readFileSync(f, 'utf8');
      for (const [i, o] of docs(text).entries()) assert.deepEqual(validateObject(o, `${relative(ROOT, f)}#${i + 1}`), []);
      // injectText validates every resulting object and throws on any error.
      const injected = docs(injectText(text, { source: relative(ROOT, f) }));
      assert.equal(injected.length, docs(text).length);
    });
  }

  test('the injected examples also pass the local runtime\'s validation (the same file runs with podkit up)', () => {
    for (const f of files.filter((x) => x.includes('/examples/'))) {
      const name = relative(ROOT, f);
      const parsed = parseManifests(injectText(readFileSync(f, 'utf8'), { source: name }), name);
      const loaded = loadManifests(parsed.objects, { local: true });
      const errs = [...parsed.issues, ...loaded.issues].filter((i) => i.severity === 'error').map(formatIssue);
      assert.deepEqual(errs, [], name);
      assert.ok(loaded.pods.length > 0, name);
    }
  });

  test('the examples get the containers their annotations ask for', () => {
    const want: Record<string, string[]> = {
      'push-to-deploy.yaml': ['podkit-git-sync'],
      'redis-ambassador.yaml': ['podkit-redis-ambassador'],
      'metrics-adapter.yaml': ['podkit-metrics-adapter'],
      'all-three.yaml': ['podkit-git-sync', 'podkit-redis-ambassador', 'podkit-metrics-adapter'],
    };
    for (const [file, names] of Object.entries(want)) {
      const out = docs(injectText(readFileSync(join(DEPLOY, 'examples', file), 'utf8')));
      const added = out.filter((o) => o.spec?.template).flatMap((o) => (o.spec.template.spec.initContainers ?? []).map((c: Any) => c.name as string));
      assert.deepEqual(added.filter((n: string) => n.startsWith('podkit-')), names, file);
    }
  });

  test("the examples' adapter configs pass `podkit metrics-adapter --check-config`", async () => {
    const dir = tempDir();
    let n = 0;
    for (const f of files) {
      for (const o of docs(readFileSync(f, 'utf8'))) {
        if (o.kind !== 'ConfigMap' || typeof o.data?.['adapter.yaml'] !== 'string') continue;
        const path = join(dir, `${o.metadata.name}.yaml`);
        writeFileSync(path, o.data['adapter.yaml']);
        const r = await runPodkit(['metrics-adapter', '--check-config', '--config', path]);
        assert.equal(r.code, 0, `${relative(ROOT, f)} ${o.metadata.name}: ${r.stderr}`);
        n++;
      }
    }
    assert.ok(n >= 2, 'adapter configs found');
  });

  test('the webhook objects fit together', () => {
    const objs = docs(readFileSync(join(DEPLOY, 'webhook.yaml'), 'utf8'));
    const by = (kind: string) => objs.find((o) => o.kind === kind);
    const dep = by('Deployment');
    const svc = by('Service');
    const mwc = by('MutatingWebhookConfiguration');
    const hook = mwc.webhooks[0];
    assert.equal(hook.clientConfig.service.name, svc.metadata.name);
    assert.equal(hook.clientConfig.service.namespace, svc.metadata.namespace);
    assert.equal(hook.clientConfig.service.path, '/mutate');
    assert.ok(svc.spec.ports.some((p: Any) => p.port === hook.clientConfig.service.port));
    const c = dep.spec.template.spec.containers[0];
    assert.ok(c.ports.some((p: Any) => p.name === svc.spec.ports[0].targetPort));
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(dep.spec.template.metadata.labels[k], v);
    // The container's args are valid `podkit webhook` flags, and the TLS files live on the mounted Secret.
    assert.equal(c.args[0], 'webhook');
    const parsed = parseConfig(webhookSpec, c.args.slice(1), { command: 'podkit webhook', env: {} }).values;
    const mount = c.volumeMounts.find((m: Any) => parsed['tls-cert-file']?.startsWith(`${m.mountPath}/`));
    assert.ok(mount, 'cert file is on a mounted volume');
    assert.ok(dep.spec.template.spec.volumes.find((v: Any) => v.name === mount.name).secret);
    assert.equal(parsed['http-bind'].port, c.ports[0].containerPort);
    // The webhook never injects into its own pods.
    assert.equal(dep.spec.template.metadata.annotations['podkit.io/inject'], 'false');
    assert.deepEqual(hook.admissionReviewVersions, ['v1']);
  });
});
