import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Socket, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CLIENT_IO_ENV, IDLE_METRICS_ENV, clientIoFromEnv, connOpener, loadConnIo, type Conn, type ConnOpener } from './conn.js';
import { ConfigError } from '../../core/errors.js';
import { pollUntil } from '../../../test/helpers/poll.js';
import { collect, mixedWrite, writeUntilFull } from '../../../test/helpers/sockets.js';
import { readInto } from './read.js';

/** What a connection reported to its session. */
interface Seen {
  data: Buffer[];
  drains: number;
  closes: number;
  closed: Promise<void>;
}

/** Which end of a loopback connection is ours: one a server accepted (a client), or one we connected (an upstream). */
type Side = 'accepted' | 'connected';

/** A loopback pair: `conn` is ours (opened as the ambassador opens clients or upstreams), `peer` the other end. */
async function pair(opener: ConnOpener, side: Side = 'accepted'): Promise<{ conn: Conn; peer: Socket; seen: Seen; server: Server }> {
  let onClose = (): void => {};
  const seen: Seen = { data: [], drains: 0, closes: 0, closed: new Promise<void>((r) => (onClose = r)) };
  const ev = {
    data: (c: Buffer) => seen.data.push(c),
    drain: () => seen.drains++,
    close: () => {
      seen.closes++;
      onClose();
    },
  };
  const server = createServer({ pauseOnConnect: side === 'accepted' });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const port = (server.address() as { port: number }).port;
  if (side === 'accepted') {
    const peer = connect(port, '127.0.0.1');
    const [raw] = await accepted;
    const conn = opener.open(server, raw, ev);
    if (peer.connecting) await once(peer, 'connect');
    return { conn, peer, seen, server };
  }
  // As an upstream is made: reads through `onread` until (and, on the socket path, after) it is taken over.
  const ours = connect({ port, host: '127.0.0.1', onread: readInto((c) => ev.data(c)) });
  await once(ours, 'connect');
  const conn = opener.connected(ours, ev);
  const [peer] = await accepted;
  return { conn, peer, seen, server };
}

const received = (seen: Seen): number => seen.data.reduce((n, c) => n + c.length, 0);

test('conn_io: the addon loads on this machine (CI builds it; without it clients use sockets)', () => {
  const a = loadConnIo();
  assert.ok(!(a instanceof Error), a instanceof Error ? a.message : '');
  assert.equal(connOpener('auto', () => {}).kind, 'native');
});

