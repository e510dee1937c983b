/** @module review() never throws: any body gets a 400 with a reason or a well-formed AdmissionReview v1 answer. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_REVIEW_DEPTH, review } from './admission.js';

const opts = { image: 'img', sidecarMode: 'native' as const, version: 'test' };

describe('admission review', () => {
  test('arbitrary bytes and arbitrary JSON never crash it', () => {
    const bodies = fc.oneof(
      fc.string(),
      fc.json(),
      fc.record({
        apiVersion: fc.constantFrom('admission.k8s.io/v1', 'admission.k8s.io/v1beta1', 1),
        kind: fc.constantFrom('AdmissionReview', 'Pod'),
        request: fc.oneof(fc.constant(null), fc.record({ uid: fc.oneof(fc.string(), fc.integer()), operation: fc.constantFrom('CREATE', 'UPDATE', 'DELETE'), object: fc.anything() })),
      }).map((o) => JSON.stringify(o)),
      fc.record({
        kind: fc.constantFrom('Pod', 'Deployment', 'CronJob'),
        metadata: fc.record({ name: fc.string(), annotations: fc.dictionary(fc.constantFrom('podkit.io/git-sync.repo', 'podkit.io/redis-ambassador.master', 'podkit.io/x.y', 'podkit.io/status', 'other'), fc.oneof(fc.string(), fc.integer())) }),
        spec: fc.anything(),
      }).map((object) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', operation: 'CREATE', object } })),
    );
    fc.assert(
      fc.property(bodies, (body) => {
        const r = review(body, opts);
        assert.ok(r.status === 200 || r.status === 400);
        if (r.status === 200) {
          const b = r.body as { apiVersion: string; kind: string; response: { uid: string; allowed: boolean; patch?: string } };
          assert.equal(b.apiVersion, 'admission.k8s.io/v1');
          assert.equal(b.kind, 'AdmissionReview');
          assert.equal(typeof b.response.allowed, 'boolean');
          if (b.response.patch !== undefined) assert.ok(Array.isArray(JSON.parse(Buffer.from(b.response.patch, 'base64').toString())));
        } else assert.equal(typeof r.body, 'string');
      }),
      { numRuns: 3000 },
    );
  });

  test('a body nested past MAX_REVIEW_DEPTH is a 400 before anything recurses into it (was code 500, a stack overflow)', () => {
    const nest = (k: number) => '['.repeat(k) + ']'.repeat(k);
    const body = (k: number) => `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","annotations":{"podkit.io/redis-ambassador.master":"r:6379"}},"spec":{"containers":[{"name":"a","image":"b"}],"x":${nest(k)}}}}}`;
    for (const raw of [nest(100_000), body(100_000), body(MAX_REVIEW_DEPTH - 3)]) {
      assert.deepEqual(review(raw, opts), { status: 400, body: `request body is nested more than ${MAX_REVIEW_DEPTH} levels deep`, outcome: 'bad_request', message: `request body is nested more than ${MAX_REVIEW_DEPTH} levels deep` });
    }
    // spec(4) + k arrays = MAX_REVIEW_DEPTH: read, and denied for the unknown field like any other.
    const at = review(body(MAX_REVIEW_DEPTH - 4), opts);
    assert.equal(at.status, 200);
    assert.equal(at.outcome, 'denied');
    assert.match(String(at.message), /spec\.x/);
  });
});
