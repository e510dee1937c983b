/**
 * @module Connections behind one interface, for clients and upstreams alike: the conn_io addon (every read of an
 * event-loop turn handed to JS in one call), or a net.Socket (one callback per read) where the addon is unavailable.
 */
import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';
import type { Server, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ConfigError, UnsupportedError } from '../../core/errors.js';
import { adopt } from './accept.js';
import { copyOut, type BatchSink } from '../resp/bytes.js';
import { HIGH_WATER, Sink } from './sink.js';
import { beginTurn, endTurn } from './turn.js';

/** What a connection tells its session. */
export interface ConnEvents {
  data(chunk: Buffer): void;
  /** Writing may go on again (after `write`/`writev` returned false). */
  drain(): void;
  /**
   * The connection is gone (the peer closed it, an error, or `destroy()`); called once, never synchronously.
   * `why`: the error that ended it, if one did.
   */
  close(why?: string): void;
  /**
   * The peer shut down its write side (no more input) and waits for its replies: the session calls `end()` once
   * they are sent. Without it, the connection closes at once (upstreams).
   */
  end?(): void;
  /**
   * One of this upstream connection's replies went straight to its client (the direct path, conn_direct.c): the
   * command at the head of the FIFO is answered. `bytes` long, sent `ageUs` µs before this call (0: not known).
   */
  direct?(bytes: number, ageUs: number): void;
  /**
   * An express command on this upstream connection was answered (conn_express.c): what JS would have counted for
   * it — which command (EXPRESS_GET, EXPRESS_SET), its route, µs from read to reply, its bytes and its reply's.
   */
  express?(cmd: number, route: number, us: number, bytesIn: number, bytesOut: number): void;
}

/** Which command an express figure is for (conn_express.c's X_GET, X_SET). */
export const EXPRESS_GET = 0;
export const EXPRESS_SET = 1;
/** The express path's commands by name, indexed by EXPRESS_GET / EXPRESS_SET: the one list JS matches them by. */
export const EXPRESS_NAMES: readonly string[] = ['get', 'set'];

/** A connection: writes return false when the caller should stop producing until `drain`. */
export interface Conn extends BatchSink {
  pause(): void;
  resume(): void;
  /** Close the connection once what was written has been sent; nothing more is read (as Redis after QUIT or a protocol error). */
  end(): void;
  destroy(): void;
  /** Bytes written and not yet taken by the kernel. */
  queued(): number;
  /** Half-close: a FIN once what was written is sent; reading goes on until the peer closes. */
  shutdown(): void;
  /** The addon's id of this connection, which a reply tag names; -1 on a socket (its replies never go direct). */
  readonly directId: number;
  /**
   * Present on connections whose replies may go direct: tags[0, n) are the tags of the commands in the next write,
   * in order — a client connection's `directId` (its reply goes there), -1 (JS's) or TAG_MARKER.
   */
  replyTags?(tags: Int32Array, n: number): void;
  /** The reply guard's marker answer: any other reply in a marker's slot stops the direct path on this connection. */
  replyMarker?(answer: Buffer): void;
  /** Something now waits behind this client's direct reply: tell its completion at once, not with the next delivery. */
  wantDirect?(): void;
  /**
   * Present on connections through the addon. On a client: its plain SETs now go to upstream connection `write`,
   * its GETs to `read` (addon ids; -1: through JS), forwarded in C until it sends anything else (conn_express.c).
   */
  express?(write: number, writeRoute: number, read: number, readRoute: number, outputLimit: number, maxBulk: number): void;
  /** On an upstream: the reply an express command still owed gets when this connection closes first. */
  expressText?(reply: Buffer): void;
  /** On an upstream: the express commands it still owes replies to. */
  expressOwed?(): number;
  /** On an upstream: C's reply guard took a stall error in a marker's slot and has not yet seen one answered in place. */
  expressSuspect?(): boolean;
}

/** The reply guard's marker, as a reply tag. */
export const TAG_MARKER = -2;

export type ClientIo = 'auto' | 'native' | 'socket';
export const CLIENT_IO_ENV = 'PODKIT_AMBASSADOR_CLIENT_IO';
/** `0` keeps every command on the JS path (the express path, conn_express.c, off): for comparison and as a way out. */
export const EXPRESS_ENV = 'PODKIT_AMBASSADOR_EXPRESS';
const expressOff = process.env[EXPRESS_ENV] === '0';

