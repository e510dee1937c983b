import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { git, makeRepo, startProcess, stopAll, tempDir } from './helpers/index.js';
import { start } from '../src/git-sync/index.js';
import { captureLogger, treeDiff, waitHash } from './fixtures/git-sync/util.js';
import { versionedHistory } from './fixtures/git-sync/history.js';

after(stopAll);

// The figure: 200 swaps under concurrent readers, 0 mixed and 0 missing.
const SWAPS = Number(process.env.PODKIT_GS_SWAPS ?? 200);

test(`torn-read harness: readers across ${SWAPS} swaps see 0 mixed trees and 0 missing files`, async () => {
  const repo = makeRepo({ 'README.md': 'x\n' });
  const hashes = versionedHistory(repo.bare, 'all', SWAPS, 30, 60);
  git(repo.bare, 'update-ref', 'refs/heads/main', hashes[0]);
  const root = tempDir('gs-torn-');
  const h = await start({ repo: repo.url, root, link: 'site', ref: 'main', periodMs: 60_000, log: captureLogger('info').log });
  try {
    await waitHash(h, hashes[0]);
    const reader = new URL('./fixtures/git-sync/reader.mjs', import.meta.url).pathname;
    const readers = [0, 1].map(() => startProcess(process.execPath, [reader, join(root, 'site'), '30', '60'], { name: 'reader' }));
    for (const c of hashes.slice(1)) {
      git(repo.bare, 'update-ref', 'refs/heads/main', c);
      h.trigger();
      await waitHash(h, c, 60_000); // generous: the CI box is shared and loaded
    }
    assert.equal(treeDiff(join(root, 'site'), repo.bare, hashes[hashes.length - 1]), '');
    const stats = [];
    for (const r of readers) {
      r.signal('SIGTERM');
      await r.exited;
      stats.push(JSON.parse(r.stdout().trim()) as { rounds: number; files: number; mixed: number; missing: number; trees: number; errors: string[] });
    }
    const total = stats.reduce((a, s) => ({ rounds: a.rounds + s.rounds, mixed: a.mixed + s.mixed, missing: a.missing + s.missing, trees: Math.max(a.trees, s.trees) }), { rounds: 0, mixed: 0, missing: 0, trees: 0 });
    process.stdout.write(`# torn-read: ${JSON.stringify(total)}\n`);
    assert.equal(total.mixed, 0, stats.flatMap((s) => s.errors).join('\n'));
    assert.equal(total.missing, 0, stats.flatMap((s) => s.errors).join('\n'));
    assert.ok(total.trees > SWAPS / 4, `readers saw many trees (${total.trees})`);
  } finally {
    await h.close();
  }
});
