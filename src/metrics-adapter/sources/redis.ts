/** @module Source `redis`: one short connection per collect (AUTH, INFO ALL, CONFIG GET databases), framed by core/resp, parsed by redis-info.ts. */
import { connect, type Socket } from 'node:net';
import { ConfigError, ProtocolError, TimeoutError, UpstreamError, AuthError } from '../../core/errors.js';
import { addSecret } from '../../core/log.js';
import { parseHostPort } from '../../core/parse.js';
import { encodeCommand } from '../../core/resp/encode.js';
import { BAD, NEED, scanState, scanValue, type ScanState } from '../../core/resp/scanner.js';
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
 * Send commands and read one reply each, framed by the shared RESP scanner (core/resp): a simple or bulk string as
 * its text, an array as its items joined by newlines, a null as "". An error reply rejects, except for the command at
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
        if (frame[0] === RespType.Error || frame[0] === RespType.BulkError) {
          const text = errorText(frame);
          if (replies.length !== tolerated) return done(/NOAUTH|WRONGPASS|invalid password/i.test(text) ? new AuthError(`${where}: ${text}`) : new UpstreamError(`${where}: ${text}`));
          replies.push('');
        } else replies.push(replyText(frame, st));
        if (replies.length === cmds.length) return done();
      }
    });
  });
}

/** The text of one complete frame: strings as they are, an aggregate's items (flattened) one per line. */
function replyText(frame: Buffer, st: ScanState): string {
  const lineEnd = frame.indexOf(13);
  const head = frame.subarray(1, lineEnd).toString('latin1');
  switch (frame[0]) {
    case RespType.BulkString:
    case RespType.VerbatimString: {
      if (head === '-1') return '';
      const body = frame.subarray(lineEnd + 2, frame.length - 2);
      return (frame[0] === RespType.VerbatimString ? body.subarray(4) : body).toString();
    }
    case RespType.Array:
    case RespType.Set:
    case RespType.Map:
    case RespType.Push: {
      const items: string[] = [];
      for (let pos = lineEnd + 2; pos < frame.length; ) {
        const next = scanValue(frame, pos, frame.length, st);
        items.push(replyText(frame.subarray(pos, next), st));
        pos = next;
      }
      return items.join('\n');
    }
    case RespType.Null:
      return '';
    default:
      return head;
  }
}

/** An error reply's message, simple (`-ERR …`) or bulk (`!len … `). */
function errorText(frame: Buffer): string {
  const lineEnd = frame.indexOf(13);
  return frame[0] === RespType.BulkError ? frame.subarray(lineEnd + 2, frame.length - 2).toString() : frame.subarray(1, lineEnd).toString();
}

function abortError(signal: AbortSignal, where: string): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error && !(r instanceof DOMException)) return r;
  return new TimeoutError(`${where}: ${r instanceof DOMException && r.name === 'TimeoutError' ? 'timed out' : 'aborted'}`);
}