/** `PODKIT_AMBASSADOR_CLIENT_IO`: auto (the addon when it loads), native (required) or socket. */
export function clientIoFromEnv(): ClientIo {
  const v = process.env[CLIENT_IO_ENV];
  if (v === undefined || v === '') return 'auto';
  if (v === 'auto' || v === 'native' || v === 'socket') return v;
  throw new ConfigError(CLIENT_IO_ENV, `must be auto, native or socket, got ${JSON.stringify(v)}`);
}

/** A client connection on a net.Socket: reads through `adopt` (no stream push), writes through `Sink`. */
export function socketConn(server: Server, raw: Socket, ev: ConnEvents): Conn {
  const socket = adopt(server, raw, (c) => ev.data(c));
  socket.setNoDelay(true);
  // Half-open (the server is made with allowHalfOpen, which adopt keeps): replies still go out after the FIN.
  socket.on('end', () => (ev.end ? ev.end() : socket.end()));
  return onSocket(socket, ev);
}

/** A socket this process connected (an upstream) kept as it is: reads arrive through the `onread` it was made with. */
function socketConnected(raw: Socket, ev: ConnEvents): Conn {
  return onSocket(raw, ev);
}

/** A socket whose reads are already wired: writes through `Sink`; `close` once, with the error that ended it. */
function onSocket(socket: Socket, ev: ConnEvents): Conn {
  const sink = new Sink(socket, () => ev.drain());
  let why: string | undefined;
  socket.on('error', (e: NodeJS.ErrnoException) => (why ??= describeError(e.code, e.message)));
  socket.on('close', () => ev.close(why));
  return {
    write: (b) => sink.write(b),
    writev: (parts) => sink.writev(parts),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    end: () => {
      socket.pause();
      socket.destroySoon();
    },
    destroy: () => socket.destroy(),
    queued: () => sink.queued(),
    shutdown: () => void socket.end(),
    directId: -1,
  };
}

/** How a connection's end is told in logs: a reset as a reset, whatever the I/O path. */
export function describeError(code: string | undefined, message: string): string {
  if (code === 'ECONNRESET') return 'connection reset by peer';
  if (code === 'EPIPE') return 'connection closed by peer (broken pipe)';
  if (code === 'ETIMEDOUT') return 'connection timed out';
  return message;
}

/** The addon's interface (native/conn-io/conn_io.c). */
interface ConnIoAddon {
  init(arena: ArrayBuffer, events: ArrayBuffer, onEvents: (count: number) => void): void;
  adopt(fd: number): number;
  write(id: number, b: Buffer): number;
  writeRange(id: number, b: Buffer, from: number, to: number): number;
  writev(id: number, parts: Buffer[]): number;
  pause(id: number): void;
  resume(id: number): void;
  end(id: number): void;
  close(id: number): void;
  idleMetricsOff(): boolean;
  tags(id: number, tags: Int32Array, n: number): number;
  marker(id: number, answer: Buffer): number;
  queued(id: number): number;
  undelivered(): number;
  want(id: number): void;
  flush(): void;
  expressInit(stats: ArrayBuffer, owed: ArrayBuffer): void;
  express(id: number, write: number, writeRoute: number, read: number, readRoute: number, outputLimit: number, maxBulk: number): void;
  expressEpoch(): void;
  expressTake(): number;
  expressOwed(id: number): number;
  expressText(id: number, reply: Buffer): number;
  schedBatch(): number;
  pollStart(): void;
  polled(): number;
  pieces(): number;
}

/** src/… and dist/… sit at the same depth, so one relative path serves both. */
const ADDON_PATH = fileURLToPath(new URL('../../../native/conn-io/build/Release/conn_io.node', import.meta.url));

/** Env var naming another addon file (packaging, and tests of the fallback). */
export const CONN_IO_ADDON_ENV = 'PODKIT_CONN_IO_ADDON';

/**
 * `PODKIT_LOOP_IDLE_METRICS=1` keeps libuv's idle-time metrics, which the addon otherwise turns off: with them on,
 * each event-loop turn that finds nothing to do polls twice (once without waiting, then to block), one more system
 * call per turn at one request per round trip. They serve only `performance.eventLoopUtilization()`, which podkit
 * does not use (with them off it reports the loop as always busy).
 */
export const IDLE_METRICS_ENV = 'PODKIT_LOOP_IDLE_METRICS';

/** Whether the addon turned the idle-time metrics off (false: kept by the env var, or libuv's layout not proven). */
export let idleMetricsOff = false;

/**
 * `PODKIT_CONN_POLL=off` leaves the wait for events to libuv. Otherwise, with the idle-time metrics off, the addon
 * makes it in C while only its connections have work (native/conn-io/conn_poll.c): no turn of Node's loop per
 * express request. With the metrics kept it stays libuv's, since a wait made outside libuv is not counted as idle.
 */
