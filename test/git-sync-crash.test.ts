import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { git, makeRepo, runPodkit, startPodkit, stopAll, tempDir, waitForOutput } from './helpers/index.js';
import { linkHash, treeDiff } from './fixtures/git-sync/util.js';
import { versionedHistory } from './fixtures/git-sync/history.js';

after(stopAll);

// The issue asks for 200 kill points; the suite runs 30 to stay fast. PODKIT_GS_KILLS=200 runs the full figure.
const KILLS = Number(process.env.PODKIT_GS_KILLS ?? 30);

function locks(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && e.name !== 'objects') out.push(...locks(p));
    else if (e.name.endsWith('.lock')) out.push(p);
  }
  return out;
}

test(`kill -9 at ${KILLS} random moments always leaves the link on a complete tree, and the next start recovers`, async () => {
  const repo = makeRepo({ 'README.md': 'x\n' });
  const hashes = versionedHistory(repo.bare, 'all', 400, 30, 150);
  let next = 0;
  git(repo.bare, 'update-ref', 'refs/heads/main', hashes[next++]);
  const root = tempDir('gs-crash-');
  const link = join(root, 'site');
  let published = 0;
  const seen = new Set<string>();
  let lastErr = '';
  for (let k = 0; k < KILLS; k++) {
    const p = startPodkit(['git-sync', `--repo=${repo.url}`, `--root=${root}`, '--link=site', '--ref=main', '--period=20ms', '--stale-worktree-timeout=0s', '--max-failures=-1'], {
      env: { ...process.env, PODKIT_LOG_FORMAT: 'json' },
    });
    // Move the branch while it runs, so kills land in fetches, builds, publishes and removals.
    const mover = setInterval(() => {
      if (next < hashes.length) git(repo.bare, 'update-ref', 'refs/heads/main', hashes[next++]);
    }, 40);
    // Random moments after node has started (its start-up is not what we are testing).
    await waitForOutput(p, /"msg":"starting"/, 20_000);
    // Every third run is killed only after a publish, so the link moves however slow the machine is; the others are
    // killed wherever the moment falls (often mid-fetch under load).
    if (k % 3 === 0 && next < hashes.length) await waitForOutput(p, /"msg":"updated successfully"/, 20_000);
    await new Promise((r) => setTimeout(r, Math.random() * 700));
    clearInterval(mover);
    try {
      process.kill(-p.pid, 'SIGKILL'); // the whole group: podkit and any git child mid-write
    } catch {
      p.signal('SIGKILL');
    }
    await p.exited;
    lastErr = p.stderr().split('\n').filter((l) => /"level":"(error|warn)"/.test(l)).slice(-3).join('\n');
    if (!existsSync(link)) continue;
    const h = linkHash(link);
    seen.add(h);
    published++;
    assert.ok(hashes.includes(h), `link points at a known commit (${h})`);
    assert.equal(treeDiff(link, repo.bare, h), '', `after kill ${k}: the published tree matches git ls-tree ${h}`);
  }
  assert.ok(published > 0 && seen.size >= 2, `the link moved during the run (${seen.size} distinct trees); last errors: ${lastErr}`);

  // The next start recovers: it syncs to the branch head, leaving no locks and no half-made trees.
  const r = await runPodkit(['git-sync', `--repo=${repo.url}`, `--root=${root}`, '--link=site', '--ref=main', '--one-time', '--stale-worktree-timeout=0s']);
  assert.equal(r.code, 0, r.stderr);
  const head = repo.head('main');
  assert.equal(linkHash(link), head);
  assert.equal(treeDiff(link, repo.bare, head), '');
  assert.deepEqual(locks(join(root, '.git')), []);
  for (const name of readdirSync(join(root, '.worktrees'))) {
    const gitFile = readFileSync(join(root, '.worktrees', name, '.git'), 'utf8');
    const admin = join(root, '.worktrees', name, gitFile.replace(/^gitdir: /, '').trim());
    assert.ok(existsSync(join(admin, 'podkit-complete')), `${name} is a complete tree`);
  }
  assert.equal(git(link, 'status', '--porcelain'), '');
});
