/**
 * @module Half-closed clients (`printf … | nc -q0`, `redis-cli` in a pipe, a socket that ends after writing) get
 * every reply before the ambassador closes, on the conn_io addon and on the net.Socket path alike.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { collect, requireBinary, run, startTopology, stopAll, withTimeout, type Topology } from './helpers/index.js';
import { start, type Handle } from '../src/redis-ambassador/index.js';

let topo: Topology;

before(async () => {
  topo = await startTopology({ replicas: 2 });
});

after(async () => {
  await stopAll();
});

/** Write `bytes`, shut down the write side, and return everything read until the ambassador closes. */
async function halfClosed(port: number, bytes: string): Promise<string> {
  const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  s.on('error', () => {});
  const got = collect(s);
  s.end(bytes);
  await withTimeout(got.ended, 10_000, 'the ambassador closing a half-closed client');
  return got.bytes().toString('latin1');
}

for (const clientIo of ['native', 'socket'] as const) {
  describe(`half-closed clients (${clientIo} client I/O)`, () => {
    let amb: Handle;
    let port: number;

    before(async () => {
      amb = await start({
        listen: { host: '127.0.0.1', port: 0 },
        // No HTTP server: the default 127.0.0.1:9121 is taken by whichever test file runs beside this one.
        httpBind: null,
        master: { host: '127.0.0.1', port: topo.master.port },
        replicas: topo.replicas.map((r) => ({ host: '127.0.0.1', port: r.port })),
        clientIo,
      });
      port = amb.address.port;
    });

    after(async () => {
      await amb?.close();
    });

    test('a socket that ends after its commands gets every reply, then the ambassador closes', async () => {
      for (let i = 0; i < 60; i++) {
        const got = await halfClosed(port, `SET hc:${clientIo}:${i} v${i}\r\nPING\r\nGET hc:${clientIo}:${i}\r\n`);
        // The GET may be served by a replica that has not got the SET yet (the default read policy): +OK, +PONG, then a bulk.
        assert.match(got, new RegExp(`^\\+OK\\r\\n\\+PONG\\r\\n(\\$-1|\\$${String(i).length + 1}\\r\\nv${i})\\r\\n$`), `round ${i}`);
      }
    });

    test('replies that arrive well after the FIN still reach the client (a blocking command times out on the master)', async () => {
      const got = await halfClosed(port, `BLPOP hc:${clientIo}:empty 0.2\r\nPING\r\n`);
      assert.match(got, /^\*-1\r\n\+PONG\r\n$/);
    });

    test('inline commands and a pipeline larger than one read', async () => {
      const many = Array.from({ length: 2000 }, (_, i) => `SET hc:${clientIo}:p${i} ${'x'.repeat(64)}\r\n`).join('');
      const got = await halfClosed(port, `PING\r\n${many}INCR hc:${clientIo}:n\r\n`);
      assert.equal(got, `+PONG\r\n${'+OK\r\n'.repeat(2000)}:1\r\n`);
    });

    test('printf … | nc -q0 (a common health check) gets its replies, 60 of 60', async () => {
      requireBinary('nc');
      let ok = 0;
      for (let i = 0; i < 60; i++) {
        const r = await run('nc', ['-q0', '127.0.0.1', String(port)], { input: `PING\r\nSET hc:${clientIo}:nc ${i}\r\n`, timeoutMs: 10_000 });
        if (r.stdout === '+PONG\r\n+OK\r\n') ok++;
      }
      assert.equal(ok, 60);
    });

    test('redis-cli in a pipe: each command of its input gets its reply', async () => {
      const r = await run('redis-cli', ['-p', String(port)], { input: `SET hc:${clientIo}:cli hello\nINCR hc:${clientIo}:cli:n\nPING\n`, timeoutMs: 10_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'OK\n1\nPONG\n');
    });

    test('redis-py: a pipeline, then the connection closed', async () => {
      const py = [
        'import redis, sys',
        `r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))`,
        `p = r.pipeline(transaction=False)`,
        `for i in range(100): p.set("hc:py:%d" % i, i)`,
        `p.incr("hc:py:n")`,
        `res = p.execute()`,
        `assert res[:100] == [True] * 100 and res[100] >= 1, res`,
        `print(r.ping(), r.get("hc:py:99") in (b"99", None))`,
        `r.close()`,
      ].join('\n');
      const r = await run('/usr/bin/python3', ['-c', py, String(port)], { timeoutMs: 20_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'True True\n');
    });

    test('redis-cli --pipe (mass insertion) reports every reply', async () => {
      const cmds = Array.from({ length: 500 }, (_, i) => `SET hc:${clientIo}:mass:${i} ${i}\r\n`).join('');
      const r = await run('redis-cli', ['-p', String(port), '--pipe'], { input: cmds, timeoutMs: 20_000 });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /errors: 0, replies: 500/);
    });

    test('a tunnel’s client that half-closes gets what Redis sends it: SUBSCRIBE (also queued in MULTI), MONITOR, CLIENT REPLY OFF', async () => {
      for (const stream of ['SUBSCRIBE hc:ch\r\n', 'MULTI\r\nSUBSCRIBE hc:ch\r\nEXEC\r\nPING\r\n', 'MONITOR\r\n', 'CLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n', 'SUBSCRIBE a\r\nPING\r\nRESET\r\nGET hc:none\r\n']) {
        const want = await halfClosed(topo.master.port, stream);
        assert.equal(await halfClosed(port, stream), want, JSON.stringify(stream));
      }
    });
  });
}
