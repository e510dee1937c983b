/** @module `podkit webhook` over real TLS: every fixture gives the same objects through the webhook (patch applied) as through `podkit inject`; bad requests get clear errors. */
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { connect } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { injectText, TEMPLATE_PATHS } from '../src/inject/index.js';
import { freePort, issueCert, makeCA, startPodkit, stopAll, waitForOutput, type Proc, type TestCA } from './helpers/index.js';

after(stopAll);

const FIX = fileURLToPath(new URL('./fixtures/inject/', import.meta.url));
const IMAGE = 'ghcr.io/podkit/podkit:test';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function post(port: number, ca: string, body: string | Buffer, opts: { path?: string; method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: opts.path ?? '/mutate', method: opts.method ?? 'POST', ca, servername: 'localhost', headers: { 'content-type': 'application/json', ...opts.headers }, timeout: 10_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** A deliberately separate RFC 6902 applier (add/remove/replace), so a bug in podkit's own cannot hide itself. */
function applyRfc6902(doc: unknown, ops: { op: string; path: string; value?: unknown }[]): unknown {
  const root = { v: structuredClone(doc) } as Record<string, unknown>;
  for (const { op, path, value } of ops) {
    const tokens = ['v', ...path.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))];
    let parent = root as Record<string, unknown> | unknown[];
    for (const t of tokens.slice(0, -1)) parent = (parent as Record<string, unknown>)[t] as Record<string, unknown>;
    const key = tokens[tokens.length - 1];
    if (Array.isArray(parent)) {
      const i = key === '-' ? parent.length : Number(key);
      assert.ok(Number.isInteger(i) && i >= 0 && i <= parent.length, `${path}: index in range`);
      if (op === 'add') parent.splice(i, 0, value);
      else if (op === 'remove') parent.splice(i, 1);
      else if (op === 'replace') parent[i] = value;
      else assert.fail(`unexpected op ${op}`);
    } else {
      assert.ok(op === 'add' || key in parent, `${path}: exists for ${op}`);
      if (op === 'remove') delete parent[key];
      else parent[key] = value;
    }
  }
  return root.v;
}

function reviewOf(object: unknown, uid = 'u-1', operation = 'CREATE') {
  const o = object as { kind: string; metadata?: { name?: string; namespace?: string } };
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid, kind: { group: '', version: 'v1', kind: o.kind }, operation, namespace: o.metadata?.namespace ?? 'default', name: o.metadata?.name, object },
  });
}

async function startWebhookProc(ca: TestCA, extra: string[] = []): Promise<{ proc: Proc; port: number }> {
  const cert = await issueCert(ca, ['localhost', '127.0.0.1'], `srv-${extra.join('-').replace(/[^a-z0-9]/gi, '') || 'default'}`);
  const port = await freePort();
  const proc = startPodkit(['webhook', '--tls-cert-file', cert.certFile, '--tls-key-file', cert.keyFile, '--http-bind', `127.0.0.1:${port}`, '--image', IMAGE, ...extra], { env: { ...process.env, PODKIT_LOG_FORMAT: 'json' } });
  await waitForOutput(proc, /webhook listening/, 20_000);
  return { proc, port };
}

