/**
 * @module The poll kept in C (native/conn-io/conn_poll.c): while it waits on the loop's epoll set in place of libuv,
 * everything libuv serves still runs — timers, immediates, other sockets, signals, a worker's messages, a child's
 * exit — and conn_io's own connections are served there; PODKIT_CONN_POLL=off, or libuv's idle-time metrics kept,
 * leave the wait to libuv.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CONN_POLL_ENV, IDLE_METRICS_ENV } from './conn.js';

/** What the script saw, in a process of its own that loads the addon (`env`: extra settings). */
function runScript(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const conn = new URL('./conn.ts', import.meta.url).href;
  const script = `
    const m = await import(${JSON.stringify(conn)});
    const net = await import('node:net');
    const { once } = await import('node:events');
    const { Worker } = await import('node:worker_threads');
    const { spawn } = await import('node:child_process');
    const a = m.loadConnIo();
    const out = {};
    // A conn_io connection echoing what it reads.
    const server = net.createServer({ pauseOnConnect: true }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const peer = net.connect(server.address().port, '127.0.0.1');
    const [raw] = await once(server, 'connection');
    const conn = m.connOpener('native', () => {}).open(server, raw, { data: (c) => conn.write(Buffer.from(c)), drain() {}, close() {} });
    await once(peer, 'connect');
    for (let i = 0; i < 50; i++) { peer.write('x' + i); await once(peer, 'data'); }
    out.echo = true;
    await new Promise((r) => setTimeout(r, 30));
    out.timer = true;
    await new Promise((r) => setTimeout(() => setImmediate(r), 1));
    out.immediate = true;
    const plain = net.createServer((s) => s.pipe(s)).listen(0, '127.0.0.1');
    await once(plain, 'listening');
    const c2 = net.connect(plain.address().port, '127.0.0.1');
    await once(c2, 'connect');
    c2.write('y');
    await once(c2, 'data');
    out.socket = true;
    const sig = once(process, 'SIGUSR2');
    process.kill(process.pid, 'SIGUSR2');
    await sig;
    out.signal = true;
    const w = new Worker("import('node:worker_threads').then((t) => t.parentPort.postMessage('hi'))", { eval: true });
    out.worker = (await once(w, 'message'))[0];
    const [code] = await once(spawn(process.execPath, ['-e', 'process.exit(3)']), 'exit');
    out.child = code;
    out.polled = a.polled();
    console.log(JSON.stringify(out));
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
  assert.equal(r.status, 0, `${r.signal ?? ''} ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const served = { echo: true, timer: true, immediate: true, socket: true, signal: true, worker: 'hi', child: 3 };

test('conn_io: while the wait for events is made in C, timers, immediates, other sockets, a signal, a worker and a child are all served', () => {
  const { polled, ...rest } = runScript({ [IDLE_METRICS_ENV]: '', [CONN_POLL_ENV]: '' });
  assert.deepEqual(rest, served);
  assert.ok(Number(polled) > 0, `the waits went through C (${polled} batches)`);
});

test('conn_io: PODKIT_CONN_POLL=off, or the idle-time metrics kept, leave the wait to libuv; the same is served', () => {
  for (const env of [{ [IDLE_METRICS_ENV]: '', [CONN_POLL_ENV]: 'off' }, { [IDLE_METRICS_ENV]: '1', [CONN_POLL_ENV]: '' }]) {
    const { polled, ...rest } = runScript(env);
    assert.deepEqual(rest, served, JSON.stringify(env));
    assert.equal(polled, 0, JSON.stringify(env));
  }
});
