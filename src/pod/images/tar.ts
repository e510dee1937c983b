/** @module A streaming tar reader (ustar, pax and GNU long names): entries from decompressed layer bytes, no I/O of its own. */
import { ProtocolError } from '../../core/errors.js';

export interface TarHeader {
  /** The path as written in the archive (not yet made safe). */
  name: string;
  /** `0` file, `1` hard link, `2` symlink, `3`/`4` char/block device, `5` directory, `6` FIFO. */
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

/** A numeric header field: octal digits between spaces and NULs, or GNU base-256 (top bit set); NaN when it is neither. */
function num(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    // GNU base-256: big-endian, the top bit marks it; 0xff leads a negative number, which no field may hold.
    if (b[off] === 0xff) return NaN;
    let n = b[off]! & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + b[off + i]!;
    return n;
  }
  const s = b.toString('latin1', off, off + len).replace(/^[\0 ]+/, '').replace(/[\0 ].*$/s, '');
  return /^[0-7]*$/.test(s) ? (s ? parseInt(s, 8) : 0) : NaN;
}

/** `n` when it is a whole number from 0 to `max`; a ProtocolError naming the field and the entry otherwise. */
function field(n: number, what: string, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (Number.isSafeInteger(n) && n >= 0 && n <= max) return n;
  throw new ProtocolError(`tar: bad ${what} in the header of ${JSON.stringify(name.slice(0, 200))}`);
}

/** A pax record's number (decimal digits only, as pax writes them), or the header's own when the record is absent. */
const paxNum = (pax: Map<string, string>, key: string, own: number): number => {
  const v = pax.get(key);
  return v === undefined ? own : /^\d+$/.test(v) ? Number(v) : NaN;
};

/** uid and gid are 32-bit on Linux. */
const MAX_ID = 0xffffffff;

const str = (b: Buffer, off: number, len: number) => {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
};

/** Keys whose value may hold no NUL (Go refuses one there): a path or name with one inside would be cut short by any C reader. */
const NO_NUL_VALUES = new Set(['path', 'linkpath', 'uname', 'gname']);

/** The pax record at `i` of `data` (its key, value and where it ends), or why it is malformed. */
function paxRecord(data: Buffer, i: number): { key: string; value: string; end: number } | string {
  const sp = data.indexOf(0x20, i);
  const digits = data.toString('latin1', i, sp < 0 ? data.length : sp);
  // Decimal digits only: Go's ParseInt would take a sign and GNU tar blanks before them, each reading what the other refuses.
  if (sp < 0 || !/^\d+$/.test(digits)) return `length ${JSON.stringify(digits.slice(0, 20))} is not decimal digits followed by a space`;
  const len = Number(digits);
  const shown = digits.length > 20 ? `${digits.slice(0, 20)}…` : digits;
  if (len < 5) return `length ${shown} is shorter than the shortest record ("5 a=\\n")`;
  if (len > data.length - i) return `length ${shown} runs past the end of the header's ${data.length - i} bytes left`;
  const end = i + len;
  if (end - 1 <= sp || data[end - 1] !== 0x0a) return `length ${shown} does not end the record at a newline`;
  const rec = data.subarray(sp + 1, end - 1);
  const eq = rec.indexOf(0x3d);
  if (eq < 0) return 'no "=" between key and value';
  const key = rec.toString('utf8', 0, eq);
  const value = rec.toString('utf8', eq + 1);
  if (key === '') return 'an empty key';
  // GNU tar skips blanks after the length and Go keeps them in the key: " path" would be a path to one and not the other.
  if (key[0] === ' ' || key[0] === '\t') return `key ${JSON.stringify(key.slice(0, 50))} starts with a blank`;
  if (key.includes('\0')) return `key ${JSON.stringify(key.slice(0, 50))} has a NUL byte`;
  if (NO_NUL_VALUES.has(key) && value.includes('\0')) return `${key} ${JSON.stringify(value.slice(0, 200))} has a NUL byte`;
  return { key, value, end };
}

/**
 * A pax header's records (`LEN key=value\n`), each checked as Go's archive/tar parsePAXRecord and GNU tar's
 * decode_record check it, refusing what either refuses; `entry` names the pax entry in the error.
 */
function parsePax(data: Buffer, entry: string): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0, n = 1; i < data.length; n++) {
    const r = paxRecord(data, i);
    if (typeof r === 'string') throw new ProtocolError(`tar: bad pax record ${n} in ${JSON.stringify(entry.slice(0, 200))}: ${r}`);
    // An empty value deletes the key (POSIX pax), so the header's own field stands, as Go's archive/tar reads it.
    if (r.value === '') out.delete(r.key);
    else out.set(r.key, r.value);
    i = r.end;
  }
  return out;
}

export interface TarSink {
  /** An entry starts; its data (for files) follows through `data` calls, then `end`. */
  entry(h: TarHeader): Promise<void>;
  data(chunk: Buffer): Promise<void>;
  end(): Promise<void>;
}

/** What metadata entries (pax `x`, GNU long name `L`, long link `K`) say about the next real entry. */
interface EntryMeta {
  pax: Map<string, string>;
  longName?: string;
  longLink?: string;
}

