/**
 * @module Client ids through the ambassador mean what they mean against Redis: CLIENT ID names the client's own
 * connection to the ambassador, and CLIENT UNBLOCK, CLIENT TRACKING … REDIRECT, CLIENT GETREDIR and CLIENT KILL ID
 * act on the client so named, against a real master (the replies to bad arguments are Redis's, asked directly).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil, rawClient, resp, startTopology, stopAll, type RawClient, type Topology } from './helpers/index.js';
import { start, type Handle } from '../src/redis-ambassador/index.js';

let topo: Topology;
let amb: Handle;
let port: number;

before(async () => {
  topo = await startTopology({ replicas: 1 });
  amb = await start({
    listen: { host: '127.0.0.1', port: 0 },
    master: { host: '127.0.0.1', port: topo.master.port },
    replicas: topo.replicas.map((r) => ({ host: '127.0.0.1', port: r.port })),
    httpBind: null,
  });
  port = amb.address.port;
});

after(async () => {
  closeAll();
  await amb?.close();
  await stopAll();
});

const open: RawClient[] = [];
async function client(p = port): Promise<RawClient> {
  const c = await rawClient(p);
  open.push(c);
  return c;
}
function closeAll(): void {
  for (const c of open.splice(0)) c.close();
}

async function ask(c: RawClient, ...args: (string | number)[]): Promise<string> {
  return (await c.send(resp(...args), 1))[0].toString('latin1');
}

async function idOf(c: RawClient): Promise<number> {
  const r = await ask(c, 'CLIENT', 'ID');
  assert.match(r, /^:\d+\r\n$/);
  return Number(r.slice(1, -2));
}

/** Until the master has `n` clients blocked. */
async function blocked(n: number): Promise<void> {
  const m = topo.master.client();
  await pollUntil(async () => new RegExp(`blocked_clients:${n}\\r`).test(await m.info('clients')), { what: `${n} blocked client(s) on the master`, timeoutMs: 10_000 });
}

describe('CLIENT ID', () => {
  test('one id per client connection, distinct and increasing; HELLO says the same; an id is kept across commands', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push(await idOf(await client()));
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `ids increase: ${ids.join(', ')}`);
    const c = await client();
    const id = await idOf(c);
    assert.ok(id > ids[4]);
    await ask(c, 'SET', 'cid:k', 'v');
    await ask(c, 'BLPOP', 'cid:none', '0.01');
    assert.equal(await idOf(c), id, 'the same after shared and dedicated upstream connections');
    const hello = await ask(c, 'HELLO', '3');
    assert.match(hello, new RegExp(`\\$2\\r\\nid\\r\\n:${id}\\r\\n`));
    closeAll();
  });

  test('inside MULTI it is queued and answered at EXEC; a wrong number of arguments gets Redis\'s error', async () => {
    const c = await client();
    const id = await idOf(c);
    assert.deepEqual((await c.send(Buffer.concat([resp('MULTI'), resp('CLIENT', 'ID'), resp('EXEC')]), 3)).map(String), ['+OK\r\n', '+QUEUED\r\n', `*1\r\n:${id}\r\n`]);
    const direct = await client(topo.master.port);
    assert.equal(await ask(c, 'CLIENT', 'ID', 'x'), await ask(direct, 'CLIENT', 'ID', 'x'));
    closeAll();
  });
});

