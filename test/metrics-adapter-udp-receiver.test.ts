/** @module StatsD UDP listener contract, run against both receivers (recvmmsg addon and Node dgram): real sockets, hot-shots, fd hygiene, fallback. */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { StatsD } from 'hot-shots';
import { freePort, pollUntil, runPodkit, startPodkit, stopAll, waitForOutput } from './helpers/index.js';
import { createLogger } from '../src/core/log.js';
import { SeriesStore } from '../src/metrics-adapter/store.js';
import { StatsdIngest } from '../src/metrics-adapter/statsd/ingest.js';
import { parseMappingConfig } from '../src/metrics-adapter/statsd/mapping.js';
import { startListeners, type Listeners } from '../src/metrics-adapter/statsd-listeners.js';
import { ADDON_ENV, loadAddon, openUdpReceiver, RECEIVER_ENV, type UdpReceiverKind } from '../src/metrics-adapter/udp-receiver.js';

after(stopAll);

const log = createLogger({ name: 'test', level: 'silent' });
const fdCount = () => readdirSync('/proc/self/fd').length;
const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));

function sender(v6 = false): { sock: Socket; send(port: number, msg: string | Buffer): Promise<void> } {
  const sock = createSocket(v6 ? 'udp6' : 'udp4');
  const host = v6 ? '::1' : '127.0.0.1';
  return { sock, send: (port, msg) => new Promise<void>((r, j) => sock.send(msg, port, host, (e) => (e ? j(e) : r()))) };
}

async function listen(kind: UdpReceiverKind, host = '127.0.0.1', readBuffer = 0): Promise<{ ingest: StatsdIngest; l: Listeners }> {
  const ingest = new StatsdIngest(new SeriesStore(), parseMappingConfig({}));
  const l = await startListeners(ingest, { udp: { host, port: 0 }, readBuffer, udpReceiver: kind, log });
  assert.equal(l.udpReceiver, kind);
  return { ingest, l };
}

/** The value of an unlabelled counter in the store. */
function counter(ingest: StatsdIngest, name: string): number | undefined {
  return ingest.store.collect().find((f) => f.name === name)?.metrics[0]?.value as number | undefined;
}

test('the recvmmsg addon is built and loads on Linux (npm run build); a missing addon is a failure here, not a skip', () => {
  const a = loadAddon();
  assert.ok(!(a instanceof Error), `udp_batch addon: ${a instanceof Error ? a.message : ''}`);
});

