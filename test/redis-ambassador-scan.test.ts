/** @module SCAN/HSCAN/SSCAN/ZSCAN continuations stay on the node that issued the cursor (real master + 2 replicas). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { closeRedisClients, pollUntil, startRedis, startTopology, stopAll, type RedisNode, type Topology } from './helpers/index.js';
import { start, type Handle, type Options } from '../src/redis-ambassador/index.js';
import { StaticTopology } from '../src/redis-ambassador/topology/index.js';

const N = 1000;
let topo: Topology;
const handles: Handle[] = [];
const clients: Redis[] = [];

after(async () => {
  for (const c of clients) c.disconnect();
  for (const h of handles) await h.close();
  closeRedisClients();
  await stopAll();
});

const hp = (n: RedisNode) => ({ host: '127.0.0.1', port: n.port });

before(async () => {
  topo = await startTopology({ replicas: 2 });
  const m = topo.master.client();
  const fields: string[] = [];
  for (let i = 0; i < N; i++) fields.push(`f${i}`, `v${i}`);
  await m.hset('scan:h', ...fields);
  await m.sadd('scan:s', ...Array.from({ length: N }, (_, i) => `m${i}`));
  await m.zadd('scan:z', ...Array.from({ length: N }, (_, i) => [String(i), `z${i}`]).flat());
  const p = m.pipeline();
  for (let i = 0; i < N; i++) p.set(`scan:k:${i}`, '1');
  await p.exec();
  // Every replica has everything before any scan starts (a scan only promises what was there throughout).
  assert.equal(await m.wait(2, 10_000), 2);
});

async function ambassador(o: Partial<Options>): Promise<{ h: Handle; c: Redis }> {
  const h = await start({ listen: { host: '127.0.0.1', port: 0 }, httpBind: null, ...o });
  handles.push(h);
  await pollUntil(() => h.ready().ready, { timeoutMs: 10_000, what: 'ambassador ready' });
  const c = new Redis({ port: h.address.port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => {});
  clients.push(c);
  return { h, c };
}

type Kind = 'scan' | 'hscan' | 'sscan' | 'zscan';

/** One call with COUNT 10: [next cursor, members] (HSCAN and ZSCAN pairs reduced to their members). */
async function call(c: Redis, kind: Kind, cursor: string): Promise<[string, string[]]> {
  const r =
    kind === 'scan'
      ? await c.scan(cursor, 'MATCH', 'scan:k:*', 'COUNT', 10)
      : kind === 'hscan'
        ? await c.hscan('scan:h', cursor, 'COUNT', 10)
        : kind === 'sscan'
          ? await c.sscan('scan:s', cursor, 'COUNT', 10)
          : await c.zscan('scan:z', cursor, 'COUNT', 10);
  const step = kind === 'hscan' || kind === 'zscan' ? 2 : 1;
  return [r[0], r[1].filter((_, i) => i % step === 0)];
}

/**
 * Run a whole scan through `c` (from `first`, a first page already fetched, if given); `between` runs after every
 * call (e.g. a write by the same client). Returns the distinct members seen and the number of calls.
 */
async function fullScan(c: Redis, kind: Kind, between?: (i: number) => Promise<unknown>, first?: [string, string[]]): Promise<{ seen: Set<string>; calls: number }> {
  const seen = new Set<string>();
  let page = first ?? (await call(c, kind, '0'));
  let calls = 1;
  for (;;) {
    for (const m of page[1]) seen.add(m);
    if (between) await between(calls);
    if (page[0] === '0' || calls >= 10_000) return { seen, calls };
    page = await call(c, kind, page[0]);
    calls++;
  }
}

/**
 * A first page served by a replica: each node hashes with its own random seed, so a replica's first page holds other
 * members than the master's. (Under session consistency a fresh client's reads go to the master for a moment: ioredis's
 * INFO ready check counts as a write.)
 */
