/** @module decodeValue: RESP2 and RESP3 frames to JS values, truncated and hostile frames as ProtocolErrors, and a round-trip fuzz against the scanner. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorReply, MAX_DEPTH, decodeFrame, decodeValue, type RespValue } from './decode.js';
import { scanState, scanValue } from './scanner.js';
import { ProtocolError } from '../errors.js';

const dec = (s: string) => decodeValue(Buffer.from(s), 0);
const refused = (s: string, why: RegExp) => assert.throws(() => dec(s), (e: unknown) => e instanceof ProtocolError && !(e instanceof ErrorReply) && why.test(e.message), JSON.stringify(s));

describe('RESP2, as ioredis decodes it', () => {
  test('each type', () => {
    assert.equal(dec('+OK\r\n'), 'OK');
    assert.equal(dec(':-42\r\n'), -42);
    assert.equal(dec(':0\r\n'), 0);
    assert.equal(dec('$5\r\nhello\r\n'), 'hello');
    assert.equal(dec('$0\r\n\r\n'), '');
    assert.equal(dec('$-1\r\n'), null);
    assert.equal(dec('*-1\r\n'), null);
    assert.deepEqual(dec('*2\r\n$3\r\nget\r\n:2\r\n'), ['get', 2]);
    assert.deepEqual(dec('*2\r\n*1\r\n+a\r\n*0\r\n'), [['a'], []]);
    assert.equal(dec('$2\r\n\u00e9\r\n'), '\u00e9', 'a bulk length counts UTF-8 bytes');
  });

  test('a bulk string holding CRLF is read by its length, not to the first CRLF', () => {
    assert.equal(dec('$4\r\na\r\nb\r\n'), 'a\r\nb');
  });

  test('an error reply is a value (ErrorReply), so the replies after it are still read', () => {
    const v = dec('*2\r\n-NOPERM no\r\n:1\r\n') as unknown[];
    assert.ok(v[0] instanceof ErrorReply);
    assert.equal((v[0] as Error).message, 'NOPERM no');
    assert.equal(v[1], 1);
  });

  test('an integer past 2^53 is a bigint, every digit kept', () => {
    assert.equal(dec(':9223372036854775807\r\n'), 9223372036854775807n);
    assert.equal(dec(':-9007199254740993\r\n'), -9007199254740993n);
    assert.equal(dec(':9007199254740991\r\n'), 9007199254740991);
  });

  test('only the first value is read; decodeFrame says where it ends', () => {
    const b = Buffer.from('xx:1\r\n+next\r\n');
    assert.deepEqual(decodeFrame(b, 2), { value: 1, end: 6 });
    assert.equal(decodeValue(b, 6), 'next');
  });
});

describe('RESP3', () => {
  test('null, booleans, doubles, big numbers', () => {
    assert.equal(dec('_\r\n'), null);
    assert.equal(dec('#t\r\n'), true);
    assert.equal(dec('#f\r\n'), false);
    assert.equal(dec(',3.14\r\n'), 3.14);
    assert.equal(dec(',-1.5e-3\r\n'), -0.0015);
    assert.equal(dec(',10\r\n'), 10);
    assert.equal(dec(',inf\r\n'), Infinity);
    assert.equal(dec(',-inf\r\n'), -Infinity);
    assert.ok(Number.isNaN(dec(',nan\r\n')));
    assert.equal(dec('(3492890328409238509324850943850943825024385\r\n'), 3492890328409238509324850943850943825024385n);
    assert.equal(dec('(-12\r\n'), -12n);
  });

  test('a verbatim string is its text without the format; a bulk error is an ErrorReply', () => {
    assert.equal(dec('=15\r\ntxt:Some string\r\n'), 'Some string');
    assert.equal(dec('=4\r\nmkd:\r\n'), '');
    assert.equal(dec('=20\r\ntxt:a\r\nb:c\r\n# Server\r\n'), 'a\r\nb:c\r\n# Server', 'INFO as a verbatim string keeps its lines');
    const e = dec('!21\r\nSYNTAX invalid syntax\r\n');
    assert.ok(e instanceof ErrorReply);
    assert.equal(e.message, 'SYNTAX invalid syntax');
  });

  test('maps keep their order; sets and pushes are arrays', () => {
    const m = dec('%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n*1\r\n_\r\n');
    assert.ok(m instanceof Map);
    assert.deepEqual([...m], [['first', 1], ['second', [null]]]);
    assert.deepEqual(dec('~3\r\n+a\r\n+b\r\n+c\r\n'), ['a', 'b', 'c']);
    assert.deepEqual(dec('>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nhey\r\n'), ['message', 'ch', 'hey']);
    assert.deepEqual(dec('%0\r\n'), new Map());
  });

  test('an attribute is read and dropped: the value it annotates stands, at the top or inside an aggregate', () => {
    const attr = '|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.19\r\n$1\r\nb\r\n,0.05\r\n';
    assert.deepEqual(dec(`${attr}*2\r\n:2039123\r\n:9543892\r\n`), [2039123, 9543892]);
    assert.deepEqual(dec(`*2\r\n${attr}:1\r\n:2\r\n`), [1, 2]);
    assert.equal(dec(`|0\r\n|0\r\n+OK\r\n`), 'OK', 'attributes in a row');
    const b = Buffer.from(`${attr}:7\r\n+after\r\n`);
    const { value, end } = decodeFrame(b, 0);
    assert.equal(value, 7);
    assert.equal(end, scanValue(b, 0, b.length, scanState()), 'the frame ends where the scanner says');
  });
});

describe('bad input is a ProtocolError naming what is wrong', () => {
  test('an unknown type byte, and bad headers', () => {
    refused('?x\r\n', /unknown type byte "\?"/);
    refused('$-5\r\n', /invalid bulk length/);
    refused('$x\r\n', /invalid bulk length/);
    refused('*-2\r\n', /invalid multibulk length/);
    refused('~-1\r\n', /invalid multibulk length/);
    refused('+OK\rx', /expected CRLF/);
    refused('$1\r\nab\r\n', /bulk not followed by CRLF/);
  });

  test('scalars that break their type', () => {
    refused(':abc\r\n', /invalid integer "abc"/);
    refused(':\r\n', /invalid integer/);
    refused(',1.2.3\r\n', /invalid double "1.2.3"/);
    refused(',Infinity\r\n', /invalid double/);
    refused('(1.5\r\n', /invalid big number/);
    refused('_x\r\n', /invalid null/);
    refused('#x\r\n', /invalid boolean/);
    refused('=3\r\ntxt\r\n', /invalid verbatim string/);
    refused('=5\r\ntxt-a\r\n', /invalid verbatim string/);
  });

  test('every truncation of a frame is an incomplete frame, never a partial value', () => {
    const whole = '*3\r\n$5\r\nhello\r\n%1\r\n+k\r\n,1.5\r\n|1\r\n+a\r\n+b\r\n=7\r\ntxt:abc\r\n';
    assert.deepEqual(dec(whole), ['hello', new Map([['k', 1.5]]), 'abc']);
    for (let i = 0; i < whole.length; i++) refused(whole.slice(0, i), /incomplete frame|expected CRLF|bulk not followed by CRLF/);
    // The end given bounds the read, whatever the buffer holds after it.
    assert.throws(() => decodeValue(Buffer.from('$5\r\nhello\r\n'), 0, 8), /incomplete frame/);
  });

  test('a bulk past maxBulk is refused from its header', () => {
    assert.throws(() => decodeValue(Buffer.from('$1001\r\n'), 0, 7, { maxBulk: 1000 }), /invalid bulk length/);
    assert.equal(decodeValue(Buffer.from('$3\r\nabc\r\n'), 0, 9, { maxBulk: 3 }), 'abc');
  });

  test(`nesting deeper than ${MAX_DEPTH} levels is refused, not a stack overflow`, () => {
    const deep = (n: number, open: string) => `${open.repeat(n)}:1\r\n`;
    let v = dec(deep(MAX_DEPTH, '*1\r\n'));
    for (let i = 0; i < MAX_DEPTH; i++) v = (v as RespValue[])[0];
    assert.equal(v, 1);
    refused(deep(MAX_DEPTH + 1, '*1\r\n'), new RegExp(`nested deeper than ${MAX_DEPTH} levels`));
    refused(deep(1_000_000, '*1\r\n'), /nested deeper/);
    refused(deep(1_000_000, '%1\r\n'), /nested deeper/);
    refused(deep(1_000_000, '|1\r\n'), /nested deeper/);
    assert.throws(() => decodeValue(Buffer.from(deep(3, '*1\r\n')), 0, undefined, { maxDepth: 2 }), /nested deeper than 2/);
  });

  test('a huge count with few bytes behind it ends at the bytes, allocating nothing up front', () => {
    refused('*2147483647\r\n:1\r\n', /incomplete frame/);
    refused('%2147483647\r\n', /incomplete frame/);
  });
});

/** A value and its encoding: what the decoder must give back, through every RESP2/RESP3 spelling of it. */
type Case = [RespValue, string];
const text = fc.string({ maxLength: 12 });
const line = text.filter((s) => !/[\r\n]/.test(s));
const bulkOf = (t: string, s: string) => `${t}${Buffer.byteLength(s)}\r\n${s}\r\n`;
const scalar: fc.Arbitrary<Case> = fc.oneof(
  line.map((s): Case => [s, `+${s}\r\n`]),
  text.map((s): Case => [s, bulkOf('$', s)]),
  text.map((s): Case => [s, bulkOf('=', `txt:${s}`)]),
  fc.maxSafeInteger().map((n): Case => [n, `:${n}\r\n`]),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }).map((n): Case => [n, `(${n}\r\n`]),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)).map((n): Case => [n, `,${n}\r\n`]),
  fc.boolean().map((b): Case => [b, `#${b ? 't' : 'f'}\r\n`]),
  fc.constantFrom<Case>([null, '_\r\n'], [null, '$-1\r\n'], [null, '*-1\r\n'], [Infinity, ',inf\r\n'], [-Infinity, ',-inf\r\n']),
);
const attribute = fc.option(fc.array(fc.tuple(line, scalar), { maxLength: 2 }).map((ps) => `|${ps.length}\r\n${ps.map(([k, [, enc]]) => `+${k}\r\n${enc}`).join('')}`), { nil: '' });
const value: fc.Arbitrary<Case> = fc.letrec<{ v: Case }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.tuple(fc.constantFrom('*', '~', '>'), fc.array(tie('v'), { maxLength: 4 })).map(([t, xs]): Case => [xs.map(([v]) => v), `${t}${xs.length}\r\n${xs.map(([, e]) => e).join('')}`]),
    fc.uniqueArray(fc.tuple(line, tie('v')), { maxLength: 3, selector: ([k]) => k }).map((ps): Case => [new Map(ps.map(([k, [v]]) => [k, v])), `%${ps.length}\r\n${ps.map(([k, [, e]]) => `$${Buffer.byteLength(k)}\r\n${k}\r\n${e}`).join('')}`]),
  ),
})).v;
const annotated: fc.Arbitrary<Case> = fc.tuple(attribute, value).map(([a, [v, e]]): Case => [v, a + e]);

describe('decodeValue fuzz', () => {
  test('every encoding decodes to its value and ends where the scanner ends the frame', () => {
    fc.assert(
      fc.property(annotated, line, ([v, enc], tail) => {
        const b = Buffer.from(`${enc}+${tail}\r\n`);
        const got = decodeFrame(b, 0);
        assert.deepEqual(got.value, v);
        assert.equal(got.end, scanValue(b, 0, b.length, scanState()));
      }),
      { numRuns: 1000 },
    );
  });

  test('random bytes give a value or a ProtocolError, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (a) => {
        try {
          decodeValue(Buffer.from(a), 0);
        } catch (e) {
          assert.ok(e instanceof ProtocolError, String(e));
        }
      }),
      { numRuns: 3000 },
    );
  });
});
