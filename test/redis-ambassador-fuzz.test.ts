/**
 * @module Differential fuzzing: seeded hostile byte streams (test/helpers/resp-streams.ts), each sent in pieces to
 * redis-server directly and through the ambassador (--read-policy master) in front of an identical one; the replies,
 * whether the connection was closed, and the data left behind must be the same, while another client's replies
 * through the ambassador stay its own. Fixed seeds: a failure names the case that reproduces it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeRedisClients, fuzzSeed, playStream, rawClient, resp, respStream, startRedis, stopAll, type RedisNode } from './helpers/index.js';
import { start, type Handle } from '../src/redis-ambassador/index.js';

const SEED = fuzzSeed(20261204);
const LANES = 4;
/** Lanes 2 and 3 require a password (requirepass directly, --client-password-file through the ambassador). */
const PASSWORD = 'fuzz-pw';
const locked = (lane: number) => lane >= 2;
const PER_LANE = 75;

const ambs: Handle[] = [];

after(async () => {
  closeRedisClients();
  for (const a of ambs) await a.close();
  await stopAll();
});

/** What a node holds: keys per db, and every key's value and whether it expires. Flushed afterwards. */
async function contents(node: RedisNode, password?: string): Promise<string> {
  const c = await rawClient(node.port);
  try {
    if (password !== undefined) await c.send(resp('AUTH', password), 1);
    const [info] = await c.send(resp('INFO', 'keyspace'), 1);
    const dbs = info.toString('latin1').split('\r\n').filter((l) => /^db\d+:/.test(l));
    const out = dbs.map((l) => l.replace(/,avg_ttl=\d+/, ''));
    for (const db of dbs.map((l) => /^db(\d+)/.exec(l)?.[1] ?? '0')) {
      await c.send(resp('SELECT', db), 1);
      const [keys] = await c.send(resp('KEYS', '*'), 1);
      const names = [...keys.toString('latin1').matchAll(/\$\d+\r\n([^\r]*)\r\n/g)].map((m) => m[1]).sort();
      for (const k of names) {
        const [dump, ttl] = await c.send(Buffer.concat([resp('DUMP', Buffer.from(k, 'latin1')), resp('PTTL', Buffer.from(k, 'latin1'))]), 2);
        out.push(`${db}:${k} ${dump.toString('hex')} ${ttl.toString().startsWith(':-') ? ttl.toString().trim() : 'expires'}`);
      }
    }
    await c.send(resp('FLUSHALL'), 1);
    return out.join('\n');
  } finally {
    c.close();
  }
}

/** HELLO's reply names the connection's id, which differs between the two; everything else must not. */
const comparable = (b: Buffer) => b.toString('latin1').replace(/\$2\r\nid\r\n:\d+\r\n/g, '$2\r\nid\r\n:N\r\n');

interface Outcome {
  direct: string;
  amb: string;
  directClosed: boolean;
  ambClosed: boolean;
  directData: string;
  ambData: string;
}

async function runCase(direct: RedisNode, behind: RedisNode, amb: Handle, pieces: Buffer[], password?: string): Promise<Outcome> {
  const [d, a] = await Promise.all([playStream(direct.port, pieces), playStream(amb.address.port, pieces)]);
  const [directData, ambData] = await Promise.all([contents(direct, password), contents(behind)]);
  return { direct: comparable(d.out), amb: comparable(a.out), directClosed: d.closed, ambClosed: a.closed, directData, ambData };
}

const same = (o: Outcome) => o.direct === o.amb && o.directClosed === o.ambClosed && o.directData === o.ambData;

/**
 * A listed difference (docs/redis-ambassador.md, "Limits inherent to a read/write-splitting proxy"): after a RESP2
 * SUBSCRIBE, a command the ambassador answers itself is refused and the client closed. Up to that refusal the
 * replies must still be Redis's.
 */
const REFUSED_IN_TUNNEL = /-ERR '[a-z|]+' cannot be sent inside SUBSCRIBE, MONITOR or CLIENT TRACKING\/REPLY through the ambassador \(send RESET first\)\r\n$/;
function listed(o: Outcome): boolean {
  const m = REFUSED_IN_TUNNEL.exec(o.amb);
  return m !== null && o.direct.startsWith(o.amb.slice(0, m.index));
}

test(`${LANES * PER_LANE} seeded hostile streams, split at random points, half of them to a server that wants a password: the ambassador answers, closes and leaves data exactly as redis-server does; another client is never disturbed`, { timeout: 300_000 }, async () => {
  const failures: string[] = [];
  let ran = 0;
  let refused = 0;
  await Promise.all(
    Array.from({ length: LANES }, async (_, lane) => {
      const password = locked(lane) ? PASSWORD : undefined;
      const direct = await startRedis({ password });
      const behind = await startRedis();
      const amb = await start({ listen: { host: '127.0.0.1', port: 0 }, master: { host: '127.0.0.1', port: behind.port }, readPolicy: 'master', httpBind: null, clientPassword: password });
      ambs.push(amb);
      // Another client of the ambassador echoes its own payloads all along: each reply must be its own.
      const other = await rawClient(amb.address.port);
      if (password !== undefined) await other.send(resp('AUTH', password), 1);
      let stop = false;
      let echoed = 0;
      const disturbed: string[] = [];
      const load = (async () => {
        while (!stop) {
          const batch = Array.from({ length: 8 }, (_, k) => `other-${lane}-${echoed + k}`);
          const got = await other.send(Buffer.concat(batch.map((b) => resp('ECHO', b))), batch.length);
          batch.forEach((b, k) => {
            if (got[k].toString('latin1') !== `$${b.length}\r\n${b}\r\n`) disturbed.push(`${b}: ${JSON.stringify(got[k].toString('latin1'))}`);
          });
          echoed += batch.length;
        }
      })();
      for (let k = 0; k < PER_LANE; k++) {
        const i = lane * PER_LANE + k;
        const stream = respStream(SEED, i);
        // With a password, every other stream authenticates first (the rest are answered as Redis answers strangers).
        const auth = password !== undefined && i % 2 === 0 ? [Buffer.from(`AUTH ${password}\r\n`)] : [];
        const pieces = [...auth, ...stream.pieces];
        const bytes = Buffer.concat(pieces);
        let o = await runCase(direct, behind, amb, pieces, password);
        // A machine busy elsewhere can stretch a reply past the quiet window: a real difference repeats.
        for (let retry = 0; retry < 2 && !same(o) && !listed(o); retry++) o = await runCase(direct, behind, amb, pieces, password);
        ran++;
        if (listed(o)) refused++;
        else if (!same(o)) {
          const show = (t: string) => JSON.stringify(t.length > 400 ? `${t.slice(0, 400)}…` : t);
          failures.push(`case ${SEED}/${i} ${show(bytes.toString('latin1'))} (pieces ${pieces.map((p) => p.length).join('+')}):\n  redis-server ${show(o.direct)}${o.directClosed ? ' closed' : ''}\n  ambassador   ${show(o.amb)}${o.ambClosed ? ' closed' : ''}${o.directData === o.ambData ? '' : `\n  data ${show(o.directData)} ≠ ${show(o.ambData)}`}`);
        }
      }
      stop = true;
      await load;
      other.close();
      assert.deepEqual(disturbed, [], `lane ${lane}: another client's replies`);
      assert.ok(echoed > 0);
    }),
  );
  assert.equal(ran, LANES * PER_LANE);
  assert.ok(refused < ran / 10, `${refused} cases ended in the listed refusal inside a pub/sub tunnel`);
  assert.deepEqual(failures, []);
});
