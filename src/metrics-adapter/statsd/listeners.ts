/** @module The one glue file between sockets and the pure StatsD parser: UDP, TCP and unix datagram listeners. */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as NetSocket } from 'node:net';
import type { HostPort } from '../../core/parse.js';
import type { Logger } from '../../core/log.js';
import { createRequire } from 'node:module';
import { rm } from 'node:fs/promises';
import { ConfigError } from '../../core/errors.js';
import type { StatsdIngest } from './ingest.js';
import { LineSplitter } from './lines.js';

export interface ListenerOptions {
  udp?: HostPort;
  tcp?: HostPort;
  unixgram?: string;
  /** SO_RCVBUF for UDP, bytes; 0 leaves the system default. */
  readBuffer?: number;
  log: Logger;
}

export interface Listeners {
  readonly udp?: HostPort;
  readonly tcp?: HostPort;
  close(): Promise<void>;
}

/** The part of the `unix-dgram` native module used here (Node's dgram has no AF_UNIX datagram sockets). */
interface UnixDgramSocket extends NodeJS.EventEmitter {
  bind(path: string): void;
  close(): void;
}
interface UnixDgramModule {
  createSocket(type: 'unix_dgram', listener: (msg: Buffer) => void): UnixDgramSocket;
}

function loadUnixDgram(): UnixDgramModule {
  try {
    return createRequire(import.meta.url)('unix-dgram') as UnixDgramModule;
  } catch (err) {
    throw new ConfigError('statsd.listen_unixgram', `unix datagram sockets need the unix-dgram native module, which did not load: ${(err as Error).message.split('\n')[0]}`);
  }
}

export async function startListeners(ingest: StatsdIngest, opts: ListenerOptions): Promise<Listeners> {
  let udpSock: Socket | undefined;
  let tcpSrv: Server | undefined;
  const conns = new Set<NetSocket>();
  let udpAddr: HostPort | undefined;
  let tcpAddr: HostPort | undefined;

  let unixSock: UnixDgramSocket | undefined;
  if (opts.unixgram) {
    const path = opts.unixgram;
    const mod = loadUnixDgram();
    await rm(path, { force: true });
    const sock = mod.createSocket('unix_dgram', (msg: Buffer) => {
      ingest.stats.packets.unixgram++;
      ingest.packet(msg);
    });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.once('listening', () => {
        sock.off('error', reject);
        resolve();
      });
      sock.bind(path);
    });
    sock.on('error', (err: Error) => opts.log.error('statsd unixgram socket error', { err }));
    unixSock = sock;
  }

  if (opts.udp) {
    const bind = opts.udp;
    const sock = createSocket({ type: bind.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: opts.readBuffer || undefined });
    sock.on('message', (msg) => {
      ingest.stats.packets.udp++;
      ingest.packet(msg);
    });
    sock.on('error', (err) => opts.log.error('statsd udp socket error', { err }));
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(bind.port, bind.host || undefined, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    const a = sock.address();
    udpAddr = { host: a.address, port: a.port };
    udpSock = sock;
  }

  if (opts.tcp) {
    const bind = opts.tcp;
    const srv = createServer((c) => {
      ingest.stats.tcpConnections++;
      conns.add(c);
      const lines = new LineSplitter(ingest);
      c.on('data', (chunk: Buffer) => {
        ingest.stats.packets.tcp++;
        lines.push(chunk);
      });
      c.on('end', () => lines.end());
      c.on('error', (err) => opts.log.debug('statsd tcp connection error', { err }));
      c.on('close', () => conns.delete(c));
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(bind.port, bind.host || undefined, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    const a = srv.address();
    if (a && typeof a === 'object') tcpAddr = { host: a.address, port: a.port };
    tcpSrv = srv;
  }

  return {
    udp: udpAddr,
    tcp: tcpAddr,
    async close() {
      await Promise.all([
        udpSock ? new Promise<void>((r) => udpSock!.close(() => r())) : undefined,
        unixSock
          ? (async () => {
              unixSock!.close();
              await rm(opts.unixgram!, { force: true });
            })()
          : undefined,
        tcpSrv
          ? new Promise<void>((r) => {
              tcpSrv!.close(() => r());
              for (const c of conns) c.destroy();
            })
          : undefined,
      ]);
    },
  };
}
