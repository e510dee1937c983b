/** @module Source `redis`: one short connection per collect (AUTH, INFO ALL) through a tiny RESP client, parsed by redis-info.ts. */
import { connect, type Socket } from 'node:net';
import { ConfigError, ProtocolError, TimeoutError, UpstreamError, AuthError } from '../../core/errors.js';
import { addSecret } from '../../core/log.js';
import { parseHostPort } from '../../core/parse.js';
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

function encode(args: string[]): string {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return s;
}

/**
 * Send commands, read one simple/bulk reply each (a flat array of bulk strings joined by newlines); an error reply
 * rejects, except for the command at index `tolerated`, whose error reads as "". Only what INFO, CONFIG GET and AUTH need.
 */
export function respExchange(host: string, port: number, cmds: string[][], signal: AbortSignal, tolerated = -1, maxBytes = DEFAULT_MAX_BODY): Promise<string[]> {
  const where = `redis ${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal, where));
    let buf: Buffer = Buffer.alloc(0);
    const replies: string[] = [];
    const sock: Socket = connect({ host, port });
    const done = (err?: Error) => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve(replies);
    };
    const onAbort = () => done(abortError(signal, where));
    /** Items still to read of an array reply, and those read. */
    let arrayLeft = 0;
    let items: string[] = [];
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('connect', () => sock.write(cmds.map(encode).join('')));
    sock.on('error', (err: NodeJS.ErrnoException) => done(new UpstreamError(`${where}: ${err.code ?? err.message}`, { cause: err })));
    sock.on('close', () => { if (replies.length < cmds.length) done(new UpstreamError(`${where}: connection closed before the reply`)); });
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const type = String.fromCharCode(buf[0]);
        const head = buf.subarray(1, nl).toString();
        if (type === '+') {
          replies.push(head);
          buf = buf.subarray(nl + 2);
        } else if (type === '-' && replies.length === tolerated && arrayLeft === 0) {
          replies.push('');
          buf = buf.subarray(nl + 2);
        } else if (type === '*' && arrayLeft === 0) {
          const n = Number(head);
          if (!Number.isInteger(n) || n < 0 || n > 1024) return done(new ProtocolError(`${where}: bad array length ${head}`));
          buf = buf.subarray(nl + 2);
          if (n === 0) replies.push('');
          arrayLeft = n;
          items = [];
          if (n > 0) continue;
        } else if (type === '-') {
          return done(/NOAUTH|WRONGPASS|invalid password/i.test(head) ? new AuthError(`${where}: ${head}`) : new UpstreamError(`${where}: ${head}`));
        } else if (type === '$' || type === '=') {
          const len = Number(head);
          if (!Number.isInteger(len) || len < 0) return done(new ProtocolError(`${where}: bad bulk length ${head}`));
          // The source's max_body_size bounds a reply as it bounds an HTTP body (and keeps Buffer sizes sane).
          if (len > maxBytes) return done(Object.assign(new UpstreamError(`${where}: reply of ${len} bytes is larger than max_body_size (${maxBytes} bytes)`), { limit: 'body_size' }));
          if (buf.length < nl + 2 + len + 2) return;
          const item = buf.subarray(nl + 2 + (type === '=' ? 4 : 0), nl + 2 + len).toString();
          buf = buf.subarray(nl + 2 + len + 2);
          if (arrayLeft > 0) {
            items.push(item);
            if (--arrayLeft > 0) continue;
            replies.push(items.join('\n'));
          } else replies.push(item);
        } else return done(new ProtocolError(`${where}: unexpected reply type ${JSON.stringify(type)}`));
        if (replies.length === cmds.length) return done();
      }
    });
  });
}

function abortError(signal: AbortSignal, where: string): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error && !(r instanceof DOMException)) return r;
  return new TimeoutError(`${where}: ${r instanceof DOMException && r.name === 'TimeoutError' ? 'timed out' : 'aborted'}`);
}
