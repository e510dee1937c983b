/**
 * @module Hostile client byte streams for differential tests against redis-server: pipelines of multibulk and inline
 * commands (quotes, escapes, odd separators) mixed with protocol edge fragments (empty lines, `*0`, `*-1`, nested
 * `*`, NULs, edge lengths), then mutated; and a player that sends one in pieces and records what comes back.
 */
import { connect } from 'node:net';
import { Rng, mutate, mutateNumber, splitRandomly } from './fuzz.js';
import { withTimeout } from './poll.js';

const KEYS = ['a', 'b', 'k1', '{x}y', 'l', 'h', 'z'];
const WORDS = ['x', 'hello', 'a b', '', 'q"uote', "s'ingle", 'tab\there', 'nl\nx', 'cr\rx', 'nul\0x', 'hi\xffbyte', 'back\\slash', 'v\vf\f'];

function val(r: Rng): string {
  if (r.next() < 0.6) return r.pick(WORDS);
  const n = r.int(24);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.next() < 0.2 ? r.pick([0, 9, 10, 11, 12, 13, 32, 34, 39, 92, 0x80, 0xff]) : 97 + r.int(26));
  return s;
}
const num = (r: Rng) => r.pick(['0', '1', '2', '-1', '5', '10', '100', '01', '-0', '+1', ' 1', '1.5', '2147483647', '2147483648', '-2147483649', '9223372036854775807', '9223372036854775808', '15', '16', 'x']);
const key = (r: Rng) => r.pick(KEYS);

const COMMANDS: ((r: Rng) => string[])[] = [
  () => ['PING'],
  (r) => ['PING', val(r)],
  (r) => ['ECHO', val(r)],
  (r) => ['SET', key(r), val(r)],
  (r) => ['GET', key(r)],
  (r) => ['INCR', key(r)],
  (r) => ['INCRBY', key(r), num(r)],
  (r) => ['DEL', key(r), key(r)],
  (r) => ['EXISTS', key(r), key(r)],
  (r) => ['MGET', key(r), key(r), key(r)],
  (r) => ['APPEND', key(r), val(r)],
  (r) => ['LPUSH', 'l', val(r), val(r)],
  (r) => ['LRANGE', 'l', num(r), num(r)],
  (r) => ['HSET', 'h', val(r), val(r)],
  () => ['HGETALL', 'h'],
  (r) => ['ZADD', 'z', num(r), val(r)],
  () => ['ZRANGE', 'z', '0', '-1', 'WITHSCORES'],
  (r) => ['NOSUCHCMD', val(r)],
  () => ['GET'],
  (r) => ['SET', key(r), val(r), 'EX', num(r)],
  (r) => ['STRLEN', key(r)],
  (r) => ['GETRANGE', key(r), num(r), num(r)],
  (r) => ['SELECT', num(r)],
  (r) => ['CLIENT', 'SETNAME', val(r)],
  () => ['CLIENT', 'GETNAME'],
  (r) => ['client', r.pick(['getname', 'NOSUCH', 'setname'])],
  () => ['MULTI'],
  () => ['EXEC'],
  () => ['DISCARD'],
  () => ['DBSIZE'],
  (r) => ['TYPE', key(r)],
  (r) => ['get', key(r)],
  (r) => ['Set', key(r), val(r)],
  (r) => ['ECHO', val(r), val(r)],
  () => ['RESET'],
  () => ['QUIT'],
  (r) => ['HELLO', r.pick(['2', '3', '1', 'x'])],
  (r) => ['SUBSCRIBE', r.pick(['c1', 'c2'])],
  (r) => ['UNSUBSCRIBE', r.pick(['c1', 'c2'])],
  (r) => ['PUBLISH', r.pick(['c1', 'c2']), val(r)],
  (r) => ['WATCH', key(r)],
  () => ['UNWATCH'],
  // Refused for their argument count: Redis opens, ends or unwatches nothing (but EXEC, which discards it all).
  (r) => [r.pick(['MULTI', 'EXEC', 'DISCARD', 'UNWATCH']), key(r)],
  () => ['WATCH'],
];

function bulk(s: string): string {
  return `$${Buffer.byteLength(s, 'latin1')}\r\n${s}\r\n`;
}
function multibulk(args: string[]): string {
  return `*${args.length}\r\n${args.map(bulk).join('')}`;
}

