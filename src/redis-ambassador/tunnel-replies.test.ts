/** @module A tunnel's replies counted: which commands get one, and what goes in the place of the ones rewritten. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { T_ID, T_INFO, T_LOCAL, T_LOST, T_NONE, T_ONE, T_REPLY_OFF, T_REPLY_ON, T_REPLY_SKIP, TunnelReplies, standIn, tunnelKind } from './tunnel-replies.js';
import { Special, makeInfo } from './resp/commands.js';

const b = (...a: string[]) => a.map((x) => Buffer.from(x));

test('tunnel kinds: one reply each, pushes only for RESP3 (un)subscribe, CLIENT REPLY modes, uncountable after RESP2 pub/sub or MONITOR', () => {
  const kind = (name: string, args: string[], proto = 2) => tunnelKind(makeInfo(name, []), () => b(...args), args.length, proto);
  assert.equal(kind('get', ['GET', 'k']), T_ONE);
  assert.equal(kind('client|getredir', ['CLIENT', 'GETREDIR']), T_ID);
  assert.equal(kind('client|trackinginfo', ['CLIENT', 'TRACKINGINFO'], 3), T_INFO);
  assert.equal(kind('client|tracking', ['CLIENT', 'TRACKING', 'on']), T_ONE);
  assert.equal(kind('client|reply', ['CLIENT', 'REPLY', 'Off']), T_REPLY_OFF);
  assert.equal(kind('client|reply', ['CLIENT', 'REPLY', 'skip']), T_REPLY_SKIP);
  assert.equal(kind('client|reply', ['CLIENT', 'REPLY', 'on']), T_REPLY_ON);
  assert.equal(kind('client|reply', ['CLIENT', 'REPLY', 'maybe']), T_ONE, 'a syntax error');
  assert.equal(kind('subscribe', ['SUBSCRIBE', 'c'], 3), T_NONE);
  assert.equal(kind('subscribe', ['SUBSCRIBE'], 3), T_ONE, 'an arity error');
  assert.equal(kind('unsubscribe', ['UNSUBSCRIBE'], 3), T_NONE);
  assert.equal(kind('subscribe', ['SUBSCRIBE', 'c'], 2), T_LOST);
  assert.equal(kind('monitor', ['MONITOR'], 3), T_LOST);
});

test('stand-ins: SELECT and HELLO <proto> as they are (their effect on the connection), else PING; no credentials', () => {
  const ok = Buffer.from('+OK\r\n');
  assert.deepEqual(standIn(Special.Select, b('SELECT', '3'), ok).map(String), ['SELECT', '3']);
  assert.deepEqual(standIn(Special.Hello, b('HELLO', '3', 'AUTH', 'u', 'p'), Buffer.from('%7\r\n')).map(String), ['HELLO', '3']);
  assert.deepEqual(standIn(Special.Hello, b('HELLO'), Buffer.from('%7\r\n')).map(String), ['PING']);
  assert.deepEqual(standIn(Special.Select, b('SELECT', '99'), Buffer.from('-ERR DB index is out of range\r\n')).map(String), ['PING']);
  assert.deepEqual(standIn(Special.Auth, b('AUTH', 'secret'), ok).map(String), ['PING']);
});

test('tunnel replies: rewritten in their places; CLIENT REPLY OFF/SKIP replies not counted; nothing once lost', () => {
  const t = new TunnelReplies((n) => n + 1000);
  const r = (x: string) => t.reply(Buffer.from(x), 0, x.length)?.toString() ?? null;
  for (const k of [T_ONE, T_ID, T_NONE, T_ONE, T_ID]) t.sent(k);
  t.sent(T_LOCAL, Buffer.from(':42\r\n'));
  assert.equal(r(':5\r\n'), null);
  assert.equal(r(':5\r\n'), ':1005\r\n');
  assert.equal(r(':5\r\n'), null);
  assert.equal(r('-ERR x\r\n'), null, 'an error stays an error');
  assert.equal(r('+PONG\r\n'), ':42\r\n');
  const info = '*6\r\n$5\r\nflags\r\n*1\r\n$2\r\non\r\n$8\r\nredirect\r\n:7\r\n$8\r\nprefixes\r\n*1\r\n$8\r\nredirect\r\n';
  for (const k of [T_REPLY_SKIP, T_ID, T_REPLY_OFF, T_ID, T_LOCAL, T_REPLY_SKIP, T_REPLY_ON, T_INFO]) t.sent(k, Buffer.from(':1\r\n'));
  assert.equal(r('+OK\r\n'), null, 'REPLY ON');
  assert.equal(r(info), info.replace(':7', ':1007'));
  t.sent(T_LOST);
  assert.equal(t.counting, false);
  t.sent(T_ID);
  assert.equal(r(':5\r\n'), null);
});

test('once replies cannot be counted, the slots before stay, and a probe’s reply is found by its token among messages, subscribed or not', () => {
  const t = new TunnelReplies((n) => n);
  const r = (x: string) => t.reply(Buffer.from(x), 0, x.length)?.toString() ?? null;
  t.sent(T_LOCAL, Buffer.from('+OK\r\n'));
  t.sent(T_LOST);
  assert.equal(t.counting, false);
  const answer = (n: number) => (subscribed: boolean) => Buffer.from(subscribed ? '-ERR subscribed\r\n' : `:${n}\r\n`);
  const [ping, one] = t.probe(answer(7));
  const two = t.probe(answer(8))[1].toString();
  assert.equal(String(ping), 'PING');
  assert.equal(r('+PONG\r\n'), '+OK\r\n', 'the slot before the loss is still rewritten');
  const token = one.toString();
  assert.equal(r(`*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$${token.length}\r\n${token}\r\n`), null, 'a message carrying the token');
  assert.equal(r(`+${token}\r\n`), null, 'a MONITOR line');
  assert.equal(r(`$${token.length}\r\n${token}\r\n`), ':7\r\n');
  assert.equal(r(`*2\r\n$4\r\npong\r\n$${two.length}\r\n${two}\r\n`), '-ERR subscribed\r\n');
  assert.equal(r(`$${token.length}\r\n${token}\r\n`), null, 'each probe answered once');
});
