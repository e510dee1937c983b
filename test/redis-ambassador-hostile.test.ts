/**
 * @module Hostile input and upstream faults against the built CLI: lengths that cannot be held, lengths Redis
 * refuses, tunnels that keep the client's policy, upstreams that answer out of turn or refuse us, memory before
 * AUTH, back-off, readiness and error answers — compared byte for byte with a real redis-server where one exists,
 * and with the raw-socket fault server where an upstream must misbehave.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { closeRedisClients, freePort, playStream, pollUntil, rawClient, resp, runPodkit, startFaultServer, startPodkit, startRedis, stopAll, tempDir, waitForOutput, withTimeout, type FaultServer, type Proc, type RedisNode } from './helpers/index.js';

const CLIENT_PASS = 'client-pw-5e1d';
let plain: RedisNode;
let locked: RedisNode;
let dir: string;
const faults: FaultServer[] = [];

before(async () => {
  plain = await startRedis();
  locked = await startRedis({ password: CLIENT_PASS });
  dir = tempDir('podkit-amb-hostile-');
  writeFileSync(join(dir, 'client-pw'), `${CLIENT_PASS}\n`);
  writeFileSync(join(dir, 'wrong-pw'), 'not-the-password\n');
});

after(async () => {
  closeRedisClients();
  for (const f of faults) await f.close();
  await stopAll();
});

interface Amb {
  proc: Proc;
  port: number;
  http: number;
  logs(): string;
  readyz(): Promise<{ status: number; body: string }>;
  alive(): boolean;
}

/** The built CLI in front of `master` (extra flags after), listening once it says so. */
async function ambassador(master: string, ...extra: string[]): Promise<Amb> {
  const port = await freePort();
  const http = await freePort();
  const proc = startPodkit(['redis-ambassador', '--listen', `127.0.0.1:${port}`, '--master', master, '--http-bind', `127.0.0.1:${http}`, '--connect-timeout', '500ms', ...extra], {
    env: { ...process.env, PODKIT_LOG_FORMAT: 'json' },
  });
  await waitForOutput(proc, /redis ambassador listening/, 20_000);
  let exited = false;
  void proc.exited.then(() => (exited = true));
  return {
    proc,
    port,
    http,
    logs: () => proc.stdout() + proc.stderr(),
    async readyz() {
      const r = await fetch(`http://127.0.0.1:${http}/readyz`);
      return { status: r.status, body: await r.text() };
    },
    alive: () => !exited,
  };
}

async function fault(script: Parameters<typeof startFaultServer>[0]): Promise<FaultServer> {
  const f = await startFaultServer(script);
  faults.push(f);
  return f;
}

/** Everything a server answers to `bytes` until it closes the connection (protocol errors close it). */
async function answerUntilClose(port: number, bytes: Buffer | string): Promise<string> {
  const s = connect({ port, host: '127.0.0.1' });
  const got: Buffer[] = [];
  s.on('data', (c: Buffer) => got.push(c));
  s.on('error', () => {});
  s.write(bytes);
  await withTimeout(new Promise<void>((r) => s.once('close', () => r())), 10_000, `the server closing after ${JSON.stringify(String(bytes).slice(0, 40))}`);
  return Buffer.concat(got).toString('latin1');
}

/** The replies to a sequence of commands, as bytes. */
async function replies(port: number, cmds: (string | number)[][]): Promise<string[]> {
  const c = await rawClient(port);
  try {
    const out = await withTimeout(c.send(Buffer.concat(cmds.map((a) => resp(...a))), cmds.length), 10_000, 'replies');
    return out.map((b) => b.toString('latin1'));
  } finally {
    c.close();
  }
}

test('no crash on lengths: an upstream reply of $999999999999 gives the client -ERR and drops that upstream connection; the process lives on', { timeout: 60_000 }, async () => {
  const f = await fault({ command: (a) => (a[0] === 'get' && a[1] === 'huge' ? '$999999999999\r\n' : undefined) });
  const amb = await ambassador(f.addr);
  const [r] = await replies(amb.port, [['GET', 'huge']]);
  assert.match(r, /^-ERR upstream master .* connection lost\r\n$/);
  const carrier = f.conns.find((c) => c.commands.some((x) => x[1] === 'huge'));
  assert.ok(carrier, 'the GET reached the fault server');
  await pollUntil(() => carrier.socket.destroyed, { what: 'the ambassador dropping that upstream connection', timeoutMs: 10_000 });
  assert.deepEqual(await replies(amb.port, [['SET', 'k', 'v'], ['GET', 'k']]), ['+OK\r\n', '$1\r\nv\r\n']);
  assert.ok(amb.alive(), amb.logs().slice(-2000));
  assert.match(amb.logs(), /upstream connection lost.*invalid bulk length/);
  await amb.proc.stop();
});

test('no crash on lengths: a client’s *3 SET k $5000000000 is refused from its header as Redis refuses it; the process lives on', { timeout: 60_000 }, async () => {
  const amb = await ambassador(plain.addr, '--client-password-file', join(dir, 'client-pw'));
  const bytes = '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000000000\r\nx';
  const want = await answerUntilClose(locked.port, bytes);
  assert.equal(want, '-ERR Protocol error: invalid bulk length\r\n');
  assert.equal(await answerUntilClose(amb.port, bytes), want);
  // Authenticated too: the default --max-bulk (512mb, Redis's proto-max-bulk-len) refuses it from its header.
  const authed = `${resp('AUTH', CLIENT_PASS).toString()}${bytes}`;
  assert.equal(await answerUntilClose(amb.port, authed), await answerUntilClose(locked.port, authed));
  assert.ok(amb.alive());
  await amb.proc.stop();
});