const PLAIN = /^[\x21-\x7e\x80-\xff]+$/;
function inlineArg(a: string, r: Rng): string {
  const x = r.next();
  if (PLAIN.test(a) && !/["'\\]/.test(a) && x < 0.6) return a;
  if (!a.includes("'") && !/[\r\n\0]/.test(a) && x < 0.75) return `'${a}'`;
  let s = '"';
  for (const ch of a) {
    const c = ch.charCodeAt(0);
    if (ch === '"' || ch === '\\') s += `\\${ch}`;
    else if (ch === '\n') s += '\\n';
    else if (ch === '\r') s += '\\r';
    else if (ch === '\t') s += r.next() < 0.5 ? '\\t' : '\t';
    else if (c < 32 || c > 126 || r.next() < 0.05) s += `\\x${c.toString(16).padStart(2, '0')}`;
    else s += ch;
  }
  return s + '"';
}
function inline(args: string[], r: Rng): string {
  const sep = () => r.pick([' ', ' ', ' ', '  ', '\t', ' \t ', '\v', '\f']);
  let line = args.map((a) => inlineArg(a, r)).join(sep());
  if (r.next() < 0.1) line = sep() + line + sep();
  return line + (r.next() < 0.8 ? '\r\n' : '\n');
}

const FRAGMENTS: ((r: Rng) => string)[] = [
  () => '\r\n',
  () => '\n',
  () => '*0\r\n',
  () => '*-1\r\n',
  () => '$-1\r\n',
  () => '*2\r\n*1\r\n$4\r\nPING\r\n',
  () => '*1\r\n$4\r\nPING',
  () => '"unbalanced\r\n',
  () => "'unbalanced\r\n",
  () => '"a"b\r\n',
  () => 'ECHO "\\x4"\r\n',
  () => 'ECHO "\\x41\\x4a"\r\n',
  () => '*1\r\n$-1\r\n',
  () => '*1\r\n$0\r\n\r\n',
  () => '*2\r\n$4\r\nECHO\r\n$3\r\nabcXY',
  () => '*1\r\n:1\r\n',
  () => '*1\r\n+PING\r\n',
  () => '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n',
  // Lines up to 64 KiB: how much longer a line Redis takes once its end has arrived depends on its reads.
  (r) => `SET big ${'x'.repeat(r.pick([1000, 16000, 40000, 60000]))}\r\n`,
  (r) => `*${'1'.repeat(r.pick([20, 21, 100, 60000]))}\r\n`,
  () => 'GET a\0b\r\n',
  () => '*1\0\r\n$4\r\nPING\r\n',
  () => '*1\r\n$4\0\r\nPING\r\n',
  () => '*1\r\nX',
  () => '*1\r\nX\r\n',
  () => '*1\r\n\xff\r\n',
  () => '*1\r\n\r\n',
  () => 'PING\rPING\r\n',
  () => '*1\rX$4\r\nPING\r\n',
  () => '*-9007199254740993\r\n',
  () => '*-2147483649\r\n',
];

/** Case `i` of seed `seed`: a client's byte stream, and the pieces it is sent in. */
export function respStream(seed: number, i: number): { bytes: Buffer; pieces: Buffer[] } {
  const r = new Rng(seed * 1_000_003 + i);
  const n = 1 + r.int(10);
  let text = '';
  for (let k = 0; k < n; k++) {
    const x = r.next();
    if (x < 0.15) text += r.pick(FRAGMENTS)(r);
    else {
      const args = r.pick(COMMANDS)(r);
      text += r.next() < 0.4 ? inline(args, r) : multibulk(args);
    }
  }
  if (r.next() < 0.3) text = mutateNumber(text, r);
  let bytes: Buffer = Buffer.from(text, 'latin1');
  if (r.next() < 0.5) bytes = mutate(bytes, r, 1 + r.int(3));
  return { bytes, pieces: splitRandomly(bytes, r, 5) };
}

export interface Played {
  /** Everything the server sent. */
  out: Buffer;
  /** It closed the connection (else it went quiet). */
  closed: boolean;
}

/**
 * Send `pieces` to a server, pausing after each until it has been quiet for `quietMs` (so each piece is its own
 * read), then collect until it closes or has said nothing for `finalQuietMs` (a server may wait for more input).
 */
export async function playStream(port: number, pieces: Buffer[], quietMs = 20, finalQuietMs = 150): Promise<Played> {
  const s = connect({ port, host: '127.0.0.1', noDelay: true });
  s.on('error', () => {});
  await withTimeout(new Promise<void>((r) => s.once('connect', () => r())), 10_000, 'connecting');
  const got: Buffer[] = [];
  let closed = false;
  let kick = () => {};
  s.on('data', (d: Buffer) => {
    got.push(d);
    kick();
  });
  s.once('close', () => {
    closed = true;
    kick();
  });
  const quiet = (ms: number) =>
    withTimeout(
      new Promise<void>((r) => {
        let t: NodeJS.Timeout | undefined;
        kick = () => {
          clearTimeout(t);
          if (closed) r();
          else t = setTimeout(r, ms);
        };
        kick();
      }),
      10_000,
      'the server closing or going quiet',
    );
  for (const p of pieces) {
    if (closed) break;
    s.write(p);
    await quiet(quietMs);
  }
  await quiet(finalQuietMs);
  kick = () => {};
  s.destroy();
  return { out: Buffer.concat(got), closed };
}
