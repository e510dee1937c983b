/** @module RESP2/RESP3 frame scanner: finds where complete frames end in a buffer without decoding them (pure). */
import { constants } from 'node:buffer';
import { RespType } from './types.js';

/** Returned when the buffer holds only part of a frame. */
export const NEED = -1;
/** Returned when the bytes break the protocol; the reason is in `ScanState.error`. */
export const BAD = -2;

/** Redis's default proto-max-bulk-len. */
export const DEFAULT_MAX_BULK = 512 * 1024 * 1024;
/** Redis's limit for an inline command or a header line without CRLF. */
export const MAX_INLINE = 64 * 1024;
/** The largest frame one Buffer can hold: a longer command or reply is refused, never allocated. */
export const MAX_FRAME = constants.MAX_LENGTH;
/** The largest bulk length that can be accepted: a frame holding it (headers included) still fits in one Buffer. */
export const MAX_SAFE_BULK = MAX_FRAME - 1024 * 1024;
/** What Redis accepts from a client that must still AUTH: at most this many arguments, each at most this long. */
export const UNAUTH_MAX_ARGS = 10;
export const UNAUTH_MAX_BULK = 16 * 1024;

/** Scratch state shared by the scan functions so the hot path allocates nothing. */
export interface ScanState {
  /** Why the last scan returned BAD. */
  error: string;
  /** After NEED: the buffer must reach at least this offset before a rescan can succeed (0 = unknown). */
  need: number;
  /** Largest bulk length accepted. */
  maxBulk: number;
  /** The client must still AUTH: commands are held to Redis's limits for unauthenticated clients. */
  authRequired: boolean;
}

export function scanState(maxBulk = DEFAULT_MAX_BULK): ScanState {
  return { error: '', need: 0, maxBulk, authRequired: false };
}

const CR = 13;
const LF = 10;

/**
 * Parse the decimal integer in buf[from, to) as Redis's string2ll does: an optional '-', no '+', no spaces, no
 * leading zero (so no "-0"). Returns NaN when it is not one (or past 2^53). Hand-rolled: it runs once per header.
 */
export function parseIntAt(buf: Uint8Array, from: number, to: number): number {
  if (from >= to) return NaN;
  if (to - from === 1 && buf[from] === 48) return 0;
  let neg = false;
  let i = from;
  if (buf[i] === 45) {
    neg = true;
    i++;
    if (i >= to) return NaN;
  }
  if (buf[i] === 48) return NaN;
  let n = 0;
  for (; i < to; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
    if (n > Number.MAX_SAFE_INTEGER) return NaN;
  }
  return neg ? -n : n;
}

/**
 * Index of byte `b` in buf[from, end), or -1. Headers are a few bytes long, and a native `indexOf` call costs more
 * than looking at them in JS; past the first 32 bytes the native search takes over.
 */
export function findByte(buf: Buffer, b: number, from: number, end: number): number {
  const stop = end - from > 32 ? from + 32 : end;
  for (let i = from; i < stop; i++) if (buf[i] === b) return i;
  if (stop === end) return -1;
  const i = buf.indexOf(b, stop);
  return i < 0 || i >= end ? -1 : i;
}

/** Index of the CR of the next CRLF at or after `from`, NEED when not yet buffered, BAD when CR is not followed by LF. */
function lineEnd(buf: Buffer, from: number, end: number, st: ScanState): number {
  const cr = findByte(buf, CR, from, end);
  if (cr < 0) {
    if (end - from > MAX_INLINE) {
      st.error = 'Protocol error: too big header line';
      return BAD;
    }
    st.need = 0;
    return NEED;
  }
  if (cr + 1 >= end) {
    st.need = cr + 2;
    return NEED;
  }
  if (buf[cr + 1] !== LF) {
    st.error = 'Protocol error: expected CRLF';
    return BAD;
  }
  return cr;
}

