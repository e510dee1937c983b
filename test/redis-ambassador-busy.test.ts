/**
 * @module A script running past busy-reply-threshold, through the ambassador as against Redis itself: other clients
 * get -BUSY at once, SCRIPT KILL and FUNCTION KILL reach Redis, a MULTI sent meanwhile is aborted, new clients can
 * connect; each scenario runs against the master directly first, and its replies are the expected value.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { pollUntil, rawClient, resp, run, startTopology, stopAll, type RawClient, type Topology } from './helpers/index.js';
import { start, type Handle, type Options } from '../src/redis-ambassador/index.js';
import { createLogger } from '../src/core/log.js';

let topo: Topology;
const SPIN = 'while true do end';
const LIB = "#!lua name=podkitbusy\nredis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}";

before(async () => {
  topo = await startTopology({ replicas: 2 });
  const m = topo.master.client();
  // A script is "busy" (other clients get -BUSY) after 50 ms instead of 5 s.
  await m.config('SET', 'busy-reply-threshold', '50');
  await m.call('FUNCTION', 'LOAD', 'REPLACE', LIB);
  // The scenarios read back from a replica: a replica just synced gets the stream only after its first ACK (up to a
  // second later), so wait until both have a write made now.
  await m.set('busy:ready', String(process.pid));
  for (const r of topo.replicas) {
    const c = await rawClient(r.port);
    try {
      await pollUntil(async () => (await c.send(resp('GET', 'busy:ready'), 1))[0].toString().includes(String(process.pid)), { what: `replica ${r.port} streaming`, timeoutMs: 10_000 });
    } finally {
      c.close();
    }
  }
});

after(async () => {
  await stopAll();
});

const open: RawClient[] = [];
async function client(port: number, db = 0): Promise<RawClient> {
  const c = await rawClient(port);
  open.push(c);
  if (db !== 0) assert.equal((await c.send(resp('SELECT', db), 1))[0].toString(), '+OK\r\n');
  return c;
}
function closeAll(): void {
  for (const c of open.splice(0)) c.close();
}
const text = (b: Buffer[]) => b.map((x) => x.toString('latin1'));

/** Until the master itself answers -BUSY (the script has run past the threshold). */
async function untilBusy(): Promise<void> {
  const probe = await rawClient(topo.master.port);
  try {
    await pollUntil(async () => (await probe.send(resp('PING'), 1))[0].toString().startsWith('-BUSY'), { what: 'the master to be busy', timeoutMs: 10_000 });
  } finally {
    probe.close();
  }
}

/** Until the master is idle again; a script a failed check left running is killed. */
async function untilIdle(): Promise<void> {
  const probe = await rawClient(topo.master.port);
  try {
    await probe.send(Buffer.concat([resp('SCRIPT', 'KILL'), resp('FUNCTION', 'KILL')]), 2);
    await pollUntil(async () => (await probe.send(resp('PING'), 1))[0].toString() === '+PONG\r\n', { what: 'the master to be idle', timeoutMs: 10_000 });
  } finally {
    probe.close();
  }
}

/** Every reply of one run, in order, with the keys' values read back afterwards. */
async function scriptKill(port: number): Promise<string[]> {
  const out: string[] = [];
  const runner = await client(port);
  const script = runner.send(Buffer.concat([resp('EVAL', SPIN, 0), resp('PING')]), 2);
  await untilBusy();
  const other = await client(port);
  out.push(...text(await other.send(resp('PING'), 1)));
  out.push(...text(await other.send(resp('SET', 'busy:k', 'v'), 1)));
  out.push(...text(await other.send(resp('EVAL', 'return 1', 0), 1)));
  // A client that connects now can still talk to Redis through the ambassador.
  const late = await client(port);
  out.push(...text(await late.send(resp('PING'), 1)));
  out.push(...text(await late.send(resp('FUNCTION', 'KILL'), 1)));
  out.push(...text(await late.send(resp('SCRIPT', 'KILL'), 1)));
  out.push(...text(await script));
  out.push(...text(await other.send(resp('PING'), 1)));
  const after = await client(port);
  out.push(...text(await after.send(resp('PING'), 1)));
  return out;
}

async function functionKill(port: number): Promise<string[]> {
  const out: string[] = [];
  const runner = await client(port);
  const spin = runner.send(resp('FCALL', 'spin', 0), 1);
  await untilBusy();
  const other = await client(port);
  out.push(...text(await other.send(resp('FCALL', 'spin', 0), 1)));
  out.push(...text(await other.send(resp('FUNCTION', 'STATS'), 1)).map((r) => r.replace(/\d+/g, 'N')));
  out.push(...text(await other.send(resp('SCRIPT', 'KILL'), 1)));
  out.push(...text(await other.send(resp('FUNCTION', 'KILL'), 1)));
  out.push(...text(await spin));
  out.push(...text(await runner.send(resp('PING'), 1)));
  return out;
}

