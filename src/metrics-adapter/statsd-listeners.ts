/** @module The one glue file between sockets and the pure StatsD parser: UDP, TCP and unix datagram listeners. */
import { createServer, type Server, type Socket as NetSocket } from 'node:net';
import { formatHostPort, type HostPort } from '../core/parse.js';
import type { Logger } from '../core/log.js';
import { createRequire } from 'node:module';
import { rm } from 'node:fs/promises';
import { BindError, bindError, ConfigError } from '../core/errors.js';
import type { StatsdIngest } from './statsd/ingest.js';
import { DEFAULT_MAX_TCP_CONNECTIONS, LineSplitter } from './statsd/lines.js';
import { openUdpReceiver, type UdpReceiver, type UdpReceiverKind, type UdpReceiverMode } from './udp-receiver.js';

export interface ListenerOptions {
  udp?: HostPort;
  tcp?: HostPort;
  unixgram?: string;
  /** SO_RCVBUF for UDP, bytes; 0 leaves the system default. */
  readBuffer?: number;
  /** TCP connections open at once; one more is closed at once and counted (default 1024). */
  maxTcpConnections?: number;
  /** Which UDP receiver (default: PODKIT_METRICS_ADAPTER_UDP_RECEIVER, else auto). */
  udpReceiver?: UdpReceiverMode;
  log: Logger;
}

export interface Listeners {
  readonly udp?: HostPort;
  readonly tcp?: HostPort;
  /** Which UDP receiver is running. */
  readonly udpReceiver?: UdpReceiverKind;
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

/** A socket's bind failure in the catalogue's wording; anything else (a missing addon is a ConfigError) as it is. */
function asBindError(err: unknown, at: HostPort, flag: string): unknown {
  const code = err instanceof BindError ? err.errno : (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? bindError(formatHostPort(at), err, flag) : err;
}
/** A unix datagram socket at `path` (a stale file there is removed first); a failed bind closes it and removes the file. */
async function openUnixgram(ingest: StatsdIngest, path: string, log: Logger): Promise<UnixDgramSocket> {
  const mod = loadUnixDgram();
  await rm(path, { force: true });
  const sock = mod.createSocket('unix_dgram', (msg: Buffer) => {
    ingest.stats.packets.unixgram++;
    ingest.packet(msg);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.once('listening', () => {
        sock.off('error', reject);
        resolve();
      });
      sock.bind(path);
    });
  } catch (err) {
    await closeUnixgram(sock, path);
    throw err;
  }
  sock.on('error', (err: Error) => log.error('statsd unixgram socket error', { err }));
  return sock;
}

async function closeUnixgram(sock: UnixDgramSocket, path: string): Promise<void> {
  sock.close();
  await rm(path, { force: true });
}

/** The UDP receiver (recvmmsg or dgram), counting datagrams, truncations and drops into the ingest's stats. */
async function openUdp(ingest: StatsdIngest, bind: HostPort, opts: ListenerOptions): Promise<UdpReceiver> {
  const stats = ingest.stats;
  const udp = await openUdpReceiver({
    bind,
    readBuffer: opts.readBuffer,
    mode: opts.udpReceiver,
    onDatagram(buf, start, end) {
      stats.packets.udp++;
      ingest.packet(buf, start, end);
    },
    onTruncated() {
      stats.packets.udp++;
      ingest.error('datagram_truncated');
    },
    onDrops(n, where) {
      stats.udpDrops[where] += n;
    },
    onError: (err) => opts.log.error('statsd udp socket error', { err }),
    log: opts.log,
  }).catch((e: unknown) => Promise.reject(asBindError(e, bind, '--statsd.listen-udp')));
  if (opts.readBuffer && udp.readBuffer < 2 * opts.readBuffer) {
    // Linux grants min(asked, net.core.rmem_max) and reports it doubled; say so rather than silently running with less.
    opts.log.warn('statsd udp: the kernel granted a smaller socket buffer than read_buffer asks; raise net.core.rmem_max', { asked: opts.readBuffer, granted: udp.readBuffer });
  }
  opts.log.debug('statsd udp listening', { receiver: udp.kind, readBuffer: udp.readBuffer });
  return udp;
}

/** The TCP listener: each connection's stream is cut into lines; `conns` holds the open ones so close() can end them. */
async function openTcp(ingest: StatsdIngest, bind: HostPort, conns: Set<NetSocket>, max: number, log: Logger): Promise<{ srv: Server; address?: HostPort }> {
  const srv = createServer((c) => {
    ingest.stats.tcpConnections++;
    conns.add(c);
    const lines = new LineSplitter(ingest);
    c.on('data', (chunk: Buffer) => {
      ingest.stats.packets.tcp++;
      lines.push(chunk);
    });
    c.on('end', () => lines.end());
    c.on('error', (err) => log.debug('statsd tcp connection error', { err }));
    c.on('close', () => conns.delete(c));
  });
  // Each connection may hold a partial line of up to 64 KiB (lines.ts): without a cap, connections alone could grow
  // memory without bound. Node closes one more at once and says so with 'drop'.
  srv.maxConnections = max;
  srv.on('drop', () => ingest.stats.tcpRefused++);
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(bind.port, bind.host || undefined, () => {
      srv.off('error', reject);
      resolve();
    });
  }).catch((e: unknown) => Promise.reject(asBindError(e, bind, '--statsd.listen-tcp')));
  const a = srv.address();
  return { srv, address: a && typeof a === 'object' ? { host: a.address, port: a.port } : undefined };
}

export async function startListeners(ingest: StatsdIngest, opts: ListenerOptions): Promise<Listeners> {
  let udp: UdpReceiver | undefined;
  let tcp: { srv: Server; address?: HostPort } | undefined;
  const conns = new Set<NetSocket>();
  let unixSock: UnixDgramSocket | undefined;
  // Whatever is open so far; also what a failed start undoes, so a bind error leaks no socket.
  const close = async (): Promise<void> => {
    await Promise.all([
      udp?.close(),
      unixSock ? closeUnixgram(unixSock, opts.unixgram!) : undefined,
      tcp
        ? new Promise<void>((r) => {
            tcp!.srv.close(() => r());
            for (const c of conns) c.destroy();
          })
        : undefined,
    ]);
  };
  try {
    if (opts.unixgram) unixSock = await openUnixgram(ingest, opts.unixgram, opts.log);
    if (opts.udp) udp = await openUdp(ingest, opts.udp, opts);
    if (opts.tcp) tcp = await openTcp(ingest, opts.tcp, conns, opts.maxTcpConnections ?? DEFAULT_MAX_TCP_CONNECTIONS, opts.log);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    udp: udp?.address,
    tcp: tcp?.address,
    udpReceiver: udp?.kind,
    close,
  };
}
