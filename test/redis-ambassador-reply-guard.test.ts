/**
 * @module The reply guard: an upstream's extra reply on a shared connection (the raw-socket fault server injecting
 * it before, inside or after a batch of two clients' commands, whole or split across reads) closes that connection
 * and fails its commands — one client never gets another's reply; a real Redis answers the guard's PING in order in
 * RESP2 and RESP3 and during a busy script; a long batch of many clients is cut by checks where the client changes;
 * --reply-guard off restores the unguarded pipeline (which can shift).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { pollUntil, rawClient, resp, startFaultServer, startRedis, stopAll, type FaultScript, type FaultServer, type RawClient } from './helpers/index.js';
import { start, type Handle } from '../src/redis-ambassador/index.js';
import { expressCount } from '../src/redis-ambassador/io/conn.js';
import { createLogger } from '../src/core/log.js';

const faults: FaultServer[] = [];
const clients: RawClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const f of faults) await f.close();
  await stopAll();
});

interface Amb {
  handle: Handle;
  port: number;
  logs(): string;
}

/** An ambassador in this process in front of `port`, its log lines kept. */
async function ambassador(port: number, replyGuard = true): Promise<Amb> {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  const handle = await start({
    listen: { host: '127.0.0.1', port: 0 },
    master: { host: '127.0.0.1', port },
    httpBind: { host: '127.0.0.1', port: 0 },
    replyGuard,
    log: createLogger({ name: 'amb', level: 'info', format: 'json', stream }),
  });
  return { handle, port: handle.address.port, logs: () => text };
}

async function client(port: number): Promise<RawClient> {
  const c = await rawClient(port);
  clients.push(c);
  return c;
}

const bulk = (s: string) => `$${s.length}\r\n${s}\r\n`;
const VA = 'value-of-a-0123';
const VB = 'value-of-b-4567';
const LOST = /^-ERR upstream master .* connection lost\r\n$/;

/** Count reply r into `into` by kind: its bytes, or 'lost' for the connection-lost error. */
function tally(into: Map<string, number>, r: Buffer): void {
  const s = LOST.test(r.toString('latin1')) ? 'lost' : r.toString('latin1');
  into.set(s, (into.get(s) ?? 0) + 1);
}

/**
 * Two clients GET their own key over and over, each with one command in flight, together (so the ambassador's batches
 * mix them); every reply each got, by kind.
 */
async function race(port: number, rounds: number, extra?: (c: RawClient) => Promise<void>): Promise<{ a: Map<string, number>; b: Map<string, number> }> {
  const a = new Map<string, number>();
  const b = new Map<string, number>();
  const ca = await client(port);
  const cb = await client(port);
  if (extra) {
    await extra(ca);
    await extra(cb);
  }
  const one = async (c: RawClient, key: string, into: Map<string, number>) => {
    for (let i = 0; i < rounds; i++) {
      tally(into, (await c.send(resp('GET', key), 1))[0]);
    }
  };
  await Promise.all([one(ca, 'a', a), one(cb, 'b', b)]);
  return { a, b };
}

/** A fault server holding a and b; `inject` rewrites some answers. */
async function fault(command: FaultScript['command']): Promise<FaultServer> {
  const f = await startFaultServer({ command });
  faults.push(f);
  const c = await rawClient(f.port);
  await c.send(Buffer.concat([resp('SET', 'a', VA), resp('SET', 'b', VB)]), 2);
  c.close();
  return f;
}

/** Every reply either the client's own value or the connection-lost error (`also`: other answers it may get). */
function ownOrLost(got: Map<string, number>, own: string, also: string[] = []): void {
  for (const k of got.keys()) assert.ok(k === bulk(own) || k === 'lost' || also.includes(k), `unexpected reply ${JSON.stringify(k)} (all: ${JSON.stringify([...got])})`);
}

