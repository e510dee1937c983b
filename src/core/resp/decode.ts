/** @module RESP2 values decoded to JS for control-plane replies (COMMAND, INFO, CONFIG GET), one complete frame at a time (pure). */
import { ProtocolError } from '../errors.js';
import { RespType } from './types.js';
import { findByte, parseIntAt } from './scanner.js';

/** An error reply (`-ERR …`), kept as a value so one failed command does not hide the others' replies. */
export class ErrorReply extends ProtocolError {}

/**
 * Decode the frame starting at `from`, which the scanner has found complete: bulk and simple strings as UTF-8
 * strings, integers as numbers, nulls as null, arrays as arrays (as ioredis decodes RESP2). Recursive: control
 * replies nest two or three levels (COMMAND's subcommands).
 */
export function decodeValue(buf: Buffer, from: number): unknown {
  const at = { pos: from };
  return value(buf, at);
}

function value(buf: Buffer, at: { pos: number }): unknown {
  const type = buf[at.pos];
  const cr = findByte(buf, 13, at.pos + 1, buf.length);
  const line = at.pos + 1;
  at.pos = cr + 2;
  switch (type) {
    case RespType.SimpleString:
      return buf.toString('utf8', line, cr);
    case RespType.Error:
      return new ErrorReply(buf.toString('utf8', line, cr));
    case RespType.Integer:
      return parseIntAt(buf, line, cr);
    case RespType.BulkString: {
      const len = parseIntAt(buf, line, cr);
      if (len < 0) return null;
      const s = buf.toString('utf8', at.pos, at.pos + len);
      at.pos += len + 2;
      return s;
    }
    case RespType.Array: {
      const n = parseIntAt(buf, line, cr);
      if (n < 0) return null;
      const items: unknown[] = [];
      for (let i = 0; i < n; i++) items.push(value(buf, at));
      return items;
    }
    default:
      throw new ProtocolError(`unexpected RESP type ${JSON.stringify(String.fromCharCode(type))} in a RESP2 reply`);
  }
}