describe('CLIENT UNBLOCK', () => {
  test('of a client blocked in BLPOP: default and TIMEOUT → nil, ERROR → -UNBLOCKED (as Redis); the client stays usable', async () => {
    const rd = await client();
    const r = await client();
    const id = await idOf(rd);
    for (const [reason, reply] of [[[], '*-1\r\n'], [['TIMEOUT'], '*-1\r\n'], [['error'], '-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n']] as const) {
      const pop = rd.send(resp('BLPOP', 'cid:l', 0), 1);
      await blocked(1);
      assert.equal(await ask(r, 'CLIENT', 'UNBLOCK', id, ...reason), ':1\r\n', `CLIENT UNBLOCK ${id} ${reason.join(' ')}`);
      assert.equal((await pop)[0].toString(), reply);
    }
    await blocked(0);
    const pop = rd.send(resp('BLPOP', 'cid:l', 0), 1);
    await blocked(1);
    await ask(r, 'LPUSH', 'cid:l', 'foo');
    assert.equal((await pop)[0].toString(), '*2\r\n$5\r\ncid:l\r\n$3\r\nfoo\r\n');
    closeAll();
  });

  test('of a client that is not blocked, of itself, of no client: :0', async () => {
    const r = await client();
    const other = await client();
    const tx = await client();
    const txId = await idOf(tx);
    // Pinned to a dedicated connection by MULTI, but not blocked.
    assert.deepEqual((await tx.send(Buffer.concat([resp('MULTI'), resp('GET', 'x')]), 2)).map(String), ['+OK\r\n', '+QUEUED\r\n']);
    assert.equal(await ask(r, 'CLIENT', 'UNBLOCK', await idOf(other)), ':0\r\n');
    assert.equal(await ask(r, 'CLIENT', 'UNBLOCK', await idOf(r)), ':0\r\n');
    assert.equal(await ask(r, 'CLIENT', 'UNBLOCK', 999_999), ':0\r\n');
    assert.equal(await ask(r, 'CLIENT', 'UNBLOCK', txId), ':0\r\n');
    closeAll();
  });

  test('bad arguments: the errors Redis gives', async () => {
    const r = await client();
    const direct = await client(topo.master.port);
    for (const args of [['asd'], ['1', 'FOO'], ['asd', 'FOO'], [], ['1', 'TIMEOUT', 'x'], ['-5'], ['0']]) {
      assert.equal(await ask(r, 'CLIENT', 'UNBLOCK', ...args), await ask(direct, 'CLIENT', 'UNBLOCK', ...args), `CLIENT UNBLOCK ${args.join(' ')}`);
    }
    closeAll();
  });
});

/** A redirect client: its id, subscribed to the invalidation channel. */
async function redirectClient(): Promise<{ c: RawClient; id: number }> {
  const c = await client();
  const id = await idOf(c);
  assert.equal(await ask(c, 'SUBSCRIBE', '__redis__:invalidate'), '*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n');
  return { c, id };
}

