import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CHANNELS, onChannel, podkitChannel } from './diagnostics.js';

const SRC = new URL('..', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return sources(p);
    return n.endsWith('.ts') && !n.endsWith('.test.ts') ? [p] : [];
  });
}

test('diagnostics: every channel in the table has a publisher and a subscriber outside core', () => {
  const texts = sources(SRC)
    .filter((p) => !p.includes('/core/'))
    .map((p) => readFileSync(p, 'utf8'));
  for (const key of Object.keys(CHANNELS)) {
    assert.ok(texts.some((t) => t.includes(`podkitChannel(CHANNELS.${key})`)), `${key}: nothing publishes on it`);
    assert.ok(texts.some((t) => t.includes(`onChannel(CHANNELS.${key},`)), `${key}: nothing subscribes to it`);
  }
  // Channels are named here only: no component creates one from a bare string.
  for (const p of sources(SRC).filter((x) => !x.endsWith('core/diagnostics.ts'))) assert.doesNotMatch(readFileSync(p, 'utf8'), /\bchannel\(['"]/, p);
});

test('diagnostics: onChannel delivers until its unsubscribe is called', () => {
  const seen: unknown[] = [];
  const off = onChannel(CHANNELS.podEvent, (m) => seen.push(m));
  podkitChannel(CHANNELS.podEvent).publish({ pod: 'a', event: 'start' });
  off();
  podkitChannel(CHANNELS.podEvent).publish({ pod: 'b', event: 'start' });
  assert.deepEqual(seen, [{ pod: 'a', event: 'start' }]);
});
