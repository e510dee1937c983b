/** @module Source `redis`: one short connection per collect (AUTH, INFO ALL, CONFIG GET databases), framed and decoded by core/resp, parsed by redis-info.ts. */
import { connect, type Socket } from 'node:net';
import { ConfigError, ProtocolError, TimeoutError, UpstreamError, AuthError } from '../../core/errors.js';
import { addSecret } from '../../core/log.js';
import { parseHostPort } from '../../core/parse.js';
import { encodeCommand } from '../../core/resp/encode.js';
import { BAD, NEED, scanState, scanValue } from '../../core/resp/scanner.js';
import { ErrorReply, decodeValue, type RespValue } from '../../core/resp/decode.js';
import { RespType } from '../../core/resp/types.js';
import type { MetricFamily } from '../../core/metrics/model.js';
import { upFamily, type Source, type SourceFactory } from './source.js';
import { asObject, join, onlyKeys, optString, reqString } from './options.js';
import { parseRedisInfo } from './redis-info.js';
import { DEFAULT_MAX_BODY } from './http.js';

export interface RedisOptions {
  /** host:port of the Redis server. Required. */
  address: string;
  host: string;
  port: number;
  /** ACL user (Redis 6+). Default none. */
  username?: string;
  /** AUTH password; scrubbed from logs. Default none. */
  password?: string;
  /** Metric name prefix, redis_exporter's `--namespace`. Default `redis`. */
  namespace: string;
}

export const redisSource: SourceFactory<RedisOptions> = {
  kind: 'redis',
  parseOptions(raw, path) {
    const o = asObject(raw, path);
    onlyKeys(o, ['address', 'username', 'password', 'namespace'], path);
    const address = reqString(o, 'address', path).replace(/^redis:\/\//, '');
    const hp = parseHostPort(address);
    if (!hp) throw new ConfigError(join(path, 'address'), `expected host:port, got ${JSON.stringify(address)}`);
    const password = optString(o, 'password', path);
    addSecret(password);
    const namespace = optString(o, 'namespace', path) ?? 'redis';
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(namespace)) throw new ConfigError(join(path, 'namespace'), 'must be a metric name prefix');
    return { address, host: hp.host, port: hp.port, username: optString(o, 'username', path), password, namespace };
  },
  create(name, options, deps): Source {
    return {
      name,
      kind: 'redis',
      down: () => [upFamily(`${options.namespace}_up`, 'Information about the Redis instance: 1 when INFO was read', 0)],
      async collect(signal: AbortSignal): Promise<MetricFamily[]> {
        const cmds: string[][] = [];
        if (options.password !== undefined) cmds.push(options.username ? ['AUTH', options.username, options.password] : ['AUTH', options.password]);
        cmds.push(['INFO', 'ALL'], ['CONFIG', 'GET', 'databases']);
        // CONFIG may be renamed or denied by ACL: its error reply then reads as "", and only listed databases show.
        const replies = await respExchange(options.host, options.port, cmds, signal, cmds.length - 1, deps.maxBodyBytes);
        const databases = Number(replies[replies.length - 1].split('\n')[1]);
        return parseRedisInfo(replies[replies.length - 2], options.namespace, Number.isInteger(databases) && databases > 0 ? Math.min(databases, 10_000) : 0);
      },
    };
  },
};

/**
 * Send commands and read one reply each, framed by the shared RESP scanner and decoded by the shared decoder
 * (core/resp), RESP2 or RESP3, as text (`replyText`). An error reply rejects, except for the command at
 * index `tolerated`, whose error reads as "". A reply longer than `maxBytes` (the source's max_body_size) is refused
 * from its header, before it is buffered.
 */
export function respExchange(host: string, port: number, cmds: string[][], signal: AbortSignal, tolerated = -1, maxBytes = DEFAULT_MAX_BODY): Promise<string[]> {
  const where = `redis ${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal, where));
    let buf: Buffer = Buffer.alloc(0);
    const replies: string[] = [];
    // Lengths are bounded here by max_body_size, not by the scanner, so an oversized reply gets that error.
    const st = scanState(Number.MAX_SAFE_INTEGER);
    const sock: Socket = connect({ host, port });
    const done = (err?: Error) => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve(replies);
    };
    const onAbort = () => done(abortError(signal, where));
    const tooLarge = (n?: number) => Object.assign(new UpstreamError(`${where}: reply${n ? ` of ${n} bytes` : ''} is larger than max_body_size (${maxBytes} bytes)`), { limit: 'body_size' });
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('connect', () => sock.write(Buffer.concat(cmds.map((c) => encodeCommand(c)))));
    sock.on('error', (err: NodeJS.ErrnoException) => done(new UpstreamError(`${where}: ${err.code ?? err.message}`, { cause: err })));
    sock.on('close', () => {
      if (replies.length < cmds.length) done(new UpstreamError(`${where}: connection closed before the reply`));
    });
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        const end = scanValue(buf, 0, buf.length, st);
        if (end === BAD) return done(/larger than one buffer/.test(st.error) ? tooLarge() : new ProtocolError(`${where}: ${st.error}`));
        // A bulk header names its length: refuse what would not fit before reading it; anything else by what is here.
        if (end === NEED) return st.need > maxBytes || buf.length > maxBytes ? done(tooLarge(Math.max(st.need, buf.length))) : undefined;
        if (end > maxBytes) return done(tooLarge(end));
        const frame = buf.subarray(0, end);
        buf = buf.subarray(end);
        // A RESP3 push is out of band (tracking, pub/sub), not the reply to a command: it is not counted.
        if (frame[0] === RespType.Push) continue;
        let value: RespValue;
        try {
          value = decodeValue(frame, 0, frame.length, { maxBulk: maxBytes });
        } catch (e) {
          return done(new ProtocolError(`${where}: ${(e as Error).message}`, { cause: e }));
        }
        if (value instanceof ErrorReply) {
          if (replies.length !== tolerated) return done(/NOAUTH|WRONGPASS|invalid password/i.test(value.message) ? new AuthError(`${where}: ${value.message}`) : new UpstreamError(`${where}: ${value.message}`));
          replies.push('');
        } else replies.push(replyText(value));
        if (replies.length === cmds.length) return done();
      }
    });
  });
}

/**
 * A reply as text, the same over RESP2 and RESP3: a string as it is, null as "", an aggregate's items (a map's keys
 * and values) flattened one per line, a boolean as 1 or 0 and a double as Redis writes them in RESP2.
 */
function replyText(v: RespValue): string {
  if (typeof v === 'string') return v;
  if (v === null) return '';
  if (v instanceof ErrorReply) return v.message;
  if (Array.isArray(v)) return v.map(replyText).join('\n');
  if (v instanceof Map) return [...v].map(([k, x]) => `${replyText(k)}\n${replyText(x)}`).join('\n');
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  return String(v);
}

function abortError(signal: AbortSignal, where: string): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error && !(r instanceof DOMException)) return r;
  return new TimeoutError(`${where}: ${r instanceof DOMException && r.name === 'TimeoutError' ? 'timed out' : 'aborted'}`);
}