for (const kind of ['recvmmsg', 'dgram'] as const) {
  describe(`StatsD UDP listener contract: ${kind}`, () => {
    test('hot-shots samples arrive intact: counters, gauges, timers, tags', async () => {
      const { ingest, l } = await listen(kind);
      const c = new StatsD({ host: '127.0.0.1', port: l.udp!.port, errorHandler: (e: Error) => assert.fail(e.message) });
      try {
        for (let i = 0; i < 50; i++) c.increment('hs.hits', 2);
        c.gauge('hs.temp', 21.5);
        c.timing('hs.lat', 250); // (hot-shots samples client-side at a rate < 1: rates are covered elsewhere)
        c.increment('hs.tagged', 1, { region: 'eu' });
        await pollUntil(() => ingest.stats.samples >= 53 && counter(ingest, 'hs_hits') === 100, { what: `${kind}: 53 samples` });
        assert.equal(counter(ingest, 'hs_temp'), 21.5);
        const lat = ingest.store.collect().find((f) => f.name === 'hs_lat');
        assert.ok(lat, 'timer family');
        assert.equal(ingest.store.collect().find((f) => f.name === 'hs_tagged')?.metrics[0]?.labels.region, 'eu');
        assert.equal(ingest.stats.packets.udp, 53);
      } finally {
        await new Promise<void>((r) => c.close(() => r()));
        await l.close();
      }
    });

    test('thousands of single-line datagrams, every one counted; a 65,507-byte datagram of many lines', async () => {
      const { ingest, l } = await listen(kind, '127.0.0.1', 4 * 2 ** 20);
      const s = sender();
      try {
        // 5,000 in paced bursts of 250 (the full rate belongs to the benchmark).
        for (let b = 0; b < 20; b++) {
          await Promise.all(Array.from({ length: 250 }, (_, i) => s.send(l.udp!.port, `many.c${i % 10}:1|c`)));
          await pollUntil(() => ingest.stats.lines >= (b + 1) * 250, { what: `burst ${b}` });
        }
        const line = 'big.line:1|c\n';
        const big = Buffer.from(line.repeat(Math.floor(65_507 / line.length)).padEnd(65_507, '\n'));
        await s.send(l.udp!.port, big);
        await pollUntil(() => counter(ingest, 'big_line') === Math.floor(65_507 / line.length), { what: 'the 64 KiB datagram' });
        let sum = 0;
        for (let i = 0; i < 10; i++) sum += counter(ingest, `many_c${i}`) ?? 0;
        assert.equal(sum, 5000);
        assert.equal(ingest.stats.packets.udp, 5001);
      } finally {
        s.sock.close();
        await l.close();
      }
    });

    test('malformed, empty and invalid-UTF-8 datagrams are counted by reason; the listener keeps going', async () => {
      const { ingest, l } = await listen(kind);
      const s = sender();
      try {
        await s.send(l.udp!.port, 'no_colon_here');
        await s.send(l.udp!.port, 'bad.type:1|zz');
        await s.send(l.udp!.port, Buffer.from([0x61, 0x3a, 0x31, 0x7c, 0x63, 0x7c, 0x23, 0xff, 0xfe]));
        await s.send(l.udp!.port, Buffer.alloc(0));
        await s.send(l.udp!.port, 'after.bad:1|c');
        await pollUntil(() => counter(ingest, 'after_bad') === 1 && ingest.stats.packets.udp === 5, { what: 'the good line after the bad ones' });
        assert.equal(ingest.stats.errors.get('malformed_line'), 1);
        assert.equal(ingest.stats.errors.get('illegal_stat_type'), 1);
        assert.equal(ingest.stats.errors.get('invalid_utf8'), 1);
      } finally {
        s.sock.close();
        await l.close();
      }
    });

    test('IPv6 loopback; the socket buffer asked for is granted up to rmem_max', async () => {
      const ask = 2 ** 20;
      const { ingest, l } = await listen(kind, '::1', ask);
      const r = await openUdpReceiver({ bind: { host: '127.0.0.1', port: 0 }, readBuffer: ask, mode: kind, onDatagram: () => undefined, onError: assert.fail, log });
      // Linux doubles the value for bookkeeping; without CAP_NET_ADMIN it is capped at rmem_max first.
      assert.ok(r.readBuffer >= Math.min(ask, rmemMax), `granted ${r.readBuffer}`);
      await r.close();
      const s = sender(true);
      try {
        await s.send(l.udp!.port, 'v6.hits:3|c');
        await pollUntil(() => counter(ingest, 'v6_hits') === 3, { what: 'a sample over ::1' });
      } finally {
        s.sock.close();
        await l.close();
      }
    });

    test('while the event loop is blocked, every datagram is either delivered or counted as dropped (by where)', async () => {
      // A small socket buffer (~150 small datagrams) and 3,000 datagrams sent while JS cannot run.
      const { ingest, l } = await listen(kind, '127.0.0.1', 64 * 1024);
      try {
        const code = `const s=require('dgram').createSocket('udp4');let n=0,done=0;const cb=()=>{if(++done===3000)s.close()};(function f(){for(let i=0;i<100&&n<3000;i++,n++)s.send('blocked.x:1|c',${l.udp!.port},'127.0.0.1',cb);if(n<3000)setImmediate(f)})()`;
        const res = spawnSync(process.execPath, ['-e', code], { timeout: 20_000 });
        assert.equal(res.status, 0, String(res.stderr));
        const d = ingest.stats.udpDrops;
        await pollUntil(() => ingest.stats.lines + d.socket_buffer + d.receive_ring === 3000, { what: `3000 accounted for (lines ${ingest.stats.lines}, drops ${JSON.stringify(d)})` });
        assert.equal(counter(ingest, 'blocked_x'), ingest.stats.lines);
        // Node's dgram reads nothing while the loop is blocked, so its small buffer overflows. (The recvmmsg reader
        // thread keeps reading, but a buffer this small can overflow in any scheduling delay: no claim either way.)
        if (kind === 'dgram') assert.ok(d.socket_buffer > 0, 'the socket buffer overflowed');
      } finally {
        await l.close();
      }
    });

    test('close() releases the socket: no fd left behind, the port can be bound again; a busy port is EADDRINUSE', async () => {
      const before = fdCount();
      const { l } = await listen(kind);
      const port = l.udp!.port;
      assert.ok(fdCount() > before);
      await l.close();
      await pollUntil(() => fdCount() === before, { what: `fd count back to ${before}` });
      const again = await startListeners(new StatsdIngest(new SeriesStore(), parseMappingConfig({})), { udp: { host: '127.0.0.1', port }, udpReceiver: kind, log });
      const busy = startListeners(new StatsdIngest(new SeriesStore(), parseMappingConfig({})), { udp: { host: '127.0.0.1', port }, udpReceiver: kind, log });
      await assert.rejects(busy, (e: { errno?: unknown; message: string }) => e.errno === 'EADDRINUSE' && e.message === `cannot listen on 127.0.0.1:${port}: the port is in use by another process (choose another with --statsd.listen-udp)`);
      await again.close();
      await pollUntil(() => fdCount() === before, { what: 'no fd leaked by the failed bind' });
    });
  });
}

