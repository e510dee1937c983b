import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Socket, connect, createServer } from 'node:net';
import { once } from 'node:events';
import { adopt } from './accept.js';

async function echoThrough(prepare: (raw: Socket) => void): Promise<{ reply: string; adopted: boolean }> {
  let adopted = false;
  const server = createServer({ pauseOnConnect: true }, (raw) => {
    prepare(raw);
    const s: Socket = adopt(server, raw, (chunk) => s.write(chunk));
    adopted = s !== raw;
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const c = connect(port, '127.0.0.1');
  c.write('ping');
  const [data] = (await once(c, 'data')) as [Buffer];
  c.end();
  // server.close() resolves only once the adopted connection is counted closed.
  await new Promise<void>((r) => server.close(() => r()));
  return { reply: data.toString(), adopted };
}

test('adopt: the accepted handle moves into an onread socket; server.close() still waits for it', async () => {
  assert.deepEqual(await echoThrough(() => {}), { reply: 'ping', adopted: true });
});

test('adopt: a socket without a handle (not the shape it relies on) keeps plain data events', () => {
  const raw = new Socket();
  const got: Buffer[] = [];
  const s = adopt(createServer(), raw, (c) => got.push(c));
  assert.equal(s, raw);
  raw.emit('data', Buffer.from('x'));
  assert.deepEqual(got, [Buffer.from('x')]);
  raw.destroy();
});
