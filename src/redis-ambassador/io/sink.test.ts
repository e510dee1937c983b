import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Socket, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Sink, directWrites } from './sink.js';
import { collect, mixedWrite, writeUntilFull } from '../../../test/helpers/sockets.js';
import { pollUntil } from '../../../test/helpers/poll.js';

/** A loopback pair: `a` is ours (written through a Sink), `b` the peer. */
async function pair(): Promise<{ a: Socket; b: Socket; server: Server }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const a = connect(port, '127.0.0.1');
  const [b] = (await once(server, 'connection')) as [Socket];
  if (a.connecting) await once(a, 'connect');
  return { a, b, server };
}


test('directWrites: the stream binding is there on this runtime', () => {
  assert.equal(directWrites, true);
});

for (const direct of [true, false]) {
  const mode = direct ? 'direct' : 'socket.write fallback';

  test(`Sink (${mode}): writes and writevs arrive whole and in order`, async () => {
    const { a, b, server } = await pair();
    const got = collect(b);
    const sink = new Sink(a, () => {}, direct);
    const sent: Buffer[] = [];
    for (let i = 0; i < 2000; i++) {
      sent.push(...mixedWrite(sink, i, 5));
      // A plain socket.write between sink writes must keep its place too.
      if (i % 97 === 0) {
        const c = Buffer.from(`<${i}>`);
        sent.push(c);
        a.write(c);
      }
    }
    const want = Buffer.concat(sent);
    a.end();
    await once(b, 'end');
    assert.equal(got.bytes().length, want.length);
    assert.ok(got.bytes().equals(want));
    b.destroy();
    server.close();
  });

  test(`Sink (${mode}): a peer that stops reading gets backpressure, then drain, and nothing is lost`, async () => {
    const { a, b, server } = await pair();
    b.pause();
    let drained = 0;
    const sink = new Sink(a, () => drained++, direct);
    const chunk = randomBytes(64 * 1024);
    const n = writeUntilFull((b) => sink.write(b), chunk);
    const got = collect(b);
    b.resume();
    await pollUntil(() => drained > 0, { what: 'drain' });
    a.end();
    await once(b, 'end');
    assert.equal(got.bytes().length, n * chunk.length);
    b.destroy();
    server.close();
  });

  test(`Sink (${mode}): writing to a connection the peer reset closes ours with an error, no throw`, async () => {
    const { a, b, server } = await pair();
    const sink = new Sink(a, () => {}, direct);
    // Not events.once: it would reject on the 'error' this test expects.
    const closed = new Promise<void>((r) => a.on('close', () => r()));
    // The direct path fails with the catalogue's SystemError (the system's name in `errno`), the fallback with Node's.
    let error: (Error & { code?: string; errno?: unknown }) | undefined;
    a.on('error', (e) => (error = e));
    try {
      b.resetAndDestroy();
      await once(b, 'close');
      const deadline = Date.now() + 10_000;
      while (!a.destroyed) {
        assert.ok(Date.now() < deadline, 'socket never closed');
        sink.write(Buffer.from('x'.repeat(1000)));
        await new Promise((r) => setTimeout(r, 5));
      }
      await closed;
      const name = typeof error?.errno === 'string' ? error.errno : error?.code;
      assert.match(String(name), /ECONNRESET|EPIPE/);
    } finally {
      server.close();
    }
  });
}