describe('CLIENT TRACKING … REDIRECT and CLIENT GETREDIR', () => {
  test('invalidations reach the redirect client\'s subscription; GETREDIR and CLIENT ID name the ambassador\'s clients', async () => {
    const redir = await redirectClient();
    const tracked = await client();
    const myId = await idOf(tracked);
    const writer = await client();
    assert.equal(await ask(tracked, 'CLIENT', 'GETREDIR'), ':-1\r\n', 'not tracking');
    assert.equal(await ask(tracked, 'CLIENT', 'TRACKING', 'on', 'REDIRECT', redir.id), '+OK\r\n');
    assert.equal(await ask(tracked, 'CLIENT', 'GETREDIR'), `:${redir.id}\r\n`);
    assert.equal(await ask(tracked, 'CLIENT', 'ID'), `:${myId}\r\n`, 'CLIENT ID inside the tracking tunnel');
    await ask(writer, 'SET', 'cid:t', '1');
    assert.equal(await ask(tracked, 'GET', 'cid:t'), '$1\r\n1\r\n');
    await ask(writer, 'SET', 'cid:t', '2');
    assert.equal((await redir.c.read(1))[0].toString(), '*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$5\r\ncid:t\r\n');
    // Pipelined: every reply in its place, the ids among them translated.
    const replies = await tracked.send(Buffer.concat([resp('INCR', 'cid:n'), resp('CLIENT', 'GETREDIR'), resp('INCR', 'cid:n'), resp('CLIENT', 'ID')]), 4);
    assert.deepEqual(replies.map(String), [':1\r\n', `:${redir.id}\r\n`, ':2\r\n', `:${myId}\r\n`]);
    assert.equal(await ask(tracked, 'CLIENT', 'TRACKING', 'off'), '+OK\r\n');
    assert.equal(await ask(tracked, 'CLIENT', 'GETREDIR'), ':-1\r\n');
    closeAll();
  });

  test('BCAST with PREFIX (a prefix may read "redirect"): the REDIRECT id is translated, the prefixes are not', async () => {
    const redir = await redirectClient();
    const tracked = await client();
    const writer = await client();
    assert.equal(await ask(tracked, 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'redirect', 'REDIRECT', redir.id, 'PREFIX', 'cid:'), '+OK\r\n');
    await ask(writer, 'SET', 'cid:b', '1');
    assert.equal((await redir.c.read(1))[0].toString(), '*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$5\r\ncid:b\r\n');
    await ask(writer, 'SET', 'redirect:x', '1');
    assert.equal((await redir.c.read(1))[0].toString(), '*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$10\r\nredirect:x\r\n');
    closeAll();
  });

  test('RESP3 tracking on its own connection: pushes among the replies, CLIENT ID and GETREDIR (0) in their places', async () => {
    const tracked = await client();
    const myId = await idOf(tracked);
    const writer = await client();
    await ask(tracked, 'HELLO', '3');
    assert.equal(await ask(tracked, 'CLIENT', 'TRACKING', 'on'), '+OK\r\n');
    assert.equal(await ask(tracked, 'GET', 'cid:r3'), '_\r\n');
    await ask(writer, 'SET', 'cid:r3', 'x');
    const got = await tracked.send(Buffer.concat([resp('CLIENT', 'GETREDIR'), resp('CLIENT', 'ID')]), 3);
    assert.deepEqual(got.map(String), ['>2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\ncid:r3\r\n', ':0\r\n', `:${myId}\r\n`]);
    closeAll();
  });

  test('inside the tracking tunnel: HELLO, SELECT, CLIENT ID answered by the ambassador in their places; TRACKINGINFO names the redirect client; CLIENT REPLY OFF/SKIP', async () => {
    const redir = await redirectClient();
    const tracked = await client();
    const myId = await idOf(tracked);
    assert.equal(await ask(tracked, 'CLIENT', 'TRACKING', 'on', 'REDIRECT', redir.id), '+OK\r\n');
    const hello = await ask(tracked, 'HELLO', '3');
    assert.match(hello, new RegExp(`^%7\\r\\n.*\\$2\\r\\nid\\r\\n:${myId}\\r\\n`, 's'));
    const info = await ask(tracked, 'CLIENT', 'TRACKINGINFO');
    assert.match(info, new RegExp(`\\$8\\r\\nredirect\\r\\n:${redir.id}\\r\\n`));
    assert.equal(await ask(tracked, 'SELECT', '5'), '+OK\r\n');
    assert.equal(await ask(tracked, 'SET', 'cid:db5', 'x'), '+OK\r\n');
    const m = topo.master.client();
    assert.equal(await m.get('cid:db5'), null, 'not in db 0');
    await m.select(5);
    assert.equal(await m.get('cid:db5'), 'x', 'the tunnel\'s SELECT reached its connection');
    await m.select(0);
    const off = Buffer.concat([resp('CLIENT', 'REPLY', 'OFF'), resp('CLIENT', 'ID'), resp('PING'), resp('CLIENT', 'REPLY', 'ON'), resp('CLIENT', 'REPLY', 'SKIP'), resp('GET', 'cid:db5'), resp('CLIENT', 'ID')]);
    assert.deepEqual((await tracked.send(off, 2)).map(String), ['+OK\r\n', `:${myId}\r\n`]);
    assert.equal(await ask(tracked, 'SELECT', '99'), '-ERR DB index is out of range\r\n');
    assert.equal(await ask(tracked, 'GET', 'cid:db5'), '$1\r\nx\r\n', 'still db 5');
    assert.match(await ask(tracked, 'HELLO', '2'), /^\*14\r\n/, 'back to RESP2');
    assert.equal(await ask(tracked, 'CLIENT', 'GETREDIR'), `:${redir.id}\r\n`);
    closeAll();
  });

  test('a RESP3 subscriber: CLIENT ID and SELECT answered in their places among the messages; HELLO 2 is answered with the ambassador’s id and the connection stays open', async () => {
    const sub = await client();
    const myId = await idOf(sub);
    const pub = await client();
    await ask(sub, 'HELLO', '3');
    assert.equal(await ask(sub, 'SUBSCRIBE', 'cid:ch'), '>3\r\n$9\r\nsubscribe\r\n$6\r\ncid:ch\r\n:1\r\n');
    await ask(pub, 'PUBLISH', 'cid:ch', 'm1');
    const got = await sub.send(Buffer.concat([resp('CLIENT', 'ID'), resp('SELECT', '2')]), 3);
    assert.deepEqual(got.map(String), ['>3\r\n$7\r\nmessage\r\n$6\r\ncid:ch\r\n$2\r\nm1\r\n', `:${myId}\r\n`, '+OK\r\n']);
    // As Redis: the connection goes back to RESP2 (messages as arrays from now on), HELLO's id is the client's own.
    assert.match(await ask(sub, 'HELLO', '2'), new RegExp(`^\\*14\r\n[^]*\\$2\r\nid\r\n:${myId}\r\n`));
    assert.equal(await ask(sub, 'PING'), '*2\r\n$4\r\npong\r\n$0\r\n\r\n');
    closeAll();
  });

  test('REDIRECT to no client, to a client with no subscription on the master, or not an id: Redis\'s errors', async () => {
    const idle = await client();
    const idleId = await idOf(idle);
    const direct = await client(topo.master.port);
    const missing = '-ERR The client ID you want redirect to does not exist\r\n';
    for (const [id, reply] of [[999_999, missing], [idleId, missing], ['x', await ask(direct, 'CLIENT', 'TRACKING', 'on', 'REDIRECT', 'x')], [0, missing]] as const) {
      const c = await client();
      assert.equal(await ask(c, 'CLIENT', 'TRACKING', 'on', 'REDIRECT', id), reply, `REDIRECT ${id}`);
    }
    closeAll();
  });
});