/** podkit_ambassador_errors_total{kind="upstream_protocol"}: the connections closed for a reply that cannot be right. */
function protocolErrors(amb: Amb): number {
  const fam = amb.handle.metrics.collect().find((f) => f.name === 'podkit_ambassador_errors_total');
  return fam?.metrics.find((m) => m.labels.kind === 'upstream_protocol')?.value ?? 0;
}

const every = (n: number) => {
  let i = 0;
  return () => ++i % n === 0;
};

test('reply guard: an extra copy of A’s reply while two clients GET distinct values never reaches B; every GET gets its own value or connection lost (the unguarded pipeline shifts it to B)', { timeout: 120_000 }, async () => {
  for (const guard of [true, false]) {
    const hit = every(15);
    const f = await fault((args) => (args[0] === 'get' && args[1] === 'a' && hit() ? bulk(VA) + bulk(VA) : undefined));
    const amb = await ambassador(f.port, guard);
    try {
      const { a, b } = await race(amb.port, 300);
      if (guard) {
        ownOrLost(a, VA);
        ownOrLost(b, VB);
        assert.ok((b.get('lost') ?? 0) + (a.get('lost') ?? 0) > 0, 'some commands failed with their connection');
        assert.match(amb.logs(), /replies out of step|no command in flight/);
      } else {
        // Documented: without the guard one extra reply hands B A's value until the unmatched reply is noticed.
        assert.ok((b.get(bulk(VA)) ?? 0) > 0, `B never got A's value unguarded: ${JSON.stringify([...b])}`);
      }
    } finally {
      await amb.handle.close();
    }
  }
});

test('reply guard: a client on the express path (GET in C) and one on the JS path (GETRANGE) share the connection; an extra reply never crosses between them', { timeout: 120_000 }, async () => {
  const hit = every(15);
  // (The fault server answers GETRANGE b 0 -1 with b's value, as Redis would.)
  const f = await fault((args) => (args[0] === 'getrange' ? bulk(VB) : args[0] === 'get' && args[1] === 'a' && hit() ? bulk(VA) + bulk(VA) : undefined));
  const amb = await ambassador(f.port);
  try {
    const ca = await client(amb.port);
    const cb = await client(amb.port);
    const a = new Map<string, number>();
    const b = new Map<string, number>();
    const one = async (c: RawClient, cmd: Buffer, into: Map<string, number>) => {
      for (let i = 0; i < 300; i++) {
        tally(into, (await c.send(cmd, 1))[0]);
      }
    };
    await Promise.all([one(ca, resp('GET', 'a'), a), one(cb, resp('GETRANGE', 'b', '0', '-1'), b)]);
    ownOrLost(a, VA);
    ownOrLost(b, VB);
    assert.ok((a.get(bulk(VA)) ?? 0) > 0 && (b.get(bulk(VB)) ?? 0) > 0, 'own values delivered');
    assert.ok((a.get('lost') ?? 0) + (b.get('lost') ?? 0) > 0, 'some commands failed with their connection');
  } finally {
    await amb.handle.close();
  }
});

test('reply guard: an extra reply before a command of a batch reaches at most the client it was injected for, never the other', { timeout: 120_000 }, async () => {
  const hit = every(15);
  const f = await fault((args) => (args[0] === 'get' && args[1] === 'a' && hit() ? bulk('EXTRA') + bulk(VA) : undefined));
  const amb = await ambassador(f.port);
  try {
    const { a, b } = await race(amb.port, 300);
    // A lone command (no other client's in flight) is not checked: the extra it gets is its own connection's fault.
    ownOrLost(a, VA, [bulk('EXTRA')]);
    ownOrLost(b, VB);
    assert.match(amb.logs(), /replies out of step/);
  } finally {
    await amb.handle.close();
  }
});

