/** @module The ambassador against a real master and 2 replicas: routing, per-client state, real clients, bad input. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createClient, RESP_TYPES } from 'redis';
import { closeRedisClients, pollUntil, rawClient, resp, run, startTopology, stopAll, withTimeout, type Topology } from './helpers/index.js';
import { start, type Handle } from '../src/redis-ambassador/index.js';

let topo: Topology;
let amb: Handle;
const clients: { disconnect(): void }[] = [];

function ioredis(opts: Record<string, unknown> = {}): Redis {
  const c = new Redis({ port: amb.address.port, host: '127.0.0.1', maxRetriesPerRequest: 1, ...opts });
  c.on('error', () => {});
  clients.push(c);
  return c;
}

async function metricsText(): Promise<string> {
  const a = amb.httpAddress as { host: string; port: number };
  return (await fetch(`http://${a.host}:${a.port}/metrics`)).text();
}

function metric(text: string, re: RegExp): number {
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

before(async () => {
  topo = await startTopology({ replicas: 2 });
  amb = await start({
    listen: { host: '127.0.0.1', port: 0 },
    master: { host: '127.0.0.1', port: topo.master.port },
    replicas: topo.replicas.map((r) => ({ host: '127.0.0.1', port: r.port })),
    readPolicy: 'prefer-replica',
    httpBind: { host: '127.0.0.1', port: 0 },
    maxBulk: 4 * 1024 * 1024,
  });
});

after(async () => {
  for (const c of clients) c.disconnect();
  closeRedisClients();
  await amb?.close();
  await stopAll();
});

describe('routing', () => {
  test('the live COMMAND table is loaded from the master at start', () => {
    assert.equal(amb.tableSource(), 'live');
  });

  test('writes go to the master, reads to replicas, unknown commands to the master', async () => {
    const c = ioredis();
    const before = await metricsText();
    await c.set('route:k', 'v');
    // The read may go to either replica: wait until both have the write.
    for (const r of topo.replicas) await pollUntil(async () => (await r.client().get('route:k')) === 'v', { what: `replication to ${r.addr}` });
    assert.equal(await c.get('route:k'), 'v');
    await assert.rejects(c.call('NOSUCHCOMMAND'), /unknown command/);
    const after = await metricsText();
    const count = (t: string, cmd: string, route: string) => metric(t, new RegExp(`podkit_ambassador_commands_total\\{command="${cmd}",route="${route}"\\} (\\d+)`));
    assert.equal(count(after, 'set', 'master') - count(before, 'set', 'master'), 1);
    assert.equal(count(after, 'get', 'replica') - count(before, 'get', 'replica'), 1);
    assert.equal(count(after, 'unknown', 'master') - count(before, 'unknown', 'master'), 1);
  });

  test('EVAL goes to the master, EVAL_RO may go to a replica', async () => {
    const c = ioredis();
    assert.equal(await c.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, 'lua:k', 'x'), 'OK');
    for (const r of topo.replicas) await pollUntil(async () => (await r.client().get('lua:k')) === 'x', { what: `replication to ${r.addr}` });
    assert.equal(await c.call('EVAL_RO', "return redis.call('GET', KEYS[1])", '1', 'lua:k'), 'x');
    const t = await metricsText();
    assert.ok(metric(t, /podkit_ambassador_commands_total\{command="eval_ro",route="replica"\} (\d+)/) >= 1);
    assert.ok(metric(t, /podkit_ambassador_commands_total\{command="eval",route="master"\} (\d+)/) >= 1);
  });
});

describe('per-client state', () => {
  test('SELECT is per client: two clients in different dbs do not see each other', async () => {
    const a = ioredis({ db: 3 });
    const b = ioredis();
    await a.set('db:k', 'three');
    await b.set('db:k', 'zero');
    assert.equal(await a.get('db:k'), 'three');
    assert.equal(await b.get('db:k'), 'zero');
    assert.equal(await topo.master.client().select(3).then(() => 'ok'), 'ok');
    await assert.rejects(a.select(99), /DB index is out of range/);
  });

  test('HELLO 3 gives RESP3 replies to that client only', async () => {
    const raw = await rawClient(amb.address.port);
    const [hello] = await raw.send(resp('HELLO', '3'), 1);
    assert.equal(hello[0], 0x25, 'HELLO 3 answers with a RESP3 map');
    await raw.send(resp('HSET', 'h3', 'f', 'v'), 1);
    const [m] = await raw.send(resp('HGETALL', 'h3'), 1);
    assert.equal(m.toString(), '%1\r\n$1\r\nf\r\n$1\r\nv\r\n');
    const other = await rawClient(amb.address.port);
    const [a] = await other.send(resp('HGETALL', 'h3'), 1);
    assert.equal(a.toString(), '*2\r\n$1\r\nf\r\n$1\r\nv\r\n');
    const [n] = await raw.send(resp('GET', 'nokey'), 1);
    assert.equal(n.toString(), '_\r\n');
    assert.equal((await raw.send(resp('HELLO', '4'), 1))[0].toString(), '-NOPROTO unsupported protocol version\r\n');
    raw.close();
    other.close();
  });

  test('CLIENT SETNAME/GETNAME/SETINFO are per client', async () => {
    const a = ioredis({ connectionName: 'alpha' });
    const b = ioredis();
    assert.equal(await a.client('GETNAME'), 'alpha');
    assert.equal(await b.client('GETNAME'), null);
    await assert.rejects(b.client('SETNAME', 'has space'), /cannot contain spaces/);
  });

  test('CLIENT SETINFO is answered as the master answers it directly (before Redis 7.2: unknown subcommand)', async () => {
    const forms = [['lib-name', 'x'], ['LIB-VER', '1.0'], ['lib-name', 'has space'], ['nosuch', 'x'], ['lib-name']];
    const sent = [...forms.map((f) => resp('CLIENT', 'SETINFO', ...f)), resp('MULTI'), resp('CLIENT', 'SETINFO', 'lib-name', 'x'), resp('EXEC'), resp('PING')];
    const replies: string[][] = [];
    for (const port of [topo.master.port, amb.address.port]) {
      const c = await rawClient(port);
      replies.push((await c.send(Buffer.concat(sent), sent.length)).map(String));
      c.close();
    }
    assert.deepEqual(replies[1], replies[0]);
    // Checked against the Redis of this machine: which answer it gives depends on its version.
    const version = String(await topo.master.client().info('server')).match(/redis_version:(\d+)\.(\d+)/);
    const has = Number(version?.[1]) * 100 + Number(version?.[2]) >= 702;
    assert.equal(replies[1][0], has ? '+OK\r\n' : "-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.\r\n");
  });

  test('RESET restores db 0, RESP2 and no name; QUIT replies OK and closes', async () => {
    const raw = await rawClient(amb.address.port);
    const r = await raw.send(Buffer.concat([resp('SELECT', '5'), resp('HELLO', '3'), resp('CLIENT', 'SETNAME', 'n'), resp('RESET'), resp('CLIENT', 'GETNAME'), resp('SET', 'reset:k', '1')]), 6);
    assert.equal(r[3].toString(), '+RESET\r\n');
    assert.equal(r[4].toString(), '$-1\r\n', 'RESP2 null after RESET');
    assert.equal(await ioredis().get('reset:k'), '1', 'back in db 0');
    const q = await raw.send(resp('QUIT'), 1);
    assert.equal(q[0].toString(), '+OK\r\n');
    await withTimeout(raw.closed, 5000, 'close after QUIT');
  });

  test('client password: NOAUTH before AUTH, WRONGPASS for a bad one', async () => {
    const guarded = await start({ listen: { host: '127.0.0.1', port: 0 }, master: { host: '127.0.0.1', port: topo.master.port }, httpBind: null, clientPassword: 's3cret' });
    try {
      const raw = await rawClient(guarded.address.port);
      const r = await raw.send(Buffer.concat([resp('GET', 'x'), resp('AUTH', 'bad'), resp('AUTH', 's3cret'), resp('PING')]), 4);
      assert.deepEqual(r.map(String), ['-NOAUTH Authentication required.\r\n', '-WRONGPASS invalid username-password pair or user is disabled.\r\n', '+OK\r\n', '+PONG\r\n']);
      raw.close();
      const c = new Redis({ port: guarded.address.port, password: 's3cret', maxRetriesPerRequest: 1 });
      assert.equal(await c.ping(), 'PONG');
      c.disconnect();
    } finally {
      await guarded.close();
    }
  });
});

describe('transactions, pub/sub, blocking', () => {
  test('MULTI/EXEC and WATCH run on one master connection', async () => {
    const a = ioredis();
    const b = ioredis();
    await a.set('tx:k', '1');
    assert.deepEqual(await a.multi().incr('tx:k').get('tx:k').exec(), [
      [null, 2],
      [null, '2'],
    ]);
    await a.watch('tx:k');
    await b.set('tx:k', 'changed');
    assert.equal(await a.multi().set('tx:k', 'mine').exec(), null, 'WATCH aborts the transaction');
    assert.equal(await a.get('tx:k'), 'changed');
  });

  test('ioredis pipelines of 500 mixed commands come back in order', async () => {
    const c = ioredis();
    const p = c.pipeline();
    for (let i = 0; i < 500; i++) {
      if (i % 3 === 0) p.set(`pl:${i}`, String(i));
      else if (i % 3 === 1) p.get('route:k');
      else p.incr('pl:n');
    }
    const res = (await p.exec()) ?? [];
    assert.equal(res.length, 500);
    res.forEach(([err, v], i) => {
      assert.equal(err, null);
      if (i % 3 === 0) assert.equal(v, 'OK');
      else if (i % 3 === 1) assert.equal(v, 'v');
      else assert.equal(typeof v, 'number');
    });
  });

  test('a client that disconnects mid-transaction leaves no state behind', async () => {
    const raw = await rawClient(amb.address.port);
    await raw.send(Buffer.concat([resp('WATCH', 'left:k'), resp('MULTI'), resp('SET', 'left:k', 'half')]), 3);
    raw.close();
    await raw.closed;
    // The next clients get normal (not QUEUED) replies, and the abandoned SET never ran.
    for (let i = 0; i < 5; i++) {
      const c = await rawClient(amb.address.port);
      const r = await c.send(Buffer.concat([resp('MULTI'), resp('GET', 'left:k'), resp('EXEC')]), 3);
      assert.deepEqual(r.map(String), ['+OK\r\n', '+QUEUED\r\n', '*1\r\n$-1\r\n']);
      c.close();
    }
    const master = topo.master.client();
    assert.equal(await master.get('left:k'), null);
  });

  test('a SELECT inside MULTI switches the client’s db once EXEC runs it, as Redis does; not when DISCARDed or aborted', async () => {
    const c = await rawClient(amb.address.port);
    const tx = (...cmds: Buffer[]) => c.send(Buffer.concat(cmds), cmds.length).then((r) => r.map(String));
    assert.deepEqual(await tx(resp('MULTI'), resp('SELECT', '3'), resp('SET', 'txdb:a', '1'), resp('EXEC')), ['+OK\r\n', '+QUEUED\r\n', '+QUEUED\r\n', '*2\r\n+OK\r\n+OK\r\n']);
    // Every reply is in, so the dedicated connection is handed back and this goes through the shared ones.
    assert.deepEqual(await tx(resp('SET', 'txdb:b', '1')), ['+OK\r\n']);
    assert.deepEqual(await tx(resp('MULTI'), resp('SELECT', '4'), resp('DISCARD'), resp('SET', 'txdb:c', '1')), ['+OK\r\n', '+QUEUED\r\n', '+OK\r\n', '+OK\r\n']);
    const aborted = await tx(resp('MULTI'), resp('SELECT', '5'), resp('NOSUCHCOMMAND'), resp('EXEC'), resp('SET', 'txdb:d', '1'));
    assert.match(aborted[3], /^-EXECABORT/);
    assert.deepEqual(await tx(resp('MULTI'), resp('SELECT', '6'), resp('SELECT', '99'), resp('EXEC'), resp('SET', 'txdb:e', '1')), ['+OK\r\n', '+QUEUED\r\n', '+QUEUED\r\n', '*2\r\n+OK\r\n-ERR DB index is out of range\r\n', '+OK\r\n']);
    c.close();
    const m = topo.master.client();
    const where = async (key: string) => {
      const dbs: number[] = [];
      for (const db of [0, 3, 4, 5, 6]) if (Number(await m.call('EVAL', `redis.call('SELECT', ${db}); return redis.call('EXISTS', KEYS[1])`, '1', key)) === 1) dbs.push(db);
      return dbs;
    };
    assert.deepEqual(await where('txdb:a'), [3]);
    assert.deepEqual(await where('txdb:b'), [3], 'the client stays in db 3 after EXEC, as with Redis');
    assert.deepEqual(await where('txdb:c'), [3], 'a DISCARDed SELECT changes nothing');
    assert.deepEqual(await where('txdb:d'), [3], 'nor does one in an aborted transaction');
    assert.deepEqual(await where('txdb:e'), [6], 'the SELECT that ran counts, the one Redis refused does not');
  });

  test('MULTI, DISCARD, WATCH and UNWATCH refused for their argument count, and EXEC or DISCARD without MULTI, change nothing, as with Redis; an EXEC refused for its count still ends it all', async () => {
    // Each sequence goes to the master directly and then through the ambassador; the replies must be the same.
    const both = async (steps: Buffer[][], between?: () => Promise<unknown>) => {
      const out: string[][] = [];
      for (const port of [topo.master.port, amb.address.port]) {
        const c = await rawClient(port);
        const got: string[] = [];
        for (const [i, cmds] of steps.entries()) {
          if (i > 0) await between?.();
          got.push(...(await c.send(Buffer.concat(cmds), cmds.length)).map(String));
        }
        c.close();
        out.push(got);
      }
      assert.deepEqual(out[1], out[0]);
      return out[1];
    };
    // (CLIENT GETNAME is answered by the ambassador: inside a transaction it is queued, outside it is answered.)
    const opened = await both([[resp('MULTI', 'x'), resp('CLIENT', 'GETNAME'), resp('PING')]]);
    assert.deepEqual(opened.slice(1), ['$-1\r\n', '+PONG\r\n'], 'MULTI x opens no transaction');
    const kept = await both([[resp('MULTI'), resp('DISCARD', 'x'), resp('CLIENT', 'GETNAME'), resp('EXEC'), resp('PING')]]);
    assert.deepEqual(kept.slice(2), ['+QUEUED\r\n', '-EXECABORT Transaction discarded because of previous errors.\r\n', '+PONG\r\n'], 'DISCARD x leaves it open, to abort');
    const m = topo.master.client();
    const touch = () => m.set('argtx:k', String(Math.random()));
    const watched = await both([[resp('WATCH', 'argtx:k'), resp('UNWATCH', 'x')], [resp('MULTI'), resp('SET', 'argtx:k', 'mine'), resp('EXEC')]], touch);
    assert.equal(watched[4], '*-1\r\n', 'UNWATCH x keeps the key watched');
    for (const cmd of ['EXEC', 'DISCARD']) {
      const stays = await both([[resp('WATCH', 'argtx:k'), resp(cmd)], [resp('MULTI'), resp('SET', 'argtx:k', 'mine'), resp('EXEC')]], touch);
      assert.equal(stays[4], '*-1\r\n', `${cmd} without MULTI keeps the key watched`);
    }
    const ended = await both([[resp('WATCH', 'argtx:k'), resp('EXEC', 'x')], [resp('MULTI'), resp('SET', 'argtx:k', 'mine'), resp('EXEC')]], touch);
    assert.equal(ended[4], '*1\r\n+OK\r\n', 'EXEC x discards the watch');
    await both([[resp('WATCH'), resp('CLIENT', 'GETNAME'), resp('PING')]]);
  });

  test('a pinned connection handed back is RESET first: no leaked db', async () => {
    const a = await rawClient(amb.address.port);
    // SELECT while pinned (by WATCH) goes to the dedicated connection itself.
    const r = await a.send(Buffer.concat([resp('WATCH', 'leak:w'), resp('SELECT', '7'), resp('SET', 'leak:k', 'db7')]), 3);
    assert.deepEqual(r.map(String), ['+OK\r\n', '+OK\r\n', '+OK\r\n']);
    a.close();
    await a.closed;
    for (let i = 0; i < 3; i++) {
      const b = await rawClient(amb.address.port);
      const r2 = await b.send(Buffer.concat([resp('WATCH', 'leak:w'), resp('GET', 'leak:k'), resp('UNWATCH')]), 3);
      assert.equal(r2[1].toString(), '$-1\r\n', 'the next user of the connection is in db 0, not 7');
      b.close();
    }
  });

  test('pub/sub with ioredis and node-redis; a blocking pop waits on its own connection', async () => {
    const sub = ioredis();
    const got = new Promise<string>((resolve) => sub.on('message', (_ch: string, m: string) => resolve(m)));
    await sub.subscribe('chan');
    const nsub = createClient({ socket: { port: amb.address.port, host: '127.0.0.1' } });
    await nsub.connect();
    const ngot = new Promise<string>((resolve) => void nsub.subscribe('chan', (m) => resolve(m)));
    await pollUntil(async () => Number(((await topo.master.client().call('PUBSUB', 'NUMSUB', 'chan')) as [string, number])[1]) === 2, { what: 'two subscribers' });
    const blocker = ioredis();
    const popped = blocker.blpop('bq', 0);
    const pub = ioredis();
    await pollUntil(async () => /blocked_clients:1/.test(await topo.master.client().info('clients')), { what: 'BLPOP to block' });
    assert.equal(await pub.get('route:k'), 'v', 'other clients are not held up by the blocked one');
    await pub.publish('chan', 'hello');
    await pub.rpush('bq', 'item');
    assert.equal(await withTimeout(got, 5000, 'ioredis message'), 'hello');
    assert.equal(await withTimeout(ngot, 5000, 'node-redis message'), 'hello');
    assert.deepEqual(await withTimeout(popped, 5000, 'BLPOP'), ['bq', 'item']);
    await nsub.quit();
  });

  test('RESP3 pub/sub: push frames reach the client; WAIT counts replicas; XREAD BLOCK waits on its own connection', async () => {
    const raw = await rawClient(amb.address.port);
    await raw.send(resp('HELLO', '3'), 1);
    const [sub] = await raw.send(resp('SUBSCRIBE', 'r3'), 1);
    assert.equal(sub.toString(), '>3\r\n$9\r\nsubscribe\r\n$2\r\nr3\r\n:1\r\n');
    const pushed = raw.send(Buffer.alloc(0), 1);
    await ioredis().publish('r3', 'hi');
    assert.equal((await withTimeout(pushed, 5000, 'push'))[0].toString(), '>3\r\n$7\r\nmessage\r\n$2\r\nr3\r\n$2\r\nhi\r\n');
    raw.close();

    const c = ioredis();
    await c.set('wait:k', '1');
    assert.equal(await c.call('WAIT', '2', '5000'), 2, 'both replicas acknowledged the client’s write');
    const reader = ioredis();
    const read = reader.xread('BLOCK', 0, 'STREAMS', 'xs', '$');
    await pollUntil(async () => /blocked_clients:1/.test(await topo.master.client().info('clients')), { what: 'XREAD to block' });
    await c.xadd('xs', '*', 'f', 'v');
    const got = (await withTimeout(read, 5000, 'XREAD')) as [string, [string, string[]][]][];
    assert.equal(got[0][0], 'xs');
    assert.deepEqual(got[0][1][0][1], ['f', 'v']);
  });

  test('node-redis: pipelines, transactions, RESP3, Lua', async () => {
    const c = createClient({ socket: { port: amb.address.port, host: '127.0.0.1' }, RESP: 3 }).withTypeMapping({ [RESP_TYPES.MAP]: Map });
    await c.connect();
    await c.hSet('nr:h', { a: '1' });
    const m = await c.hGetAll('nr:h');
    assert.ok(m instanceof Map && m.get('a') === '1');
    const res = await c.multi().set('nr:k', '1').incr('nr:k').exec();
    assert.deepEqual(res, ['OK', 2]);
    const pipe = await Promise.all([c.set('nr:a', 'x'), c.get('route:k'), c.eval("return 'lua'", { keys: [], arguments: [] })]);
    assert.deepEqual(pipe, ['OK', 'v', 'lua']);
    await c.rPush('nr:q', 'job');
    assert.deepEqual(await c.blPop('nr:q', 1), { key: 'nr:q', element: 'job' });
    await c.quit();
  });

  test('redis-cli works through it, including inline commands', async () => {
    const port = String(amb.address.port);
    assert.equal((await run('redis-cli', ['-p', port, 'SET', 'cli:k', 'hi'])).stdout.trim(), 'OK');
    assert.equal((await run('redis-cli', ['-p', port, 'GET', 'cli:k'])).stdout.trim(), 'hi');
    const raw = await rawClient(amb.address.port);
    const r = await raw.send('PING\r\nECHO "a b"\r\n\r\nGET cli:k\r\n', 3);
    assert.deepEqual(r.map(String), ['+PONG\r\n', '$3\r\na b\r\n', '$2\r\nhi\r\n']);
    raw.close();
  });
});

describe('bad input', () => {
  test('malformed bytes get -ERR Protocol error and the connection closes; others are unaffected', async () => {
    const good = ioredis();
    const bad = await rawClient(amb.address.port);
    const r = await bad.send('*1\r\n$4\r\nPING\r\n*2\r\n:1\r\n', 2);
    assert.equal(r[0].toString(), '+PONG\r\n');
    assert.equal(r[1].toString(), "-ERR Protocol error: expected '$', got ':'\r\n");
    await withTimeout(bad.closed, 5000, 'close after protocol error');
    assert.equal(await good.ping(), 'PONG');
  });

  test('a bulk over --max-bulk is refused from its header, without buffering it', async () => {
    const bad = await rawClient(amb.address.port);
    const r = await bad.send('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$999999999\r\n', 1);
    assert.equal(r[0].toString(), '-ERR Protocol error: invalid bulk length\r\n');
    await withTimeout(bad.closed, 5000, 'close');
  });

  test('--max-bulk limits what clients send, not what the server replies', async () => {
    const big = 'y'.repeat(5 * 1024 * 1024);
    await topo.master.client().set('big:direct', big);
    const c = ioredis();
    await pollUntil(async () => (await c.strlen('big:direct')) === big.length, { what: 'replication of the big value' });
    assert.equal((await c.get('big:direct'))?.length, big.length);
    assert.equal(await c.ping(), 'PONG');
  });

  test('a slow client cannot grow memory without bound: its reading pauses', async () => {
    const c = ioredis();
    await c.set('big', 'x'.repeat(256 * 1024));
    const slow = await rawClient(amb.address.port);
    slow.socket.pause();
    const cmd = resp('GET', 'big');
    const n = 20_000; // 20,000 × 256 KiB = 5 GB of replies if nothing pushed back
    const before = metric(await metricsText(), /podkit_ambassador_commands_total\{command="get",route="replica"\} (\d+)/);
    for (let i = 0; i < n; i++) slow.socket.write(cmd);
    await pollUntil(async () => {
      const t = await metricsText();
      return metric(t, /podkit_ambassador_commands_total\{command="get",route="replica"\} (\d+)/) - before > 1000;
    }, { what: 'the ambassador to take the first commands' });
    // Give it every chance to read more: the count must stay bounded by max-pending plus what fits in the socket buffers.
    const samples: number[] = [];
    await pollUntil(async () => {
      samples.push(metric(await metricsText(), /podkit_ambassador_commands_total\{command="get",route="replica"\} (\d+)/) - before);
      return samples.length >= 5 && samples[samples.length - 1] === samples[samples.length - 5];
    }, { what: 'reading to stop', intervalMs: 100, timeoutMs: 20_000 });
    assert.ok(samples[samples.length - 1] < n / 2, `took ${samples[samples.length - 1]} of ${n} commands from a client that reads nothing`);
    slow.close();
    assert.equal(await c.ping(), 'PONG');
  });
});