/** unit/multi "MULTI and script timeout": the transaction is aborted whole, never half run. */
async function multiDuringScript(port: number): Promise<string[]> {
  const out: string[] = [];
  const setup = await client(port);
  await setup.send(resp('SET', 'busy:xx', 1), 1);
  const runner = await client(port);
  const script = runner.send(resp('EVAL', SPIN, 0), 1);
  await untilBusy();
  const tx = await client(port);
  out.push(...text(await tx.send(resp('MULTI'), 1)));
  out.push(...text(await tx.send(resp('INCR', 'busy:xx'), 1)));
  out.push(...text(await setup.send(resp('SCRIPT', 'KILL'), 1)));
  out.push(...text(await script));
  await pollUntil(async () => (await setup.send(resp('PING'), 1))[0].toString() === '+PONG\r\n', { what: 'the script to end' });
  out.push(...text(await tx.send(resp('INCR', 'busy:xx'), 1)));
  out.push(...text(await tx.send(resp('EXEC'), 1)));
  out.push(...text(await tx.send(resp('PING', 'asdf'), 1)));
  out.push(...text(await setup.send(resp('GET', 'busy:xx'), 1)));
  return out;
}

const SCENARIOS = { 'SCRIPT KILL': scriptKill, 'FUNCTION KILL': functionKill, 'MULTI while a script is busy': multiDuringScript };

describe('a busy script, directly against Redis (the expected replies)', () => {
  const expected: Record<string, string[]> = {};
  for (const [name, fn] of Object.entries(SCENARIOS)) {
    test(`${name}: what Redis answers`, async () => {
      try {
        expected[name] = await fn(topo.master.port);
      } finally {
        closeAll();
        await untilIdle();
      }
      assert.match(expected[name].join(''), /-BUSY/);
    });
  }

  const configs: [string, Partial<Options>][] = [
    ['read policy master', { readPolicy: 'master' }],
    ['default read policy', {}],
    ['consistency session', { consistency: 'session' }],
  ];
  for (const [label, extra] of configs) {
    describe(`through the ambassador (${label}, two replicas)`, () => {
      let amb: Handle;
      before(async () => {
        amb = await start({
          listen: { host: '127.0.0.1', port: 0 },
          // No HTTP server: the default 127.0.0.1:9121 is taken by whichever test file runs beside this one.
          httpBind: null,
          master: { host: '127.0.0.1', port: topo.master.port },
          replicas: topo.replicas.map((r) => ({ host: '127.0.0.1', port: r.port })),
          ...extra,
          log: process.env.BUSYDBG ? createLogger({ name: 'amb', level: 'debug', format: 'json' }) : undefined,
        });
      });
      after(async () => {
        closeAll();
        await amb?.close();
      });

      for (const name of Object.keys(SCENARIOS) as (keyof typeof SCENARIOS)[]) {
        test(`${name}: the same replies as Redis gives directly`, async () => {
          try {
            assert.deepEqual(await SCENARIOS[name](amb.address.port), expected[name]);
          } finally {
            closeAll();
            await untilIdle();
          }
        });
      }

      test('a connection for another db set up while a script is busy: its commands wait for SELECT, never run in db 0', async () => {
        const port = amb.address.port;
        const runner = await client(port);
        const script = runner.send(resp('EVAL', SPIN, 0), 1);
        try {
          await untilBusy();
          // db 13 is used nowhere else: its connection is made now, and Redis refuses SELECT with -BUSY meanwhile.
          const c = await client(port, 13);
          const set = c.send(resp('SET', 'busy:db13', 'v'), 1);
          const killer = await client(port);
          assert.equal((await killer.send(resp('SCRIPT', 'KILL'), 1))[0].toString(), '+OK\r\n');
          await script;
          assert.equal((await set)[0].toString(), '+OK\r\n');
          const m = topo.master.client();
          assert.equal(await m.get('busy:db13'), null);
          await m.select(13);
          assert.equal(await m.get('busy:db13'), 'v');
          await m.select(0);
        } finally {
          closeAll();
          await untilIdle();
        }
      });

      test('redis-cli and node-redis while a script is busy: -BUSY at once, SCRIPT KILL works, then PONG', async () => {
        const port = amb.address.port;
        const runner = await client(port);
        const script = runner.send(resp('EVAL', SPIN, 0), 1);
        try {
          await untilBusy();
          const cli = await run('redis-cli', ['-p', String(port), 'PING'], { timeoutMs: 10_000 });
          assert.match(cli.stdout, /^BUSY /);
          const nr = createClient({ socket: { host: '127.0.0.1', port } });
          await nr.connect();
          try {
            await assert.rejects(nr.set('busy:nr', '1'), /^Error: BUSY|BUSY /);
            assert.equal(await nr.sendCommand(['SCRIPT', 'KILL']), 'OK');
            assert.match((await script)[0].toString(), /^-ERR .*killed by user/i);
            assert.equal(await nr.ping(), 'PONG');
          } finally {
            await nr.disconnect();
          }
          const again = await run('redis-cli', ['-p', String(port), 'PING'], { timeoutMs: 10_000 });
          assert.equal(again.stdout, 'PONG\n');
        } finally {
          closeAll();
          await untilIdle();
        }
      });
    });
  }
});