test('reply guard: an extra reply inside a batch, between two clients’ commands, and right before the check (whole or split across reads) closes the connection; nothing shifts', { timeout: 120_000 }, async () => {
  // [label, injection, whose lone command (no other client's in flight, so unchecked) may get the extra itself]
  const cases: [string, FaultScript['command'], 'a' | 'b' | null][] = [];
  const inside = every(15);
  cases.push(['after A’s reply', (args) => (args[0] === 'get' && args[1] === 'a' && inside() ? bulk(VA) + bulk('EXTRA') : undefined), null]);
  const before = every(15);
  cases.push(['before B’s reply', (args) => (args[0] === 'get' && args[1] === 'b' && before() ? bulk('EXTRA') + bulk(VB) : undefined), 'b']);
  const check = every(5);
  cases.push(['before the check', (args) => (args[0] === 'ping' && args.length === 2 && check() ? bulk('EXTRA') + bulk(args[1]) : undefined), null]);
  const split = every(5);
  // The check's reply dripped one byte per read (the held replies must survive the reads), with an extra one in front every 5th time.
  cases.push(['before the check, split across reads', (args) => (args[0] === 'ping' && args.length === 2 ? { drip: (split() ? bulk('EXTRA') : '') + bulk(args[1]) } : undefined), null]);
  for (const [label, command, lone] of cases) {
    const f = await fault(command);
    const amb = await ambassador(f.port);
    try {
      const { a, b } = await race(amb.port, 150);
      ownOrLost(a, VA, lone === 'a' ? [bulk('EXTRA')] : []);
      ownOrLost(b, VB, lone === 'b' ? [bulk('EXTRA')] : []);
      const pings = f.commands().filter((c) => c[0] === 'ping' && c.length === 2).length;
      assert.ok(pings > 0, `${label}: no batch was checked`);
      assert.ok((a.get(bulk(VA)) ?? 0) > 0 && (b.get(bulk(VB)) ?? 0) > 0, `${label}: own values delivered`);
      if (label.startsWith('before the check')) assert.ok(pings >= 5, `${label}: ${pings} checks`);
      if (pings >= 5 || !label.startsWith('before the check')) {
        assert.match(amb.logs(), /replies out of step|no command in flight|bad reply/, label);
        assert.ok(protocolErrors(amb) > 0, `${label}: counted in podkit_ambassador_errors_total{kind="upstream_protocol"}`);
      }
    } finally {
      await amb.handle.close();
    }
  }
});

