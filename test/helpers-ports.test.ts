import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { freePorts, testPortRange } from './helpers/ports.js';
import { tempDir } from './helpers/index.js';

test('testPortRange: the 10,000 ports below the ephemeral range; none when that range starts too low', () => {
  const dir = tempDir('podkit-ports-');
  const f = join(dir, 'range');
  writeFileSync(f, '32768\t60999\n');
  assert.deepEqual(testPortRange(f), [22768, 32767]);
  writeFileSync(f, '1500 65535\n');
  assert.equal(testPortRange(f), null, 'no room below: freePort falls back to the kernel');
  assert.deepEqual(testPortRange(join(dir, 'missing')), [22768, 32767], 'unreadable: the usual default');
});

test('freePort: distinct ports outside the ephemeral range, each one a server can bind', async () => {
  const range = testPortRange();
  const ports = await freePorts(40);
  assert.equal(new Set(ports).size, ports.length);
  for (const p of ports) {
    if (range) assert.ok(p >= range[0] && p <= range[1], `${p} in ${range}`);
    const srv = createServer().listen(p, '127.0.0.1');
    await once(srv, 'listening');
    await new Promise((r) => srv.close(r));
  }
});
