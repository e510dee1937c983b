/** @module The README's main job end to end: `podkit up` of the all-three demo (self-test: push, Redis, /metrics, stop, cleanup). */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { freePorts, git, runStatus, stopAll, tempDir } from './helpers/index.js';

const ROOT = new URL('..', import.meta.url).pathname;

after(stopAll);

test('the demo brings up the all-three pods, shows push-to-deploy, a Redis write and the metrics, then stops cleanly; a re-run keeps the site repository', async () => {
  const [web, sync, metrics, master, replica] = await freePorts(5);
  const env = {
    ...process.env,
    PODKIT_DEMO_PORT: String(web),
    PODKIT_DEMO_SYNC_PORT: String(sync),
    PODKIT_DEMO_METRICS_PORT: String(metrics),
    PODKIT_DEMO_REDIS_PORT: String(master),
    PODKIT_DEMO_REDIS_REPLICA_PORT: String(replica),
    PODKIT_DEMO_DIR: tempDir('podkit-demo-'),
    PODKIT_DEMO_VERBOSE: '1',
  };
  const demo = () => runStatus(process.execPath, ['scripts/demo.mjs', '--self-test'], { cwd: ROOT, env, timeoutMs: 150_000 });
  const r = await demo();
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /pods shop and redis are Ready, [\d.]+ s after the demo started/);
  assert.match(r.stdout, /serves commit [0-9a-f]{7} \(published by git-sync\)/);
  assert.match(r.stdout, /pushed commit [0-9a-f]{7}: the page shows it through nginx \d+ ms after git push/);
  assert.match(r.stdout, /Redis master 10\.244\.0\.1:\d+ has executed [1-9]\d* INCRs from the app; the replica has app:visits=[1-9]/);
  assert.match(r.stdout, /metrics: \d+ series/);
  assert.match(r.stdout, /stopped: no pod process, namespace or state left/);
  assert.match(r.stdout, /self-test passed/);
  // Redis's banner and overcommit warning are folded into one line each.
  assert.doesNotMatch(r.stdout, /oO0OoO0OoO0Oo|Memory overcommit must be enabled/);
  assert.match(r.stdout, /redis\/master \| Redis started \(start-up banner folded\)/);

  const again = await demo();
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /keeping the site repository from the last run/);
  assert.match(again.stdout, /pushed commit [0-9a-f]{7}: the page shows it/);
  assert.equal(git(join(env.PODKIT_DEMO_DIR, 'site'), 'log', '--format=%s', '-3'), 'demo: re-deploy\nversion 2\nversion 1');
});

test('a busy port is named with the variable that moves it, before anything starts', async () => {
  const [web, sync, metrics, master, replica] = await freePorts(5);
  const holder = createServer().listen(metrics, '127.0.0.1');
  await once(holder, 'listening');
  try {
    const r = await runStatus(process.execPath, ['scripts/demo.mjs', '--self-test'], {
      cwd: ROOT,
      env: { ...process.env, PODKIT_DEMO_PORT: String(web), PODKIT_DEMO_SYNC_PORT: String(sync), PODKIT_DEMO_METRICS_PORT: String(metrics), PODKIT_DEMO_REDIS_PORT: String(master), PODKIT_DEMO_REDIS_REPLICA_PORT: String(replica), PODKIT_DEMO_DIR: tempDir('podkit-demo-') },
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`port ${metrics} \\(/metrics\\) is already in use on this machine: .* PODKIT_DEMO_METRICS_PORT=\\d+ npm run demo`));
  } finally {
    holder.close();
  }
});
