import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMetrics, hookChannel, syncChannel, triggerChannel, type SyncEvent } from './metrics.js';

const count = async (m: ReturnType<typeof createMetrics>, status: string) =>
  (await m.collect()).find((f) => f.name === 'git_sync_count_total')?.metrics.find((x) => x.labels.status === status)?.value ?? 0;

test('git-sync metrics: each instance counts only the syncs it published, until it unsubscribes', async () => {
  const root = mkdtempSync(join(tmpdir(), 'gs-metrics-'));
  const a = {};
  const b = {};
  const ma = createMetrics(root, a);
  const mb = createMetrics(root, b);
  const ev = (source: object, status: SyncEvent['status']): SyncEvent => ({ source, status, seconds: 0.1, changed: status === 'success', failures: status === 'error' ? 1 : 0, atMs: Date.now(), hash: 'abc', ref: 'HEAD' });
  syncChannel.publish(ev(a, 'success'));
  syncChannel.publish(ev(a, 'error'));
  syncChannel.publish(ev(b, 'noop'));
  assert.equal(await count(ma, 'success'), 1);
  assert.equal(await count(ma, 'error'), 1);
  assert.equal(await count(ma, 'noop'), 0);
  assert.equal(await count(mb, 'noop'), 1);
  assert.equal(await count(mb, 'success'), 0);
  hookChannel.publish({ source: b, hook: 'exechook', ok: true });
  triggerChannel.publish({ source: b, provider: 'github', ok: false });
  const text = (fams: Awaited<ReturnType<typeof ma.collect>>) => JSON.stringify(fams.filter((f) => /hook_runs|trigger_requests/.test(f.name)).map((f) => f.metrics));
  assert.equal(text(await ma.collect()), '[[],[]]', "b's hook run and trigger are not a's");
  assert.match(text(await mb.collect()), /exechook.*github/);
  ma.unsubscribe();
  syncChannel.publish(ev(a, 'success'));
  assert.equal(await count(ma, 'success'), 1, 'nothing counted after unsubscribe');
  mb.unsubscribe();
});
