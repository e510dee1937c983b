import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runStatus } from './helpers/index.js';

const script = new URL('../scripts/setup.sh', import.meta.url).pathname;

test('setup --check passes when every Debian package the tests need is present', async () => {
  const r = await runStatus('bash', [script, '--check']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /all Debian packages present/);
});

test('setup names what is missing and how to install it, and installs nothing in --check mode', async () => {
  const r = await runStatus('bash', [script, '--check'], { env: { ...process.env, PODKIT_SETUP_EXTRA: 'podkit-imaginary-pkg=/nonexistent/podkit-imaginary' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /missing Debian packages: podkit-imaginary-pkg/);
  assert.match(r.stderr, /sudo apt-get install podkit-imaginary-pkg/);
});