/** The loop's idle time over a 100 ms timer wait, ms, in a process of its own that loads the addon (`env`: extra settings). */
function idleOverWait(env: NodeJS.ProcessEnv): { off: boolean; idleMs: number } {
  const conn = new URL('./conn.ts', import.meta.url).href;
  const script = `const m = await import(${JSON.stringify(conn)}); const { performance } = await import('node:perf_hooks');
    m.loadConnIo(); const a = performance.eventLoopUtilization(); await new Promise((r) => setTimeout(r, 100));
    console.log(JSON.stringify({ off: m.idleMetricsOff, idleMs: performance.eventLoopUtilization(a).idle }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { off: boolean; idleMs: number };
}

test('conn_io: the addon turns libuv idle-time metrics off (no zero-timeout poll before each blocking one); PODKIT_LOOP_IDLE_METRICS=1 keeps them', () => {
  const off = idleOverWait({ [IDLE_METRICS_ENV]: '' });
  assert.deepEqual(off, { off: true, idleMs: 0 }, 'libuv 1.39+ (Node 20): the flag is proven and cleared; the loop counts no idle time');
  const kept = idleOverWait({ [IDLE_METRICS_ENV]: '1' });
  assert.equal(kept.off, false);
  assert.ok(kept.idleMs > 50, `the 100 ms wait counts as idle with the metrics kept (${kept.idleMs} ms)`);
});

test('connOpener: socket is honoured; native without the addon would be a ConfigError, not a silent fallback', () => {
  assert.equal(connOpener('socket', () => assert.fail('no warning expected')).kind, 'socket');
});

test('PODKIT_AMBASSADOR_CLIENT_IO: auto by default; a value other than auto, native or socket is a ConfigError', () => {
  const saved = process.env[CLIENT_IO_ENV];
  try {
    delete process.env[CLIENT_IO_ENV];
    assert.equal(clientIoFromEnv(), 'auto');
    process.env[CLIENT_IO_ENV] = 'socket';
    assert.equal(clientIoFromEnv(), 'socket');
    process.env[CLIENT_IO_ENV] = 'epoll';
    assert.throws(() => clientIoFromEnv(), (e: Error) => e instanceof ConfigError && /auto, native or socket, got "epoll"/.test(e.message));
  } finally {
    if (saved === undefined) delete process.env[CLIENT_IO_ENV];
    else process.env[CLIENT_IO_ENV] = saved;
  }
});

test('native conn: writeRange refuses a range outside its buffer (TypeError), and writes nothing for it', async () => {
  const { conn, peer, seen, server } = await pair(connOpener('native', () => {}));
  const got = collect(peer);
  const w = conn.writeRange!.bind(conn);
  const b = Buffer.from('0123456789');
  assert.throws(() => w(b, 4, 3), TypeError);
  assert.throws(() => w(b, -1, 3), TypeError);
  assert.throws(() => w(b, 0, 11), TypeError);
  assert.equal(w(b, 5, 5), true, 'an empty range is allowed');
  w(b.subarray(2), 1, 4);
  conn.end();
  await got.ended;
  assert.equal(got.bytes().toString(), '345', 'the range is relative to the view it is given');
  peer.end();
  await seen.closed;
  server.close();
});

for (const [kind, side] of [['native', 'accepted'], ['socket', 'accepted'], ['native', 'connected'], ['socket', 'connected']] as const) {
  const opener = connOpener(kind, () => {});
  const open = () => pair(opener, side);

  test(`${kind} conn (${side}): reads arrive whole and in order; writes and writevs (past what the kernel takes at once) too`, async () => {
    const { conn, peer, seen, server } = await open();
    const got = collect(peer);
    const fromPeer: Buffer[] = [];
    for (let i = 0; i < 500; i++) {
      const c = randomBytes(1 + ((i * 37) % (i % 50 === 0 ? 200_000 : 700)));
      fromPeer.push(c);
      peer.write(c);
    }
    const wantIn = Buffer.concat(fromPeer);
    await pollUntil(() => received(seen) >= wantIn.length, { what: 'all bytes from the peer' });
    assert.ok(Buffer.concat(seen.data).equals(wantIn));

    const sent: Buffer[] = [];
    // With writes far larger than a socket buffer now and then: the rest is queued and sent in order.
    for (let i = 0; i < 2000; i++) sent.push(...mixedWrite(conn, i, 70, true));
    conn.end();
    await got.ended;
    const want = Buffer.concat(sent);
    assert.equal(got.bytes().length, want.length);
    assert.ok(got.bytes().equals(want));
    peer.end();
    await seen.closed;
    assert.equal(seen.closes, 1);
    server.close();
  });

  test(`${kind} conn (${side}): a peer that stops reading gets backpressure, then one drain, and nothing is lost`, async () => {
    const { conn, peer, seen, server } = await open();
    peer.pause();
    const chunk = randomBytes(64 * 1024);
    const n = writeUntilFull((b) => conn.write(b), chunk);
    const got = collect(peer);
    peer.resume();
    await pollUntil(() => seen.drains > 0, { what: 'drain' });
    await pollUntil(() => got.bytes().length >= n * chunk.length, { what: 'every byte at the peer' });
    assert.equal(got.bytes().length, n * chunk.length);
    for (let i = 0; i < n; i++) assert.ok(got.bytes().subarray(i * chunk.length, (i + 1) * chunk.length).equals(chunk));
    conn.destroy();
    await seen.closed;
    server.close();
  });

  test(`${kind} conn (${side}): pause stops reading (the peer's writes back up), resume delivers the rest in order`, async () => {
    const { conn, peer, seen, server } = await open();
    conn.pause();
    const big = randomBytes(16 * 1024 * 1024);
    peer.write(big);
    // The peer's socket keeps bytes the kernel would not take: we are not reading.
    await pollUntil(() => peer.writableLength > 0, { what: 'the peer to back up' });
    const before = received(seen);
    assert.ok(before < big.length, `read ${before} of ${big.length} while paused`);
    conn.resume();
    await pollUntil(() => received(seen) === big.length, { what: 'the rest after resume' });
    assert.ok(Buffer.concat(seen.data).equals(big));
    conn.destroy();
    await seen.closed;
    server.close();
  });

  test(`${kind} conn (${side}): the peer's end closes it once; queued replies are still sent first`, async () => {
    const { conn, peer, seen, server } = await open();
    const got = collect(peer);
    peer.pause();
    const reply = randomBytes(4 * 1024 * 1024);
    conn.write(reply);
    peer.end(); // our side sees EOF while most of `reply` is queued
    peer.resume();
    await seen.closed;
    await got.ended;
    assert.ok(got.bytes().equals(reply));
    assert.equal(seen.closes, 1);
    server.close();
  });

  test(`${kind} conn (${side}): a reset by the peer closes it; writes afterwards neither throw nor reopen it`, async () => {
    const { conn, peer, seen, server } = await open();
    peer.resetAndDestroy();
    await seen.closed;
    assert.equal(seen.closes, 1);
    conn.write(Buffer.from('+late\r\n'));
    conn.writev([Buffer.from('a'), Buffer.from('b')]);
    conn.pause();
    conn.resume();
    conn.end();
    conn.destroy();
    await new Promise((r) => setImmediate(r));
    assert.equal(seen.closes, 1);
    server.close();
  });

  test(`${kind} conn (${side}): bytes the peer wrote just before resetting arrive before the close (Redis closing on a protocol error with ours unread)`, async () => {
    const { seen, peer, server } = await open();
    const sent = randomBytes(32 * 1024);
    // Written and reset in one tick, before this loop reads: the reset lands behind the bytes, unread.
    peer.write(sent, () => peer.resetAndDestroy());
    await seen.closed;
    assert.equal(seen.closes, 1);
    assert.ok(Buffer.concat(seen.data).equals(sent), `${received(seen)} of ${sent.length} bytes before the close`);
    server.close();
  });

  test(`${kind} conn (${side}): destroy closes the peer; the session hears close once, after destroy returns`, async () => {
    const { conn, peer, seen, server } = await open();
    const peerClosed = once(peer, 'close');
    conn.destroy();
    assert.equal(seen.closes, 0);
    conn.destroy();
    await seen.closed;
    await peerClosed;
    assert.equal(seen.closes, 1);
    server.close();
  });
}

test('native conn: a worker that ends with connections open (and one mid-close) ends cleanly; its peers see them close', () => {
  // Its own process: here the addon is loaded by this thread too, which would keep it mapped after the worker ends.
  const host = fileURLToPath(new URL('../testdata/conn-worker-host.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [host], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.signal, null, `the host process died of ${r.signal}: ${r.stderr}`);
  assert.equal(r.stdout.trim(), 'ok', r.stderr);
  assert.equal(r.status, 0);
});
