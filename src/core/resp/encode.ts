/** @module RESP encoders for the few values the ambassador writes itself: commands, errors, local replies (pure). */

/** A command as a RESP multibulk of bulk strings. */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
  }
  return Buffer.concat(parts);
}

const CRLF = Buffer.from('\r\n');

/**
 * `-MSG\r\n`; MSG must start with an error code such as ERR. MSG is a byte string: client bytes in it (read as
 * latin1) go back out unchanged, as Redis echoes them. Each CR or LF becomes a space, as in Redis's error replies.
 */
export function encodeError(msg: string): Buffer {
  return Buffer.from(`-${msg.replace(/[\r\n]/g, ' ')}\r\n`, 'latin1');
}

export function encodeSimple(s: string): Buffer {
  return Buffer.from(`+${s}\r\n`);
}

export function encodeBulk(s: string | Buffer | null, resp3 = false): Buffer {
  if (s === null) return Buffer.from(resp3 ? '_\r\n' : '$-1\r\n');
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, CRLF]);
}

export function encodeInt(n: number): Buffer {
  return Buffer.from(`:${n}\r\n`);
}

/** A value tree for local replies (HELLO). Strings are bulk strings, numbers integers, arrays arrays. */
export type Value = string | number | null | Value[] | { map: [string, Value][] };

/** Encode a value tree; in RESP3 a `{map}` is a `%` map, in RESP2 a flat array. */
export function encodeValue(v: Value, resp3: boolean): Buffer {
  const parts: Buffer[] = [];
  const walk = (x: Value): void => {
    if (x === null) parts.push(Buffer.from(resp3 ? '_\r\n' : '$-1\r\n'));
    else if (typeof x === 'number') parts.push(encodeInt(x));
    else if (typeof x === 'string') parts.push(encodeBulk(x));
    else if (Array.isArray(x)) {
      parts.push(Buffer.from(`*${x.length}\r\n`));
      x.forEach(walk);
    } else {
      parts.push(Buffer.from(resp3 ? `%${x.map.length}\r\n` : `*${x.map.length * 2}\r\n`));
      for (const [k, val] of x.map) {
        walk(k);
        walk(val);
      }
    }
  };
  walk(v);
  return Buffer.concat(parts);
}