export const CONN_POLL_ENV = 'PODKIT_CONN_POLL';

const EV_DATA = 1;
const EV_EOF = 2;
const EV_ERROR = 3;
const EV_DRAIN = 4;
const EV_COMPLETE = 5;
const EV_EXPRESS = 6;
/** Express figures the addon holds between takes: it asks for a delivery every 512 (conn_express.c X_STATS_BATCH); the rest is room for one turn's replies past that. */
const EXPRESS_STATS = 16 * 1024;
/** Connection ids whose express commands owed JS reads from shared memory (past them, one call each). */
const OWED_IDS = 64 * 1024;
/** Reads per turn fill at most this much; a read needs 4 KiB free, so a turn takes ≥ 15 full 64 KiB reads. */
const ARENA_BYTES = 1024 * 1024;
const EVENTS = 16 * 1024;

let io: ConnIoAddon | Error | undefined;
let arena: Buffer;
let events: Int32Array;
let xstats: Int32Array;
let xowed: Int32Array;
/** An entry of `xowed`: the express commands an upstream owes, and a flag (conn_guard.h XG_SUSPECT). */
const XOWED_SUSPECT = 0x40000000;
const XOWED_COUNT = XOWED_SUSPECT - 1;
const conns: (NativeConn | undefined)[] = [];
/** During a delivery, the event being handled (a connection closing settles the COMPLETEs after it: `settle`). */
let delivering = false;
let current = 0;
/** Deliveries so far (NativeConn.lastSeq). */
let seq = 0;

/**
 * Every read of the turn, in order: each gets its own copy (the arena is reused after this call returns). The
 * turn's writes follow at the end (turn.ts).
 */
function onEvents(count: number): void {
  beginTurn();
  delivering = true;
  try {
    deliver(count);
  } finally {
    delivering = false;
    endTurn();
  }
}

function deliver(count: number): void {
  seq++;
  // Which connections have bytes or an EOF still to come in this delivery: none is armed for the express path before
  // JS has read them (they may change its state: a MULTI after a reply told earlier in the same delivery).
  for (let i = 0, k = 0; i < count; i++, k += 4) {
    const kind = events[k + 1];
    if (kind !== EV_DATA && kind !== EV_EOF) continue;
    const c = conns[events[k]];
    if (c === undefined) continue;
    c.lastInput = i;
    c.lastSeq = seq;
  }
  for (let i = 0, k = 0; i < count; i++, k += 4) {
    current = i;
    if (events[k + 1] === EV_EXPRESS) {
      takeExpress();
      continue;
    }
    const c = conns[events[k]];
    if (c === undefined) continue; // closed earlier in this turn
    switch (events[k + 1]) {
      case EV_DATA:
        c.ev.data(copyOut(arena, events[k + 2], events[k + 3]));
        break;
      case EV_EOF:
        c.peerEnded();
        break;
      case EV_ERROR:
        c.fail(events[k + 2]);
        break;
      case EV_DRAIN:
        c.drained();
        break;
      case EV_COMPLETE:
        c.ev.direct?.(events[k + 2], events[k + 3]);
        break;
    }
  }
}

/**
 * Tell JS now of every reply that went direct (conn_direct.c), before reading what they change — the FIFOs'
 * lengths, the latency and byte counters — which otherwise catch up at the next delivery.
 */
export function settleDirect(): void {
  if (io !== undefined && !(io instanceof Error) && !delivering) io.flush();
  takeExpress();
}

let expressed = 0;

/** Express commands answered in this process so far (tests see the path taken). */
export function expressCount(): number {
  settleDirect();
  return expressed;
}

/** Express pieces written to an upstream before the end of their turn (conn_express.c, X_PIECE): tests see them. */
export function expressPieces(): number {
  return io === undefined || io instanceof Error ? 0 : io.pieces();
}

/** The figures of the express commands answered since the last take, told to their upstream connections. */
function takeExpress(): void {
  if (io === undefined || io instanceof Error) return;
  const n = io.expressTake();
  expressed += n;
  for (let i = 0, k = 0; i < n; i++, k += 4) {
    const e0 = xstats[k];
    conns[e0 & 0xfffff]?.ev.express?.((e0 >>> 20) & 0xf, (e0 >>> 24) & 0x7f, xstats[k + 1], xstats[k + 2], xstats[k + 3]);
  }
}

/** Routing changed (a reload, a pool retired): no client's earlier arming holds (conn_express.c). */
export function expressEpoch(): void {
  if (io !== undefined && !(io instanceof Error)) io.expressEpoch();
}

