import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { git, makeRepo, stopAll, tempDir } from './helpers/index.js';
import { start } from '../src/git-sync/index.js';
import { captureLogger, waitHash } from './fixtures/git-sync/util.js';

after(stopAll);

test('--sparse-checkout-file publishes only the matching paths', async () => {
  const repo = makeRepo({ 'site/index.html': 'site\n', 'docs/big.txt': 'not wanted\n', 'README.md': 'r\n' });
  const dir = tempDir('gs-sparse-');
  writeFileSync(join(dir, 'sparse'), '/site/\n');
  const root = join(dir, 'root');
  const h = await start({ repo: repo.url, root, link: 'l', sparseCheckoutFile: join(dir, 'sparse'), periodMs: 3_600_000, log: captureLogger().log });
  try {
    await waitHash(h, repo.head());
    assert.equal(readFileSync(join(root, 'l', 'site', 'index.html'), 'utf8'), 'site\n');
    assert.equal(existsSync(join(root, 'l', 'docs')), false);
    assert.equal(existsSync(join(root, 'l', 'README.md')), false);
    const c2 = repo.commit({ 'site/index.html': 'site v2\n', 'docs/big.txt': 'still not wanted\n' });
    h.trigger();
    await waitHash(h, c2);
    assert.equal(readFileSync(join(root, 'l', 'site', 'index.html'), 'utf8'), 'site v2\n');
    assert.equal(existsSync(join(root, 'l', 'docs')), false);
  } finally {
    await h.close();
  }
});

test('submodules are checked out (recursive by default, off when asked); --git-config reaches git', async () => {
  const sub = makeRepo({ 'lib.txt': 'library\n' });
  const repo = makeRepo({ 'index.html': 'main\n' });
  // git ≥ 2.38 refuses file:// submodules unless protocol.file.allow=always: --git-config must carry it.
  git(repo.work, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', sub.url, 'vendor/lib');
  git(repo.work, 'commit', '-q', '-m', 'add submodule');
  git(repo.work, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
  const root = tempDir('gs-sub-');
  const h = await start({ repo: repo.url, root, link: 'l', gitConfig: [['protocol.file.allow', 'always']], periodMs: 3_600_000, log: captureLogger().log });
  try {
    await waitHash(h, repo.head());
    assert.equal(readFileSync(join(root, 'l', 'vendor', 'lib', 'lib.txt'), 'utf8'), 'library\n');
  } finally {
    await h.close();
  }
  const root2 = tempDir('gs-sub-');
  const h2 = await start({ repo: repo.url, root: root2, link: 'l', submodules: 'off', periodMs: 3_600_000, log: captureLogger().log });
  try {
    await waitHash(h2, repo.head());
    assert.equal(existsSync(join(root2, 'l', 'vendor', 'lib', 'lib.txt')), false);
    assert.equal(readFileSync(join(root2, 'l', 'index.html'), 'utf8'), 'main\n');
  } finally {
    await h2.close();
  }
});