/**
 * Scan one complete RESP2/RESP3 value starting at `pos` (an attribute `|` and the value it annotates count as one).
 * Returns the offset just past it, NEED, or BAD. Iterative (a counter of values still owed), so deep nesting
 * cannot overflow the stack.
 */
export function scanValue(buf: Buffer, pos: number, end: number, st: ScanState): number {
  const first = pos;
  let owed = 1;
  while (owed > 0) {
    if (pos >= end) {
      st.need = 0;
      return NEED;
    }
    const type = buf[pos];
    const cr = lineEnd(buf, pos + 1, end, st);
    if (cr < 0) return cr;
    owed--;
    switch (type) {
      case RespType.SimpleString:
      case RespType.Error:
      case RespType.Integer:
      case RespType.Double:
      case RespType.BigNumber:
        pos = cr + 2;
        break;
      case RespType.Null:
        if (cr !== pos + 1) return bad(st, 'Protocol error: invalid null');
        pos = cr + 2;
        break;
      case RespType.Boolean:
        if (cr !== pos + 2 || (buf[pos + 1] !== 116 && buf[pos + 1] !== 102)) return bad(st, 'Protocol error: invalid boolean');
        pos = cr + 2;
        break;
      case RespType.BulkString:
      case RespType.BulkError:
      case RespType.VerbatimString: {
        const len = parseIntAt(buf, pos + 1, cr);
        if (len === -1 && type === RespType.BulkString) {
          pos = cr + 2;
          break;
        }
        if (!(len >= 0) || len > st.maxBulk) return bad(st, 'Protocol error: invalid bulk length');
        const stop = cr + 2 + len;
        if (stop + 2 - first > MAX_FRAME) return bad(st, 'Protocol error: reply larger than one buffer can hold');
        if (stop + 2 > end) {
          st.need = stop + 2;
          return NEED;
        }
        if (buf[stop] !== CR || buf[stop + 1] !== LF) return bad(st, 'Protocol error: bulk not followed by CRLF');
        pos = stop + 2;
        break;
      }
      case RespType.Array:
      case RespType.Set:
      case RespType.Push:
      case RespType.Map:
      case RespType.Attribute: {
        const n = parseIntAt(buf, pos + 1, cr);
        if (n === -1 && type === RespType.Array) {
          pos = cr + 2;
          break;
        }
        if (!(n >= 0) || n > 0x7fffffff) return bad(st, 'Protocol error: invalid multibulk length');
        owed += type === RespType.Map ? 2 * n : type === RespType.Attribute ? 2 * n + 1 : n;
        pos = cr + 2;
        break;
      }
      default:
        return bad(st, `Protocol error: unknown type byte ${JSON.stringify(String.fromCharCode(type))}`);
    }
  }
  return pos;
}

function bad(st: ScanState, msg: string): number {
  st.error = msg;
  return BAD;
}

/** How many of a command's leading arguments the scanner records (name + the few routing needs). */
export const ARGS_KEPT = 4;

/**
 * One parsed client command. Reused for every command of a connection: `start/end` delimit the raw frame;
 * `argStart/argEnd` the first ARGS_KEPT arguments; `inline` is set (with every argument) for inline commands,
 * which are re-encoded before they are forwarded.
 */
export interface CommandFrame {
  start: number;
  end: number;
  argc: number;
  argStart: number[];
  argEnd: number[];
  inline: Buffer[] | null;
}

export function commandFrame(): CommandFrame {
  return { start: 0, end: 0, argc: 0, argStart: new Array<number>(ARGS_KEPT).fill(0), argEnd: new Array<number>(ARGS_KEPT).fill(0), inline: null };
}

/**
 * Scan one client command at `pos`, Redis style: a multibulk `*N` of `$` bulks, or an inline line.
 * Returns the offset past it (cmd filled; argc 0 means an empty command Redis ignores without a reply),
 * NEED, or BAD with Redis's own error text in st.error.
 */