/** The addon, set up, or why it did not load; tried once per process. */
export function loadConnIo(): ConnIoAddon | Error {
  if (io === undefined) {
    try {
      const a = createRequire(import.meta.url)(process.env[CONN_IO_ADDON_ENV] || ADDON_PATH) as ConnIoAddon;
      const ab = new ArrayBuffer(ARENA_BYTES);
      const eb = new ArrayBuffer(EVENTS * 16);
      a.init(ab, eb, onEvents);
      const xb = new ArrayBuffer(EXPRESS_STATS * 16);
      const ob = new ArrayBuffer(OWED_IDS * 4);
      a.expressInit(xb, ob);
      xstats = new Int32Array(xb);
      xowed = new Int32Array(ob);
      if (process.env[IDLE_METRICS_ENV] !== '1') idleMetricsOff = a.idleMetricsOff();
      if (idleMetricsOff && process.env[CONN_POLL_ENV] !== 'off') a.pollStart();
      arena = Buffer.from(ab);
      events = new Int32Array(eb);
      io = a;
    } catch (err) {
      io = new UnsupportedError(process.platform === 'linux' ? (err as Error).message.split('\n')[0] : `conn_io is Linux-only (${process.platform})`);
    }
  }
  return io;
}

/**
 * `--sched-policy`: `batch` makes the event loop's thread SCHED_BATCH; `normal` leaves the policy it was started with
 * (SCHED_OTHER unless its launcher chose another: an operator's `chrt` is not undone). Batch keeps the same share of
 * CPU; its wake-ups only stop preempting the task on the core, which on a core shared with the app means the app is
 * no longer cut off at each reply the proxy writes (conn_io.c js_sched_batch).
 */
export function setSchedPolicy(policy: 'normal' | 'batch'): void {
  if (policy === 'normal') return;
  const a = loadConnIo();
  if (a instanceof Error) throw new ConfigError('sched-policy', `batch needs the conn_io addon, which did not load: ${a.message}`);
  const r = a.schedBatch();
  if (r < 0) throw new ConfigError('sched-policy', `cannot set batch: sched_setscheduler failed (${getSystemErrorName(r)})`);
}

class NativeConn implements Conn {
  private closed = false;
  /** The index of its last DATA or EOF event in delivery `lastSeq`. */
  lastInput = -1;
  lastSeq = 0;
  /** Bytes the addon still holds for this connection (as of the last write or drain). */
  private held = 0;
  /** A write reported backpressure: tell the session at the next drain. */
  private waiting = false;
  /** The peer ended while bytes were queued: close once they are sent. */
  private closeOnDrain = false;

  constructor(
    private readonly a: ConnIoAddon,
    readonly id: number,
    readonly ev: ConnEvents,
  ) {}

  get directId(): number {
    return this.id;
  }

  replyTags(tags: Int32Array, n: number): void {
    if (!this.closed) this.a.tags(this.id, tags, n);
  }

  replyMarker(answer: Buffer): void {
    if (!this.closed) this.a.marker(this.id, answer);
  }

  wantDirect(): void {
    if (!this.closed) this.a.want(this.id);
  }

  /** Not while bytes of this client later in this delivery are still to be read by JS (see `deliver`). */
  express(write: number, writeRoute: number, read: number, readRoute: number, outputLimit: number, maxBulk: number): void {
    if (this.closed || expressOff || (delivering && this.lastSeq === seq && this.lastInput > current)) return;
    this.a.express(this.id, write, writeRoute, read, readRoute, outputLimit, maxBulk);
  }

  expressText(reply: Buffer): void {
    if (!this.closed) this.a.expressText(this.id, reply);
  }

  expressOwed(): number {
    if (this.closed) return 0;
    // An upstream's count is in shared memory (read on every command JS sends while the reply guard is on).
    return this.id < xowed.length ? xowed[this.id] & XOWED_COUNT : this.a.expressOwed(this.id);
  }

  expressSuspect(): boolean {
    return !this.closed && this.id < xowed.length && (xowed[this.id] & XOWED_SUSPECT) !== 0;
  }

  /**
   * Before the connection's FIFO is failed: its replies that went direct and are not yet told (COMPLETEs after the
   * event being delivered, or waiting for a delivery) are told now, and blanked so they are not told again.
   */
  private settle(): void {
    const direct = this.ev.direct;
    if (direct === undefined) return;
    const n = this.a.undelivered();
    for (let i = delivering ? current + 1 : 0, k = i * 4; i < n; i++, k += 4)
      if (events[k] === this.id && events[k + 1] === EV_COMPLETE) {
        events[k + 1] = 0;
        direct(events[k + 2], 0);
      }
  }