/** Records a metadata entry's body for the next entry; a global pax header (`g`) is checked (as Go does) and ignored. */
function foldMeta(kind: string, name: string, body: Buffer, into: EntryMeta): void {
  if (kind === 'x') into.pax = parsePax(body, name);
  else if (kind === 'g') parsePax(body, name);
  else if (kind === 'L') into.longName = str(body, 0, body.length);
  else if (kind === 'K') into.longLink = str(body, 0, body.length);
}

/** Throws unless the 512-byte header `h` carries its own checksum (the checksum field counted as spaces). */
function checkHeader(h: Buffer): void {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  if (sum !== num(h, 148, 8)) throw new ProtocolError('tar: header checksum mismatch (not a tar, or corrupt)');
}

/** The entry the header `h` describes, its fields overridden by what the metadata entries before it said. */
function headerOf(h: Buffer, type: string, size: number, meta: EntryMeta): TarHeader {
  const { pax } = meta;
  const prefix = h.toString('latin1', 257, 262) === 'ustar' ? str(h, 345, 155) : '';
  const name = pax.get('path') ?? meta.longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
  const linkname = pax.get('linkpath') ?? meta.longLink ?? str(h, 157, 100);
  return {
    name,
    type: type === '\0' || type === '7' ? '0' : type,
    mode: field(num(h, 100, 8), 'mode', name),
    uid: field(paxNum(pax, 'uid', num(h, 108, 8)), 'uid', name, MAX_ID),
    gid: field(paxNum(pax, 'gid', num(h, 116, 8)), 'gid', name, MAX_ID),
    size: field(paxNum(pax, 'size', size), 'size', name),
    linkname,
    devmajor: num(h, 329, 8) || 0,
    devminor: num(h, 337, 8) || 0,
  };
}

/**
 * Reads a tar stream, calling `sink` for each entry. Metadata entries (pax, GNU L/K) are folded into the next entry.
 * It stops at the end marker, or with `toEnd` reads on to the input's end: a caller hashing every byte needs that (a
 * layer's DiffID covers the padding after the marker too, wherever a chunk boundary falls).
 */
export async function readTar(chunks: AsyncIterable<Buffer>, sink: TarSink, { toEnd = false } = {}): Promise<void> {
  let pending = Buffer.alloc(0);
  let inData = 0; // bytes of entry data still to come
  let pad = 0;
  let meta: { kind: string; name: string; parts: Buffer[] } | null = null;
  let next: EntryMeta = { pax: new Map() };
  let done = false;
  let zeroBlock = false; // the last header block read was all zeros
  const feed = async (buf: Buffer) => {
    let off = 0;
    while (off < buf.length && !done) {
      if (inData > 0 || meta) {
        const n = Math.min(inData, buf.length - off);
        const piece = buf.subarray(off, off + n);
        off += n;
        inData -= n;
        if (meta) meta.parts.push(Buffer.from(piece));
        else await sink.data(piece);
        if (inData === 0) {
          if (meta) {
            foldMeta(meta.kind, meta.name, Buffer.concat(meta.parts), next);
            meta = null;
          } else await sink.end();
        }
        continue;
      }
      if (pad > 0) {
        const n = Math.min(pad, buf.length - off);
        off += n;
        pad -= n;
        continue;
      }
      const need = 512 - pending.length;
      const take = buf.subarray(off, off + need);
      off += take.length;
      pending = pending.length ? Buffer.concat([pending, take]) : Buffer.from(take);
      if (pending.length < 512) continue;
      const h = pending;
      pending = Buffer.alloc(0);
      if (h.every((b) => b === 0)) {
        // Two zero blocks end the archive (what follows is padding); one is enough at the very end of the stream.
        done = zeroBlock;
        zeroBlock = true;
        continue;
      }
      // A lone zero block with entries after it: a tar reader that stops there would see less than one that reads on.
      if (zeroBlock) throw new ProtocolError('tar: a zero block in the middle of the archive');
      checkHeader(h);
      const type = String.fromCharCode(h[156] || 0x30);
      const name = str(h, 0, 100);
      const size = field(num(h, 124, 12), 'size', name);
      pad = (512 - (size % 512)) % 512;
      if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
        if (size > 1 << 20) throw new ProtocolError('tar: metadata entry too large');
        meta = size > 0 ? { kind: type, name, parts: [] } : null;
        inData = size;
        continue;
      }
      const hdr = headerOf(h, type, size, next);
      if (hdr.size !== size) pad = (512 - (hdr.size % 512)) % 512;
      next = { pax: new Map() };
      await sink.entry(hdr);
      // Only regular files carry data to the sink; anything another type carries is skipped.
      if (hdr.type === '0') inData = hdr.size;
      else pad += hdr.size;
      if (inData === 0) await sink.end();
    }
  };
  for await (const chunk of chunks) {
    if (!done) await feed(chunk);
    else if (!toEnd) break;
  }
  if (!done && (inData > 0 || pending.length > 0 || meta)) throw new ProtocolError('tar: archive ends in the middle of an entry');
}