test('a read_buffer above net.core.rmem_max is reported, not silently shrunk (dgram: no SO_RCVBUFFORCE)', async () => {
  const lines: string[] = [];
  const stream = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) });
  const ingest = new StatsdIngest(new SeriesStore(), parseMappingConfig({}));
  const l = await startListeners(ingest, { udp: { host: '127.0.0.1', port: 0 }, readBuffer: 2 * rmemMax, udpReceiver: 'dgram', log: createLogger({ name: 't', format: 'json', stream }) });
  await l.close();
  assert.equal(lines.filter((x) => x.includes('raise net.core.rmem_max')).length, 1, lines.join(''));
});

describe('recvmmsg receiver specifics', () => {
  test('a datagram longer than a slot is counted as truncated, not delivered, and nothing else is disturbed', async () => {
    const got: string[] = [];
    let truncated = 0;
    const r = await openUdpReceiver({ bind: { host: '127.0.0.1', port: 0 }, mode: 'recvmmsg', slot: 64, batch: 4, onDatagram: (b, s, e) => got.push(b.toString('latin1', s, e)), onTruncated: () => truncated++, onError: assert.fail, log });
    const s = sender();
    try {
      for (let i = 0; i < 10; i++) await s.send(r.address.port, i === 3 ? `long:${'9'.repeat(100)}|c` : `m${i}:1|c`);
      await pollUntil(() => got.length + truncated === 10, { what: '10 datagrams' });
      assert.equal(truncated, 1);
      assert.deepEqual(got.sort(), ['m0:1|c', 'm1:1|c', 'm2:1|c', 'm4:1|c', 'm5:1|c', 'm6:1|c', 'm7:1|c', 'm8:1|c', 'm9:1|c']);
    } finally {
      s.sock.close();
      await r.close();
    }
  });

  test('the reader thread keeps reading while the event loop is blocked; a full ring is counted, never silent', async () => {
    let got = 0;
    const drops = { socket_buffer: 0, receive_ring: 0 };
    // A ring of ~8 KiB holds ~400 short records; the loop is then blocked while 3,000 datagrams arrive.
    const r = await openUdpReceiver({ bind: { host: '127.0.0.1', port: 0 }, readBuffer: 4 * 2 ** 20, mode: 'recvmmsg', slot: 1024, ring: 8192, onDatagram: () => got++, onDrops: (n, w) => (drops[w] += n), onError: assert.fail, log });
    try {
      // Closes only when every send has completed (close() would cancel queued sends).
      const code = `const s=require('dgram').createSocket('udp4');let n=0,done=0;const cb=()=>{if(++done===3000)s.close()};(function f(){for(let i=0;i<100&&n<3000;i++,n++)s.send('blk.'+n+':1|c',${r.address.port},'127.0.0.1',cb);if(n<3000)setImmediate(f)})()`;
      const res = spawnSync(process.execPath, ['-e', code], { timeout: 20_000 });
      assert.equal(res.status, 0, String(res.stderr));
      await pollUntil(() => got + drops.receive_ring + drops.socket_buffer === 3000, { what: `3000 accounted for (got ${got}, drops ${JSON.stringify(drops)})` });
      assert.ok(drops.receive_ring > 0, 'the small ring overflowed while JS was blocked');
      assert.ok(got >= 300, `the ring's worth was kept (${got})`);
    } finally {
      await r.close();
    }
  });

  test('close() while datagrams stream in, and from inside the callback, is clean: no crash, no fd left, no callback after', async () => {
    const before = fdCount();
    const s = sender();
    for (let i = 0; i < 20; i++) {
      let after = 0;
      let closed = false;
      const r = await openUdpReceiver({
        bind: { host: '127.0.0.1', port: 0 },
        mode: 'recvmmsg',
        onDatagram: () => {
          if (closed) after++;
          // Every other round closes from inside the callback, the rest from outside mid-stream.
          if (i % 2 === 0 && !closed) {
            closed = true;
            void r.close();
          }
        },
        onError: assert.fail,
        log,
      });
      const sends = Array.from({ length: 300 }, (_, k) => s.send(r.address.port, `close.race${k}:1|c`));
      if (i % 2 === 1) {
        await sends[150];
        closed = true;
        await r.close();
      }
      await Promise.all(sends);
      await r.close();
      assert.equal(after, 0, 'no datagram delivered after close()');
    }
    s.sock.close();
    await pollUntil(() => fdCount() === before, { what: `fd count back to ${before}` });
  });

  test('datagrams of every length wrap around a small ring byte-exact; whatever does not fit is counted', async () => {
    const sent = new Set<string>();
    const got: string[] = [];
    const drops = { socket_buffer: 0, receive_ring: 0 };
    const r = await openUdpReceiver({ bind: { host: '127.0.0.1', port: 0 }, readBuffer: 4 * 2 ** 20, mode: 'recvmmsg', slot: 1024, ring: 4096, onDatagram: (b, st, e) => got.push(b.toString('latin1', st, e)), onDrops: (n, w) => (drops[w] += n), onError: assert.fail, log });
    const s = sender();
    try {
      for (let i = 0; i < 2000; i++) {
        // Lengths 1..1024 in a scrambled order, so records end at every alignment and position.
        const len = 1 + ((i * 389) % 1024);
        const msg = `${i}:`.padEnd(len, String.fromCharCode(97 + (i % 26))).slice(0, len);
        sent.add(msg);
        await s.send(r.address.port, msg);
      }
      await pollUntil(() => got.length + drops.receive_ring + drops.socket_buffer === 2000, { what: `2000 accounted for (got ${got.length}, drops ${JSON.stringify(drops)})` });
      for (const g of got) assert.ok(sent.has(g), `received bytes that were never sent: ${JSON.stringify(g.slice(0, 40))}…`);
      assert.equal(new Set(got).size, got.length, 'no datagram twice');
      assert.ok(got.length > 0);
    } finally {
      s.sock.close();
      await r.close();
    }
  });

  test('bad receiver options are a clear error', async () => {
    await assert.rejects(
      openUdpReceiver({ bind: { host: '127.0.0.1', port: 0 }, mode: 'recvmmsg', batch: 0, onDatagram: () => undefined, onError: assert.fail, log }),
      /batch 1-1024/,
    );
  });
});

