/** @module Frame scanner tests: whole, byte by byte, split at every boundary, and fuzzed against a reference decoder. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BAD, MAX_SAFE_BULK, NEED, commandFrame, findByte, scanCommand, scanState, scanValue, splitArgs, type ScanState } from './scanner.js';
import { InputBuffer } from './buffer.js';

/** Reference decoder: recursive, obviously right, slow. Returns [value, next offset] or throws. */
type Ref = string | number | null | boolean | Ref[] | { t: string; v: Ref };
function refDecode(s: string, p: number): [Ref, number] {
  const t = s[p];
  const eol = s.indexOf('\r\n', p);
  if (eol < 0) throw new Error('incomplete');
  const line = s.slice(p + 1, eol);
  const next = eol + 2;
  switch (t) {
    case '+':
    case '-':
    case ',':
    case '(':
      return [{ t, v: line }, next];
    case ':':
      return [Number(line), next];
    case '_':
      return [null, next];
    case '#':
      return [line === 't', next];
    case '$':
    case '!':
    case '=': {
      const n = Number(line);
      if (n === -1) return [null, next];
      if (s.slice(next + n, next + n + 2) !== '\r\n') throw new Error('bad bulk');
      return [{ t, v: s.slice(next, next + n) }, next + n + 2];
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      const n = Number(line);
      if (n === -1) return [null, next];
      const count = t === '%' ? 2 * n : t === '|' ? 2 * n + 1 : n;
      const out: Ref[] = [];
      let q = next;
      for (let i = 0; i < count; i++) {
        const [v, q2] = refDecode(s, q);
        out.push(v);
        q = q2;
      }
      return [{ t, v: out }, q];
    }
    default:
      throw new Error('unknown type');
  }
}

/** Scan all frames from a sequence of chunks through InputBuffer, as the proxy does. */
function scanChunks(chunks: Buffer[], st: ScanState = scanState()): string[] {
  const inb = new InputBuffer();
  const frames: string[] = [];
  let need = 0;
  for (const c of chunks) {
    inb.push(c, need);
    let p = inb.start;
    for (;;) {
      const e = scanValue(inb.buf, p, inb.end, st);
      if (e === BAD) throw new Error(st.error);
      if (e === NEED) {
        need = st.need ? st.need - p : 0;
        break;
      }
      frames.push(inb.buf.toString('latin1', p, e));
      p = e;
    }
    inb.consume(p);
  }
  assert.equal(inb.length, 0, 'no bytes left over');
  return frames;
}

const SAMPLES = [
  '+OK\r\n',
  '-ERR wrong\r\n',
  ':-42\r\n',
  '$5\r\nhello\r\n',
  '$0\r\n\r\n',
  '$-1\r\n',
  '*-1\r\n',
  '*0\r\n',
  '*2\r\n$3\r\nfoo\r\n:1\r\n',
  '_\r\n',
  '#t\r\n',
  ',3.14\r\n',
  '(3492890328409238509324850943850943825024385\r\n',
  '!21\r\nSYNTAX invalid syntax\r\n',
  '=15\r\ntxt:Some string\r\n',
  '%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n',
  '~3\r\n+a\r\n+b\r\n+c\r\n',
  '>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nhey\r\n',
  '|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.19\r\n$1\r\nb\r\n,0.05\r\n*2\r\n:2039123\r\n:9543892\r\n',
  '*3\r\n*1\r\n%1\r\n+k\r\n~1\r\n_\r\n$2\r\n\r\n\r\n-E\r\n',
];

describe('scanValue', () => {
  const all = Buffer.from(SAMPLES.join(''), 'latin1');
  test('whole buffer', () => assert.deepEqual(scanChunks([all]), SAMPLES));
  test('byte by byte', () => {
    const chunks = [...all].map((b) => Buffer.from([b]));
    assert.deepEqual(scanChunks(chunks), SAMPLES);
  });
  test('split at every boundary', () => {
    for (let i = 1; i < all.length; i++) assert.deepEqual(scanChunks([all.subarray(0, i), all.subarray(i)]), SAMPLES, `split at ${i}`);
  });
  test('unknown type byte is a protocol error, not a stall', () => {
    const st = scanState();
    assert.equal(scanValue(Buffer.from('?x\r\n'), 0, 4, st), BAD);
    assert.match(st.error, /unknown type byte/);
    assert.equal(scanValue(Buffer.from('@'), 0, 1, st), NEED, 'only the line end is awaited');
  });
  test('bulk longer than the limit is refused from its header alone', () => {
    const st = scanState(1000);
    assert.equal(scanValue(Buffer.from('$1001\r\n'), 0, 7, st), BAD);
    assert.match(st.error, /invalid bulk length/);
  });
  test('bulk not followed by CRLF is an error', () => {
    const st = scanState();
    assert.equal(scanValue(Buffer.from('$1\r\nab\r\n'), 0, 8, st), BAD);
  });
  test('a header line without CRLF past 64 KiB is an error', () => {
    const st = scanState();
    const b = Buffer.alloc(70_000, 0x31);
    b[0] = 0x3a;
    assert.equal(scanValue(b, 0, b.length, st), BAD);
  });
  test('NEED reports how much a partial bulk needs', () => {
    const st = scanState();
    assert.equal(scanValue(Buffer.from('$100\r\nabc'), 0, 9, st), NEED);
    assert.equal(st.need, 6 + 100 + 2);
  });
});

