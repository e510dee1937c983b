/** @module One handle contract for every component's start(): address = data plane, httpAddress = HTTP, reload() → ReloadResult, close(). */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { ComponentHandle } from '../src/core/lifecycle.js';
import { start as startAmbassador } from '../src/redis-ambassador/index.js';
import { start as startAdapter } from '../src/metrics-adapter/index.js';
import { start as startGitSync } from '../src/git-sync/index.js';
import { closeRedisClients, makeRepo, pollUntil, startRedis, stopAll, tempDir } from './helpers/index.js';

after(async () => {
  closeRedisClients();
  await stopAll();
});

const ANY = { host: '127.0.0.1', port: 0 };

interface Case {
  name: string;
  start(): Promise<ComponentHandle>;
  /** Proves `address` is the data plane by using it as a client of the component would. */
  dataPlane?(h: ComponentHandle): Promise<void>;
}

const cases: Case[] = [
  {
    name: 'redis-ambassador',
    async start() {
      const master = await startRedis();
      return startAmbassador({ listen: ANY, master: { host: '127.0.0.1', port: master.port }, httpBind: ANY, reloadSource: () => ({}) });
    },
    async dataPlane(h) {
      const c = new Redis({ port: h.address!.port, host: '127.0.0.1', lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0 });
      try {
        await c.connect();
        assert.equal(await c.ping(), 'PONG');
      } finally {
        c.disconnect();
      }
    },
  },
  {
    name: 'metrics-adapter',
    start: () => startAdapter({ doc: { statsd: { listen_udp: '127.0.0.1:0', listen_tcp: '' } }, httpBind: ANY }),
    async dataPlane(h) {
      const s = createSocket('udp4');
      try {
        await new Promise<void>((r) => s.send('contract_hits:1|c', h.address!.port, '127.0.0.1', () => r()));
        await pollUntil(async () => /contract_hits(_total)? 1/.test(await (await fetch(`http://127.0.0.1:${h.httpAddress!.port}/metrics`)).text()), { what: 'the StatsD line on /metrics', timeoutMs: 10_000 });
      } finally {
        s.close();
      }
    },
  },
  {
    name: 'git-sync',
    start: () => startGitSync({ repo: makeRepo().url, root: join(tempDir('contract-'), 'root'), periodMs: 3_600_000, httpBind: ANY }),
  },
];

for (const c of cases) {
  test(`${c.name}: the handle follows the one contract`, { timeout: 60_000 }, async () => {
    const h = await c.start();
    let closed = false;
    try {
      assert.equal(typeof h.close, 'function');
      assert.ok(h.httpAddress && h.httpAddress.port > 0, 'httpAddress is the HTTP address actually bound');
      assert.equal((await fetch(`http://127.0.0.1:${h.httpAddress.port}/healthz`)).status, 200, 'httpAddress serves /healthz');
      if (c.dataPlane) {
        assert.ok(h.address && h.address.port > 0 && h.address.port !== h.httpAddress.port, 'address is the data plane, not the HTTP one');
        await c.dataPlane(h);
      } else assert.equal(h.address, null, 'a component without a data plane says so');
      if (h.reload) {
        const r = await h.reload();
        assert.equal(typeof r.ok, 'boolean');
        assert.ok(Array.isArray(r.changed));
        assert.ok(r.ok || typeof r.error === 'string', 'a failed reload says why');
      }
      await h.close();
      closed = true;
      await assert.rejects(fetch(`http://127.0.0.1:${h.httpAddress.port}/healthz`), 'close() stops the HTTP server');
    } finally {
      if (!closed) await h.close();
    }
  });
}
