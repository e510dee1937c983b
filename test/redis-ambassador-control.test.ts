/** @module The control link (COMMAND, INFO server, CONFIG GET databases on every connect) against a real redis-server with a password, and a scripted server that refuses or drops it. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeRedisClients, pollUntil, startRedis, stopAll } from './helpers/index.js';
import { startFaultServer } from './helpers/resp-fault.js';
import { ControlLink, type ControlReplies } from '../src/redis-ambassador/control.js';
import { ErrorReply } from '../src/core/resp/decode.js';
import { tableFromCommandReply } from '../src/redis-ambassador/resp/commands.js';

after(async () => {
  closeRedisClients();
  await stopAll();
});

test('against redis-server with requirepass: the live COMMAND table, the version and the databases, as ioredis decoded them', { timeout: 30_000 }, async () => {
  const r = await startRedis({ password: 's3cret', args: ['--databases', '7'] });
  const got: ControlReplies[] = [];
  const link = new ControlLink({ host: '127.0.0.1', port: r.port }, { password: 's3cret', connectTimeoutMs: 2000, onReplies: (x) => got.push(x) });
  try {
    await pollUntil(() => got.length > 0, { timeoutMs: 10_000, what: 'control replies' });
    const t = tableFromCommandReply(got[0].command);
    assert.equal(t.get('get')?.replicaOk, true);
    assert.equal(t.get('set')?.replicaOk, false);
    assert.deepEqual(t.get('client')?.subs?.has('setname'), true);
    assert.match(String(got[0].info), /redis_version:\d+\.\d+/);
    assert.deepEqual(got[0].databases, ['databases', '7']);
    const names = await r.client().call('CLIENT', 'LIST');
    assert.match(String(names), /name=podkit-ambassador-control/);
  } finally {
    link.close();
  }
});

test('a refused AUTH is retried with backoff and never reported as answers; a dropped link asks again on reconnect', { timeout: 30_000 }, async () => {
  let refusals = 2;
  const fs = await startFaultServer({
    command(args) {
      if (args[0] === 'auth' && refusals-- > 0) return '-WRONGPASS invalid username-password pair or user is disabled.\r\n';
      if (args[0] === 'command') return '*1\r\n*6\r\n$3\r\nget\r\n:2\r\n*1\r\n+readonly\r\n:1\r\n:1\r\n:1\r\n';
      if (args[0] === 'config') return '-NOPERM this user has no permissions to run the \'config\' command\r\n';
      return undefined;
    },
  });
  const got: ControlReplies[] = [];
  const link = new ControlLink({ host: '127.0.0.1', port: fs.port }, { password: 'pw', connectTimeoutMs: 2000, onReplies: (x) => got.push(x) });
  try {
    await pollUntil(() => got.length > 0, { timeoutMs: 10_000, what: 'control replies after two refusals' });
    assert.equal(fs.conns.length, 3, 'two refused connections, then one answered');
    assert.equal(tableFromCommandReply(got[0].command).get('get')?.replicaOk, true);
    assert.ok(got[0].databases instanceof ErrorReply, 'a denied CONFIG GET is an error reply, not a failure of the rest');
    fs.conns[2].socket.destroy();
    await pollUntil(() => got.length > 1, { timeoutMs: 10_000, what: 'replies again after the link dropped' });
    assert.equal(fs.conns.length, 4);
  } finally {
    link.close();
    await fs.close();
  }
});

test('a reply the decoder refuses (an integer that is not one) drops the link like a protocol error, and the link asks again', { timeout: 30_000 }, async () => {
  let bad = 1;
  const fs = await startFaultServer({
    command(args) {
      if (args[0] === 'command') return bad-- > 0 ? ':x\r\n' : '*1\r\n*6\r\n$3\r\nget\r\n:2\r\n*1\r\n+readonly\r\n:1\r\n:1\r\n:1\r\n';
      return undefined;
    },
  });
  const got: ControlReplies[] = [];
  const link = new ControlLink({ host: '127.0.0.1', port: fs.port }, { connectTimeoutMs: 2000, onReplies: (x) => got.push(x) });
  try {
    await pollUntil(() => got.length > 0, { timeoutMs: 10_000, what: 'control replies after a bad one' });
    assert.equal(fs.conns.length, 2, 'the bad reply dropped the first connection');
    assert.equal(tableFromCommandReply(got[0].command).get('get')?.replicaOk, true);
  } finally {
    link.close();
    await fs.close();
  }
});
