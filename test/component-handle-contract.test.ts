/** @module One handle contract for every component's start() (and the webhook's): address = data plane, httpAddress = HTTP, reload() → ReloadResult, close(). */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { request } from 'node:https';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { ComponentHandle } from '../src/core/lifecycle.js';
import { start as startAmbassador } from '../src/redis-ambassador/index.js';
import { start as startAdapter } from '../src/metrics-adapter/index.js';
import { start as startGitSync } from '../src/git-sync/index.js';
import { startWebhook } from '../src/inject/server.js';
import { loadManifests, parseManifests, start as startPods } from '../src/pod/index.js';
import { closeRedisClients, downAllPods, issueCert, makeCA, makeRepo, podStateDir, pollUntil, startRedis, stopAll, tempDir } from './helpers/index.js';

after(async () => {
  closeRedisClients();
  await downAllPods();
  await stopAll();
});

const ANY = { host: '127.0.0.1', port: 0 };

interface Case {
  name: string;
  start(): Promise<ComponentHandle>;
  /** Proves `address` is the data plane by using it as a client of the component would. */
  dataPlane?(h: ComponentHandle): Promise<void>;
  /** The data plane is a route of the HTTP server itself (the webhook's POST /mutate), so both addresses are one. */
  sameServer?: boolean;
  /** What close() must also have ended, beyond the servers (the pod runner: its pods). */
  closed?(h: ComponentHandle): Promise<void>;
  /** Status of GET `path` on the HTTP server; plain http unless the component serves HTTPS only. */
  get?(port: number, path: string): Promise<number>;
}

/** One HTTPS request trusting `ca`; resolves with the status and body. */
function httpsRequest(port: number, ca: string, method: string, path: string, body = ''): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, ca, servername: 'localhost', headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

let webhookCA = '';
let podRoot = '';
const POD_REVIEW = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid: 'contract-1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'default', name: 'p', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'app', image: 'app:1' }] } } },
});

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
  {
    // The runner of `podkit up`: its pods publish their own hostPorts, its HTTP server is the status page.
    name: 'pod',
    start() {
      podRoot = podStateDir();
      const yaml = 'apiVersion: v1\nkind: Pod\nmetadata: {name: contract}\nspec:\n  terminationGracePeriodSeconds: 5\n  containers: [{name: app, image: busybox, command: [sleep, "600"]}]\n';
      const loaded = loadManifests(parseManifests(yaml, 'contract.yaml').objects, { local: true });
      assert.deepEqual(loaded.issues, []);
      return startPods({ loaded, root: podRoot, sandbox: 'host', statusBind: ANY, maxBackoffMs: 1000, color: false, out: () => undefined, err: () => undefined });
    },
    async closed(h) {
      assert.equal(await (h as Awaited<ReturnType<typeof startPods>>).done, 0, 'a pod stopped by close() counts as stopped, not failed');
      assert.deepEqual(readdirSync(join(podRoot, 'pods')), [], 'close() stopped the pod and removed its folder');
    },
  },
  {
    name: 'webhook',
    async start() {
      const ca = await makeCA('contract-ca');
      webhookCA = ca.cert;
      const cert = await issueCert(ca);
      return startWebhook({ certFile: cert.certFile, keyFile: cert.keyFile, bind: ANY, reloadIntervalMs: 0, review: { image: 'ghcr.io/podkit/podkit:test', sidecarMode: 'native', version: 'test' } });
    },
    sameServer: true,
    async dataPlane(h) {
      const r = await httpsRequest(h.address!.port, webhookCA, 'POST', '/mutate', POD_REVIEW);
      assert.equal(r.status, 200, r.body);
      assert.equal((JSON.parse(r.body) as { response: { uid: string; allowed: boolean } }).response.uid, 'contract-1');
    },
    get: async (port, path) => (await httpsRequest(port, webhookCA, 'GET', path)).status,
  },
];

const plainGet = async (port: number, path: string) => (await fetch(`http://127.0.0.1:${port}${path}`)).status;

for (const c of cases) {
  test(`${c.name}: the handle follows the one contract`, { timeout: 60_000 }, async () => {
    const h = await c.start();
    const get = c.get ?? plainGet;
    let closed = false;
    try {
      assert.equal(typeof h.close, 'function');
      assert.ok(h.httpAddress && h.httpAddress.port > 0, 'httpAddress is the HTTP address actually bound');
      assert.equal(await get(h.httpAddress.port, '/healthz'), 200, 'httpAddress serves /healthz');
      if (c.dataPlane) {
        assert.ok(h.address && h.address.port > 0, 'address is the data plane address actually bound');
        if (c.sameServer) assert.deepEqual(h.address, h.httpAddress, 'a data plane served by the HTTP server gives that one address');
        else assert.notEqual(h.address.port, h.httpAddress.port, 'address is the data plane, not the HTTP one');
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
      await c.closed?.(h);
      await assert.rejects(get(h.httpAddress.port, '/healthz'), 'close() stops the HTTP server');
    } finally {
      if (!closed) await h.close();
    }
  });
}
