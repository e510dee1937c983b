/**
 * @module The express path (native/conn-io/conn_express.c): an idle client's plain GET and SET forwarded in C. Its
 * replies are byte for byte Redis's, in order with everything else the client sends through JS in the same reads,
 * split anywhere; a FIN after them waits for them; an upstream lost with them in flight answers them as the JS path
 * does; the metrics count them; and a client's bytes that are not such commands never go to C.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { collect, pollUntil, rawClient, resp, run as runCmd, startFaultServer, startRedis, stopAll, withTimeout, type FaultServer, type RawClient, type RedisNode } from './helpers/index.js';
import { start, type Handle } from '../src/redis-ambassador/index.js';
import { expressCount, expressPieces, loadConnIo } from '../src/redis-ambassador/io/conn.js';
import { routeChannel } from '../src/redis-ambassador/metrics.js';

let redis: RedisNode;
let amb: Handle;
const clients: RawClient[] = [];

before(async () => {
  redis = await startRedis();
  amb = await start({ listen: { host: '127.0.0.1', port: 0 }, httpBind: null, master: { host: '127.0.0.1', port: redis.port }, readPolicy: 'master', clientIo: 'native' });
});

after(async () => {
  for (const c of clients) c.close();
  await amb?.close();
  await stopAll();
});

async function client(port: number): Promise<RawClient> {
  const c = await rawClient(port);
  clients.push(c);
  return c;
}

/** A seeded generator (the same stream every run). */
function prng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** `n` commands, mostly GET/SET (some with options), between them others, inline ones and a bad-arity GET. */
function commands(n: number, prefix: string, rnd: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const k = `${prefix}:${Math.floor(rnd() * 20)}`;
    const r = rnd();
    if (r < 0.4) out.push(resp('GET', k));
    else if (r < 0.7) out.push(resp('SET', k, 'v'.repeat(Math.floor(rnd() * 40)) + i));
    else if (r < 0.75) out.push(resp('set', k, String(i), 'GET'));
    else if (r < 0.8) out.push(resp('SET', k, String(i), 'NX', 'EX', '100'));
    else if (r < 0.85) out.push(resp('INCR', `${prefix}:n`));
    else if (r < 0.9) out.push(Buffer.from('PING\r\n'));
    else if (r < 0.93) out.push(resp('GET', k, 'extra'));
    else if (r < 0.96) out.push(resp('STRLEN', k));
    else out.push(resp('gEt', k));
  }
  return out;
}

/** Send `cmds` in pieces cut at random places, `inFlight` commands at a time; every reply, concatenated. */
async function run(c: RawClient, cmds: Buffer[], rnd: () => number, inFlight: number): Promise<string> {
  let got = '';
  for (let i = 0; i < cmds.length; i += inFlight) {
    const batch = Buffer.concat(cmds.slice(i, i + inFlight));
    // Every other batch cut at a random place (a command split across reads goes through JS, whole ones through C).
    const cut = (i / inFlight) % 2 === 0 ? batch.length : 1 + Math.floor(rnd() * batch.length);
    const p = c.read(Math.min(inFlight, cmds.length - i));
    c.socket.write(batch.subarray(0, cut));
    if (cut < batch.length) setImmediate(() => c.socket.write(batch.subarray(cut)));
    got += (await p).map((b) => b.toString('latin1')).join('');
  }
  return got;
}

test('an idle client’s GET and SET go through C, and every reply is Redis’s own, in order with what goes through JS, however the bytes are cut', { timeout: 60_000 }, async () => {
  for (const inFlight of [1, 3, 16]) {
    const direct = await client(redis.port);
    const via = await client(amb.address.port);
    await via.send(resp('PING'), 1); // through JS: the client is idle afterwards, and armed
    const before = expressCount();
    const want = await run(direct, commands(1500, `x${inFlight}:d`, prng(7)), prng(9), inFlight);
    const got = await run(via, commands(1500, `x${inFlight}:a`, prng(7)), prng(9), inFlight);
    assert.equal(got, want, `-P ${inFlight}: the replies differ from Redis's`);
    const expressed = expressCount() - before;
    assert.ok(expressed > 300, `-P ${inFlight}: only ${expressed} commands went through C`);
  }
});

