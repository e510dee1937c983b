/** @module Routing by the live COMMAND table: one call for every command the master lists, zero -READONLY replies. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { closeRedisClients, rawClient, resp, startTopology, stopAll, withTimeout, type Topology } from './helpers/index.js';
import { start, type Handle } from '../src/redis-ambassador/index.js';
import { tableFromCommandReply, tableFromStatic } from '../src/redis-ambassador/resp/commands.js';

let topo: Topology;
let amb: Handle;

/** Calls that would stop the server, change replication, block forever or turn the connection into a stream. */
const SKIP = new Set([
  'shutdown', 'debug', 'monitor', 'sync', 'psync', 'replicaof', 'slaveof', 'failover', 'quit', 'reset', 'multi', 'exec', 'discard', 'watch', 'unwatch',
  'subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'client|pause', 'client|kill', 'client|reply', 'client|tracking',
  'save', 'bgsave', 'bgrewriteaof', 'module', 'cluster', 'readonly', 'readwrite', 'asking', 'hello', 'auth', 'select',
]);

type Entry = [string, number, string[], number, number, number, string[], string[], unknown[], Entry[]];

before(async () => {
  topo = await startTopology({ replicas: 1 });
  amb = await start({
    listen: { host: '127.0.0.1', port: 0 },
    master: { host: '127.0.0.1', port: topo.master.port },
    replicas: [{ host: '127.0.0.1', port: topo.replicas[0].port }],
    readPolicy: 'replica',
    httpBind: null,
  });
});

after(async () => {
  closeRedisClients();
  await amb?.close();
  await stopAll();
});

function callsFor(e: Entry, prefix: string[] = []): Buffer[] {
  const name = e[0].toLowerCase();
  if (SKIP.has(name) || SKIP.has(name.split('|')[0])) return [];
  if (Array.isArray(e[9]) && e[9].length > 0) return e[9].flatMap((s) => callsFor(s, [name.split('|')[0]]));
  const arity = e[1];
  const words = prefix.length ? [...prefix, name.split('|')[1]] : [name];
  const need = Math.abs(arity) - words.length;
  const args = Array.from({ length: Math.max(0, need) }, (_, i) => (i === 0 ? `cmdtest:${name}` : '1'));
  // Blocking commands get a short timeout so the sweep never waits long.
  if (e[2].includes('blocking') && args.length > 0) args[args.length - 1] = '0.01';
  return [resp(...words, ...args)];
}

test('one call for every command COMMAND lists: zero -READONLY replies', { timeout: 120_000 }, async () => {
  const reply = (await topo.master.client().call('COMMAND')) as Entry[];
  const calls = reply.flatMap((e) => callsFor(e));
  assert.ok(calls.length > 200, `generated ${calls.length} calls`);
  const readonly: string[] = [];
  for (const call of calls) {
    // One fresh connection per call: some commands change connection state the next call must not inherit.
    const c = await rawClient(amb.address.port);
    const [r] = await withTimeout(c.send(call, 1), 10_000, `reply to ${call.toString().replace(/\r\n/g, ' ')}`);
    if (r.toString().startsWith('-READONLY')) readonly.push(call.toString().replace(/\r\n/g, ' '));
    c.close();
  }
  assert.deepEqual(readonly, []);
  const t = amb.metrics.collect().find((f) => f.name === 'podkit_ambassador_commands_total');
  const replicaCmds = new Set((t?.metrics ?? []).filter((m) => m.labels.route === 'replica').map((m) => m.labels.command));
  assert.ok(replicaCmds.size > 40, `${replicaCmds.size} distinct commands went to the replica`);
  for (const w of ['set', 'eval', 'fcall', 'del', 'sort', 'publish']) assert.ok(!replicaCmds.has(w), `${w} must not go to a replica`);
  for (const r of ['get', 'eval_ro', 'fcall_ro', 'hgetall', 'sort_ro']) assert.ok(replicaCmds.has(r), `${r} may go to a replica`);
});

test('the static table (used until COMMAND answers) never sends to a replica what the live table keeps on the master', async () => {
  const live = tableFromCommandReply(await topo.master.client().call('COMMAND'));
  const stat = tableFromStatic(createRequire(import.meta.url)('@ioredis/commands/built/commands.json') as Record<string, { flags: string[] }>);
  const unsafe: string[] = [];
  for (const i of live.all()) {
    if (i.name.includes('|') || i.replicaOk) continue;
    if (stat.get(i.name)?.replicaOk) unsafe.push(i.name);
  }
  assert.deepEqual(unsafe, []);
});
