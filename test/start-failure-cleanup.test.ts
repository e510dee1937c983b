/**
 * @module A start() that cannot bind leaves nothing behind: every component, every listening address. In-process the
 * call rejects with the catalogue's BindError and the process holds no more sockets, timers or children than before;
 * from the command line the process prints one line and exits with BindError's exit code instead of running on.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BindError } from '../src/core/errors.js';
import type { HostPort } from '../src/core/parse.js';
import { start as startAmbassador } from '../src/redis-ambassador/index.js';
import { start as startAdapter } from '../src/metrics-adapter/index.js';
import { start as startGitSync } from '../src/git-sync/index.js';
import { loadManifests, parseManifests, start as startPods } from '../src/pod/index.js';
import { closeRedisClients, makeRepo, podStateDir, pollUntil, runPodkit, startRedis, stopAll, tempDir } from './helpers/index.js';

after(async () => {
  closeRedisClients();
  await stopAll();
});

const ANY: HostPort = { host: '127.0.0.1', port: 0 };
const FIX = new URL('./fixtures/pod/', import.meta.url).pathname;

/** A TCP port something else holds. */
async function busyTcp(): Promise<{ port: number; close(): Promise<void> }> {
  const s: Server = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return { port: (s.address() as { port: number }).port, close: () => new Promise((r) => s.close(() => r())) };
}

/** A UDP port something else holds. */
async function busyUdp(): Promise<{ port: number; close(): void }> {
  const s: Socket = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { port: s.address().port, close: () => s.close() };
}

const count = () => {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
};
const more = (now: Map<string, number>, before: Map<string, number>) => [...now].filter(([k, n]) => n > (before.get(k) ?? 0)).map(([k, n]) => `${k}×${n - (before.get(k) ?? 0)}`);

/** `run` must reject with a BindError naming the port; afterwards no resource type is held more than before it. */
async function failsClean(port: number, run: () => Promise<{ close(): Promise<void> }>): Promise<void> {
  const before = count();
  let handle: { close(): Promise<void> } | undefined;
  await assert.rejects(
    (async () => {
      handle = await run();
    })(),
    (e: unknown) => e instanceof BindError && e.errno === 'EADDRINUSE' && new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use by another process \\(choose another with --`).test(e.message),
  );
  await handle?.close();
  let left: string[] = [];
  await pollUntil(
    () => {
      left = more(count(), before);
      return left.length === 0;
    },
    { what: 'start() to leave nothing behind', timeoutMs: 10_000 },
  ).catch(() => assert.fail(`left behind: ${left.join(', ')}`));
}

test('redis-ambassador: a busy --listen or --http-bind rejects with BindError and leaves nothing open', { timeout: 60_000 }, async () => {
  const master = await startRedis();
  const busy = await busyTcp();
  try {
    const m = { host: '127.0.0.1', port: master.port };
    await failsClean(busy.port, () => startAmbassador({ listen: { host: '127.0.0.1', port: busy.port }, master: m, httpBind: ANY }));
    await failsClean(busy.port, () => startAmbassador({ listen: ANY, master: m, httpBind: { host: '127.0.0.1', port: busy.port } }));
  } finally {
    await busy.close();
  }
});

test('metrics-adapter: a busy StatsD UDP, StatsD TCP or HTTP address rejects with BindError and leaves nothing open', { timeout: 60_000 }, async () => {
  const tcp = await busyTcp();
  const udp = await busyUdp();
  try {
    const statsd = (u: string, t: string) => ({ statsd: { listen_udp: u, listen_tcp: t } });
    await failsClean(udp.port, () => startAdapter({ doc: statsd(`127.0.0.1:${udp.port}`, ''), httpBind: ANY }));
    await failsClean(tcp.port, () => startAdapter({ doc: statsd('', `127.0.0.1:${tcp.port}`), httpBind: ANY }));
    await failsClean(tcp.port, () => startAdapter({ doc: statsd('127.0.0.1:0', '127.0.0.1:0'), httpBind: { host: '127.0.0.1', port: tcp.port } }));
  } finally {
    await tcp.close();
    udp.close();
  }
});

test('git-sync: a busy --http-bind rejects with BindError and leaves nothing open (no sync started)', { timeout: 60_000 }, async () => {
  const busy = await busyTcp();
  try {
    const repo = makeRepo();
    await failsClean(busy.port, () => startGitSync({ repo: repo.url, root: join(tempDir('gs-busy-'), 'root'), periodMs: 3_600_000, httpBind: { host: '127.0.0.1', port: busy.port } }));
  } finally {
    await busy.close();
  }
});

test('pod: a busy statusBind rejects with BindError, leaves nothing open and no pod behind (none started)', { timeout: 60_000 }, async () => {
  const busy = await busyTcp();
  try {
    const root = podStateDir();
    const yaml = 'apiVersion: v1\nkind: Pod\nmetadata: {name: busy}\nspec:\n  containers: [{name: app, image: busybox, command: [sleep, "600"]}]\n';
    const loaded = loadManifests(parseManifests(yaml, 'busy.yaml').objects, { local: true });
    await failsClean(busy.port, () => startPods({ loaded, root, sandbox: 'host', statusBind: { host: '127.0.0.1', port: busy.port }, maxBackoffMs: 1000, color: false, out: () => undefined, err: () => undefined }));
    assert.deepEqual(readdirSync(join(root, 'pods')), [], 'no pod folder');
    assert.equal(process.listenerCount('SIGUSR2'), 0, 'no signal listener left');
  } finally {
    await busy.close();
  }
});

test('every CLI with a busy port prints one line naming the address and exits 1 (BindError) instead of running on', { timeout: 120_000 }, async () => {
  const master = await startRedis();
  const tcp = await busyTcp();
  const udp = await busyUdp();
  const at = (p: number) => `127.0.0.1:${p}`;
  const cases: [string, string[], number][] = [
    ['redis-ambassador --listen', ['redis-ambassador', '--master', at(master.port), '--listen', at(tcp.port), '--http-bind', at(0)], tcp.port],
    ['redis-ambassador --http-bind', ['redis-ambassador', '--master', at(master.port), '--listen', at(0), '--http-bind', at(tcp.port)], tcp.port],
    ['metrics-adapter --statsd.listen-udp', ['metrics-adapter', '--statsd.listen-udp', at(udp.port), '--statsd.listen-tcp', '', '--http-bind', at(0)], udp.port],
    ['metrics-adapter --statsd.listen-tcp', ['metrics-adapter', '--statsd.listen-udp', '', '--statsd.listen-tcp', at(tcp.port), '--http-bind', at(0)], tcp.port],
    ['metrics-adapter --http-bind', ['metrics-adapter', '--statsd.listen-udp', at(0), '--statsd.listen-tcp', at(0), '--http-bind', at(tcp.port)], tcp.port],
    ['git-sync --http-bind', ['git-sync', '--repo', makeRepo().url, '--root', join(tempDir('gs-busy-cli-'), 'root'), '--http-bind', at(tcp.port)], tcp.port],
    ['up --status-bind', ['up', '--state-dir', podStateDir(), '--status-bind', at(tcp.port), join(FIX, 'web.yaml')], tcp.port],
  ];
  try {
    for (const [what, args, port] of cases) {
      const r = await runPodkit(args, { timeoutMs: 30_000 });
      assert.equal(r.code, 1, `${what}: exit code\n${r.stderr}`);
      assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use by another process`), what);
    }
  } finally {
    await tcp.close();
    udp.close();
  }
});
