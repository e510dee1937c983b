import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runStatus } from './helpers/index.js';

const script = new URL('../scripts/setup.sh', import.meta.url).pathname;
const asRoot = process.getuid?.() === 0;

test('setup --check passes when every Debian package the tests need is present', async () => {
  const r = await runStatus('bash', [script, '--check']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /all Debian packages present/);
});

test('setup names what is missing and how to install it (no sudo when root), and installs nothing in --check mode', async () => {
  const r = await runStatus('bash', [script, '--check'], { env: { ...process.env, PODKIT_SETUP_EXTRA: 'podkit-imaginary-pkg=/nonexistent/podkit-imaginary' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /missing Debian packages: podkit-imaginary-pkg/);
  if (asRoot) assert.match(r.stderr, /install them with: apt-get install podkit-imaginary-pkg\n/);
  else assert.match(r.stderr, /apt-get install podkit-imaginary-pkg/);
});

test('setup --demo wants only what the demo runs: none of the tests-only servers and JDK', async () => {
  const all = (await runStatus('bash', [script, '--list'])).stdout.trim().split('\n');
  const demo = await runStatus('bash', [script, '--demo', '--list']);
  assert.equal(demo.code, 0, demo.stderr);
  const wanted = demo.stdout.trim().split('\n');
  for (const p of ['git', 'redis-server', 'redis-tools', 'nginx', 'iproute2', 'util-linux']) assert.ok(wanted.includes(p), `demo needs ${p}`);
  for (const p of ['openjdk-17-jdk-headless', 'libjolokia-core-java', 'prometheus', 'nutcracker', 'openssh-server', 'chromium']) assert.ok(!wanted.includes(p), `demo does not need ${p}`);
  for (const p of wanted) assert.ok(all.includes(p), `${p} is in the full list too`);
  assert.ok(wanted.length < all.length);
});

test('setup rejects an unknown argument with exit 2', async () => {
  const r = await runStatus('bash', [script, '--bogus']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown argument --bogus/);
});