export function scanCommand(buf: Buffer, pos: number, end: number, st: ScanState, cmd: CommandFrame): number {
  cmd.start = pos;
  cmd.inline = null;
  if (pos >= end) {
    st.need = 0;
    return NEED;
  }
  if (buf[pos] !== 42) return scanInline(buf, pos, end, st, cmd);
  const cr = findByte(buf, CR, pos + 1, end);
  if (cr < 0) {
    if (end - pos > MAX_INLINE) return bad(st, 'Protocol error: too big mbulk count string');
    st.need = 0;
    return NEED;
  }
  if (cr + 1 >= end) {
    st.need = cr + 2;
    return NEED;
  }
  let n = parseIntAt(buf, pos + 1, cr);
  if (Number.isNaN(n) || n > 0x7fffffff) {
    const r = oddHeader(buf, pos, cr, end, st, 'mbulk count');
    if (r !== 0) return r;
    // A count below -2^53 is still a long long to Redis: an empty command, like every count <= 0.
    if (buf[pos + 1] !== 45 || !isLongLong(buf, pos + 1, cr)) return bad(st, 'Protocol error: invalid multibulk length');
    n = 0;
  }
  if (n > UNAUTH_MAX_ARGS && st.authRequired) return bad(st, 'Protocol error: unauthenticated multibulk length');
  let p = cr + 2;
  cmd.argc = n > 0 ? n : 0;
  for (let i = 0; i < n; i++) {
    if (p >= end) {
      st.need = 0;
      return NEED;
    }
    if (buf[p] !== 36) return notBulk(buf, p, end, st);
    const c2 = findByte(buf, CR, p + 1, end);
    if (c2 < 0) {
      if (end - p > MAX_INLINE) return bad(st, 'Protocol error: too big bulk count string');
      st.need = 0;
      return NEED;
    }
    if (c2 + 1 >= end) {
      st.need = c2 + 2;
      return NEED;
    }
    const len = parseIntAt(buf, p + 1, c2);
    if (!(len >= 0) || len > st.maxBulk) return oddHeader(buf, p, c2, end, st, 'bulk count') || bad(st, 'Protocol error: invalid bulk length');
    if (len > UNAUTH_MAX_BULK && st.authRequired) return bad(st, 'Protocol error: unauthenticated bulk length');
    const body = c2 + 2;
    const stop = body + len;
    if (stop + 2 - pos > MAX_FRAME) return bad(st, 'Protocol error: command larger than one buffer can hold');
    if (stop + 2 > end) {
      st.need = stop + 2;
      return NEED;
    }
    if (i < ARGS_KEPT) {
      cmd.argStart[i] = body;
      cmd.argEnd[i] = stop;
    }
    p = stop + 2;
  }
  cmd.end = p;
  return p;
}

function scanInline(buf: Buffer, pos: number, end: number, st: ScanState, cmd: CommandFrame): number {
  let lf = findByte(buf, LF, pos, end);
  // Redis finds the newline with strchr: a NUL before it hides it, and Redis waits for one (refusing past 64 KiB).
  if (lf >= 0 && findByte(buf, 0, pos, lf) >= 0) lf = -1;
  if (lf < 0) {
    if (end - pos > MAX_INLINE) return bad(st, 'Protocol error: too big inline request');
    st.need = 0;
    return NEED;
  }
  const stop = lf > pos && buf[lf - 1] === CR ? lf - 1 : lf;
  const args = splitArgs(buf.toString('latin1', pos, stop));
  if (args === null) return bad(st, 'Protocol error: unbalanced quotes in request');
  cmd.inline = args.map((a) => Buffer.from(a, 'latin1'));
  cmd.argc = args.length;
  cmd.end = lf + 1;
  return lf + 1;
}

/**
 * A `*` or `$` header line that did not parse, read as Redis reads it (slow path: malformed input only). Redis
 * finds the CR with strchr, so a NUL before it hides it: Redis waits for more and refuses once more than 64 KiB
 * from the line's start have arrived. NEED or BAD; 0 when the line is simply not a length.
 */
