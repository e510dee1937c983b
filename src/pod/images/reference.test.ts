/** @module Image references normalised as Docker does, and Kubernetes' default imagePullPolicy. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPullPolicy, formatRef, isLoopbackRegistry, parseRef } from './reference.js';

const D = `sha256:${'a'.repeat(64)}`;

test('short names are Docker Hub library images; hosts are told by a dot, a port or localhost', () => {
  const cases: [string, string][] = [
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nginx:1.27', 'docker.io/library/nginx:1.27'],
    ['bitnami/redis:7', 'docker.io/bitnami/redis:7'],
    ['docker.io/nginx', 'docker.io/library/nginx:latest'],
    ['index.docker.io/library/nginx:1', 'docker.io/library/nginx:1'],
    ['quay.io/coreos/etcd:v3', 'quay.io/coreos/etcd:v3'],
    ['localhost/app', 'localhost/app:latest'],
    ['127.0.0.1:5000/a/b/c:t', '127.0.0.1:5000/a/b/c:t'],
    [`nginx@${D}`, `docker.io/library/nginx@${D}`],
    [`nginx:1.27@${D}`, `docker.io/library/nginx:1.27@${D}`],
  ];
  for (const [input, want] of cases) assert.equal(formatRef(parseRef(input)), want, input);
});

test('bad names are InvalidImageName with the reason', () => {
  for (const [input, why] of [
    ['', /empty/],
    ['Nginx', /not a valid repository component/],
    ['nginx:', /bad tag/],
    ['nginx@sha256:abc', /a digest is sha256:/],
    ['a b', /spaces/],
  ] as const)
    assert.throws(() => parseRef(input), (e: Error & { reason?: string }) => e.reason === 'InvalidImageName' && why.test(e.message), input);
});

test("imagePullPolicy defaults: Always for :latest (even with a digest) or no tag, IfNotPresent for other tags and digests", () => {
  assert.equal(defaultPullPolicy('nginx'), 'Always');
  assert.equal(defaultPullPolicy('nginx:latest'), 'Always');
  assert.equal(defaultPullPolicy('nginx:1.27'), 'IfNotPresent');
  assert.equal(defaultPullPolicy(`nginx@${D}`), 'IfNotPresent');
  assert.equal(defaultPullPolicy(`nginx:latest@${D}`), 'Always');
});

test('loopback registries may be plain HTTP', () => {
  assert.ok(isLoopbackRegistry('127.0.0.1:5000') && isLoopbackRegistry('localhost:1') && isLoopbackRegistry('[::1]:5000'));
  assert.ok(!isLoopbackRegistry('registry.example.com') && !isLoopbackRegistry('10.0.0.1:5000'));
});
