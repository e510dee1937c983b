import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { safeEqual, verifyTrigger } from './trigger.js';

const body = Buffer.from('{"ref":"refs/heads/main"}');
const secret = 's3cret-value';
const hex = createHmac('sha256', secret).update(body).digest('hex');

test('GitHub X-Hub-Signature-256 verifies; a forged one does not', () => {
  assert.deepEqual(verifyTrigger({ 'x-hub-signature-256': `sha256=${hex}` }, body, secret), { ok: true, provider: 'github' });
  assert.equal(verifyTrigger({ 'x-hub-signature-256': `sha256=${hex.replace(/^./, hex[0] === 'a' ? 'b' : 'a')}` }, body, secret).ok, false);
  assert.equal(verifyTrigger({ 'x-hub-signature-256': `sha256=${hex}` }, Buffer.from('tampered'), secret).ok, false);
  assert.equal(verifyTrigger({ 'x-hub-signature-256': hex }, body, secret).ok, false);
});

test('Gitea, GitLab and generic headers', () => {
  assert.equal(verifyTrigger({ 'x-gitea-signature': hex }, body, secret).provider, 'gitea');
  assert.equal(verifyTrigger({ 'x-gitea-signature': hex }, body, secret).ok, true);
  assert.equal(verifyTrigger({ 'x-gogs-signature': hex }, body, secret).ok, true);
  assert.equal(verifyTrigger({ 'x-gitea-signature': '0'.repeat(64) }, body, secret).ok, false);
  assert.equal(verifyTrigger({ 'x-gitlab-token': secret }, body, secret).ok, true);
  assert.equal(verifyTrigger({ 'x-gitlab-token': 'wrong' }, body, secret).ok, false);
  assert.equal(verifyTrigger({ 'x-podkit-signature-256': `sha256=${hex}` }, body, secret).ok, true);
  assert.equal(verifyTrigger({ 'x-podkit-signature-256': hex }, body, secret).ok, true);
  assert.equal(verifyTrigger({ 'x-podkit-signature-256': 'sha256=00' }, body, secret).ok, false);
});

test('no signature or no secret is refused', () => {
  assert.deepEqual(verifyTrigger({}, body, secret), { ok: false, reason: 'no signature header' });
  assert.equal(verifyTrigger({ 'x-gitlab-token': '' }, body, '').ok, false);
});

test('safeEqual', () => {
  assert.equal(safeEqual('abc', 'abc'), true);
  assert.equal(safeEqual('abc', 'abd'), false);
  assert.equal(safeEqual('abc', 'abcd'), false);
});
