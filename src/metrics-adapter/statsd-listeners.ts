/** @module The one glue file between sockets and the pure StatsD parser: UDP, TCP and unix datagram listeners. */
import { createServer, type Server, type Socket as NetSocket } from 'node:net';
import { formatHostPort, type HostPort } from '../core/parse.js';
import type { Logger } from '../core/log.js';
import { createRequire } from 'node:module';
import { rm } from 'node:fs/promises';
import { BindError, bindError, ConfigError } from '../core/errors.js';
import type { StatsdIngest } from './statsd/ingest.js';
import { LineSplitter } from './statsd/lines.js';
import { openUdpReceiver, type UdpReceiver, type UdpReceiverKind, type UdpReceiverMode } from './udp-receiver.js';

export interface ListenerOptions {
  udp?: HostPort;
  tcp?: HostPort;
  unixgram?: string;
  /** SO_RCVBUF for UDP, bytes; 0 leaves the system default. */
  readBuffer?: number;
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
export async function startListeners(ingest: StatsdIngest, opts: ListenerOptions): Promise<Listeners> {
  let udp: UdpReceiver | undefined;
  let tcpSrv: Server | undefined;
  const conns = new Set<NetSocket>();
  let tcpAddr: HostPort | undefined;

  let unixSock: UnixDgramSocket | undefined;
  // Whatever is open so far; also what a failed start undoes, so a bind error leaks no socket.
  const close = async (): Promise<void> => {
    await Promise.all([
      udp?.close(),
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
  };
  const undo = async (err: unknown): Promise<never> => {
    await close();
    throw err;
  };
  if (opts.unixgram) {
    const path = opts.unixgram;
    const mod = loadUnixDgram();
    await rm(path, { force: true });
    const sock = mod.createSocket('unix_dgram', (msg: Buffer) => {
      ingest.stats.packets.unixgram++;
      ingest.packet(msg);
    });
    unixSock = sock;
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.once('listening', () => {
        sock.off('error', reject);
        resolve();
      });
      sock.bind(path);
    }).catch(undo);
    sock.on('error', (err: Error) => opts.log.error('statsd unixgram socket error', { err }));
  }

  if (opts.udp) {
    const stats = ingest.stats;
    udp = await openUdpReceiver({
      bind: opts.udp,
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
    }).catch((e: unknown) => undo(asBindError(e, opts.udp!, '--statsd.listen-udp')));
    if (opts.readBuffer && udp.readBuffer < 2 * opts.readBuffer) {
      // Linux grants min(asked, net.core.rmem_max) and reports it doubled; say so rather than silently running with less.
      opts.log.warn('statsd udp: the kernel granted a smaller socket buffer than read_buffer asks; raise net.core.rmem_max', { asked: opts.readBuffer, granted: udp.readBuffer });
    }
    opts.log.debug('statsd udp listening', { receiver: udp.kind, readBuffer: udp.readBuffer });
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
    }).catch((e: unknown) => undo(asBindError(e, bind, '--statsd.listen-tcp')));
    const a = srv.address();
    if (a && typeof a === 'object') tcpAddr = { host: a.address, port: a.port };
    tcpSrv = srv;
  }

  return {
    udp: udp?.address,
    tcp: tcpAddr,
    udpReceiver: udp?.kind,
    close,
  };
}