describe('CLIENT KILL ID', () => {
  test('closes that client of the ambassador; itself only with SKIPME no; bad filters get Redis\'s errors', async () => {
    const victim = await client();
    const killer = await client();
    const direct = await client(topo.master.port);
    const vid = await idOf(victim);
    const kid = await idOf(killer);
    assert.equal(await ask(killer, 'CLIENT', 'KILL', 'ID', vid), ':1\r\n');
    await victim.closed;
    assert.equal(await ask(killer, 'CLIENT', 'KILL', 'ID', vid), ':0\r\n');
    assert.equal(await ask(killer, 'CLIENT', 'KILL', 'ID', kid), ':0\r\n', 'SKIPME yes by default');
    for (const args of [['ID', '0'], ['ID', 'x'], ['ID', '5', 'SKIPME', 'maybe'], ['ID', '5', 'FOO', 'bar'], ['ID', '5', 'SKIPME']]) {
      assert.equal(await ask(killer, 'CLIENT', 'KILL', ...args), await ask(direct, 'CLIENT', 'KILL', ...args), `CLIENT KILL ${args.join(' ')}`);
    }
    assert.equal(await ask(killer, 'CLIENT', 'KILL', 'ID', kid, 'SKIPME', 'no'), ':1\r\n');
    await killer.closed;
    closeAll();
  });
});