const badLengths: [string, string][] = [
  ['a bulk length with a leading zero', '*1\r\n$01\r\nP\r\n'],
  ['a bulk length of -0', '*1\r\n$-0\r\n\r\n'],
  ['a bulk length with +', '*1\r\n$+1\r\nP\r\n'],
  ['a bulk length with a space', '*1\r\n$ 1\r\nP\r\n'],
  ['a bulk length over 2^31', '*1\r\n$2147483648\r\n'],
  ['a multibulk length with a leading zero', '*01\r\n$4\r\nPING\r\n'],
  ['a multibulk length with +', '*+1\r\n$4\r\nPING\r\n'],
  ['a multibulk length over 2^31', '*2147483648\r\n'],
];

test('lengths parsed as Redis does: leading zero, -0, +, spaces, over 2^31 get Redis’s protocol error from the ambassador, never forwarded; another client’s INCRs are untouched', { timeout: 120_000 }, async () => {
  const amb = await ambassador(plain.addr);
  const key = 'hostile:incr';
  const other = await rawClient(amb.port);
  let sent = 0;
  const got: string[] = [];
  let stop = false;
  const load = (async () => {
    while (!stop) {
      const batch = Array.from({ length: 50 }, () => resp('INCR', key));
      sent += batch.length;
      for (const r of await other.send(Buffer.concat(batch), batch.length)) got.push(r.toString('latin1'));
    }
  })();
  const before = Number(/total_connections_received:(\d+)/.exec(await plain.client().info('stats'))?.[1]);
  for (const [what, bytes] of badLengths) {
    const want = await answerUntilClose(plain.port, bytes);
    assert.match(want, /^-ERR Protocol error: invalid (bulk|multibulk) length\r\n$/, what);
    for (let i = 0; i < 5; i++) assert.equal(await answerUntilClose(amb.port, bytes), want, what);
  }
  stop = true;
  await withTimeout(load, 30_000, 'the INCR load');
  other.close();
  assert.ok(sent > 0);
  assert.deepEqual(got.filter((r) => !r.startsWith(':')), [], 'every INCR of the other client got its integer');
  assert.equal(await plain.client().get(key), String(sent));
  // The direct connections above are the only new ones: the ambassador's shared connection was never closed by Redis.
  const after = Number(/total_connections_received:(\d+)/.exec(await plain.client().info('stats'))?.[1]);
  assert.ok(after - before <= badLengths.length + 3, `${after - before} new connections on the master`);
  await amb.proc.stop();
});

test('tunnels keep the client’s policy: AUTH; SUBSCRIBE c; RESET; GET x answers -NOAUTH, as Redis does', { timeout: 60_000 }, async () => {
  const amb = await ambassador(plain.addr, '--client-password-file', join(dir, 'client-pw'));
  const seq = [['AUTH', CLIENT_PASS], ['SUBSCRIBE', 'c'], ['RESET'], ['GET', 'x']];
  const want = await replies(locked.port, seq);
  assert.match(want[3], /^-NOAUTH/);
  assert.deepEqual(await replies(amb.port, seq), want);
  await amb.proc.stop();
});

test('tunnels keep the client’s policy: PSYNC, SYNC and REPLCONF are refused in every mode (plain, MULTI, SUBSCRIBE, MONITOR, CLIENT TRACKING on, CLIENT REPLY OFF)', { timeout: 120_000 }, async () => {
  const amb = await ambassador(plain.addr);
  const modes: [string, (string | number)[][]][] = [
    ['plain', []],
    ['MULTI', [['MULTI']]],
    ['SUBSCRIBE', [['SUBSCRIBE', 'c']]],
    ['MONITOR', [['MONITOR']]],
    ['CLIENT TRACKING on', [['CLIENT', 'TRACKING', 'on']]],
    ['CLIENT REPLY OFF', [['CLIENT', 'REPLY', 'OFF']]],
  ];
  for (const [mode, setup] of modes) {
    for (const cmd of [['PSYNC', '?', '-1'], ['SYNC'], ['REPLCONF', 'listening-port', '7777']]) {
      const bytes = Buffer.concat([...setup.map((a) => resp(...a)), resp(...cmd)]);
      const c = await rawClient(amb.port);
      const got: Buffer[] = [];
      c.socket.on('data', (d: Buffer) => got.push(d));
      c.socket.write(bytes);
      const text = await pollUntil(() => Buffer.concat(got).toString('latin1').match(/-ERR '(psync|sync|replconf)'[^\r]*\r\n/)?.[0], { what: `${cmd[0]} refused after ${mode}`, timeoutMs: 10_000 });
      assert.ok(text, mode);
      c.close();
      assert.doesNotMatch(Buffer.concat(got).toString('latin1'), /FULLRESYNC|REDIS0/, `${cmd[0]} after ${mode}`);
    }
  }
  const info = await plain.client().info('replication');
  assert.match(info, /connected_slaves:0/);
  assert.equal(/sync_full:(\d+)/.exec(await plain.client().info('stats'))?.[1], '0');
  await amb.proc.stop();
});

