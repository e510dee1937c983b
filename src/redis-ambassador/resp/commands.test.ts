/** @module Command table: classification from COMMAND-style entries, lookups by bytes and by name. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Special, UNKNOWN, lookup, tableFromCommandReply, tableFromStatic } from './commands.js';

const reply = [
  ['get', 2, ['readonly', 'fast'], 1, 1, 1, [], [], [], []],
  ['set', -3, ['write', 'denyoom'], 1, 1, 1, [], [], [], []],
  ['blpop', -3, ['write', 'blocking'], 1, -2, 1, [], [], [], []],
  ['xread', -4, ['readonly', 'blocking', 'movablekeys'], 0, 0, 0, [], [], [], []],
  ['eval_ro', -3, ['readonly', 'noscript', 'stale', 'skip_monitor', 'no_mandatory_keys', 'movablekeys'], 0, 0, 0, [], [], [], []],
  ['eval', -3, ['noscript', 'stale', 'skip_monitor', 'may_replicate', 'no_mandatory_keys', 'movablekeys'], 0, 0, 0, [], [], [], []],
  ['object', -2, [], 0, 0, 0, [], [], [], [['object|encoding', 3, ['readonly'], 2, 2, 1, [], [], [], []], ['object|freq', 3, ['readonly'], 2, 2, 1, [], [], [], []]]],
  ['client', -2, [], 0, 0, 0, [], [], [], [['client|setname', 3, ['noscript', 'loading', 'stale'], 0, 0, 0, [], [], [], []], ['client|kill', -3, ['admin', 'noscript'], 0, 0, 0, [], [], [], []]]],
  ['publish', 3, ['pubsub', 'loading', 'stale', 'fast', 'may_replicate'], 0, 0, 0, [], [], [], []],
  ['subscribe', -2, ['pubsub', 'noscript', 'loading', 'stale'], 0, 0, 0, [], [], [], []],
];

test('classification: readonly only when not write, blocking, pubsub, admin or may-replicate', () => {
  const t = tableFromCommandReply(reply);
  const ok = (n: string, sub: string | null = null) => lookup(t, n, sub).replicaOk;
  assert.equal(ok('get'), true);
  assert.equal(ok('set'), false);
  assert.equal(ok('xread'), false, 'blocking');
  assert.equal(lookup(t, 'xread', null).special, Special.Blocking);
  assert.equal(ok('eval_ro'), true);
  assert.equal(ok('eval'), false);
  assert.equal(ok('publish'), false);
  assert.equal(ok('object', 'ENCODING'), true, 'subcommand flags');
  assert.equal(lookup(t, 'client', 'getname').special, Special.ClientGetName, 'local subcommands the list lacks are added');
  assert.equal(lookup(t, 'client', 'setinfo'), lookup(t, 'client', null), 'CLIENT SETINFO only where the master has it (7.2+)');
  assert.equal(lookup(t, 'subscribe', null).special, Special.Tunnel);
  assert.equal(lookup(t, 'nosuch', null), UNKNOWN);
});

test('CLIENT SETINFO is answered here where the master knows it (Redis 7.2+)', () => {
  const setinfo = ['client|setinfo', 4, ['noscript', 'loading', 'stale'], 0, 0, 0, [], [], [], []];
  const withSetinfo = reply.map((e) => (e[0] === 'client' ? [...e.slice(0, 9), [...(e[9] as unknown[]), setinfo]] : e));
  assert.equal(lookup(tableFromCommandReply(withSetinfo), 'client', 'SETINFO').special, Special.ClientSetInfo);
});

test('getBytes is case-insensitive and allocation-free; unknown names miss', () => {
  const t = tableFromCommandReply(reply);
  const b = Buffer.from('xxGeTxxEVAL_roxxGETS');
  assert.equal(t.getBytes(b, 2, 5)?.name, 'get');
  assert.equal(t.getBytes(b, 7, 14)?.name, 'eval_ro');
  assert.equal(t.getBytes(b, 16, 20), undefined);
});

test('the static table covers the common commands', () => {
  const s = tableFromStatic(createRequire(import.meta.url)('@ioredis/commands/built/commands.json') as Record<string, { flags: string[] }>);
  assert.ok(s.size > 200);
  assert.equal(s.get('GET')?.replicaOk, true);
  assert.equal(s.get('set')?.replicaOk, false);
  assert.equal(lookup(s, 'client', 'SETNAME').special, Special.ClientSetName);
});