function oddHeader(buf: Buffer, from: number, cr: number, end: number, st: ScanState, what: string): number {
  if (findByte(buf, 0, from, cr) < 0) return 0;
  if (end - from > MAX_INLINE) return bad(st, `Protocol error: too big ${what} string`);
  st.need = 0;
  return NEED;
}

/**
 * Where a bulk's `$` is expected and something else is: Redis first waits for the line's CR (and one byte after
 * it), then answers with the byte it found (CR and LF shown as spaces, as Redis's error replies show them).
 */
function notBulk(buf: Buffer, p: number, end: number, st: ScanState): number {
  const cr = findByte(buf, CR, p, end);
  if (cr < 0 || cr + 1 >= end) {
    if (cr < 0 && end - p > MAX_INLINE) return bad(st, 'Protocol error: too big bulk count string');
    st.need = cr < 0 ? 0 : cr + 2;
    return NEED;
  }
  const r = oddHeader(buf, p, cr, end, st, 'bulk count');
  if (r === NEED) return r;
  return bad(st, `Protocol error: expected '$', got '${String.fromCharCode(buf[p])}'`);
}

/** Whether buf[from, to) is a long long as Redis's string2ll reads it (parseIntAt's form, but up to 2^63). */
export function isLongLong(buf: Uint8Array, from: number, to: number): boolean {
  const neg = buf[from] === 45;
  const d = neg ? from + 1 : from;
  if (d >= to || to - from > 20) return false;
  if (to - d === 1 && buf[d] === 48) return !neg;
  if (buf[d] === 48) return false;
  for (let i = d; i < to; i++) if (buf[i] < 48 || buf[i] > 57) return false;
  const v = BigInt(String.fromCharCode(...buf.subarray(d, to)));
  return v <= (neg ? 2n ** 63n : 2n ** 63n - 1n);
}

function hexVal(c: string): number {
  return Number.parseInt(c, 16);
}

const ENDS_TOKEN = ' \t\r\n';

/** Redis's sdssplitargs: whitespace-separated words, "double quotes" with escapes, 'single quotes'. Null on unbalanced quotes. */
export function splitArgs(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  // A C string ends at its NUL.
  const nul = line.indexOf('\0');
  const n = nul < 0 ? line.length : nul;
  const isSpace = (c: string) => c === ' ' || c === '\n' || c === '\r' || c === '\t' || c === '\v' || c === '\f';
  while (true) {
    while (i < n && isSpace(line[i])) i++;
    if (i >= n) return out;
    let cur = '';
    let inq = false;
    let insq = false;
    for (;;) {
      if (inq) {
        if (i >= n) return null;
        if (line[i] === '\\' && line[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 2, i + 4))) {
          cur += String.fromCharCode(hexVal(line.slice(i + 2, i + 4)));
          i += 3;
        } else if (line[i] === '\\' && i + 1 < n) {
          i++;
          const c = line[i];
          cur += c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c === 'b' ? '\b' : c === 'a' ? '\x07' : c;
        } else if (line[i] === '"') {
          if (i + 1 < n && !isSpace(line[i + 1])) return null;
          inq = false;
          i++;
          break;
        } else cur += line[i];
      } else if (insq) {
        if (i >= n) return null;
        if (line[i] === '\\' && line[i + 1] === "'") {
          i++;
          cur += "'";
        } else if (line[i] === "'") {
          if (i + 1 < n && !isSpace(line[i + 1])) return null;
          insq = false;
          i++;
          break;
        } else cur += line[i];
      } else {
        // An unquoted token ends at a space, tab, CR or LF only (sdssplitargs): \v and \f stay in it, though
        // they separate tokens and may follow a closing quote (isspace).
        if (i >= n || ENDS_TOKEN.includes(line[i])) break;
        if (line[i] === '"') inq = true;
        else if (line[i] === "'") insq = true;
        else cur += line[i];
      }
      i++;
    }
    out.push(cur);
  }
}