test('an upstream’s extra reply (nothing in flight) closes that upstream connection; the next client gets its own value, never the extra', { timeout: 60_000 }, async () => {
  const f = await fault({ command: (a) => (a[0] === 'get' && a[1] === 'a' ? '$1\r\na\r\n$7\r\nA-extra\r\n' : undefined) });
  const amb = await ambassador(f.addr);
  assert.deepEqual(await replies(amb.port, [['SET', 'b', 'B'], ['SET', 'a', 'A']]), ['+OK\r\n', '+OK\r\n']);
  assert.deepEqual(await replies(amb.port, [['GET', 'a']]), ['$1\r\na\r\n']);
  const carrier = f.conns.find((c) => c.commands.some((x) => x[0] === 'get' && x[1] === 'a'));
  await pollUntil(() => carrier?.socket.destroyed, { what: 'that upstream connection closed', timeoutMs: 10_000 });
  for (let i = 0; i < 20; i++) assert.deepEqual(await replies(amb.port, [['GET', 'b']]), ['$1\r\nB\r\n']);
  assert.match(amb.logs(), /a reply with no command in flight/);
  await amb.proc.stop();
});

test('an upstream that speaks before it is asked is never used: clients get -ERR, never its bytes nor the handshake’s', { timeout: 60_000 }, async () => {
  const f = await fault({ connect: () => '$6\r\nstolen\r\n' });
  const amb = await ambassador(f.addr);
  for (let i = 0; i < 10; i++) {
    const [r] = await replies(amb.port, [['GET', 'k']]);
    assert.match(r, /^-ERR /, r);
  }
  assert.match(amb.logs(), /unexpected handshake reply/);
  assert.equal((await amb.readyz()).status, 503);
  await amb.proc.stop();
});

test('an upstream’s malformed reply (a bad type byte) closes that upstream connection and fails its in-flight commands; later commands use a new one', { timeout: 60_000 }, async () => {
  const f = await fault({ command: (a) => (a[0] === 'get' && a[1] === 'bad' ? '?oops\r\n' : undefined) });
  const amb = await ambassador(f.addr);
  const c = await rawClient(amb.port);
  const [bad, next] = (await withTimeout(c.send(Buffer.concat([resp('GET', 'bad'), resp('SET', 'after', '1')]), 2), 10_000, 'replies')).map((b) => b.toString('latin1'));
  c.close();
  assert.match(bad, /^-ERR upstream master .* connection lost/);
  assert.ok(next === '+OK\r\n' || /^-ERR upstream master .* connection lost/.test(next), next);
  assert.deepEqual(await replies(amb.port, [['SET', 'k', 'v'], ['GET', 'k']]), ['+OK\r\n', '$1\r\nv\r\n']);
  assert.match(amb.logs(), /bad reply from server/);
  assert.ok(amb.alive());
  await amb.proc.stop();
});

/** The resident set of a process, in bytes. */
function rss(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
}