const refValue: fc.Arbitrary<string> = fc.letrec<{ v: string }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('+OK\r\n', '-ERR x\r\n', ':7\r\n', '_\r\n', '#f\r\n', ',1.5\r\n', '$-1\r\n', '*-1\r\n', '(12\r\n'),
    fc.uint8Array({ maxLength: 40 }).map((a) => `$${a.length}\r\n${Buffer.from(a).toString('latin1')}\r\n`),
    fc.uint8Array({ maxLength: 10 }).map((a) => `=${a.length + 4}\r\ntxt:${Buffer.from(a).toString('latin1')}\r\n`),
    fc.tuple(fc.constantFrom('*', '~', '>'), fc.array(tie('v'), { maxLength: 4 })).map(([t, xs]) => `${t}${xs.length}\r\n${xs.join('')}`),
    fc.array(fc.tuple(tie('v'), tie('v')), { maxLength: 3 }).map((ps) => `%${ps.length}\r\n${ps.map(([a, b]) => a + b).join('')}`),
    fc.tuple(fc.array(fc.tuple(tie('v'), tie('v')), { maxLength: 2 }), tie('v')).map(([ps, v]) => `|${ps.length}\r\n${ps.map(([a, b]) => a + b).join('')}${v}`),
  ),
})).v;

describe('scanValue fuzz', () => {
  test('frames found by the scanner are exactly the reference decoder’s, however the bytes are split', () => {
    fc.assert(
      fc.property(fc.array(refValue, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (values, cuts) => {
        const all = Buffer.from(values.join(''), 'latin1');
        const s = all.toString('latin1');
        let p = 0;
        const ref: string[] = [];
        while (p < s.length) {
          const [, q] = refDecode(s, p);
          ref.push(s.slice(p, q));
          p = q;
        }
        const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let last = 0;
        for (const c of points) {
          chunks.push(all.subarray(last, c));
          last = c;
        }
        chunks.push(all.subarray(last));
        assert.deepEqual(scanChunks(chunks.filter((c) => c.length > 0)), ref);
      }),
      { numRuns: 500 },
    );
  });
  test('random bytes never hang: BAD, NEED or a frame, and a frame is what the reference decodes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (a) => {
        const b = Buffer.from(a);
        const st = scanState();
        const e = scanValue(b, 0, b.length, st);
        if (e > 0) assert.equal(refDecode(b.toString('latin1'), 0)[1], e);
        else assert.ok(e === BAD || e === NEED);
      }),
      { numRuns: 2000 },
    );
  });
});

function cmds(input: Buffer, chunkSize: number): string[][] {
  const st = scanState();
  const inb = new InputBuffer();
  const cmd = commandFrame();
  const out: string[][] = [];
  for (let i = 0; i < input.length; i += chunkSize) {
    inb.push(input.subarray(i, i + chunkSize));
    let p = inb.start;
    for (;;) {
      const e = scanCommand(inb.buf, p, inb.end, st, cmd);
      if (e === BAD) throw new Error(st.error);
      if (e === NEED) break;
      if (cmd.inline) out.push(cmd.inline.map((x) => x.toString()));
      else {
        const args: string[] = [];
        for (let k = 0; k < Math.min(cmd.argc, 4); k++) args.push(inb.buf.toString('utf8', cmd.argStart[k], cmd.argEnd[k]));
        out.push(args);
      }
      p = e;
    }
    inb.consume(p);
  }
  return out;
}

