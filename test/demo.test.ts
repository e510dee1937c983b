/** The README's main job runs end to end (self-test mode: push, see the page change, stop). */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePorts, runStatus, stopAll, tempDir } from './helpers/index.js';

after(stopAll);

test('the demo pushes a commit and serves the new page, then stops cleanly', async () => {
  const [web, sync] = await freePorts(2);
  const r = await runStatus(process.execPath, ['scripts/demo.mjs', '--self-test'], {
    cwd: new URL('..', import.meta.url).pathname,
    env: { ...process.env, PODKIT_DEMO_PORT: String(web), PODKIT_DEMO_SYNC_PORT: String(sync), PODKIT_DEMO_DIR: tempDir('podkit-demo-') },
    timeoutMs: 120_000,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /pushed "version 2": visible through nginx \d+ ms after git push/);
  assert.match(r.stdout, /self-test passed/);
});
