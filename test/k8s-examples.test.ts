/**
 * @module The Kubernetes documentation's example manifests (test/fixtures/k8s-examples, kubernetes/website, CC BY 4.0)
 * through `podkit up --dry-run`'s and `podkit inject`'s validation: every valid one passes; the ones that are not valid
 * Kubernetes are listed below with the reason, and fields behind a feature gate are warnings naming the gate.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadManifests, parseManifests, type Issue } from '../src/pod/spec/index.js';
import { injectText } from '../src/inject/index.js';
import { runPodkit } from './helpers/index.js';

const CORPUS = fileURLToPath(new URL('./fixtures/k8s-examples/', import.meta.url));

/** Not valid Kubernetes as stored: refused by both `podkit up` and `podkit inject`, as the API server refuses them. */
const INVALID: Record<string, RegExp> = {
  // A template for sed: `$ITEM` is not a valid object name.
  'application/job/job-tmpl.yaml': /metadata\.name: "process-item-\$ITEM" is not a valid name/,
  // CronJob batch/v1beta1 was removed in Kubernetes 1.25.
  'application/job/cronjob.yaml': /apiVersion: batch\/v1beta1 was removed in Kubernetes 1\.25; use apiVersion batch\/v1/,
  // A snippet: no metadata (so no name) and no restartPolicy, which a Job needs.
  'controllers/job-success-policy-example.yaml': /metadata: is required/,
  // A tab indents `env:` (go-yaml refuses it too: "found character that cannot start any token").
  'pods/inject/pod-multiple-secret-env-variable.yaml': /Tabs are not allowed as indentation/,
  // The apiVersion line is missing.
  'pods/inject/pod-single-secret-env-variable.yaml': /apiVersion: is required/,
  // The probe field is `grpc`; `gRPC` is unknown, so the probe has no handler.
  'pods/probe/grpc-liveness.yaml': /livenessProbe\.gRPC: unknown field \(did you mean "grpc"\?\)/,
  // The container mounts "token-vol"; the volume is named "root-certificates-vol".
  'pods/storage/projected-clustertrustbundle.yaml': /volume "token-vol" is not defined in spec\.volumes/,
};

/** Valid for the local runtime (affinity is ignored: one node), refused by inject as by the API server. */
const INVALID_FOR_A_CLUSTER: Record<string, RegExp> = {
  // requiredDuringSchedulingIgnoredDuringExecution is a NodeSelector (nodeSelectorTerms), written here as a list of preferences.
  'pods/pod-with-node-affinity.yaml': /spec\.affinity\.nodeAffinity\.requiredDuringSchedulingIgnoredDuringExecution: must be a mapping, got a list/,
};

/** Fields a cluster accepts only with a feature gate on: a warning naming the gate, not a refusal. */
const GATED: Record<string, string[]> = {
  'pods/emptydir-volume-mode.yaml': ['EmptyDirVolumeMode'],
  'pods/image-volumes.yaml': ['ImageVolume'],
  'pods/image-volumes-subpath.yaml': ['ImageVolume'],
  'pods/inject/envars-file-container.yaml': ['EnvFiles'],
  'pods/pod-with-numeric-toleration.yaml': ['TaintTolerationComparisonOperators'],
  'pods/restart-policy/restart-all-containers.yaml': ['RestartAllContainersOnContainerExits'],
  'pods/security/security-context-7.yaml': ['WritableCgroups'],
  'pods/storage/projected-clustertrustbundle.yaml': ['ClusterTrustBundleProjection', 'ClusterTrustBundleProjection'],
  'pods/storage/projected-podcertificate.yaml': ['PodCertificateRequest'],
};

function corpus(dir = CORPUS): string[] {
  return readdirSync(dir)
    .flatMap((n) => (statSync(join(dir, n)).isDirectory() ? corpus(join(dir, n)) : n.endsWith('.yaml') ? [relative(CORPUS, join(dir, n))] : []))
    .sort();
}

function local(file: string): Issue[] {
  const p = parseManifests(readFileSync(join(CORPUS, file), 'utf8'), file);
  return [...p.issues, ...loadManifests(p.objects, { local: true, images: true }).issues];
}

function inject(file: string): { error?: string; warnings: string[] } {
  const warnings: string[] = [];
  try {
    injectText(readFileSync(join(CORPUS, file), 'utf8'), { source: file, warn: (w) => warnings.push(w) });
    return { warnings };
  } catch (e) {
    return { error: (e as Error).message, warnings };
  }
}