test('bounded before AUTH: an unauthenticated client gets Redis’s limits (10 arguments, 16 KiB a bulk) and is closed; 3 clients pushing 64 MB each do not grow the process', { timeout: 120_000 }, async () => {
  const amb = await ambassador(plain.addr, '--client-password-file', join(dir, 'client-pw'));
  for (const bytes of ['*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16385\r\n', `*11\r\n${'$1\r\nx\r\n'.repeat(11)}`]) {
    const want = await answerUntilClose(locked.port, bytes);
    assert.match(want, /^-ERR Protocol error: unauthenticated (bulk|multibulk) length\r\n$/);
    assert.equal(await answerUntilClose(amb.port, bytes), want);
  }
  // Within the limits an unauthenticated command is answered as Redis answers it.
  const small = resp('SET', 'k', 'x'.repeat(16 * 1024)).toString();
  assert.deepEqual(await replies(amb.port, [['SET', 'k', 'x'.repeat(16 * 1024)]]), await replies(locked.port, [['SET', 'k', 'x'.repeat(16 * 1024)]]));
  assert.ok(small.length > 16 * 1024);
  const base = rss(amb.proc.pid);
  const chunk = Buffer.alloc(1024 * 1024, 120);
  await Promise.all(
    [1, 2, 3].map(async () => {
      const s = connect({ port: amb.port, host: '127.0.0.1' });
      s.on('error', () => {});
      const closed = new Promise<void>((r) => s.once('close', () => r()));
      s.write(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${64 * 1024 * 1024}\r\n`);
      for (let i = 0; i < 64 && !s.destroyed; i++) if (!s.write(chunk)) await Promise.race([once(s, 'drain').catch(() => {}), closed]);
      await withTimeout(closed, 30_000, 'the ambassador closing the unauthenticated client');
    }),
  );
  const grown = rss(amb.proc.pid) - base;
  console.log(`RSS before AUTH: ${(base / 1048576).toFixed(1)} MiB, +${(grown / 1048576).toFixed(1)} MiB after 3 clients pushed 64 MB each`);
  assert.ok(grown < 48 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB`);
  assert.ok(amb.alive());
  await amb.proc.stop();
});

test('back-off: an upstream answering -ERR max number of clients reached is retried with growing, jittered delays, logged once, and shown by /readyz', { timeout: 60_000 }, async () => {
  const f = await fault({ connect: () => ({ close: '-ERR max number of clients reached\r\n' }) });
  const amb = await ambassador(f.addr);
  const t0 = Date.now();
  const n0 = f.conns.length;
  // Without back-off this took a few milliseconds (hundreds of reconnects a second).
  await pollUntil(() => f.conns.length >= n0 + 10, { what: '10 more connection attempts', timeoutMs: 30_000 });
  const took = Date.now() - t0;
  assert.ok(took >= 1000, `10 reconnects in ${took} ms`);
  const r = await amb.readyz();
  assert.equal(r.status, 503);
  assert.match(r.body, /max number of clients reached/);
  const lines = amb.logs().split('\n');
  assert.equal(lines.filter((l) => l.includes('upstream not usable')).length, 1, amb.logs().slice(-3000));
  assert.equal(lines.filter((l) => l.includes('no command in flight')).length, 0);
  await amb.proc.stop();
});

test('a client whose tunnel’s upstream is gone is disconnected, even one that keeps sending and never closes its side', { timeout: 60_000 }, async () => {
  const amb = await ambassador(plain.addr);
  const s = connect({ port: amb.port, host: '127.0.0.1', allowHalfOpen: true });
  const gone = new Promise<string>((r) => {
    s.once('error', (e: NodeJS.ErrnoException) => r(e.code ?? e.message));
    s.once('close', () => r('closed'));
  });
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  s.write(resp('SUBSCRIBE', 'gone'));
  await pollUntil(() => Buffer.concat(got).includes('subscribe'), { what: 'subscribed', timeoutMs: 10_000 });
  assert.equal(await plain.client().call('CLIENT', 'KILL', 'TYPE', 'pubsub'), 1);
  // The client keeps sending (as a runaway publisher would): the ambassador must close it, not read and discard.
  const chunk = Buffer.concat(Array.from({ length: 1000 }, () => resp('PING')));
  const timer = setInterval(() => {
    if (!s.destroyed) s.write(chunk);
  }, 5);
  try {
    assert.match(await withTimeout(gone, 10_000, 'the ambassador closing the tunnelled client'), /ECONNRESET|EPIPE|closed/);
  } finally {
    clearInterval(timer);
    s.destroy();
  }
  await amb.proc.stop();
});

test('honest readiness: /readyz is 503 with the reason while the upstream answers -WRONGPASS or -NOAUTH to the ambassador', { timeout: 60_000 }, async () => {
  for (const [extra, reason] of [[['--password-file', join(dir, 'wrong-pw')], /WRONGPASS/], [[], /NOAUTH/]] as const) {
    const amb = await ambassador(locked.addr, ...extra);
    const r = await pollUntil(async () => {
      const x = await amb.readyz();
      return reason.test(x.body) ? x : null;
    }, { what: `/readyz naming ${reason}`, timeoutMs: 10_000 });
    assert.equal(r.status, 503);
    assert.match(r.body, /refuses the ambassador/);
    await amb.proc.stop();
  }
});

test('MULTI; AUTH bad; EXEC answers as Redis does (+QUEUED, then *1 with the error); without a client password any AUTH succeeds inside MULTI too (documented)', { timeout: 60_000 }, async () => {
  const withPw = await ambassador(plain.addr, '--client-password-file', join(dir, 'client-pw'));
  const seqPw = [['AUTH', CLIENT_PASS], ['MULTI'], ['AUTH', 'bad'], ['SET', 'tx', '1'], ['EXEC']];
  const want = await replies(locked.port, seqPw);
  assert.deepEqual(want.slice(1, 3), ['+OK\r\n', '+QUEUED\r\n']);
  assert.deepEqual(await replies(withPw.port, seqPw), want);
  await withPw.proc.stop();
  const noPw = await ambassador(plain.addr);
  assert.deepEqual(await replies(noPw.port, [['MULTI'], ['AUTH', 'bad'], ['SET', 'tx', '2'], ['EXEC']]), ['+OK\r\n', '+QUEUED\r\n', '+QUEUED\r\n', '*2\r\n+OK\r\n+OK\r\n']);
  await noPw.proc.stop();
});

test('an upstream reply split at every byte is put together: the client gets it whole, and the connection goes on', { timeout: 60_000 }, async () => {
  const value = 'split-value-\u00e9-0123456789';
  const body = `*3\r\n$${Buffer.byteLength(value)}\r\n${value}\r\n:42\r\n*2\r\n+ok\r\n$-1\r\n`;
  const f = await fault({ command: (a) => (a[0] === 'get' && a[1] === 'drip' ? { drip: body } : undefined) });
  const amb = await ambassador(f.addr);
  assert.deepEqual(await replies(amb.port, [['GET', 'drip']]), [Buffer.from(body).toString('latin1')]);
  assert.deepEqual(await replies(amb.port, [['ECHO', 'after']]), ['$5\r\nafter\r\n']);
  assert.equal(f.conns.filter((c) => c.commands.some((a) => a[0] === 'echo')).length, 1);
  assert.ok(f.conns.find((c) => c.commands.some((a) => a[0] === 'echo'))?.commands.some((a) => a[1] === 'drip'), 'the same upstream connection');
  await amb.proc.stop();
});

test('an upstream that hangs: its clients wait (no operation timeout), the process stays healthy, and they get -ERR once the node is gone', { timeout: 60_000 }, async () => {
  const f = await fault({ command: (a) => (a[0] === 'get' && a[1] === 'hang' ? { hang: true } : undefined) });
  const amb = await ambassador(f.addr);
  const c = await rawClient(amb.port);
  const pending = c.send(Buffer.concat([resp('GET', 'hang'), resp('GET', 'x')]), 2);
  await pollUntil(() => f.commands().some((a) => a[1] === 'hang'), { what: 'the GET reaching the node', timeoutMs: 10_000 });
  assert.equal((await fetch(`http://127.0.0.1:${amb.http}/healthz`)).status, 200);
  assert.ok(amb.alive());
  for (const conn of f.conns) conn.socket.destroy();
  const got = (await withTimeout(pending, 10_000, 'the replies once the node is gone')).map((b) => b.toString('latin1'));
  for (const r of got) assert.match(r, /^-ERR upstream master .* connection lost/);
  c.close();
  await amb.proc.stop();
});

test('a reset upstream connection is logged as a reset, not as "read EBADF"', { timeout: 60_000 }, async () => {
  const f = await fault({ command: (a) => (a[0] === 'get' && a[1] === 'reset' ? { reset: true } : undefined) });
  const amb = await ambassador(f.addr);
  const [r] = await replies(amb.port, [['GET', 'reset']]);
  assert.match(r, /^-ERR /);
  await pollUntil(() => /upstream connection lost.*connection reset by peer/.test(amb.logs()), { what: 'the reset logged', timeoutMs: 10_000 });
  assert.doesNotMatch(amb.logs(), /EBADF/);
  await amb.proc.stop();
});

/** What a server answers to `bytes` until it closes the connection or says nothing more for a while (it may wait). */
async function answerUntilQuiet(port: number, bytes: Buffer | string): Promise<{ text: string; closed: boolean }> {
  const r = await playStream(port, [Buffer.from(bytes)], 20, 300);
  return { text: r.out.toString('latin1'), closed: r.closed };
}

// Found by differential fuzzing (the same byte streams to redis-server and through the ambassador): each stream as
// bytes, and what redis-server 7.0 does with it.
const asRedis: [string, string][] = [
  ['inline \\v and \\f separate tokens but do not end one', "SET fz:k\vx 1\r\nGET fz:k\vx\r\n'CLIENT'\fSETNAME\f'x'\r\nDEL fz:k\vx\r\n"],
  ['an inline line with a NUL: Redis never sees its end and waits', 'PING\r\nGET a\0b\r\nPING\r\n'],
  ['a bulk length with a NUL: Redis waits', '*1\r\n$4\0\r\nPING\r\n'],
  ['no $ where a bulk is expected, no CR yet: Redis waits for the line', '*1\r\nX'],
  ['a CR where a bulk is expected', '*1\r\n\r\nPING\r\n'],
  ['a byte past 0x7f where a bulk is expected: echoed as that byte', '*1\r\n\xff\r\n'],
  ['a multibulk count below -2^53 is an empty command', '*-9007199254740993\r\nPING\r\n'],
  ['SELECT past an int, past 2^53, not a long long', 'SELECT 2147483648\r\nSELECT 9007199254740993\r\nSELECT 9223372036854775808\r\nSELECT -1\r\n'],
  ['HELLO with a protocol version past 2^53', 'HELLO 9223372036854775807\r\nHELLO 9223372036854775808\r\n'],
  ['HELLO with an option of bytes past 0x7f, and one with a NUL', 'HELLO 2 "x\\xffy"\r\nHELLO 2 "a\\x00b"\r\n'],
  ['AUTH with 3 arguments', 'AUTH a b c\r\n'],
  ['a protocol error inside a pub/sub tunnel comes after the replies before it', '"UNSUBSCRIBE" c2\r\nECHO x\r\nSUBSCRIBE c3\r\nGET k\r\n*1111111111111111111111\r\n'],
  ['a local command queued in MULTI is answered at EXEC even when a DISCARD follows before the EXEC reply', 'MULTI\r\nCLIENT SETNAME "a b"\r\nCLIENT SETNAME ok\r\nEXEC\r\nDISCARD\r\n'],
  ['a local command with a wrong argument count inside MULTI aborts it', '*1\r\n$5\r\nMULTI\r\n*2\r\n$6\r\nclient\r\n$7\r\nsetnameM\n*1\r\n$4\r\nEXEC\r\n'],
  ['a local command pipelined behind an EXEC that ran CLIENT SETNAME sees the new name', 'MULTI\r\nCLIENT SETNAME x\r\nEXEC\r\nCLIENT GETNAME\r\nCLIENT SETNAME y\r\nCLIENT GETNAME\r\n'],
  ['SUBSCRIBE queued in MULTI runs at EXEC, pipelined; the connection is subscribed after it', 'MULTI\r\nSUBSCRIBE mch\r\nEXEC\r\nPING\r\nUNSUBSCRIBE\r\nPING\r\n'],
  ['CLIENT REPLY OFF queued in MULTI: EXEC answers, then nothing until REPLY ON', 'MULTI\r\nCLIENT REPLY OFF\r\nEXEC\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n'],
  ['SUBSCRIBE queued in a MULTI that an unknown command aborts: EXECABORT, nothing subscribed', 'MULTI\r\nSUBSCRIBE mch\r\nNOPE\r\nEXEC\r\nPING\r\nGET k\r\n'],
  ['SUBSCRIBE queued in a MULTI then discarded: nothing subscribed', 'MULTI\r\nSUBSCRIBE mch\r\nDISCARD\r\nPING\r\nGET k\r\n'],
  ['in a CLIENT TRACKING tunnel, local commands queued in MULTI get +QUEUED and their answers in EXEC’s reply; SELECT runs at EXEC', 'HELLO 3\r\nCLIENT TRACKING on\r\nMULTI\r\nCLIENT SETNAME x\r\nSELECT 1\r\nSET k v\r\nEXEC\r\nCLIENT GETNAME\r\nGET k\r\n'],
  ['RESP3: a local command queued after a SUBSCRIBE in MULTI is answered in EXEC’s reply, beside the push', 'HELLO 3\r\nMULTI\r\nSUBSCRIBE ch\r\nCLIENT SETNAME x\r\nEXEC\r\nCLIENT GETNAME\r\n'],
  ['RESP2: a local command queued before a SUBSCRIBE in MULTI is answered in EXEC’s reply (no placeholder shows)', 'MULTI\r\nCLIENT SETNAME x\r\nSUBSCRIBE ch\r\nEXEC\r\nPING\r\n'],
  ['RESP2 CLIENT TRACKING tunnel: SELECT in MULTI is queued (+QUEUED) and runs at EXEC', 'CLIENT TRACKING on\r\nMULTI\r\nSELECT 1\r\nSET k v\r\nEXEC\r\nGET k\r\n'],
  ['RESP3: a local command queued before a SUBSCRIBE in MULTI, and one after EXEC', 'HELLO 3\r\nMULTI\r\nCLIENT SETNAME x\r\nSUBSCRIBE ch\r\nEXEC\r\nCLIENT GETNAME\r\n'],
  ['in a tunnel, a local command queued in a discarded MULTI never runs', 'HELLO 3\r\nCLIENT TRACKING on\r\nMULTI\r\nCLIENT SETNAME x\r\nDISCARD\r\nCLIENT GETNAME\r\nPING\r\n'],
  ['in a tunnel, a local command queued in a MULTI that EXECABORTs never runs', 'HELLO 3\r\nCLIENT TRACKING on\r\nMULTI\r\nCLIENT SETNAME x\r\nNOPE\r\nEXEC\r\nCLIENT GETNAME\r\nPING\r\n'],
  ['in a tunnel, a local command with a wrong argument count aborts the MULTI', 'CLIENT TRACKING on\r\nMULTI\r\nCLIENT SETNAME\r\nSET k v\r\nEXEC\r\nCLIENT GETNAME\r\n'],
  ['in a tunnel, CLIENT REPLY OFF queued in MULTI beside a local command', 'CLIENT TRACKING on\r\nMULTI\r\nCLIENT SETNAME x\r\nCLIENT REPLY OFF\r\nEXEC\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n'],
  ['in a tunnel, local commands pipelined behind an EXEC see what its queued local commands did', 'CLIENT TRACKING on\r\nMULTI\r\nCLIENT SETNAME x\r\nEXEC\r\nCLIENT GETNAME\r\nCLIENT SETNAME y\r\nCLIENT GETNAME\r\nMULTI\r\nCLIENT GETNAME\r\nCLIENT SETNAME z\r\nCLIENT GETNAME\r\nEXEC\r\nCLIENT GETNAME\r\n'],
  ['RESP2 subscribed: local commands get Redis’s refusal in order after the replies before them, the connection stays open', 'UNSUBSCRIBE ch\r\nSSUBSCRIBE s\r\nCLIENT SETNAME b\r\nSELECT 1\r\nHELLO 3\r\nCLIENT GETNAME\r\nAUTH x\r\nCLIENT SETNAME\r\nPING\r\n'],
  ['RESP2: after unsubscribing from everything, local commands run again', 'SUBSCRIBE ch\r\nCLIENT SETNAME a\r\nUNSUBSCRIBE\r\nCLIENT SETNAME b\r\nCLIENT GETNAME\r\nSELECT 1\r\nSET k v\r\nGET k\r\n'],
  ['RESP2 subscribed: MULTI is refused by Redis, so what follows is not queued', 'SSUBSCRIBE s\r\nMULTI\r\nHELLO 2\r\nDISCARD\r\nRESET\r\n'],
  ['RESP2 unsubscribed tunnel: a local command with a wrong argument count inside MULTI', 'UNSUBSCRIBE ch\r\nMULTI\r\nCLIENT SETNAME\r\nPSUBSCRIBE p*\r\nDISCARD\r\nRESET\r\nCLIENT REPLY ON\r\n'],
  ['RESP3 pub/sub: HELLO 2 is answered, then messages come as RESP2 arrays', 'HELLO 3\r\nSUBSCRIBE ch\r\nHELLO 2\r\nPING\r\nCLIENT SETNAME z\r\nRESET\r\n'],
  ['HELLO while WATCH holds a connection: the replies after it in the new protocol', 'WATCH k\r\nHELLO 3\r\nUNSUBSCRIBE ch\r\nHGETALL h\r\nHELLO 2\r\nUNSUBSCRIBE ch\r\nMULTI\r\nEXEC\r\nHELLO 3\r\nUNSUBSCRIBE ch\r\n'],
];

/** HELLO's `id` is the ambassador's client id through it, redis-server's own directly. */
const sameId = (r: { text: string; closed: boolean }) => ({ ...r, text: r.text.replace(/\$2\r\nid\r\n:\d+\r\n/g, '$2\r\nid\r\n:N\r\n') });

test('differential findings: streams answered as redis-server answers them (replies, waiting or closing), never forwarded as something else', { timeout: 120_000 }, async () => {
  const amb = await ambassador(plain.addr);
  for (const [what, text] of asRedis) {
    const bytes = Buffer.from(text, 'latin1');
    const want = await answerUntilQuiet(plain.port, bytes);
    assert.deepEqual(sameId(await answerUntilQuiet(amb.port, bytes)), sameId(want), what);
  }
  assert.ok(amb.alive());
  await amb.proc.stop();
});

test('before AUTH, Redis’s checks in its order: an unknown command or subcommand, then the argument count, then NOAUTH (EXEC’s both as EXECABORT); RESET with arguments is refused', { timeout: 60_000 }, async () => {
  const amb = await ambassador(plain.addr, '--client-password-file', join(dir, 'client-pw'));
  const stream = `NOSUCH a "b\\x00c" ${'x'.repeat(200)}\r\nGET\r\nGET k\r\nCLIENT NOSUCH x\r\nCLIENT\r\nCLIENT SETNAME\r\nclient getname\r\nSELECT\r\nEXEC\r\nEXEC x\r\nRESET x\r\nAUTH ${CLIENT_PASS}\r\nRESET x\r\nPING\r\n`;
  const want = await answerUntilQuiet(locked.port, stream);
  assert.match(want.text, /^-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' 'x{120}' \r\n-ERR wrong number of arguments for 'get' command\r\n-NOAUTH/);
  assert.deepEqual(await answerUntilQuiet(amb.port, stream), want);
  await amb.proc.stop();
});

test('POST or Host: as a command (cross-protocol scripting) closes that client at once, as Redis does, and never the connection other clients share', { timeout: 60_000 }, async () => {
  const debug = await startRedis({ args: ['--enable-debug-command', 'yes'] });
  const amb = await ambassador(debug.addr);
  for (const http of ['POST / HTTP/1.1\r\nHost: x\r\n\r\n', resp('host:', 'x').toString('latin1'), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n']) {
    const want = await answerUntilQuiet(debug.port, `PING\r\n${http}PING\r\n`);
    assert.equal(want.closed, true);
    const got = await answerUntilQuiet(amb.port, `PING\r\n${http}PING\r\n`);
    assert.equal(got.closed, true);
    assert.doesNotMatch(got.text, /connection lost|PONG\r\n\+PONG/, JSON.stringify(got.text));
  }
  // Another client's commands in flight on the shared connection when the POST arrives still get their replies.
  const outBytes = async () => Number(/podkit_ambassador_bytes_total\{direction="upstream_out"\} (\d+)/.exec(await (await fetch(`http://127.0.0.1:${amb.http}/metrics`)).text())?.[1]);
  const a = await rawClient(amb.port);
  const before = await outBytes();
  const all = a.send(Buffer.concat([resp('DEBUG', 'SLEEP', '0.5'), resp('ECHO', 'a1')]), 3);
  await pollUntil(async () => (await outBytes()) > before, { what: 'the DEBUG SLEEP sent', timeoutMs: 10_000 });
  const sent = await outBytes();
  const b = connect({ port: amb.port, host: '127.0.0.1' });
  b.on('error', () => {});
  let bClosed = false;
  b.once('close', () => (bClosed = true));
  b.write('POST / HTTP/1.1\r\n');
  await pollUntil(async () => bClosed || (await outBytes()) > sent, { what: 'the POST handled', timeoutMs: 10_000 });
  a.socket.write(resp('ECHO', 'a2'));
  assert.deepEqual((await withTimeout(all, 10_000, 'the other client’s replies')).map((r) => r.toString()), ['+OK\r\n', '$2\r\na1\r\n', '$2\r\na2\r\n']);
  a.close();
  b.destroy();
  assert.match(amb.logs() + (await (await fetch(`http://127.0.0.1:${amb.http}/metrics`)).text()), /kind="security"/);
  await amb.proc.stop();
  await debug.stop();
});

test('a client that pipelines GETs and never reads is closed past --client-output-limit, as Redis past client-output-buffer-limit; the process stays small and other clients are served', { timeout: 120_000 }, async () => {
  const amb = await ambassador(plain.addr, '--max-bulk', '8mb', '--client-output-limit', '16mb');
  const c = plain.client();
  await c.set('amb-big', 'x'.repeat(1024 * 1024));
  const base = rss(amb.proc.pid);
  // 2,000 GETs of a 1 MiB value: 18 KB sent, 2 GiB owed. Unbounded, the ambassador would hold what the kernel does not take.
  const hog = connect({ port: amb.port, host: '127.0.0.1' });
  hog.on('error', () => {});
  hog.pause();
  const closed = new Promise<void>((r) => hog.once('close', () => r()));
  hog.write('GET amb-big\r\n'.repeat(2000));
  // A client that does not read does not see the close either: the count says when the ambassador closed it.
  const metrics = async () => (await fetch(`http://127.0.0.1:${amb.http}/metrics`)).text();
  await pollUntil(async () => /^podkit_ambassador_errors_total\{kind="output_limit"\} 1$/m.test(await metrics()), { timeoutMs: 60_000, what: 'the ambassador closing the client that does not read' });
  const grown = rss(amb.proc.pid) - base;
  console.log(`RSS +${(grown / 1048576).toFixed(1)} MiB after a client owed 2 GiB of replies did not read (limit 16 MiB)`);
  assert.ok(grown < 96 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB`);
  // Once it reads, it finds what the kernel held and then the end.
  hog.resume();
  await withTimeout(closed, 30_000, 'the closed client seeing its end');
  assert.ok(hog.bytesRead < 32 * 1024 * 1024, `${hog.bytesRead} bytes reached the client`);
  // A client that reads gets every reply, however much is owed in all: the limit counts only what waits.
  const reader = await rawClient(amb.port);
  const got = await withTimeout(reader.send(Buffer.from('GET amb-big\r\n'.repeat(12)), 12), 30_000, 'a reading client\'s 12 MiB of replies');
  assert.equal(got.length, 12);
  assert.ok(got.every((b) => b.length === 1024 * 1024 + 12)); // $1048576\r\n…\r\n
  reader.close();
  assert.ok(amb.alive());
  await amb.proc.stop();
});

test('--client-output-limit: a size, 0 for none, and at least twice --max-bulk (exit 2 otherwise)', { timeout: 60_000 }, async () => {
  for (const [args, re] of [
    [['--client-output-limit', 'lots'], /flag --client-output-limit: expected a size like 1gb, or 0 for none \(got "lots"\)/],
    [['--client-output-limit', '100mb'], /flag --client-output-limit: 0 or at least twice --max-bulk \(1073741824 bytes\)/],
  ] as const) {
    const r = await runPodkit(['redis-ambassador', '--master', plain.addr, ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, re);
  }
});

test('a node that stops reading (SIGSTOP) makes its clients wait, not the ambassador hold what they send: 300 SETs of 4 MiB stay with the client; after SIGCONT every reply comes', { timeout: 120_000 }, async () => {
  const node = await startRedis();
  const amb = await ambassador(node.addr, '--read-policy', 'master');
  const base = rss(amb.proc.pid);
  process.kill(node.proc.pid, 'SIGSTOP');
  let stopped = true;
  try {
    const value = Buffer.alloc(4 * 1024 * 1024, 120);
    const cmd = Buffer.concat([Buffer.from(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${value.length}\r\n`), value, Buffer.from('\r\n')]);
    const s = connect({ port: amb.port, host: '127.0.0.1' });
    s.on('error', () => {});
    let oks = 0;
    s.on('data', (b: Buffer) => (oks += b.toString('latin1').split('+OK').length - 1));
    // Write until the socket stops taking bytes: what the client holds then is what the ambassador refused to read.
    let written = 0;
    const writer = (async () => {
      for (let i = 0; i < 300; i++) {
        written++;
        if (!s.write(cmd)) await once(s, 'drain');
      }
    })();
    // Stopped: nothing more leaves the client between two looks half a second apart (all 300 gone: nothing stopped it).
    let last = -1;
    await pollUntil(
      () => {
        const moved = s.bytesWritten !== last;
        last = s.bytesWritten;
        return written === 300 || (!moved && s.writableLength > 0);
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'the client holding what it cannot send' },
    );
    const grown = rss(amb.proc.pid) - base;
    console.log(`RSS +${(grown / 1048576).toFixed(1)} MiB with the node stopped; the client's ${written} SETs of 4 MiB stopped after ${(s.bytesWritten / 1048576).toFixed(0)} MiB`);
    assert.ok(written < 300, 'the client was stopped from sending');
    assert.ok(grown < 96 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB`);
    process.kill(node.proc.pid, 'SIGCONT');
    stopped = false;
    await withTimeout(writer, 60_000, 'the rest of the SETs going out');
    await pollUntil(() => oks === 300, { timeoutMs: 60_000, what: 'every +OK' });
    s.destroy();
  } finally {
    if (stopped) process.kill(node.proc.pid, 'SIGCONT');
  }
  assert.ok(amb.alive());
  await amb.proc.stop();
});

test('--max-clients: one client more is answered as redis-server answers it past maxclients (the error, then closed), counted; a freed place is taken again', { timeout: 60_000 }, async () => {
  const limited = await startRedis({ args: ['--maxclients', '3'] });
  const amb = await ambassador(plain.addr, '--max-clients', '3');
  for (const port of [limited.port, amb.port]) {
    const held = await Promise.all([0, 1, 2].map(() => rawClient(port)));
    for (const c of held) assert.deepEqual((await withTimeout(c.send(resp('PING'), 1), 10_000, 'PING')).map(String), ['+PONG\r\n']);
    assert.equal(await answerUntilClose(port, resp('PING')), '-ERR max number of clients reached\r\n', `port ${port}`);
    held[0].close();
    await pollUntil(async () => (await answerUntilQuiet(port, resp('PING'))).text === '+PONG\r\n', { timeoutMs: 10_000, what: 'a freed place taken again' });
    for (const c of held.slice(1)) c.close();
  }
  const metrics = await (await fetch(`http://127.0.0.1:${amb.http}/metrics`)).text();
  assert.match(metrics, /^podkit_ambassador_errors_total\{kind="max_clients"\} [1-9]\d*$/m); // the poll may have come before the freed place
  assert.ok(amb.alive());
  await amb.proc.stop();
});