test('many clients at once share the connection in C: their batches end with the guard’s check, each gets only its own values', { timeout: 60_000 }, async () => {
  const direct = await client(redis.port);
  const n = 12;
  const rounds = 150;
  const cs = await Promise.all(Array.from({ length: n }, () => client(amb.address.port)));
  await Promise.all(cs.map((c) => c.send(resp('PING'), 1)));
  await direct.send(resp('CONFIG', 'RESETSTAT'), 1);
  const before = expressCount();
  await Promise.all(
    cs.map(async (c, k) => {
      for (let i = 0; i < rounds; i++) {
        const v = `c${k}-${i}-${'x'.repeat((k * 7 + i) % 50)}`;
        assert.equal((await c.send(resp('SET', `many:${k}`, v), 1))[0].toString(), '+OK\r\n');
        assert.equal((await c.send(resp('GET', `many:${k}`), 1))[0].toString(), `$${v.length}\r\n${v}\r\n`);
      }
    }),
  );
  // Nearly all went through C, mixed on the one shared connection (a few may go through JS while a client re-arms).
  assert.ok(expressCount() - before >= n * rounds * 2 * 0.9, `went through C: ${expressCount() - before} of ${n * rounds * 2}`);
  const stats = (await direct.send(resp('INFO', 'commandstats'), 1))[0].toString();
  assert.ok(Number(/cmdstat_ping:calls=(\d+)/.exec(stats)?.[1] ?? 0) > 0, 'the mixed batches were checked');
});

test('twelve clients’ SETs read in one turn go to the node in two pieces of six, not in one at the turn’s end', { timeout: 30_000 }, async () => {
  const n = 12;
  const cs = await Promise.all(Array.from({ length: n }, () => client(amb.address.port)));
  // A first round arms each client for the express path (JS arms a client once it is idle).
  for (const [k, c] of cs.entries()) assert.equal((await c.send(resp('SET', `piece:${k}`, 'first'), 1))[0].toString(), '+OK\r\n');
  await pollUntil(async () => {
    const before = expressCount();
    await cs[0].send(resp('GET', 'piece:0'), 1);
    return expressCount() > before;
  }, { timeoutMs: 5_000, what: 'the clients armed' });
  const count = expressCount();
  const pieces = expressPieces();
  // Written in one synchronous run: loopback hands each write to the ambassador's socket at once, so its next poll
  // (in this process) finds all twelve readable and reads them in one turn.
  const replies = cs.map((c) => c.read(1));
  for (const [k, c] of cs.entries()) c.socket.write(resp('SET', `piece:${k}`, `v${k}`));
  for (const r of replies) assert.equal((await r)[0].toString(), '+OK\r\n');
  assert.equal(expressCount() - count, n, 'all twelve through C');
  assert.equal(expressPieces() - pieces, 2, 'written at the sixth and twelfth client, not once at the turn’s end');
  for (const [k, c] of cs.entries()) assert.equal((await c.send(resp('GET', `piece:${k}`), 1))[0].toString(), `$${String(k).length + 1}\r\nv${k}\r\n`);
});

test('a client in another process (redis-cli, one command at a time): its GETs and SETs go through C, and the wait for them too', { timeout: 60_000 }, async () => {
  const io = loadConnIo();
  assert.ok(!(io instanceof Error));
  const before = { expressed: expressCount(), polled: io.polled() };
  const cli = (...args: string[]) => runCmd('redis-cli', ['-p', String(amb.address.port), '-r', '500', ...args], { timeoutMs: 30_000 });
  const set = await cli('SET', 'cli:k', 'value-1');
  assert.equal(set.stdout, 'OK\n'.repeat(500), set.stderr);
  const get = await cli('GET', 'cli:k');
  assert.equal(get.stdout, 'value-1\n'.repeat(500), get.stderr);
  const expressed = expressCount() - before.expressed;
  const polled = io.polled() - before.polled;
  assert.ok(expressed >= 990, `${expressed} of 1000 through C`);
  // A command and its reply are two batches (the client's, the node's), both waited for in C.
  assert.ok(polled >= expressed, `${polled} batches polled in C for ${expressed} commands`);
});