  write(b: Buffer): boolean {
    return this.closed || this.after(this.a.write(this.id, b));
  }

  writev(parts: Buffer[]): boolean {
    return this.closed || this.after(this.a.writev(this.id, parts));
  }

  /** The addon copies what the kernel does not take at once, so `b` may be reused as soon as this returns. */
  writeRange(b: Buffer, from: number, to: number): boolean {
    return this.closed || this.after(this.a.writeRange(this.id, b, from, to));
  }

  private after(r: number): boolean {
    if (r < 0) {
      // A broken connection (EPIPE, ECONNRESET): the session learns it from `close`, as with a socket.
      this.destroy();
      return true;
    }
    this.held = r;
    if (r < HIGH_WATER) return true;
    this.waiting = true;
    return false;
  }

  queued(): number {
    return this.held;
  }

  drained(): void {
    this.held = 0;
    if (this.closeOnDrain) return this.destroy();
    if (!this.waiting) return;
    this.waiting = false;
    this.ev.drain();
  }

  /** The peer sent FIN: the session ends us once its replies are out (or, for an upstream, at once). */
  peerEnded(): void {
    if (this.ev.end) this.ev.end();
    else this.end();
  }

  pause(): void {
    if (!this.closed) this.a.pause(this.id);
  }

  resume(): void {
    if (!this.closed) this.a.resume(this.id);
  }

  shutdown(): void {
    if (!this.closed) this.a.end(this.id);
  }

  /** Nothing more is read; the connection closes once what is queued is sent. */
  end(): void {
    if (this.closed) return;
    // Asked of the addon: replies that went direct may be queued there too.
    if (this.a.queued(this.id) === 0) return this.destroy();
    this.a.pause(this.id);
    this.closeOnDrain = true;
    this.a.end(this.id);
  }

  /** A read or poll error (a negative errno). */
  fail(errno: number): void {
    const name = getSystemErrorName(errno);
    // EPROTO is the addon's own: a reply that breaks the order its commands were written in (conn_guard.c).
    if (name === 'EPROTO') return this.close('protocol error: replies out of step (a reply in the place of the check after a batch of express commands)');
    this.close(describeError(name, `read ${name}`));
  }

  destroy(): void {
    this.close(undefined);
  }

  private close(why: string | undefined): void {
    if (this.closed) return;
    this.settle();
    takeExpress(); // its figures, while its id still names it
    this.closed = true;
    conns[this.id] = undefined;
    this.a.close(this.id);
    process.nextTick(() => this.ev.close(why));
  }
}

/** Socket fields read here. */
interface HandleFd {
  _handle: { fd?: number } | null;
}

/**
 * Move an accepted (paused) connection to the addon: it reads and writes a duplicate of the descriptor, and the
 * socket is destroyed (closing only its own descriptor). Null when the socket has no descriptor to take.
 */
export function nativeConn(a: ConnIoAddon, raw: Socket, ev: ConnEvents): Conn | null {
  const fd = (raw as unknown as HandleFd)._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return null;
  const id = a.adopt(fd);
  if (id < 0) return null;
  raw.destroy();
  const c = new NativeConn(a, id, ev);
  conns[id] = c;
  return c;
}

/** How connections are opened, decided once at start. */
export interface ConnOpener {
  readonly kind: 'native' | 'socket';
  /** An accepted client connection (paused, from a `pauseOnConnect` server). */
  open(server: Server, raw: Socket, ev: ConnEvents): Conn;
  /** A socket this process connected, just connected, made with an `onread` that the socket path keeps. */
  connected(raw: Socket, ev: ConnEvents): Conn;
}

/** `native` needs the addon (a ConfigError without it); `auto` falls back to sockets and says so once. */
export function connOpener(mode: ClientIo, warn: (msg: string, fields: Record<string, unknown>) => void): ConnOpener {
  const a = mode === 'socket' ? null : loadConnIo();
  if (a instanceof Error) {
    if (mode === 'native') throw new ConfigError(CLIENT_IO_ENV, `the conn_io addon did not load: ${a.message}`);
    warn('redis ambassador: conn_io addon unavailable, client and upstream connections use net.Socket (one callback per read)', { reason: a.message });
  }
  if (a === null || a instanceof Error) return { kind: 'socket', open: socketConn, connected: socketConnected };
  return {
    kind: 'native',
    open: (server, raw, ev) => nativeConn(a, raw, ev) ?? socketConn(server, raw, ev),
    connected: (raw, ev) => nativeConn(a, raw, ev) ?? socketConnected(raw, ev),
  };
}