describe('podkit webhook', () => {
  let ca: TestCA;
  let native: { proc: Proc; port: number };
  let classic: { proc: Proc; port: number };
  before(async () => {
    ca = await makeCA();
    [native, classic] = await Promise.all([startWebhookProc(ca, ['--max-body', '64kb']), startWebhookProc(ca, ['--sidecar-mode', 'classic'])]);
  });

  const fixtures = readdirSync(FIX).filter((f) => f.endsWith('.yaml') && !f.endsWith('.injected.yaml')).sort();
  for (const f of fixtures) {
    test(`${f}: the webhook's patch gives what podkit inject gives`, async () => {
      const mode = f.endsWith('.classic.yaml') ? 'classic' : 'native';
      const port = mode === 'classic' ? classic.port : native.port;
      const input = readFileSync(join(FIX, f), 'utf8');
      const docs = parseAllDocuments(input).map((d) => d.toJS() as { kind: string } | null);
      const want = parseAllDocuments(injectText(input, { image: IMAGE, sidecarMode: mode })).map((d) => d.toJS() as unknown);
      let patched = 0;
      for (let i = 0; i < docs.length; i++) {
        const obj = docs[i];
        if (!obj) continue;
        const r = await post(port, ca.cert, reviewOf(obj, `uid-${i}`));
        assert.equal(r.status, 200, r.body);
        assert.match(String(r.headers['content-type']), /application\/json/);
        const out = JSON.parse(r.body);
        assert.equal(out.apiVersion, 'admission.k8s.io/v1');
        assert.equal(out.kind, 'AdmissionReview');
        assert.equal(out.response.uid, `uid-${i}`);
        assert.equal(out.response.allowed, true);
        let got: unknown = obj;
        if (out.response.patch !== undefined) {
          assert.equal(out.response.patchType, 'JSONPatch');
          got = applyRfc6902(obj, JSON.parse(Buffer.from(out.response.patch, 'base64').toString('utf8')));
          patched++;
        } else assert.ok(!(obj.kind in TEMPLATE_PATHS) || JSON.stringify(obj) === JSON.stringify(want[i]), `doc ${i + 1} unchanged`);
        assert.deepEqual(got, want[i], `document ${i + 1}`);
      }
      assert.ok(patched > 0, 'at least one document was patched');
    });
  }

  test('an already injected pod gets no patch (idempotent)', async () => {
    const injected = parseAllDocuments(injectText(readFileSync(join(FIX, 'pod-git-sync.yaml'), 'utf8'), { image: IMAGE }))[0].toJS();
    const out = JSON.parse((await post(native.port, ca.cert, reviewOf(injected))).body);
    assert.equal(out.response.allowed, true);
    assert.equal(out.response.patch, undefined);
  });

  test('a pod as the API server sends it (defaults, projected token volume) is patched and allowed', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'web-7d9f-', namespace: 'shop', labels: { app: 'web', 'pod-template-hash': '7d9f' }, annotations: { 'podkit.io/redis-ambassador.master': 'redis:6379' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'x', controller: true, blockOwnerDeletion: true }] },
      spec: {
        volumes: [{ name: 'kube-api-access-abcde', projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }] } }],
        containers: [{ name: 'web', image: 'nginx', resources: {}, volumeMounts: [{ name: 'kube-api-access-abcde', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }], terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'Always' }],
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 30,
        dnsPolicy: 'ClusterFirst',
        serviceAccountName: 'default',
        serviceAccount: 'default',
        securityContext: {},
        schedulerName: 'default-scheduler',
        tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
        priority: 0,
        enableServiceLinks: true,
        preemptionPolicy: 'PreemptLowerPriority',
      },
    };
    const out = JSON.parse((await post(native.port, ca.cert, reviewOf(pod))).body);
    assert.equal(out.response.allowed, true, JSON.stringify(out.response.status));
    const ops = JSON.parse(Buffer.from(out.response.patch, 'base64').toString());
    const got = applyRfc6902(pod, ops) as { spec: { initContainers: { name: string }[] } };
    assert.equal(got.spec.initContainers[0].name, 'podkit-redis-ambassador');
  });

  test('a field behind a feature gate is allowed, with a warning naming the gate in the response', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'g', annotations: { 'podkit.io/redis-ambassador.master': 'redis:6379' } }, spec: { volumes: [{ name: 't', emptyDir: { mode: 0o1777 } }], containers: [{ name: 'a', image: 'b', volumeMounts: [{ name: 't', mountPath: '/tmp' }] }] } };
    const out = JSON.parse((await post(native.port, ca.cert, reviewOf(pod, 'gate-1'))).body);
    assert.equal(out.response.allowed, true, JSON.stringify(out.response.status));
    assert.deepEqual(out.response.warnings, ['spec.volumes[0].emptyDir.mode: emptyDir mode: feature gate EmptyDirVolumeMode (a cluster without it enabled refuses this pod)']);
  });

  test('a bad annotation denies the pod with the annotation named', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations: { 'podkit.io/redis-ambassador.master': 'nope' } }, spec: { containers: [{ name: 'a', image: 'b' }] } };
    const out = JSON.parse((await post(native.port, ca.cert, reviewOf(pod, 'deny-1'))).body);
    assert.equal(out.response.uid, 'deny-1');
    assert.equal(out.response.allowed, false);
    assert.equal(out.response.status.code, 400);
    assert.match(out.response.status.message, /Pod default\/p: metadata\.annotations\["podkit\.io\/redis-ambassador\.master"\]: expected HOST:PORT/);
  });

  test('DELETE, Pod UPDATE and objects without podkit annotations are allowed untouched', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'b' }] } };
    for (const op of ['CREATE', 'DELETE']) {
      const out = JSON.parse((await post(native.port, ca.cert, reviewOf(pod, 'x', op))).body);
      assert.deepEqual(out.response, { uid: 'x', allowed: true });
    }
    // A running pod's containers are immutable: an UPDATE of an annotated, never-injected pod is left alone.
    const annotated = { ...pod, metadata: { name: 'p', annotations: { 'podkit.io/redis-ambassador.master': 'r:6379' } } };
    const upd = JSON.parse((await post(native.port, ca.cert, reviewOf(annotated, 'y', 'UPDATE'))).body);
    assert.deepEqual(upd.response, { uid: 'y', allowed: true });
  });

  test('a body nested past the stack is a 400, not an internal error, and the webhook answers the next review', async () => {
    // The patch's diff recursed into request.object and overflowed: answered allowed: false, code 500 (InternalError).
    const N = 100_000;
    const annotated = '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","annotations":{"podkit.io/redis-ambassador.master":"r:6379"}},"spec":{"containers":[{"name":"a","image":"b"}]},"x":';
    const deep = (inner: string) => `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"d","operation":"CREATE","object":${inner}}}`;
    // spec.x nested k arrays deep lies at depth 4 + k: the review(1), request(2), object(3), spec(4).
    const specX = (k: number) => deep(annotated.replace('}]},"x":', '}],"x":') + '['.repeat(k) + ']'.repeat(k) + '}}');
    const cases: [string, RegExp][] = [
      ['['.repeat(N), /request body is not JSON/],
      ['['.repeat(N) + ']'.repeat(N), /request body is nested more than 258 levels deep/],
      [deep(annotated + '{"a":'.repeat(N) + '1' + '}'.repeat(N) + '}'), /request body is nested more than 258 levels deep/],
      [deep(annotated + '['.repeat(N) + ']'.repeat(N) + '}'), /request body is nested more than 258 levels deep/],
      [specX(255), /request body is nested more than 258 levels deep/],
    ];
    for (const [body, re] of cases) {
      const r = await post(classic.port, ca.cert, body);
      assert.equal(r.status, 400, `${body.slice(0, 40)}… → ${r.body.slice(0, 200)}`);
      assert.match(r.body, re);
    }
    // At the bound the object is read: the validator names the unknown field (a denial, code 400), no InternalError.
    const at = await post(classic.port, ca.cert, specX(254));
    assert.equal(at.status, 200, at.body);
    const status = JSON.parse(at.body).response.status;
    assert.equal(status.code, 400, status.message);
    assert.match(status.message, /spec\.x/);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations: { 'podkit.io/redis-ambassador.master': 'r:6379' } }, spec: { containers: [{ name: 'a', image: 'b' }] } };
    const next = JSON.parse((await post(classic.port, ca.cert, reviewOf(pod, 'after-deep'))).body);
    assert.equal(next.response.uid, 'after-deep');
    assert.equal(next.response.allowed, true);
    assert.equal(next.response.patchType, 'JSONPatch');
    assert.equal(classic.proc.child.exitCode, null, 'the webhook is still running');
  });

  test('bad requests get clear 4xx errors and the webhook keeps serving', async () => {
    const cases: [string | Buffer, number, RegExp, Parameters<typeof post>[3]?][] = [
      ['{not json', 400, /request body is not JSON/],
      ['[1,2]', 400, /must be a JSON object/],
      [JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'a' } }), 400, /expected kind AdmissionReview, apiVersion admission\.k8s\.io\/v1; got kind "AdmissionReview", apiVersion "admission\.k8s\.io\/v1beta1"/],
      [JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'Pod' }), 400, /expected kind AdmissionReview/],
      [JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), 400, /request is missing/],
      [JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE' } }), 400, /request\.uid is missing/],
      [Buffer.alloc(200 * 1024, 0x20), 413, /larger than 65536 bytes/],
      ['{}', 415, /unsupported content-type text\/plain/, { headers: { 'content-type': 'text/plain' } }],
      ['', 405, /POST AdmissionReview v1 to \/mutate/, { method: 'GET' }],
      ['{}', 404, /not found/, { path: '/nope' }],
    ];
    for (const [body, status, re, opts] of cases) {
      const r = await post(native.port, ca.cert, body, opts);
      assert.equal(r.status, status, `${String(body).slice(0, 40)} → ${r.body}`);
      assert.match(r.body, re);
    }
    // A body that grows past the limit without a Content-Length (chunked) is cut off too.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: native.port, path: '/mutate', method: 'POST', ca: ca.cert, servername: 'localhost', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write(Buffer.alloc(16 * 1024, 0x20));
      req.end();
    });
    assert.equal(chunked, 413);
    // Plain HTTP and garbage on the TLS port do not hurt it.
    await new Promise<void>((resolve) => {
      const s = connect(native.port, '127.0.0.1', () => s.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.resume();
    });
    const health = await post(native.port, ca.cert, '', { method: 'GET', path: '/healthz' });
    assert.equal(health.status, 200);
    const metrics = await post(native.port, ca.cert, '', { method: 'GET', path: '/metrics' });
    assert.match(metrics.body, /podkit_webhook_reviews_total\{outcome="bad_request"\} [1-9]/);
    assert.match(metrics.body, /podkit_webhook_reviews_total\{outcome="patched"\} [1-9]/);
    assert.equal(native.proc.child.exitCode, null, 'the webhook is still running');
  });
});