async function firstPageOnReplica(c: Redis, kind: Kind): Promise<[string, string[]]> {
  const onMaster = new Set((await call(topo.master.client(), kind, '0'))[1]);
  let page: [string, string[]] = ['0', []];
  await pollUntil(
    async () => {
      page = await call(c, kind, '0');
      return page[1].some((m) => !onMaster.has(m));
    },
    { timeoutMs: 10_000, what: `a ${kind} started on a replica` },
  );
  return page;
}

const modes: [string, () => Partial<Options>][] = [
  ['static lists, eventual', () => ({ master: hp(topo.master), replicas: topo.replicas.map(hp) })],
  ['static lists, session', () => ({ master: hp(topo.master), replicas: topo.replicas.map(hp), consistency: 'session' })],
  ['probed topology, session', () => ({ topology: new StaticTopology(hp(topo.master), topo.replicas.map(hp)), consistency: 'session' })],
];

for (const [name, opts] of modes) {
  describe(`SCAN family through the ambassador (${name})`, () => {
    for (const kind of ['hscan', 'scan', 'sscan', 'zscan'] as const) {
      test(`${kind.toUpperCase()} COUNT 10 over ${N} returns all ${N}, also while the same client writes between continuations`, { timeout: 60_000 }, async () => {
        const { h, c } = await ambassador(opts());
        if (name.includes('topology')) await pollUntil(() => h.live().replicas.length === 2, { timeoutMs: 10_000, what: 'both replicas in rotation' });
        const plain = await fullScan(c, kind);
        assert.equal(plain.seen.size, N, `${kind}: ${plain.seen.size} of ${N} in ${plain.calls} calls`);
        assert.ok(plain.calls > 10, `${kind} took ${plain.calls} calls (the value must be large enough to need continuations)`);
        // Started on a replica, with a write between continuations: under session consistency a read after a write
        // goes to the master, but a continuation must not.
        const writing = await fullScan(c, kind, (i) => c.set(`scan:w:${kind}`, String(i)), await firstPageOnReplica(c, kind));
        assert.equal(writing.seen.size, N, `${kind} with writes: ${writing.seen.size} of ${N} in ${writing.calls} calls`);
        const errs = (await h.metrics.collect()).find((f) => f.name.startsWith('podkit_ambassador_errors'))?.metrics ?? [];
        assert.deepEqual(errs.filter((m) => m.labels.kind === 'scan_node_lost'), []);
      });
    }
  });
}

test('a continuation whose node died gets a clear -ERR (counted), never a partial scan', { timeout: 60_000 }, async () => {
  const extra = await startRedis({ replicaOf: hp(topo.master) });
  const m = topo.master.client();
  await pollUntil(async () => (await m.wait(3, 1000)) === 3, { timeoutMs: 15_000, what: 'the extra replica has the data' });
  // Only the extra replica serves reads, so the scan starts there.
  const { h, c } = await ambassador({ master: hp(topo.master), replicas: [hp(extra)], readPolicy: 'replica' });
  const [cursor, items] = await c.hscan('scan:h', '0', 'COUNT', 10);
  assert.notEqual(cursor, '0');
  assert.ok(items.length > 0);
  await extra.proc.signal('SIGKILL');
  await extra.proc.exited;
  // Until the ambassador notices, the continuation may meet the lost connection; either way it is an error, never data.
  let last: unknown = null;
  await pollUntil(
    async () => {
      last = await c.hscan('scan:h', cursor, 'COUNT', 10).then(
        (r) => assert.fail(`a continuation on a dead node returned data: ${JSON.stringify(r).slice(0, 80)}`),
        (e: Error) => e,
      );
      return /HSCAN cursor \d+ was issued by replica:127\.0\.0\.1:\d+, which is no longer available/.test((last as Error).message);
    },
    { timeoutMs: 10_000, what: 'the lost-cursor error' },
  );
  const errs = (await h.metrics.collect()).find((f) => f.name.startsWith('podkit_ambassador_errors'))?.metrics ?? [];
  assert.ok((errs.find((x) => x.labels.kind === 'scan_node_lost')?.value ?? 0) >= 1, JSON.stringify(errs));
  // A fresh scan (cursor 0) is routed as usual: with no replica left under --read-policy replica, a clear error too.
  await assert.rejects(c.hscan('scan:h', '0'), /replica/);
});