test('a FIN right after express commands waits for their replies, then the ambassador closes', async () => {
  const c = await client(amb.address.port);
  await c.send(resp('SET', 'fin:a', '1'), 1);
  for (let i = 0; i < 30; i++) {
    const s = connect({ port: amb.address.port, host: '127.0.0.1', allowHalfOpen: true });
    s.on('error', () => {});
    const got = collect(s);
    await new Promise<void>((r) => s.once('connect', () => r()));
    // PING first (through JS, which arms the client), then express commands and the FIN in one write.
    s.write(resp('PING'));
    await new Promise<void>((r) => s.once('data', () => r()));
    s.end(Buffer.concat([resp('SET', `fin:${i}`, `v${i}`), resp('GET', `fin:${i}`), resp('GET', 'fin:a')]));
    await withTimeout(got.ended, 10_000, 'the ambassador closing a half-closed client');
    assert.equal(got.bytes().toString('latin1'), `+PONG\r\n+OK\r\n$${String(i).length + 1}\r\nv${i}\r\n$1\r\n1\r\n`, `round ${i}`);
  }
});

test('the metrics count express commands: by command and route, with their latency and bytes', async () => {
  const c = await client(amb.address.port);
  await c.send(resp('PING'), 1);
  const value = (family: string, labels: Record<string, string>) => {
    const f = amb.metrics.collect().find((x) => x.name === family);
    const m = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
    return m ? Number(m.value) : 0;
  };
  const gets = value('podkit_ambassador_commands_total', { command: 'get', route: 'master' });
  const sets = value('podkit_ambassador_commands_total', { command: 'set', route: 'master' });
  const bytesIn = value('podkit_ambassador_bytes_total', { direction: 'client_in' });
  const before = expressCount();
  for (let i = 0; i < 50; i++) await c.send(Buffer.concat([resp('SET', `m:${i}`, 'x'.repeat(1000))]), 1);
  for (let i = 0; i < 70; i++) await c.send(resp('GET', `m:${i % 50}`), 1);
  assert.ok(expressCount() - before >= 119, 'went through C');
  assert.equal(value('podkit_ambassador_commands_total', { command: 'set', route: 'master' }) - sets, 50);
  assert.equal(value('podkit_ambassador_commands_total', { command: 'get', route: 'master' }) - gets, 70);
  assert.ok(value('podkit_ambassador_bytes_total', { direction: 'client_in' }) - bytesIn > 50_000, 'client bytes counted');
  const hist = amb.metrics.collect().find((x) => x.name === 'podkit_ambassador_command_duration_seconds');
  assert.ok(hist, 'latency histogram present');
});

test('JS hears of express replies in small batches without being asked: no one turn takes the bookkeeping of thousands', async () => {
  const c = await client(amb.address.port);
  await c.send(resp('PING'), 1);
  expressCount(); // takes what earlier tests left
  let told = 0;
  const count = () => told++;
  routeChannel.subscribe(count);
  try {
    // 600 GETs in one write, all through C: past 512 figures the addon asks JS to take them (EV_EXPRESS), where it
    // used to wait for 8,192 — a 0.5 ms turn that every client waiting then saw.
    const n = 600;
    const replies = await c.send(Buffer.concat(Array.from({ length: n }, (_, i) => resp('GET', `batch:${i}`))), n);
    assert.equal(replies.length, n);
    await pollUntil(() => told >= 512, { timeoutMs: 5_000, what: 'JS told of the express replies' });
  } finally {
    routeChannel.unsubscribe(count);
  }
  assert.ok(told <= 600, `${told} route events for 600 commands`);
});

