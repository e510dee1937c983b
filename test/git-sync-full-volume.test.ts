import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readlinkSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, pollUntil, requireBinary, stopAll, tempDir } from './helpers/index.js';
import { start } from '../src/git-sync/index.js';
import { captureLogger, waitHash } from './fixtures/git-sync/util.js';

// A full volume: --root on a small tmpfs, a commit too big for it. The failed fetch must not leave its temporary
// objects behind (git does not remove them when it dies), so once a later commit deletes the big file the next
// sync succeeds — in the same process and after a restart.
after(stopAll);

const SIZE_MB = 6;

/** Every temp object file or quarantine dir under the object store. */
function tempObjects(root: string): string[] {
  const objects = join(root, '.git', 'objects');
  const out: string[] = [];
  for (const d of readdirSync(objects)) {
    if (d.startsWith('incoming-')) out.push(d);
    if (d === 'pack' || /^[0-9a-f]{2}$/.test(d)) for (const f of readdirSync(join(objects, d))) if (/^tmp_|^\.tmp-/.test(f)) out.push(`${d}/${f}`);
  }
  return out;
}

const usedBytes = (dir: string) => {
  const s = statfsSync(dir);
  return (s.blocks - s.bfree) * s.bsize;
};

test('a fetch that fails for lack of space removes its temporary objects; after the big file is deleted the next sync succeeds, across a restart', async () => {
  requireBinary('/usr/bin/mount');
  const dir = tempDir('gs-full-');
  const vol = join(dir, 'vol');
  mkdirSync(vol);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE_MB}m`, 'podkit-test-full', vol]);
  try {
    const repo = makeRepo({ 'index.html': 'v1\n' });
    const root = join(vol, 'root');
    const c1 = repo.head();
    const { log } = captureLogger();
    let h = await start({ repo: repo.url, root, link: 'link', periodMs: 3_600_000, maxFailures: -1, log });
    await waitHash(h, c1);
    const baseline = usedBytes(vol);

    // Random base64 compresses to ~75%: about 9 MB on the wire, more than the volume holds.
    repo.commit({ 'big.bin': randomBytes(9_000_000).toString('base64') });
    for (let attempt = 1; attempt <= 2; attempt++) {
      const before = h.status().attempts;
      h.trigger();
      await pollUntil(() => h.status().attempts > before && h.status().consecutiveFailures === attempt, { timeoutMs: 30_000, what: `failed sync ${attempt}` });
      assert.match(h.status().lastError ?? '', /No space left on device/);
      assert.deepEqual(tempObjects(root), [], 'no temporary objects left');
      assert.ok(usedBytes(vol) < baseline + (512 << 10), `space given back (used ${usedBytes(vol)} bytes, ${baseline} before)`);
      assert.equal(readlinkSync(join(root, 'link')), `.worktrees/${c1}`, 'the published tree keeps serving');
    }
    await h.close();

    // A process killed mid-fetch leaves its temp files too: the next start removes them.
    writeFileSync(join(root, '.git', 'objects', 'pack', 'tmp_pack_killed'), Buffer.alloc(2 << 20, 1));
    mkdirSync(join(root, '.git', 'objects', 'ab'), { recursive: true });
    writeFileSync(join(root, '.git', 'objects', 'ab', 'tmp_obj_killed'), Buffer.alloc(1 << 20, 1));
    const c3 = repo.commit({ 'big.bin': null, 'index.html': 'v3\n' });
    h = await start({ repo: repo.url, root, link: 'link', periodMs: 3_600_000, maxFailures: -1, log });
    try {
      await waitHash(h, c3, 30_000);
      assert.deepEqual(tempObjects(root), []);
      assert.equal(h.status().consecutiveFailures, 0);
    } finally {
      await h.close();
    }
  } finally {
    execFileSync('umount', [vol]);
  }
});
