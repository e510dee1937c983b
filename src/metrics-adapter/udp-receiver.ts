/** @module StatsD UDP receive behind one interface: batched recvmmsg via the udp_batch addon, or Node's dgram when the addon is unavailable. */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { lookup } from 'node:dns/promises';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';
import type { HostPort } from '../core/parse.js';
import type { Logger } from '../core/log.js';
import { BindError, ConfigError, SystemError, UnsupportedError } from '../core/errors.js';

/** `recvmmsg`: the native batched receiver; `dgram`: Node's socket, one callback per datagram. */
export type UdpReceiverKind = 'recvmmsg' | 'dgram';
/** `auto` uses recvmmsg when the addon loads and falls back to dgram with one log line. */
export type UdpReceiverMode = 'auto' | UdpReceiverKind;

/** Env var that picks the receiver (auto | recvmmsg | dgram), e.g. to test or compare both paths. */
export const RECEIVER_ENV = 'PODKIT_METRICS_ADAPTER_UDP_RECEIVER';

export interface UdpReceiverOptions {
  bind: HostPort;
  /** SO_RCVBUF in bytes (the kernel doubles it for bookkeeping); 0 leaves the system default. */
  readBuffer?: number;
  /** Default: the env var above, else auto. */
  mode?: UdpReceiverMode;
  /** recvmmsg only: datagrams per system call (default 64), bytes per datagram (default 65536: no UDP payload is longer),
   *  and the ring the reader thread fills while JS is busy (default: readBuffer, at least 8 MiB ≈ 300,000 single-line datagrams). */
  batch?: number;
  slot?: number;
  ring?: number;
  /** recvmmsg only: after the first datagram wakes the reader, wait this long for more (default 200 µs; 0 = never;
   *  never when the kernel granted a socket buffer under 1 MiB, which a fast burst could fill meanwhile). */
  coalesceUs?: number;
  /** One datagram's bytes are buf[start, end). The bytes are reused after the call returns: copy what you keep. */
  onDatagram(buf: Buffer, start: number, end: number): void;
  /** A datagram longer than a slot (recvmmsg only): its bytes are not delivered. */
  onTruncated?(): void;
  /** `n` more datagrams were lost: the kernel's socket buffer was full (recvmmsg: SO_MEMINFO at once; dgram: /proc/net/udp
   *  once a second, Linux only), or the recvmmsg ring was. */
  onDrops?(n: number, where: UdpDropReason): void;
  onError(err: Error): void;
  log: Logger;
}

export type UdpDropReason = 'socket_buffer' | 'receive_ring';

export interface UdpReceiver {
  readonly kind: UdpReceiverKind;
  readonly address: HostPort;
  /** The socket buffer the kernel granted (bytes, as getsockopt reports it). */
  readonly readBuffer: number;
  close(): Promise<void>;
}

/** The addon's interface (native/udp-batch/udp_batch.c). */
interface UdpBatchAddon {
  open(o: {
    family: 4 | 6;
    host: string;
    port: number;
    rcvbuf: number;
    batch: number;
    slot: number;
    ring: number;
    coalesceUs: number;
    onData(start: number, bytes: number, kernelDrops: number, ringDrops: number): void;
  }): { handle: object; port: number; ring: ArrayBuffer; rcvbuf: number };
  close(handle: object): void;
}

const TRUNCATED = 0xffffffff;
/** src/… and dist/… sit at the same depth, so one relative path serves both. */
const ADDON_PATH = fileURLToPath(new URL('../../native/udp-batch/build/Release/udp_batch.node', import.meta.url));

/** Env var naming another addon file (packaging, and tests of the fallback). */
export const ADDON_ENV = 'PODKIT_UDP_BATCH_ADDON';

let addon: UdpBatchAddon | Error | undefined;
/** The addon, or why it did not load; tried once per process. */
export function loadAddon(): UdpBatchAddon | Error {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)(process.env[ADDON_ENV] || ADDON_PATH) as UdpBatchAddon;
    } catch (err) {
      addon = new UnsupportedError(process.platform === 'linux' ? (err as Error).message.split('\n')[0] : `recvmmsg receiver is Linux-only (${process.platform})`);
    }
  }
  return addon;
}

let toldFallback = false;

function modeFromEnv(): UdpReceiverMode {
  const v = process.env[RECEIVER_ENV];
  if (v === undefined || v === '') return 'auto';
  if (v === 'auto' || v === 'recvmmsg' || v === 'dgram') return v;
  throw new ConfigError(RECEIVER_ENV, `must be auto, recvmmsg or dgram, got ${JSON.stringify(v)}`);
}

export async function openUdpReceiver(o: UdpReceiverOptions): Promise<UdpReceiver> {
  const mode = o.mode ?? modeFromEnv();
  if (mode !== 'dgram') {
    const a = loadAddon();
    if (!(a instanceof Error)) return openNative(a, o);
    if (mode === 'recvmmsg') throw new ConfigError(RECEIVER_ENV, `the recvmmsg UDP receiver did not load: ${a.message}`);
    if (!toldFallback) {
      toldFallback = true;
      o.log.warn("statsd udp: batched recvmmsg receiver unavailable, using Node's dgram (one callback per datagram)", { reason: a.message });
    }
  }
  return openDgram(o);
}

