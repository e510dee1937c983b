/** @module examples/: every pod file validates locally (podkit up --dry-run) and for a cluster (podkit inject's strict validator), and embedded copies are current. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { runPodkit, stopAll } from './helpers/index.js';
import { EXAMPLES } from './helpers/examples.js';

after(stopAll);

const FILES: Record<string, RegExp> = {
  'push-to-deploy/pod.yaml': /^default\/site: git-sync, nginx$/m,
  'redis-ambassador/pods.yaml': /^default\/redis: master, replica-0, replica-1, sentinel-0, sentinel-1, sentinel-2\ndefault\/counter: redis-ambassador, app$/m,
  'metrics-adapter/pod.yaml': /^default\/web: metrics-adapter, nginx, app$/m,
  'all-three/pods.yaml': /^default\/redis: master, replica\ndefault\/shop: git-sync, redis-ambassador, metrics-adapter, nginx, app$/m,
};

for (const [rel, pods] of Object.entries(FILES)) {
  test(`${rel}: podkit up --dry-run lists its pods, and podkit inject's cluster validation accepts it unchanged`, async () => {
    const file = join(EXAMPLES, rel);
    const dry = await runPodkit(['up', '--dry-run', file]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, pods);
    assert.doesNotMatch(dry.stderr, /error/);
    // No podkit.io/ annotations: inject validates strictly and gives the file back byte for byte.
    const inj = await runPodkit(['inject', '-f', file]);
    assert.equal(inj.code, 0, inj.stderr);
    assert.equal(inj.stdout, readFileSync(file, 'utf8'));
  });
}

test('the app embedded in the examples\' ConfigMaps is examples/shared/app.mjs (run examples/shared/embed.mjs after editing it)', () => {
  const app = readFileSync(join(EXAMPLES, 'shared/app.mjs'), 'utf8');
  for (const rel of ['redis-ambassador/pods.yaml', 'metrics-adapter/pod.yaml', 'metrics-adapter/annotated.yaml', 'all-three/pods.yaml']) {
    const docs = parseAllDocuments(readFileSync(join(EXAMPLES, rel), 'utf8')).map((d) => d.toJS() as { kind: string; data?: Record<string, string> });
    const copies = docs.filter((d) => d.kind === 'ConfigMap' && d.data?.['app.mjs'] !== undefined);
    assert.equal(copies.length, 1, rel);
    assert.equal(copies[0]!.data!['app.mjs'], app, `${rel}: stale copy of app.mjs`);
  }
});
