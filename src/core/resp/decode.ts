/** @module RESP2/RESP3 replies decoded to JS values, one frame at a time, for the few replies podkit reads itself (pure). */
import { ProtocolError } from '../errors.js';
import { RespType } from './types.js';
import { DEFAULT_MAX_BULK, findByte, parseIntAt } from './scanner.js';

/** An error reply (`-ERR …` or RESP3's `!len`), kept as a value so one failed command does not hide the others' replies. */
export class ErrorReply extends ProtocolError {}

/**
 * A decoded reply. Strings (simple, bulk, verbatim without its `txt:` format) are UTF-8 strings; integers numbers
 * (a bigint past 2^53, where a number would lose digits); big numbers bigints; doubles numbers (`inf`, `-inf`,
 * `nan` included); booleans booleans; RESP2's null bulk and array and RESP3's `_` null; arrays, sets and pushes
 * arrays; maps `Map`s in the server's order. An attribute (`|`) is read and dropped: the value it annotates stands.
 */
export type RespValue = string | number | bigint | boolean | null | ErrorReply | RespValue[] | Map<RespValue, RespValue>;

/**
 * How deep aggregates may nest. The replies decoded here nest a few levels (COMMAND's subcommands, COMMAND DOCS
 * about seven); the limit keeps a hostile reply from exhausting the stack of this recursive decoder.
 */
export const MAX_DEPTH = 64;

export interface DecodeLimits {
  /** Largest bulk length accepted, as the scanner's `maxBulk`. Default Redis's proto-max-bulk-len (512 MiB). */
  maxBulk?: number;
  /** Deepest nesting accepted. Default MAX_DEPTH. */
  maxDepth?: number;
}

/** Decode the value starting at `from` in buf[from, end); bytes after it are left alone. */
export function decodeValue(buf: Buffer, from: number, end = buf.length, limits: DecodeLimits = {}): RespValue {
  return decodeFrame(buf, from, end, limits).value;
}

/**
 * Decode one value and say where it ends. Bytes that break the protocol, an incomplete frame, a bulk past
 * `maxBulk` or nesting past `maxDepth` throw a ProtocolError (the scanner's wording where it has one); an error
 * reply does not throw, it is an ErrorReply value.
 */
export function decodeFrame(buf: Buffer, from: number, end = buf.length, limits: DecodeLimits = {}): { value: RespValue; end: number } {
  const d: Decoder = { buf, pos: from, end, maxBulk: limits.maxBulk ?? DEFAULT_MAX_BULK, maxDepth: limits.maxDepth ?? MAX_DEPTH };
  const value = next(d, 0);
  return { value, end: d.pos };
}

interface Decoder {
  buf: Buffer;
  pos: number;
  end: number;
  maxBulk: number;
  maxDepth: number;
}

const DOUBLE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL_DOUBLES: Record<string, number> = { inf: Infinity, '-inf': -Infinity, nan: NaN };

function fail(what: string): never {
  throw new ProtocolError(`Protocol error: ${what}`);
}

/** The value at d.pos, attributes skipped. */
function next(d: Decoder, depth: number): RespValue {
  while (d.buf[d.pos] === RespType.Attribute && d.pos < d.end) aggregate(d, depth);
  return one(d, depth);
}

/** The header line at d.pos: its type byte and the text bounds after it; d.pos moves past its CRLF. */
function header(d: Decoder): { type: number; line: number; cr: number } {
  if (d.pos >= d.end) fail('incomplete frame');
  const type = d.buf[d.pos];
  const cr = findByte(d.buf, 13, d.pos + 1, d.end);
  if (cr < 0 || cr + 1 >= d.end) fail('incomplete frame');
  if (d.buf[cr + 1] !== 10) fail('expected CRLF');
  const line = d.pos + 1;
  d.pos = cr + 2;
  return { type, line, cr };
}

function one(d: Decoder, depth: number): RespValue {
  const start = d.pos;
  const { type, line, cr } = header(d);
  const text = () => d.buf.toString('utf8', line, cr);
  switch (type) {
    case RespType.SimpleString:
      return text();
    case RespType.Error:
      return new ErrorReply(text());
    case RespType.Integer: {
      const n = parseIntAt(d.buf, line, cr);
      if (!Number.isNaN(n)) return n;
      const t = text();
      return /^-?[1-9]\d*$/.test(t) ? BigInt(t) : fail(`invalid integer ${JSON.stringify(t)}`);
    }
    case RespType.BigNumber: {
      const t = text();
      return /^[+-]?\d+$/.test(t) ? BigInt(t) : fail(`invalid big number ${JSON.stringify(t)}`);
    }
    case RespType.Double: {
      const t = text();
      if (DOUBLE.test(t)) return Number(t);
      return t in SPECIAL_DOUBLES ? SPECIAL_DOUBLES[t] : fail(`invalid double ${JSON.stringify(t)}`);
    }
    case RespType.Null:
      return cr === line ? null : fail('invalid null');
    case RespType.Boolean:
      if (cr === line + 1 && d.buf[line] === 116) return true;
      return cr === line + 1 && d.buf[line] === 102 ? false : fail('invalid boolean');
    case RespType.BulkString:
    case RespType.BulkError:
    case RespType.VerbatimString:
      return bulk(d, type, parseIntAt(d.buf, line, cr));
    case RespType.Array:
    case RespType.Set:
    case RespType.Push:
    case RespType.Map:
      d.pos = start;
      return aggregate(d, depth);
    default:
      return fail(`unknown type byte ${JSON.stringify(String.fromCharCode(type))}`);
  }
}

/** The body of a bulk string, bulk error or verbatim string whose header said `len`; d.pos is at the body. */
function bulk(d: Decoder, type: number, len: number): RespValue {
  if (len === -1 && type === RespType.BulkString) return null;
  if (!(len >= 0) || len > d.maxBulk) fail('invalid bulk length');
  const body = d.pos;
  const stop = body + len;
  if (stop + 2 > d.end) fail('incomplete frame');
  if (d.buf[stop] !== 13 || d.buf[stop + 1] !== 10) fail('bulk not followed by CRLF');
  d.pos = stop + 2;
  if (type === RespType.BulkError) return new ErrorReply(d.buf.toString('utf8', body, stop));
  if (type === RespType.BulkString) return d.buf.toString('utf8', body, stop);
  // Verbatim: a three-byte format (txt, mkd) and a colon before the text.
  if (len < 4 || d.buf[body + 3] !== 58) fail('invalid verbatim string');
  return d.buf.toString('utf8', body + 4, stop);
}

/** An array, set, push, map or attribute at d.pos (an attribute's map is returned, and dropped by `next`). */
function aggregate(d: Decoder, depth: number): RespValue {
  const { type, line, cr } = header(d);
  const n = parseIntAt(d.buf, line, cr);
  if (n === -1 && type === RespType.Array) return null;
  if (!(n >= 0) || n > 0x7fffffff) fail('invalid multibulk length');
  if (depth >= d.maxDepth) fail(`replies nested deeper than ${d.maxDepth} levels`);
  if (type === RespType.Map || type === RespType.Attribute) {
    const m = new Map<RespValue, RespValue>();
    for (let i = 0; i < n; i++) {
      const k = next(d, depth + 1);
      m.set(k, next(d, depth + 1));
    }
    return m;
  }
  const items: RespValue[] = [];
  for (let i = 0; i < n; i++) items.push(next(d, depth + 1));
  return items;
}