async function openNative(a: UdpBatchAddon, o: UdpReceiverOptions): Promise<UdpReceiver> {
  // Same address rules as dgram: a ':' means IPv6, '' means any address, a name is looked up.
  const v6 = o.bind.host.includes(':');
  let host = o.bind.host;
  if (host === '') host = v6 ? '::' : '0.0.0.0';
  else if (isIP(host) === 0) host = (await lookup(host, { family: v6 ? 6 : 4 })).address;
  const batch = o.batch ?? 64;
  const slot = o.slot ?? 65_536;
  // An operator who raises read_buffer asks for more buffering: the ring (compact records) grows with it.
  const ringSize = o.ring ?? Math.min(2 ** 30, Math.max(8 * 2 ** 20, Math.ceil((o.readBuffer ?? 0) / 4) * 4));
  // Views of the addon's ring, set once open() returns (the callback cannot run before that).
  const shared: { ring?: Buffer; u32?: Uint32Array } = {};
  let told = { kernel: 0, ring: 0 };
  let handle: object | undefined;
  // Records are [u32 length][bytes][pad to 4] (see udp_batch.c); a run never wraps.
  const onData = (start: number, bytes: number, kernelDrops: number, ringDrops: number): void => {
    if (start < 0) {
      const name = getSystemErrorName(start);
      o.onError(new SystemError('recvmmsg', name));
      return;
    }
    const ring = shared.ring!;
    const u32 = shared.u32!;
    const end = start + bytes;
    // `handle` is cleared by close(), which a callback may call: nothing is delivered after it.
    for (let pos = start; pos < end && handle !== undefined; ) {
      const len = u32[pos >>> 2];
      if (len === TRUNCATED) {
        o.onTruncated?.();
        pos += 4;
      } else {
        o.onDatagram(ring, pos + 4, pos + 4 + len);
        pos += 4 + ((len + 3) & ~3);
      }
    }
    if (kernelDrops !== told.kernel || ringDrops !== told.ring) {
      // Running totals for this socket; the kernel's is a uint32.
      if (kernelDrops !== told.kernel) o.onDrops?.((kernelDrops - told.kernel) >>> 0, 'socket_buffer');
      if (ringDrops !== told.ring) o.onDrops?.(ringDrops - told.ring, 'receive_ring');
      told = { kernel: kernelDrops, ring: ringDrops };
    }
  };
  let r: ReturnType<UdpBatchAddon['open']>;
  try {
    r = a.open({ family: v6 ? 6 : 4, host, port: o.bind.port, rcvbuf: o.readBuffer ?? 0, batch, slot, ring: ringSize, coalesceUs: o.coalesceUs ?? 200, onData });
  } catch (err) {
    // Worded like dgram's bind errors (`bind EADDRINUSE 127.0.0.1:9125`), the reason in .errno.
    const code = (err as { code?: string }).code ?? 'EINVAL';
    throw new BindError(`bind ${code} ${host}:${o.bind.port} (${(err as Error).message})`, { cause: err, errno: code });
  }
  shared.ring = Buffer.from(r.ring);
  shared.u32 = new Uint32Array(r.ring);
  handle = r.handle;
  return {
    kind: 'recvmmsg',
    address: { host, port: r.port },
    readBuffer: r.rcvbuf,
    close() {
      if (handle) a.close(handle);
      handle = undefined;
      return Promise.resolve();
    },
  };
}

async function openDgram(o: UdpReceiverOptions): Promise<UdpReceiver> {
  const sock = createSocket({ type: o.bind.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: o.readBuffer || undefined });
  sock.on('message', (msg) => o.onDatagram(msg, 0, msg.length));
  await new Promise<void>((resolve, reject) => {
    sock.once('error', (err) => {
      sock.close(); // a failed bind still holds the fd
      reject(err);
    });
    sock.bind(o.bind.port, o.bind.host || undefined, () => {
      sock.removeAllListeners('error');
      resolve();
    });
  });
  sock.on('error', (err) => o.onError(err));
  const a = sock.address();
  // dgram has no drop counter of its own: read the kernel's for this socket once a second (Linux; elsewhere none).
  const v6 = a.family === 'IPv6';
  let told = procUdpDrops(v6, a.address, a.port) ?? 0;
  const checkDrops = () => {
    const d = procUdpDrops(v6, a.address, a.port);
    if (d !== undefined && d > told) o.onDrops?.(d - told, 'socket_buffer');
    if (d !== undefined) told = d;
  };
  const timer = setInterval(checkDrops, 1000).unref();
  let closed: Promise<void> | undefined;
  return {
    kind: 'dgram',
    address: { host: a.address, port: a.port },
    readBuffer: sock.getRecvBufferSize(),
    close() {
      if (!closed) {
        clearInterval(timer);
        checkDrops();
      }
      closed ??= new Promise<void>((r) => sock.close(() => r()));
      return closed;
    },
  };
}

/** The kernel's drop total for the UDP socket bound to this local address, from /proc/net/udp{,6}; undefined if not found. */
export function procUdpDrops(v6: boolean, host: string, port: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(v6 ? '/proc/net/udp6' : '/proc/net/udp', 'latin1');
  } catch {
    return undefined;
  }
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  // IPv4 is printed as the raw 32-bit word: byte-reversed on little-endian hosts. IPv6 sockets are matched by port.
  let addrHex: string | undefined;
  if (!v6) {
    const bytes = host.split('.').map((b) => Number(b).toString(16).toUpperCase().padStart(2, '0'));
    addrHex = (endianness() === 'LE' ? bytes.reverse() : bytes).join('');
  }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13 || !f[1].includes(':')) continue;
    const [addr, p] = f[1].split(':');
    if (p === portHex && (addrHex === undefined || addr === addrHex)) return Number(f[f.length - 1]);
  }
  return undefined;
}
