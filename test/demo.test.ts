/** @module The README's main job end to end: `podkit up` of the all-three demo (self-test: push, Redis, /metrics, stop, cleanup). */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePorts, runStatus, stopAll, tempDir } from './helpers/index.js';

after(stopAll);

test('the demo brings up the all-three pods, shows push-to-deploy, a Redis write and the metrics, then stops cleanly', async () => {
  const [web, sync, metrics, master, replica] = await freePorts(5);
  const r = await runStatus(process.execPath, ['scripts/demo.mjs', '--self-test'], {
    cwd: new URL('..', import.meta.url).pathname,
    env: {
      ...process.env,
      PODKIT_DEMO_PORT: String(web),
      PODKIT_DEMO_SYNC_PORT: String(sync),
      PODKIT_DEMO_METRICS_PORT: String(metrics),
      PODKIT_DEMO_REDIS_PORT: String(master),
      PODKIT_DEMO_REDIS_REPLICA_PORT: String(replica),
      PODKIT_DEMO_DIR: tempDir('podkit-demo-'),
    },
    timeoutMs: 150_000,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /pods shop and redis are Ready/);
  assert.match(r.stdout, /pushed "version 2": visible through nginx \d+ ms after git push/);
  assert.match(r.stdout, /Redis master 10\.244\.0\.1:\d+ has executed [1-9]\d* INCRs from the app; the replica has app:visits=[1-9]/);
  assert.match(r.stdout, /metrics: \d+ series/);
  assert.match(r.stdout, /stopped: no pod process, namespace or state left/);
  assert.match(r.stdout, /self-test passed/);
});