test('an upstream lost with express commands in flight: each gets the JS path’s connection-lost error, and the client goes on', { timeout: 30_000 }, async () => {
  let hang = false;
  const f: FaultServer = await startFaultServer({ command: (args) => (hang && args[0] === 'get' ? { hang: true } : undefined) });
  const a = await start({ listen: { host: '127.0.0.1', port: 0 }, httpBind: null, master: { host: '127.0.0.1', port: f.port }, clientIo: 'native', replyGuard: false });
  try {
    const c = await client(a.address.port);
    await c.send(resp('SET', 'k', 'v'), 1);
    const first = expressCount();
    for (let i = 0; i < 3; i++) assert.deepEqual((await c.send(resp('GET', 'k'), 1)).map(String), ['$1\r\nv\r\n']);
    assert.ok(expressCount() > first, 'the client is armed: its GETs go through C');
    hang = true;
    const before = f.conns.length;
    const replies = c.send(Buffer.concat([resp('GET', 'k'), resp('GET', 'k')]), 2);
    // Both went out (in C: the client was idle and armed) and hang; then the node's connection drops.
    const sent = expressCount();
    await withTimeout((async () => {
      while (f.commands().filter((x) => x[0] === 'get').length < 2) await new Promise((r) => setImmediate(r));
    })(), 10_000, 'the GETs reaching the node');
    for (const conn of f.conns.slice(0, before)) conn.socket.destroy();
    const got = (await withTimeout(replies, 10_000, 'the replies')).map(String);
    for (const r of got) assert.match(r, /^-ERR upstream master \(127\.0\.0\.1:\d+\) connection lost\r\n$/);
    assert.equal(expressCount(), sent, 'failed, not answered');
    hang = false;
    const again = await withTimeout(c.send(resp('PING'), 1), 10_000, 'the client going on');
    assert.deepEqual(again.map(String), ['+PONG\r\n']);
    // A command behind an express one in the same write waits for it (held in C): when the express command is
    // failed by the loss, the held command goes to JS and is answered after the error, in order.
    for (let i = 0; i < 3; i++) await c.send(resp('GET', 'k'), 1);
    hang = true;
    const n = f.conns.length;
    const gets = f.commands().filter((x) => x[0] === 'get').length;
    const mixed = c.send(Buffer.concat([resp('GET', 'k'), resp('ECHO', 'behind')]), 2);
    await withTimeout((async () => {
      while (f.commands().filter((x) => x[0] === 'get').length < gets + 1) await new Promise((r) => setImmediate(r));
    })(), 10_000, 'the GET reaching the node');
    hang = false;
    for (const conn of f.conns.slice(0, n)) conn.socket.destroy();
    const [lost, echo] = (await withTimeout(mixed, 10_000, 'the error, then the command held behind it')).map(String);
    assert.match(lost, /^-ERR upstream master \(127\.0\.0\.1:\d+\) connection lost\r\n$/);
    assert.equal(echo, '$6\r\nbehind\r\n');
  } finally {
    await a.close();
    await f.close();
  }
});

/** Everything the ambassador sends back for `frame` then a PING: until the PONG, or until it closes. */
async function answer(s: import('node:net').Socket, frame: Buffer): Promise<string> {
  let got = '';
  const done = new Promise<void>((resolve) => {
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (got.endsWith('+PONG\r\n')) resolve();
    });
    s.once('close', () => resolve());
  });
  s.write(Buffer.concat([frame, resp('PING')]));
  await withTimeout(done, 10_000, 'the answer to a frame');
  return got;
}

test('frames that are almost a GET or SET never go through C: an armed client gets what a fresh one gets from JS', { timeout: 60_000 }, async () => {
  const frames = [
    '*2\r\n$3\r\nGET\r\n$01\r\na\r\n',
    '*2\r\n$3\r\nGET\r\n$-1\r\n',
    '*02\r\n$3\r\nGET\r\n$1\r\na\r\n',
    '*2\r\n$3\r\nGET\r\n$1\r\nab\r\n',
    '*2\r\n$3\r\nGET\r\n$99999999999\r\n',
    '*2\r\n$3\r\nGET\r\n$1\r\na\n\n',
    '*1\r\n$3\r\nGET\r\n',
    '*2\r\n$3\r\nGE\0\r\n$1\r\na\r\n',
    '*2\r\n$4\r\nGETS\r\n$1\r\na\r\n',
    '*-1\r\n',
    '*2\r\n+GET\r\n$1\r\na\r\n',
    '*3\r\n$3\r\nSET\r\n$1\r\na\r\n',
    'GET a\r\n',
  ].map((f) => Buffer.from(f, 'latin1'));
  for (const frame of frames) {
    const fresh = connect({ port: amb.address.port, host: '127.0.0.1' });
    fresh.on('error', () => {});
    await new Promise<void>((r) => fresh.once('connect', () => r()));
    const want = await answer(fresh, frame);
    fresh.destroy();
    const armed = await client(amb.address.port);
    const first = expressCount();
    for (let i = 0; i < 3; i++) await armed.send(resp('GET', 'hostile'), 1);
    assert.ok(expressCount() > first, 'armed');
    armed.socket.removeAllListeners('data');
    const got = await answer(armed.socket, frame);
    assert.equal(got, want, `frame ${JSON.stringify(frame.toString('latin1'))}`);
  }
});
