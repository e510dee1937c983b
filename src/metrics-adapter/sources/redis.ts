/** @module Source `redis`: one short connection per collect (AUTH, INFO ALL) through a tiny RESP client, parsed by redis-info.ts. */
import { connect, type Socket } from 'node:net';
import { ConfigError, ProtocolError, TimeoutError, UpstreamError, AuthError } from '../../core/errors.js';
import { addSecret } from '../../core/log.js';
import { parseHostPort } from '../../core/parse.js';
import type { MetricFamily } from '../../core/metrics/model.js';
import { upFamily, type Source, type SourceFactory } from './source.js';
import { asObject, join, onlyKeys, optString, reqString } from './options.js';
import { parseRedisInfo } from './redis-info.js';

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
  create(name, options): Source {
    return {
      name,
      kind: 'redis',
      down: () => [upFamily(`${options.namespace}_up`, 'Information about the Redis instance: 1 when INFO was read', 0)],
      async collect(signal: AbortSignal): Promise<MetricFamily[]> {
        const cmds: string[][] = [];
        if (options.password !== undefined) cmds.push(options.username ? ['AUTH', options.username, options.password] : ['AUTH', options.password]);
        cmds.push(['INFO', 'ALL']);
        const replies = await respExchange(options.host, options.port, cmds, signal);
        return parseRedisInfo(replies[replies.length - 1], options.namespace);
      },
    };
  },
};

function encode(args: string[]): string {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return s;
}

/** Send commands, read one simple/bulk reply each; an error reply rejects. Only what INFO and AUTH need. */
export function respExchange(host: string, port: number, cmds: string[][], signal: AbortSignal): Promise<string[]> {
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
        } else if (type === '-') {
          return done(/NOAUTH|WRONGPASS|invalid password/i.test(head) ? new AuthError(`${where}: ${head}`) : new UpstreamError(`${where}: ${head}`));
        } else if (type === '$' || type === '=') {
          const len = Number(head);
          if (!Number.isInteger(len) || len < 0) return done(new ProtocolError(`${where}: bad bulk length ${head}`));
          if (buf.length < nl + 2 + len + 2) return;
          replies.push(buf.subarray(nl + 2 + (type === '=' ? 4 : 0), nl + 2 + len).toString());
          buf = buf.subarray(nl + 2 + len + 2);
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