test('reply guard: a real Redis answers the check in order, RESP2 and RESP3 (HELLO 3): own values only, no connection closed, the checks counted by Redis', { timeout: 120_000 }, async () => {
  const r = await startRedis();
  const direct = await rawClient(r.port);
  clients.push(direct);
  await direct.send(Buffer.concat([resp('SET', 'a', VA), resp('SET', 'b', VB), resp('CONFIG', 'RESETSTAT')]), 3);
  const amb = await ambassador(r.port);
  try {
    for (const proto of [2, 3]) {
      const hello = proto === 3 ? async (c: RawClient) => void (await c.send(resp('HELLO', '3'), 1)) : undefined;
      const { a, b } = await race(amb.port, 400, hello);
      assert.deepEqual([...a], [[bulk(VA), 400]]);
      assert.deepEqual([...b], [[bulk(VB), 400]]);
    }
    const stats = (await direct.send(resp('INFO', 'commandstats'), 1))[0].toString();
    const pings = Number(/cmdstat_ping:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    assert.ok(pings > 0, 'the checks reached Redis');
    assert.doesNotMatch(amb.logs(), /out of step|no command in flight/);
  } finally {
    await amb.handle.close();
  }
});

test('reply guard: during a busy script the check’s -BUSY answers in order with the batch’s: clients get -BUSY as from Redis, no connection lost, own values after', { timeout: 120_000 }, async () => {
  const r = await startRedis({ args: ['--busy-reply-threshold', '50'] });
  const direct = await rawClient(r.port);
  clients.push(direct);
  await direct.send(Buffer.concat([resp('SET', 'a', VA), resp('SET', 'b', VB)]), 2);
  const amb = await ambassador(r.port);
  try {
    const runner = await client(amb.port);
    const script = runner.send(resp('EVAL', 'while true do end', 0), 1);
    const probe = await rawClient(r.port);
    clients.push(probe);
    await pollUntil(async () => (await probe.send(resp('PING'), 1))[0].toString().startsWith('-BUSY'), { what: 'the server busy', timeoutMs: 10_000 });
    const { a, b } = await race(amb.port, 20);
    const busy = (m: Map<string, number>) => [...m.keys()].filter((k) => k.startsWith('-BUSY')).length;
    assert.ok(busy(a) + busy(b) > 0, `no -BUSY seen: ${JSON.stringify([...a, ...b])}`);
    for (const [m, own] of [[a, VA], [b, VB]] as const) for (const k of m.keys()) assert.ok(k === bulk(own) || k.startsWith('-BUSY'), k);
    await direct.send(resp('SCRIPT', 'KILL'), 1);
    assert.match((await script)[0].toString(), /^-ERR .*killed/i);
    const after = await race(amb.port, 50);
    assert.deepEqual([...after.a], [[bulk(VA), 50]]);
    assert.deepEqual([...after.b], [[bulk(VB), 50]]);
    assert.doesNotMatch(amb.logs(), /out of step|no command in flight/);
  } finally {
    await amb.handle.close();
  }
});

/** Key and value of client k in a burst: long keys, so that 16 clients' commands make one write of many KiB. */
const burstKey = (k: number) => `burst:${k}:${'k'.repeat(200)}`;
const burstValue = (k: number) => `value-of-${k}`;

/**
 * The two paths a batch takes: plain GETs of armed clients go through C (the express path, conn_guard.c cuts them);
 * ECHO always goes through JS (guard.ts's rule in upstream.ts cuts them). Client k's command and the value it is owed.
 */
const PATHS = {
  C: { verb: 'get', cmd: (k: number) => resp('GET', burstKey(k)), own: burstValue },
  JS: { verb: 'echo', cmd: (k: number) => resp('ECHO', burstKey(k)), own: burstKey },
};

/**
 * n clients each write `per` commands at once (written before the ambassador's loop turns, so that one turn reads
 * them all and they share one write upstream), `ready` awaited just before; each client's replies, by kind, and how
 * many went through C.
 */
async function burst(port: number, n: number, per: number, path: keyof typeof PATHS, ready?: () => Promise<void>): Promise<{ got: Map<string, number>[]; expressed: number }> {
  const cs = await Promise.all(Array.from({ length: n }, () => client(port)));
  // One reply each first, one client at a time: a client is armed for C once idle, while nothing is in flight upstream.
  for (const c of cs) await c.send(resp('PING'), 1);
  await ready?.();
  const before = expressCount();
  cs.forEach((c, k) => c.socket.write(Buffer.concat(Array.from({ length: per }, () => PATHS[path].cmd(k)))));
  const got = await Promise.all(
    cs.map(async (c) => {
      const m = new Map<string, number>();
      for (const r of await c.read(per)) tally(m, r);
      return m;
    }),
  );
  return { got, expressed: expressCount() - before };
}

/** A fault server holding the burst's keys. */
async function burstFault(n: number, command?: FaultScript['command']): Promise<FaultServer> {
  const f = await startFaultServer({ command });
  faults.push(f);
  const c = await rawClient(f.port);
  await c.send(Buffer.concat(Array.from({ length: n }, (_, k) => resp('SET', burstKey(k), burstValue(k)))), n);
  c.close();
  return f;
}

test('reply guard: a long batch of many clients is cut by checks where the client changes, past 4 KiB, in C and in JS; every client gets its own replies', { timeout: 120_000 }, async () => {
  const n = 16;
  const per = 8;
  const size = per * PATHS.C.cmd(0).length;
  for (const path of ['C', 'JS'] as const) {
    const { verb, own } = PATHS[path];
    const f = await burstFault(n);
    const amb = await ambassador(f.port);
    try {
      const { got, expressed } = await burst(amb.port, n, per, path);
      got.forEach((m, k) => assert.deepEqual([...m], [[bulk(own(k)), per]], `${path}: client ${k}`));
      assert.equal(expressed, path === 'C' ? n * per : 0, `${path}: commands through C`);
      // The burst as the node read it: each client's commands together, the checks only between two clients' runs.
      const all = f.commands();
      const from = all.findIndex((c) => c[0] === verb && c[1].startsWith('burst:'));
      const seq = all.slice(from).filter((c) => (c[0] === verb && c[1].startsWith('burst:')) || (c[0] === 'ping' && c.length === 2));
      const checks = seq.filter((c) => c[0] === 'ping').length;
      assert.ok(checks >= 2, `${path}: ${n * per} commands (${n * size} bytes) went with ${checks} check(s)`);
      let part = 0;
      for (const [i, c] of seq.entries()) {
        if (c[0] !== 'ping') {
          part += size / per;
          continue;
        }
        const [prev, next] = [seq[i - 1], seq[i + 1]];
        assert.ok(prev && prev[0] === verb, `${path}: check ${i} follows a command`);
        if (next) assert.notEqual(next[1], prev[1], `${path}: check ${i} cuts where the client changes, not inside a client's run`);
        // Cut at the first change of client past 4 KiB (a write's last part may be shorter).
        assert.ok(part < 4096 + size, `${path}: a part of ${part} bytes`);
        part = 0;
      }
      assert.doesNotMatch(amb.logs(), /out of step|no command in flight/);
    } finally {
      await amb.handle.close();
    }
  }
});

test('reply guard: an extra reply in the first part of a cut batch closes the connection at that part’s check, in C and in JS; no client gets another’s reply', { timeout: 120_000 }, async () => {
  const n = 16;
  const per = 8;
  for (const path of ['C', 'JS'] as const) {
    const { verb, own } = PATHS[path];
    let injected = 0;
    // One extra reply after the first client's first command of the burst (the first part of the batch).
    const f = await burstFault(n, (args) => (args[0] === verb && args[1] === burstKey(0) && injected++ === 0 ? bulk(own(0)) + bulk('EXTRA') : undefined));
    const amb = await ambassador(f.port);
    try {
      const { got } = await burst(amb.port, n, per, path);
      got.forEach((m, k) => ownOrLost(m, own(k)));
      assert.ok(got.some((m) => m.has('lost')), `${path}: the connection was failed`);
      assert.match(amb.logs(), /replies out of step/, path);
      assert.ok(protocolErrors(amb) > 0, path);
    } finally {
      await amb.handle.close();
    }
  }
});

test('reply guard: a real Redis answers cut batches in order, in C and in JS: every client gets its own replies, no connection closed', { timeout: 120_000 }, async () => {
  const n = 16;
  const per = 8;
  const r = await startRedis();
  const direct = await rawClient(r.port);
  clients.push(direct);
  await direct.send(Buffer.concat(Array.from({ length: n }, (_, k) => resp('SET', burstKey(k), burstValue(k)))), n);
  const amb = await ambassador(r.port);
  try {
    for (const path of ['C', 'JS'] as const) {
      // Redis's counts from the burst on (the clients' own PINGs before it are not the guard's).
      const { got, expressed } = await burst(amb.port, n, per, path, async () => void (await direct.send(resp('CONFIG', 'RESETSTAT'), 1)));
      got.forEach((m, k) => assert.deepEqual([...m], [[bulk(PATHS[path].own(k)), per]], `${path}: client ${k}`));
      assert.equal(expressed, path === 'C' ? n * per : 0, `${path}: commands through C`);
      const stats = (await direct.send(resp('INFO', 'commandstats'), 1))[0].toString();
      const pings = Number(/cmdstat_ping:calls=(\d+)/.exec(stats)?.[1] ?? 0);
      assert.ok(pings >= 2, `${path}: Redis counted ${pings} PING(s) for ${n * per} commands in one burst`);
    }
    assert.doesNotMatch(amb.logs(), /out of step|no command in flight/);
  } finally {
    await amb.handle.close();
  }
});