describe('the Kubernetes documentation examples', () => {
  const files = corpus();
  test('the corpus is all there', () => {
    assert.equal(files.length, 224);
    for (const f of [...Object.keys(INVALID), ...Object.keys(INVALID_FOR_A_CLUSTER), ...Object.keys(GATED)]) assert.ok(files.includes(f), f);
  });

  test('podkit up validates every valid manifest, and refuses the invalid ones with the reason', () => {
    const wrong: string[] = [];
    for (const f of files) {
      const errors = local(f).filter((i) => i.severity === 'error');
      const why = errors.map((i) => `${i.path}: ${i.message}`).join(' | ');
      if (INVALID[f] ? !INVALID[f].test(why) : errors.length > 0) wrong.push(`${f}: ${why || 'accepted'}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('podkit inject accepts every valid manifest, and refuses the invalid ones as the API server does', () => {
    const wrong: string[] = [];
    for (const f of files) {
      const { error } = inject(f);
      const want = INVALID[f] ?? INVALID_FOR_A_CLUSTER[f];
      if (want ? !(error && want.test(error)) : error !== undefined) wrong.push(`${f}: ${error ?? 'accepted'}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('a field behind a feature gate is a warning naming the gate, locally and from inject', () => {
    for (const f of files) {
      const gates = local(f).flatMap((i) => (i.gate ? [i.gate] : []));
      assert.deepEqual(gates, GATED[f] ?? [], f);
      if (INVALID[f]) continue;
      const { warnings } = inject(f);
      assert.deepEqual(warnings.map((w) => /feature gate (\w+)/.exec(w)?.[1]), GATED[f] ?? [], f);
    }
  });

  test('kinds podkit does not run get one warning each, naming the kind', () => {
    const issues = local('application/hpa/php-apache.yaml').concat(local('pods/security/seccomp/kind.yaml'));
    const ignored = issues.filter((i) => / ignored locally$/.test(i.message)).map((i) => i.message);
    assert.ok(ignored.length > 0);
    for (const m of ignored) assert.match(m, /^kind \w+: ignored locally$/);
    assert.deepEqual(issues.filter((i) => i.severity === 'error'), []);
  });

  test('a double-quoted `\\\'` reads as a quote, as go-yaml reads it', () => {
    const p = parseManifests(readFileSync(join(CORPUS, 'pods/inject/envars-file-container.yaml'), 'utf8'));
    const cmd = (p.objects[0].body as { spec: { initContainers: { command: string[] }[] } }).spec.initContainers[0].command[2];
    assert.equal(cmd, `echo "DB_ADDRESS='address'\nREST_ENDPOINT='endpoint'" > /data/config.env`);
    // An escaped backslash before a quote stays a backslash, then the quote.
    const cm = parseManifests('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: "a\\\\\'b"}\n').objects[0].body;
    assert.equal((cm.data as { k: string }).k, "a\\'b");
  });
});

describe('the CLI on the examples', () => {
  test('podkit up --dry-run of a ConfigMap-only file, and of a file with kinds it does not run, exits 0', async () => {
    const cm = await runPodkit(['up', '--dry-run', '--from-images', '-f', join(CORPUS, 'pods/config/example-redis-config.yaml')]);
    assert.equal(cm.code, 0, cm.stderr);
    const rbac = await runPodkit(['up', '--dry-run', '--from-images', '-f', join(CORPUS, 'admin/cloud/ccm-example.yaml')]);
    assert.equal(rbac.code, 0, rbac.stderr);
    assert.match(rbac.stderr, /kind ServiceAccount: ignored locally/);
    assert.match(rbac.stdout, /^kube-system\/cloud-controller-manager-0: cloud-controller-manager$/m);
  });

  test('podkit up --dry-run runs a ReplicationController like a Deployment, and a StatefulSet with its claims', async () => {
    const rc = await runPodkit(['up', '--dry-run', '--from-images', '-f', join(CORPUS, 'controllers/replication.yaml')]);
    assert.equal(rc.code, 0, rc.stderr);
    assert.deepEqual(rc.stdout.trim().split('\n'), ['default/nginx-0: nginx', 'default/nginx-1: nginx', 'default/nginx-2: nginx']);
    const sts = await runPodkit(['up', '--dry-run', '--from-images', '-f', join(CORPUS, 'application/web/web.yaml')]);
    assert.equal(sts.code, 0, sts.stderr);
  });

  test('podkit inject refuses a removed apiVersion and a wrongly shaped affinity (exit 2), and warns of feature gates', async () => {
    const cron = await runPodkit(['inject', '-f', join(CORPUS, 'application/job/cronjob.yaml')]);
    assert.equal(cron.code, 2);
    assert.match(cron.stderr, /apiVersion: batch\/v1beta1 was removed in Kubernetes 1\.25; use apiVersion batch\/v1 for CronJob/);
    const aff = await runPodkit(['inject', '-f', join(CORPUS, 'pods/pod-with-node-affinity.yaml')]);
    assert.equal(aff.code, 2);
    assert.match(aff.stderr, /nodeAffinity\.requiredDuringSchedulingIgnoredDuringExecution: must be a mapping, got a list/);
    const gated = await runPodkit(['inject', '-f', join(CORPUS, 'pods/emptydir-volume-mode.yaml')]);
    assert.equal(gated.code, 0, gated.stderr);
    assert.match(gated.stderr, /^warning: .*spec\.volumes\[0\]\.emptyDir\.mode: emptyDir mode: feature gate EmptyDirVolumeMode/m);
  });
});