describe('scanCommand', () => {
  const input = Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nPING\r\nset "a b" \'c\\\'d\' "\\x41\\n"\r\n\r\n*0\r\n*1\r\n$4\r\nPING\r\n');
  const expected = [['SET', 'k', 'hello'], ['PING'], ['set', 'a b', "c'd", 'A\n'], [], [], ['PING']];
  test('whole, byte by byte and split at every boundary', () => {
    assert.deepEqual(cmds(input, input.length), expected);
    assert.deepEqual(cmds(input, 1), expected);
    for (let i = 1; i < input.length; i++) {
      const st = scanState();
      const inb = new InputBuffer();
      const cmd = commandFrame();
      let n = 0;
      for (const part of [input.subarray(0, i), input.subarray(i)]) {
        inb.push(part);
        let p = inb.start;
        for (let e; (e = scanCommand(inb.buf, p, inb.end, st, cmd)) > 0; p = e) n++;
        inb.consume(p);
      }
      assert.equal(n, expected.length, `split at ${i}`);
    }
  });
  const bad: [string, RegExp][] = [
    ['*2\r\n:1\r\n', /expected '\$', got ':'/],
    ['*x\r\n', /invalid multibulk length/],
    ['*1\r\n$-5\r\n', /invalid bulk length/],
    ['*1\r\n$600000000\r\n', /invalid bulk length/],
    ['SET "abc\r\n', /unbalanced quotes/],
    // Lengths are read as Redis's string2ll reads them (the replies are real redis-server 7.0's).
    ['*1\r\n$01\r\nP\r\n', /^Protocol error: invalid bulk length$/],
    ['*1\r\n$-0\r\n', /^Protocol error: invalid bulk length$/],
    ['*1\r\n$+4\r\nPING\r\n', /^Protocol error: invalid bulk length$/],
    ['*1\r\n$ 4\r\nPING\r\n', /^Protocol error: invalid bulk length$/],
    ['*1\r\n$4 \r\nPING\r\n', /^Protocol error: invalid bulk length$/],
    ['*1\r\n$00\r\n\r\n', /^Protocol error: invalid bulk length$/],
    ['*1\r\n$\r\n\r\n', /^Protocol error: invalid bulk length$/],
    ['*01\r\n$4\r\nPING\r\n', /^Protocol error: invalid multibulk length$/],
    ['*-0\r\n', /^Protocol error: invalid multibulk length$/],
    ['*+1\r\n', /^Protocol error: invalid multibulk length$/],
    ['* 1\r\n', /^Protocol error: invalid multibulk length$/],
    ['*\r\n', /^Protocol error: invalid multibulk length$/],
    ['*2147483648\r\n', /^Protocol error: invalid multibulk length$/],
    ['*99999999999999999999\r\n', /^Protocol error: invalid multibulk length$/],
  ];
  for (const [text, re] of bad) {
    test(`malformed ${JSON.stringify(text)} → ${re}`, () => {
      const st = scanState();
      assert.equal(scanCommand(Buffer.from(text), 0, text.length, st, commandFrame()), BAD);
      assert.match(st.error, re);
    });
  }
  test('oversized bulk is refused before its body arrives (configurable limit)', () => {
    const st = scanState(1024);
    const head = Buffer.from('*2\r\n$3\r\nSET\r\n$2048\r\n');
    assert.equal(scanCommand(head, 0, head.length, st, commandFrame()), BAD);
  });
  test('lengths as Redis parses them: 0, negative multibulk counts (an empty command) and 2^31-1 are accepted', () => {
    const st = scanState();
    const cmd = commandFrame();
    for (const ok of ['*1\r\n$0\r\n\r\n', '*-5\r\n', '*0\r\n']) assert.equal(scanCommand(Buffer.from(ok), 0, ok.length, st, cmd), ok.length, ok);
    const big = Buffer.from('*2147483647\r\n');
    assert.equal(scanCommand(big, 0, big.length, st, cmd), NEED);
  });
  test('before AUTH: at most 10 arguments of at most 16 KiB each, with Redis’s own errors', () => {
    const st = scanState();
    st.authRequired = true;
    const cmd = commandFrame();
    const cases: [string, number | RegExp][] = [
      ['*11\r\n', /^Protocol error: unauthenticated multibulk length$/],
      ['*2147483647\r\n', /^Protocol error: unauthenticated multibulk length$/],
      ['*1\r\n$16385\r\n', /^Protocol error: unauthenticated bulk length$/],
      ['*10\r\n$16384\r\n', NEED],
    ];
    for (const [text, want] of cases) {
      const r = scanCommand(Buffer.from(text), 0, text.length, st, cmd);
      if (typeof want === 'number') assert.equal(r, want, text);
      else {
        assert.equal(r, BAD, text);
        assert.match(st.error, want);
      }
    }
    st.authRequired = false;
    assert.equal(scanCommand(Buffer.from('*11\r\n'), 0, 5, st, cmd), NEED);
  });
  test('no crash on lengths: a bulk past what one Buffer holds is refused from its header, in a reply or a command', () => {
    const st = scanState(Number.MAX_SAFE_INTEGER);
    const reply = Buffer.from('$999999999999\r\n');
    assert.equal(scanValue(reply, 0, reply.length, st), BAD);
    assert.match(st.error, /larger than one buffer/);
    const arr = Buffer.from(`*2\r\n$${MAX_SAFE_BULK}\r\n`);
    assert.equal(scanValue(arr, 0, arr.length, st), NEED);
    const cmd = Buffer.from(`*3\r\n$3\r\nSET\r\n$${MAX_SAFE_BULK}\r\n`);
    assert.equal(scanCommand(cmd, 0, cmd.length, st, commandFrame()), NEED);
    const huge = Buffer.from('*3\r\n$3\r\nSET\r\n$5000000000\r\n');
    assert.equal(scanCommand(huge, 0, huge.length, st, commandFrame()), BAD);
  });
  test('inline longer than 64 KiB without a newline is refused', () => {
    const st = scanState();
    const b = Buffer.alloc(70_000, 0x61);
    assert.equal(scanCommand(b, 0, b.length, st, commandFrame()), BAD);
    assert.match(st.error, /too big inline request/);
  });
  test('splitArgs follows sdssplitargs', () => {
    assert.deepEqual(splitArgs('  a  b\t"c d"  '), ['a', 'b', 'c d']);
    assert.equal(splitArgs('"abc"def'), null);
    assert.equal(splitArgs("'abc"), null);
  });
  // Found by differential fuzzing against redis-server 7.0 (the expectations are its behaviour).
  test('splitArgs: \\v and \\f separate tokens but do not end one (sdssplitargs ends a token at space, tab, CR, LF only)', () => {
    assert.deepEqual(splitArgs('SET\va\vb c'), ['SET\va\vb', 'c']);
    assert.deepEqual(splitArgs("'CLIENT'\fSETNAME\f'x'"), ['CLIENT', 'SETNAME\fx']);
    assert.deepEqual(splitArgs('\v\fGET\t"k"\v'), ['GET', 'k']);
    assert.deepEqual(splitArgs('ECHO a\0b c'), ['ECHO', 'a'], 'a C string ends at its NUL');
  });
  const asRedis: [string, string, number | RegExp][] = [
    // strchr stops at a NUL: Redis never sees the line's end and waits (refusing past 64 KiB).
    ['an inline line with a NUL', 'GET a\0b\r\n', NEED],
    ['a multibulk count with a NUL', '*1\0\r\n$4\r\nPING\r\n', NEED],
    ['a bulk length with a NUL', '*1\r\n$4\0\r\nPING\r\n', NEED],
    ['a NUL where $ is expected', '*1\r\n\0\r\n', NEED],
    // Redis reads the line before it looks at its first byte.
    ['no $ and no CR yet', '*1\r\nX', NEED],
    ['no $, CR but nothing after it', '*1\r\nX\r', NEED],
    ['no $, a whole line', '*1\r\nX\r\n', /^Protocol error: expected '\$', got 'X'$/],
    ['a CR where $ is expected', '*1\r\n\r\n', /^Protocol error: expected '\$', got '\r'$/],
    ['a byte past 0x7f where $ is expected', '*1\r\n\xff\r\n', /^Protocol error: expected '\$', got '\xff'$/],
    // string2ll takes any long long: a count below -2^53 is still an empty command.
    ['a multibulk count of -2^53-1', '*-9007199254740993\r\n', 20],
    ['a multibulk count of -2^63', '*-9223372036854775808\r\n', 23],
    ['a multibulk count below -2^63', '*-9223372036854775809\r\n', /^Protocol error: invalid multibulk length$/],
  ];
  for (const [what, text, want] of asRedis) {
    test(`as redis-server reads it: ${what} ${JSON.stringify(text)}`, () => {
      const st = scanState();
      const cmd = commandFrame();
      const b = Buffer.from(text, 'latin1');
      const r = scanCommand(b, 0, b.length, st, cmd);
      if (typeof want === 'number') {
        assert.equal(r, want);
        if (want > 0) assert.equal(cmd.argc, 0);
      } else {
        assert.equal(r, BAD);
        assert.match(st.error, want);
      }
    });
  }
  test('a NUL hides a line’s end from Redis until 64 KiB have arrived, then it is "too big"', () => {
    const st = scanState();
    for (const [head, msg] of [['GET a\0b\r\n', /too big inline request/], ['*1\0\r\n', /too big mbulk count string/], ['*1\r\n$4\0\r\n', /too big bulk count string/]] as const) {
      const b = Buffer.concat([Buffer.from(head, 'latin1'), Buffer.alloc(70_000, 0x61)]);
      assert.equal(scanCommand(b, 0, b.length, st, commandFrame()), BAD, head);
      assert.match(st.error, msg);
    }
  });
});

test('findByte: the first match in [from, end) only, on both sides of the JS/native switch at 32 bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 120 }), fc.nat(120), fc.nat(120), (bytes, a, b) => {
      const buf = Buffer.from(bytes);
      const from = Math.min(a, b, buf.length);
      const end = Math.min(Math.max(a, b), buf.length);
      const want = buf.subarray(from, end).indexOf(13);
      assert.equal(findByte(buf, 13, from, end), want < 0 ? -1 : from + want);
    }),
  );
});