describe('fallback to dgram (built CLI)', () => {
  test('a missing addon: one warning line, StatsD over UDP still works; forcing recvmmsg then fails with exit 2; a bad mode is exit 2', async () => {
    const [udp, http] = [await freePort(), await freePort()];
    const env = { ...process.env, [ADDON_ENV]: '/nonexistent/udp_batch.node', PODKIT_LOG_FORMAT: 'json' };
    const p = startPodkit(['metrics-adapter', '--statsd.listen-udp', `127.0.0.1:${udp}`, '--statsd.listen-tcp', '', '--http-bind', `127.0.0.1:${http}`], { env });
    await waitForOutput(p, /listening on http/);
    const s = sender();
    try {
      await pollUntil(
        async () => {
          await s.send(udp, 'fb.hits:1|c');
          return /^fb_hits \d/m.test(await (await fetch(`http://127.0.0.1:${http}/metrics`)).text());
        },
        { what: 'a sample through the dgram fallback' },
      );
    } finally {
      s.sock.close();
    }
    const warnings = p.stderr().split('\n').filter((x) => x.includes('recvmmsg receiver unavailable'));
    assert.equal(warnings.length, 1, p.stderr());
    assert.match(p.stderr(), /"statsdUdpReceiver":"dgram"/);

    const forced = await runPodkit(['metrics-adapter', '--statsd.listen-udp', '127.0.0.1:0', '--statsd.listen-tcp', '', '--http-bind', '127.0.0.1:0'], { env: { ...env, [RECEIVER_ENV]: 'recvmmsg' } });
    assert.equal(forced.code, 2, forced.stderr);
    assert.match(forced.stderr, /PODKIT_METRICS_ADAPTER_UDP_RECEIVER: the recvmmsg UDP receiver did not load/);
    const bad = await runPodkit(['metrics-adapter', '--statsd.listen-udp', '127.0.0.1:0', '--statsd.listen-tcp', '', '--http-bind', '127.0.0.1:0'], { env: { ...process.env, [RECEIVER_ENV]: 'fast' } });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /must be auto, recvmmsg or dgram/);
  });
});

test('a worker thread that ends with a recvmmsg receiver open ends cleanly (its own process: nothing else holds the addon)', () => {
  // Ending a worker unloads its addons before its loop has closed their handles; a close callback into the
  // addon was a SIGSEGV.
  const worker = new URL('./fixtures/udp-batch-worker.mjs', import.meta.url).href;
  const host = `import { Worker } from 'node:worker_threads';
const w = new Worker(new URL(${JSON.stringify(worker)}), { execArgv: [] });
w.once('error', (e) => { console.error(e); process.exit(3); });
const m = await new Promise((r) => w.once('message', r));
const code = await w.terminate();
console.log(m.kind, code);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', host], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.signal, null, `the host process died of ${r.signal}: ${r.stderr}`);
  assert.equal(r.stdout.trim(), 'recvmmsg 1', r.stderr);
  assert.equal(r.status, 0);
});
