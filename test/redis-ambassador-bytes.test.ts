/**
 * @module Byte-for-byte correctness: concurrent clients run the same scripted pipelines against Redis directly and
 * through the ambassador (--read-policy master); every reply must be identical. PODKIT_AMBASSADOR_FULL=1 runs the
 * issue's 10⁶ commands (20 × 50,000); the default is 20 × 2,500. A shorter run covers clients on net.Socket (the
 * path used where the conn_io addon does not load).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeRedisClients, rawClient, resp, startRedis, stopAll, type RedisNode } from './helpers/index.js';
import { start, type Handle } from '../src/redis-ambassador/index.js';
import type { ClientIo } from '../src/redis-ambassador/io/conn.js';

const CLIENTS = 20;
const PER_CLIENT = process.env.PODKIT_AMBASSADOR_FULL === '1' ? 50_000 : 2_500;

const ambs: Handle[] = [];

after(async () => {
  closeRedisClients();
  for (const a of ambs) await a.close();
  await stopAll();
});

/** A Redis to compare with, and an ambassador in front of another. */
async function rig(clientIo: ClientIo): Promise<{ direct: RedisNode; amb: Handle }> {
  const direct = await startRedis();
  const behind = await startRedis();
  const amb = await start({ listen: { host: '127.0.0.1', port: 0 }, master: { host: '127.0.0.1', port: behind.port }, readPolicy: 'master', httpBind: null, poolSize: 2, clientIo });
  ambs.push(amb);
  return { direct, amb };
}

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Batch {
  bytes: Buffer;
  replies: number;
  /** Write in pieces of this many bytes (1 = one byte per write). */
  chunk?: number;
}

/** A deterministic script for client `id`: pipelines of 1–128 commands of many kinds. */
function script(id: number, total: number): Batch[] {
  const r = prng(id * 7919 + 1);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const key = () => `c${id}:${pick(['a', 'b', 'c', 'd', 'e', 'l', 'h'])}`;
  const val = () => {
    const n = Math.floor(r() * 64);
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = r() < 0.1 ? pick([13, 10, 0, 36, 42]) : 97 + Math.floor(r() * 26);
    return b;
  };
  const batches: Batch[] = [];
  // Some clients speak RESP3 from the start.
  if (id % 4 === 1) batches.push({ bytes: resp('HELLO', '3'), replies: 1 });
  let done = 0;
  let big = 0;
  while (done < total) {
    const size = Math.min(total - done, 1 + Math.floor(r() * 128));
    const parts: Buffer[] = [];
    let replies = 0;
    const inline = r() < 0.1;
    for (let i = 0; i < size; i++) {
      const x = r();
      let cmd: Buffer;
      if (inline) cmd = Buffer.from(pick([`SET ${key()} v${i}\r\n`, `GET ${key()}\r\n`, `INCR c${id}:n\r\n`, `PING\r\n`, `LPUSH ${key()} x\r\n`]));
      else if (x < 0.2) cmd = resp('SET', key(), val());
      else if (x < 0.4) cmd = resp('GET', key());
      else if (x < 0.47) cmd = resp('INCR', `c${id}:n`);
      else if (x < 0.54) cmd = resp('LPUSH', `c${id}:l`, val());
      else if (x < 0.6) cmd = resp('LRANGE', `c${id}:l`, '0', '5');
      else if (x < 0.66) cmd = resp('HSET', `c${id}:h`, `f${Math.floor(r() * 5)}`, val());
      else if (x < 0.7) cmd = resp('HGETALL', `c${id}:h`);
      else if (x < 0.74) cmd = resp('MGET', key(), key(), `c${id}:n`);
      else if (x < 0.78) cmd = resp('NOSUCHCMD', 'x');
      else if (x < 0.82) cmd = resp('GET');
      else if (x < 0.86) cmd = resp('DEL', key());
      else if (x < 0.9) cmd = resp('EXISTS', key(), key());
      else if (x < 0.93) cmd = resp('ZADD', `c${id}:z`, String(Math.floor(r() * 100)), `m${Math.floor(r() * 9)}`);
      else if (x < 0.96) cmd = resp('ZRANGE', `c${id}:z`, '0', '-1', 'WITHSCORES');
      else if (x < 0.998 || big >= 2) cmd = resp('ECHO', val());
      else {
        big++;
        cmd = Buffer.concat([resp('SET', `c${id}:big`, Buffer.alloc(1024 * 1024, 65 + big)), resp('GET', `c${id}:big`)]);
        replies++;
      }
      parts.push(cmd);
      replies++;
    }
    const bytes = Buffer.concat(parts);
    // Client 0 and 1 send 1-byte TCP fragments for small batches; others sometimes split at random sizes.
    const chunk = id < 2 && bytes.length < 600 ? 1 : r() < 0.2 ? 1 + Math.floor(r() * 50) : undefined;
    batches.push({ bytes, replies, chunk });
    done += size;
  }
  return batches;
}

async function runClient(port: number, batches: Batch[]): Promise<Buffer[]> {
  const c = await rawClient(port);
  const out: Buffer[] = [];
  for (const b of batches) out.push(...(await c.send(b.bytes, b.replies, b.chunk)));
  c.close();
  return out;
}

for (const [clientIo, perClient] of [['native', PER_CLIENT], ['socket', 1000]] as const) {
  test(`${CLIENTS} concurrent clients × ${perClient} commands (connections on ${clientIo} I/O): every reply equals Redis's own, byte for byte`, { timeout: 900_000 }, async () => {
    const { direct, amb } = await rig(clientIo);
    const scripts = Array.from({ length: CLIENTS }, (_, i) => script(i, perClient));
    const [want, got] = await Promise.all([
      Promise.all(scripts.map((s) => runClient(direct.port, s))),
      Promise.all(scripts.map((s) => runClient(amb.address.port, s))),
    ]);
    let compared = 0;
    for (let i = 0; i < CLIENTS; i++) {
      assert.equal(got[i].length, want[i].length, `client ${i}: reply count`);
      // A HELLO reply names the connection id, which differs; everything else must match exactly.
      const skip = i % 4 === 1 ? 1 : 0;
      for (let k = skip; k < want[i].length; k++) {
        if (!got[i][k].equals(want[i][k])) assert.fail(`client ${i} reply ${k}: ${JSON.stringify(got[i][k].toString().slice(0, 200))} ≠ ${JSON.stringify(want[i][k].toString().slice(0, 200))}`);
        compared++;
      }
    }
    assert.ok(compared >= CLIENTS * perClient * 0.9, `compared ${compared} replies`);
  });
}
