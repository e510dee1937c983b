/** @module Test-side OTLP: a local HTTP receiver and a small protobuf decoder written from the wire-format spec, independent of the encoder under test. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';

// ---- a small protobuf decoder, written from the wire-format spec, independent of the encoder ----
type Raw = bigint | Buffer;
type Msg = Map<number, Raw[]>;

function readVarint(b: Buffer, pos: { i: number }): bigint {
  let shift = 0n;
  let v = 0n;
  for (;;) {
    const byte = b[pos.i++];
    v |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return v;
    shift += 7n;
  }
}

function decode(b: Buffer): Msg {
  const m: Msg = new Map();
  const pos = { i: 0 };
  while (pos.i < b.length) {
    const key = Number(readVarint(b, pos));
    const field = key >> 3;
    const wire = key & 7;
    let v: Raw;
    if (wire === 0) v = readVarint(b, pos);
    else if (wire === 1) { v = b.subarray(pos.i, pos.i + 8); pos.i += 8; }
    else if (wire === 2) { const len = Number(readVarint(b, pos)); v = b.subarray(pos.i, pos.i + len); pos.i += len; }
    else if (wire === 5) { v = b.subarray(pos.i, pos.i + 4); pos.i += 4; }
    else throw new Error(`bad wire type ${wire}`);
    if (!m.has(field)) m.set(field, []);
    m.get(field)!.push(v);
  }
  return m;
}
const buf = (m: Msg, f: number) => (m.get(f) ?? []) as Buffer[];
const sub = (m: Msg, f: number) => buf(m, f).map((x) => decode(x));
const str = (m: Msg, f: number) => buf(m, f)[0]?.toString('utf8');
const dbl = (m: Msg, f: number) => buf(m, f)[0]?.readDoubleLE(0);
const u64 = (m: Msg, f: number) => buf(m, f)[0]?.readBigUInt64LE(0);
const int = (m: Msg, f: number) => Number((m.get(f) ?? [0n])[0] as bigint);
function attrs(kvs: Msg[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of kvs) out[str(kv, 1)!] = str(decode(buf(kv, 2)[0]), 1)!;
  return out;
}

export interface Point { attrs: Record<string, string>; start: bigint; time: bigint; value?: number; count?: bigint; sum?: number; bucketCounts?: bigint[]; bounds?: number[]; quantiles?: Array<[number, number]> }
export interface DecodedMetric { name: string; description?: string; kind: 'gauge' | 'sum' | 'histogram' | 'summary'; temporality?: number; monotonic?: boolean; points: Point[] }

export function decodeRequest(body: Buffer): { resource: Record<string, string>; scope: string; metrics: DecodedMetric[] } {
  const rm = sub(decode(body), 1)[0];
  const resource = attrs(sub(sub(rm, 1)[0], 1));
  const sm = sub(rm, 2)[0];
  const scope = str(sub(sm, 1)[0], 1)!;
  const metrics = sub(sm, 2).map((m): DecodedMetric => {
    const kinds: Array<[number, DecodedMetric['kind']]> = [[5, 'gauge'], [7, 'sum'], [9, 'histogram'], [11, 'summary']];
    const [field, kind] = kinds.find(([f]) => m.has(f))!;
    const data = sub(m, field)[0];
    const attrField = kind === 'histogram' ? 9 : 7;
    const points = sub(data, 1).map((p): Point => {
      const pt: Point = { attrs: attrs(sub(p, attrField)), start: u64(p, 2)!, time: u64(p, 3)! };
      if (kind === 'gauge' || kind === 'sum') pt.value = dbl(p, 4);
      else {
        pt.count = u64(p, 4);
        pt.sum = dbl(p, 5);
      }
      if (kind === 'histogram') {
        const c = buf(p, 6)[0];
        pt.bucketCounts = c ? Array.from({ length: c.length / 8 }, (_, i) => c.readBigUInt64LE(i * 8)) : [];
        const bd = buf(p, 7)[0];
        pt.bounds = bd ? Array.from({ length: bd.length / 8 }, (_, i) => bd.readDoubleLE(i * 8)) : [];
      }
      if (kind === 'summary') pt.quantiles = sub(p, 6).map((q) => [dbl(q, 1)!, dbl(q, 2)!]);
      return pt;
    });
    return { name: str(m, 1)!, description: str(m, 2), kind, points, ...(data.has(2) ? { temporality: int(data, 2) } : {}), ...(data.has(3) ? { monotonic: int(data, 3) === 1 } : {}) };
  });
  return { resource, scope, metrics };
}

export interface Received { path: string; headers: IncomingMessage['headers']; body: Buffer }
/** Listens on a free loopback port; close() stops it. */
export async function startOtlpReceiver(status = 200): Promise<{ url: string; got: Received[]; server: Server; next(): Promise<Received>; close(): Promise<void> }> {
  const got: Received[] = [];
  const waiters: Array<(r: Received) => void> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const r = { path: req.url ?? '', headers: req.headers, body };
      got.push(r);
      res.writeHead(status, { 'content-type': 'application/x-protobuf' }).end();
      waiters.shift()?.(r);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, got, server, next: () => new Promise((r) => waiters.push(r)), close: () => new Promise<void>((r) => server.close(() => r())) };
}

