/** @module One pipelined connection to a Redis node: a FIFO of commands in flight, writes batched per event-loop turn. */
import { connect, type Socket } from 'node:net';
import { BAD, NEED, parseIntAt, scanState, scanValue } from '../core/resp/scanner.js';
import { RespType } from '../core/resp/types.js';
import { InputBuffer, OutputBatch } from './resp/bytes.js';
import { readInto } from './io/read.js';
import { encodeCommand, encodeError } from '../core/resp/encode.js';
import { TAG_MARKER, type Conn, type ConnOpener } from './io/conn.js';
import { clock, markDirty } from './io/turn.js';
import { GUARD_SEGMENT, MARK_BAD, MARK_OK, ReplyGuard } from './guard.js';
import { freePending, HOOK_HANDSHAKE, HOOK_INTERNAL, HOOK_MARKER, HOOK_NONE, HOOK_SELECT, newPending, type Pending, type ReplySink } from './pending.js';
import type { TunnelReplies } from './tunnel-replies.js';

/** What a handshake command must answer: +OK (AUTH, SELECT), +PONG (PING), a map or array (HELLO). */
const EXPECT_OK = 1;
const EXPECT_PONG = 2;
const EXPECT_MAP = 3;
/** The handshake's SELECT: +OK, and a -BUSY is retried (`Upstream.sendSelect`). */
const EXPECT_SELECT = 4;
/** A dedicated connection's CLIENT ID: the node's id of it (`Upstream.serverId`). */
const EXPECT_ID = 5;

function handshakeAnswer(expect: number, buf: Buffer, from: number, to: number): boolean {
  if (expect === EXPECT_ID) return buf[from] === RespType.Integer;
  if (expect === EXPECT_MAP) return buf[from] === RespType.Map || buf[from] === RespType.Array;
  const want = expect === EXPECT_PONG ? '+PONG\r\n' : '+OK\r\n';
  return to - from === want.length && buf.toString('latin1', from, to) === want;
}

export interface NodeAddr {
  host: string;
  port: number;
  role: 'master' | 'replica';
  /** "master" or "replica:HOST:PORT", for logs and metrics. */
  label: string;
}

export interface UpstreamOptions {
  username?: string;
  password?: string;
  /** Largest bulk accepted in a server reply. The server is trusted: values stored directly may exceed the client limit. */
  maxBulk: number;
  connectTimeoutMs: number;
  /** How a connected socket is taken over: the conn_io addon, as for clients, or the socket itself. */
  opener: ConnOpener;
  /** This ambassador's byte counters. */
  traffic: Traffic;
  /** Mark batches of several clients' commands on shared connections and hold their replies until vouched for (guard.ts). */
  replyGuard?: boolean;
}

/** Byte counters the metrics read, one set per ambassador; plain numbers so the hot path pays an add. */
export interface Traffic {
  upstreamIn: number;
  upstreamOut: number;
  clientIn: number;
  clientOut: number;
}

export function newTraffic(): Traffic {
  return { upstreamIn: 0, upstreamOut: 0, clientIn: 0, clientOut: 0 };
}

export interface UpstreamEvents {
  /** The handshake was answered without an error: the node accepts this connection. */
  ready(u: Upstream): void;
  closed(u: Upstream, why: string): void;
  /** The node became usable (`up`) or stopped being so (`reason`): called once per change, for one log line. */
  nodeState?(node: NodeAddr, up: boolean, reason: string): void;
  /** Latency of one reply, by route. */
  latency(route: number, seconds: number): void;
  /** An express command (conn_express.c) answered: counted as the JS path counts a routed command and its latency. */
  express(cmd: number, route: number, seconds: number): void;
  internalError(u: Upstream, reply: string): void;
}

let nextId = 1;

/** How soon a SELECT refused with -BUSY is sent again. */
const SELECT_RETRY_MS = 20;

/** buf[from, to) is a `-BUSY …` error (a script or function running past busy-reply-threshold). */
export function isBusy(buf: Buffer, from: number, to: number): boolean {
  return to - from > 6 && buf[from] === 45 && buf.toString('latin1', from + 1, from + 6) === 'BUSY ';
}

/** Why the ambassador itself closes a connection (not a failure of the node). */
export const OWN_CLOSES: ReadonlySet<string> = new Set(['released', 'client gone', 'ambassador closing']);


/** A client session waiting for a congested upstream connection to drain. */
export interface DrainWaiter {
  upstreamDrained(): void;
}
export class Upstream {
  readonly id = nextId++;
  /** Until connected; then `conn` reads and writes (the socket itself, or its descriptor moved to the addon). */
  private readonly socket: Socket;
  private conn: Conn | null = null;
  dirty = false;
  /** The handshake was answered: the node takes commands on this connection. */
  ready = false;
  /** `ready` at some point (a close after that is a lost connection, not a failure to connect). */
  established = false;
  /** TCP-connected at least once (what was queued may have been sent). */
  everReady = false;
  /** The error the node answered the handshake with (e.g. -WRONGPASS, -ERR max number of clients reached). */
  refusal: string | null = null;
  private handshakeLeft = 0;
  /** Commands queued but not yet written: a reply while every written command is answered is one nobody asked for. */
  private unflushed = 0;
  /** The last write left more queued than the connection's high-water mark; cleared when it drains. */
  congested = false;
  /** A tunnelled client's FIN went on to the node (`shutdownWrite`). */
  private finPassed = false;
  private drainWaiters: Set<DrainWaiter> | null = null;
  /**
   * Commands held back (copied) until this connection's SELECT is answered: a SELECT refused with -BUSY (a script
   * running past busy-reply-threshold) must not let them run in db 0 once the script ends. Null: not gated.
   */
  private gated: Buffer[] | null = null;
  private selectRetry: NodeJS.Timeout | null = null;
  /** The client whose script commands are in flight here (a script connection: `NodeConns.script`). */
  scriptOwner = 0;
  /** RESETs sent through the tunnel whose `+RESET` has not come back yet. */
  private resetsOwed = 0;
  closed = false;
  /** A client tunnelled through this connection: bytes are relayed raw both ways. */
  tunnel: ReplySink | null = null;
  /** The tunnel's replies, counted to put the ambassador's answers and translated ids in their places (tunnel-replies.ts). */
  tunnelReplies: TunnelReplies | null = null;
  /** The node's id of this connection (CLIENT ID, asked in a dedicated connection's handshake); 0 until known. */
  serverId = 0;
  /** Dedicated to one client (pinned or tunnel), not shared through a pool. */
  dedicated = false;
  /** The pool it came from: a dedicated connection goes back there even after the master moved. */
  owner: { release(u: Upstream): void } | null = null;
  private head: Pending | null = null;
  private tail: Pending | null = null;
  inflight = 0;
  private readonly out = new OutputBatch();
  private readonly inb = new InputBuffer();
  private readonly st;
  private need = 0;
  /** Null on connections that need none (--reply-guard off). */
  private readonly guard: ReplyGuard | null;
  /** Commands queued since the last write; one of them follows another client's command in flight (or the batch has a second client). */
  private batchOpen = false;
  private batchMixed = false;
  /** The bytes of the batch's commands since its last marker. */
  private batchBytes = 0;
  /** Whose command was queued last (null: the ambassador's own). */
  private lastClient: ReplySink | null = null;
  /**
   * The reply tags of the commands queued since the last write, in the order of their bytes (conn.ts `replyTags`):
   * on a shared connection through the addon, where a reply may go straight to its client. Null elsewhere.
   */
  private tags: Int32Array | null = null;
  private nTags = 0;

  constructor(
    readonly node: NodeAddr,
    readonly db: number,
    readonly proto: number,
    private readonly opts: UpstreamOptions,
    private readonly events: UpstreamEvents,
    dedicated = false,
  ) {
    this.dedicated = dedicated;
    if (!dedicated && opts.opener.kind === 'native') this.tags = new Int32Array(64);
    this.st = scanState(opts.maxBulk);
    this.guard = opts.replyGuard === false ? null : new ReplyGuard();
    const s = connect({ host: node.host, port: node.port, noDelay: true, onread: readInto((c) => this.onData(c)) });
    this.socket = s;
    s.setTimeout(opts.connectTimeoutMs);
    s.on('timeout', () => this.destroy('connect timeout'));
    s.on('error', (e: Error) => this.destroy(e.message));
    s.on('close', () => this.destroy('connection closed by server'));
    s.on('connect', () => this.connected());
    this.handshake();
  }

  private connected(): void {
    const s = this.socket;
    s.setTimeout(0);
    s.setKeepAlive(true, 10_000);
    // Replies are bounded by each client's own backpressure; what waits for the node to read is bounded here: clients
    // that send to a congested connection stop being read until it drains (`waitDrain`).
    const ev = {
      data: (c: Buffer) => this.onData(c),
      drain: () => this.drained(),
      // After the client's FIN was passed on, the node closing is the answer to it, not a loss.
      close: (why?: string) => this.destroy(this.finPassed ? 'client gone' : (why ?? 'connection closed by server')),
      direct: (bytes: number, ageUs: number) => this.onDirect(bytes, ageUs),
      express: (cmd: number, route: number, us: number, bytesIn: number, bytesOut: number) => this.onExpress(cmd, route, us, bytesIn, bytesOut),
    };
    // The socket's own events end here: from now on the connection reports through `ev`.
    s.removeAllListeners('timeout');
    s.removeAllListeners('error');
    s.removeAllListeners('close');
    s.on('error', () => {});
    const conn = (this.conn = this.opts.opener.connected(s, ev));
    if (conn.replyTags === undefined) this.tags = null;
    else {
      if (this.guard !== null) conn.replyMarker?.(this.guard.answer);
      // An express command owed when the connection is lost gets what failAll gives a command of the JS path.
      conn.expressText?.(this.lostError());
    }
    this.everReady = true;
    this.flush();
  }

  /**
   * AUTH, HELLO, SELECT — or a PING when none is needed — sent first, replies swallowed: the connection is ready once
   * they are answered as expected, and closed (refused) otherwise, so a node that refuses the ambassador's
   * credentials or its connections — or speaks out of turn — is never taken for a working one.
   */
  handshake(): void {
    const o = this.opts;
    const before = this.handshakeLeft;
    if (this.proto === 3) {
      const args = ['HELLO', '3'];
      if (o.password !== undefined) args.push('AUTH', o.username ?? 'default', o.password);
      this.internal(args, HOOK_HANDSHAKE, EXPECT_MAP);
    } else if (o.password !== undefined) this.internal(o.username ? ['AUTH', o.username, o.password] : ['AUTH', o.password], HOOK_HANDSHAKE, EXPECT_OK);
    if (this.db !== 0) {
      this.gated ??= [];
      this.sendSelect(null);
    }
    // A dedicated connection learns its id, for commands naming its client (client-ids.ts): pipelined, in place of the PING.
    if (this.dedicated && this.serverId === 0) this.internal(['CLIENT', 'ID'], HOOK_HANDSHAKE, EXPECT_ID);
    else if (this.handshakeLeft === before) this.internal(['PING'], HOOK_HANDSHAKE, EXPECT_PONG);
  }

  /** The handshake's SELECT: `head` null queues it last; otherwise it goes first, before the gated commands (a retry). */
  private sendSelect(head: Pending | null): void {
    const p = newPending();
    p.hook = HOOK_HANDSHAKE;
    p.hookArg = EXPECT_SELECT;
    this.handshakeLeft++;
    if (head === null) return this.sendBuf(p, encodeCommand(['SELECT', String(this.db)]));
    p.unext = this.head;
    this.head = p;
    this.tail ??= p;
    this.inflight++;
    this.unflushed++;
    this.tag(-1);
    this.out.add(encodeCommand(['SELECT', String(this.db)]));
    markDirty(this);
  }

  /** The SELECT is answered: the commands held behind it go out. */
  private ungate(): void {
    const g = this.gated;
    this.gated = null;
    if (g === null) return;
    for (const b of g) {
      this.tag(-1);
      this.out.add(b);
    }
    if (g.length > 0) markDirty(this);
  }

  /** Send a command whose reply is dropped (errors are reported); a handshake's `expect`s what it must answer. */
  internal(args: string[], hook = HOOK_INTERNAL, expect = 0): void {
    const p = newPending();
    p.hook = hook;
    p.hookArg = expect;
    if (hook === HOOK_HANDSHAKE) this.handshakeLeft++;
    this.sendBuf(p, encodeCommand(args));
  }

  /** Queue a command (bytes src[from, to)) whose reply goes to `p`. */
  send(p: Pending, src: Buffer, from: number, to: number): void {
    p.unext = null;
    if (p.hook !== HOOK_HANDSHAKE) {
      // Express commands in flight (conn_express.c) are another client's: a client owed any sends nothing through JS.
      let other = (this.batchOpen || this.tail !== null) && p.client !== this.lastClient;
      // A long marked batch is cut where the client changes, with a marker of its own: the replies before it are
      // vouched for as the node answers that part (guard.ts GUARD_SEGMENT), not held until it has answered all.
      if (other && this.batchMixed && this.batchBytes >= GUARD_SEGMENT && this.guard !== null && this.gated === null && !this.dedicated && this.tunnel === null) {
        this.addMarker(this.guard);
        this.batchMixed = false;
        this.batchBytes = 0;
        other = false;
      }
      if (other || (this.guard !== null && this.tags !== null && this.expressOwed > 0)) this.batchMixed = true;
      this.batchOpen = true;
      this.lastClient = p.client;
      this.batchBytes += to - from;
    }
    if (this.tail) this.tail.unext = p;
    else this.head = p;
    this.tail = p;
    this.inflight++;
    this.unflushed++;
    if (this.gated !== null && p.hook !== HOOK_HANDSHAKE) {
      this.gated.push(Buffer.from(src.subarray(from, to)));
      if (this.closed) this.failAll();
      return;
    }
    // Its reply may go straight to its client when nothing else is to be done with it (the client says).
    if (this.tags !== null) this.tag(p.hook === HOOK_NONE && p.client !== null ? p.client.directId(p) : -1);
    this.out.addRange(src, from, to);
    markDirty(this);
    if (this.closed) this.failAll();
  }

  private tag(t: number): void {
    let tags = this.tags;
    if (tags === null) return;
    if (this.nTags === tags.length) {
      const bigger = new Int32Array(tags.length * 2);
      bigger.set(tags);
      this.tags = tags = bigger;
    }
    tags[this.nTags++] = t;
  }

  sendBuf(p: Pending, b: Buffer): void {
    this.send(p, b, 0, b.length);
  }

  /** A tunnelled client's command (bytes src[from, to)): no reply is expected in order. */
  sendRaw(src: Buffer, from = 0, to = src.length): void {
    if (this.closed) return;
    this.out.addRange(src, from, to);
    markDirty(this);
  }

  /**
   * A tunnelled client shut down its write side: pass the FIN on after what it sent, so the node answers it all and
   * closes, as it would the client's own connection (the tunnel ends with that close).
   */
  shutdownWrite(): void {
    this.finPassed = true;
    this.flush();
    this.conn?.shutdown();
  }

  /** A tunnelled client's RESET: its `+RESET` ends the tunnel (`tunnelReset`). */
  sendTunnelReset(src: Buffer, from: number, to: number): void {
    this.resetsOwed++;
    this.sendRaw(src, from, to);
  }

  /** Until connected, what is queued (the handshake first) waits in the batch. */
  flush(): void {
    if (this.closed || this.conn === null || this.out.empty) return;
    // Gated commands are in the FIFO but not in this write: their batch is marked once they go out.
    if (this.gated === null) {
      const g = this.guard;
      // C's guard suspects an extra reply after a stall (conn_guard.c): JS's batches are marked too until a marker
      // is answered in place (which clears both).
      if (g !== null && this.tags !== null && this.conn.expressSuspect?.() === true) g.suspect = true;
      if (g !== null && this.batchOpen && (this.batchMixed || g.suspect) && !this.dedicated && this.tunnel === null) this.addMarker(g);
      this.batchOpen = this.batchMixed = false;
      this.batchBytes = 0;
    }
    this.opts.traffic.upstreamOut += this.out.bytes;
    this.unflushed = this.gated === null ? 0 : this.gated.length;
    if (this.nTags > 0) {
      this.conn.replyTags?.(this.tags as Int32Array, this.nTags);
      this.nTags = 0;
    }
    if (!this.out.writeTo(this.conn)) this.congested = true;
  }

  /**
   * `w` stops reading its client until this connection's queue has drained (or the connection is gone): a node that
   * does not read (stopped, swapping, a full socket) cannot make the ambassador hold every command clients send it.
   */
  waitDrain(w: DrainWaiter): void {
    (this.drainWaiters ??= new Set()).add(w);
  }

  private drained(): void {
    this.congested = false;
    const ws = this.drainWaiters;
    if (ws === null) return;
    this.drainWaiters = null;
    for (const w of ws) w.upstreamDrained();
  }

  /** End the batch with the guard's marker: the replies before its reply are held until it is read in its place. */
  private addMarker(g: ReplyGuard): void {
    const m = newPending();
    m.hook = HOOK_MARKER;
    if (this.tail) this.tail.unext = m;
    else this.head = m;
    this.tail = m;
    this.inflight++;
    g.inFlight++;
    this.tag(TAG_MARKER);
    this.out.add(g.marker);
  }

  /** Stop / restart reading (a tunnel whose client is not keeping up). */
  pause(): void {
    if (this.conn) this.conn.pause();
    else this.socket.pause();
  }

  resume(): void {
    if (this.conn) this.conn.resume();
    else this.socket.resume();
  }

  private onData(chunk: Buffer): void {
    this.opts.traffic.upstreamIn += chunk.length;
    if (this.closed) return;
    const inb = this.inb;
    inb.push(chunk, this.need);
    if (this.need > 0 && inb.length < this.need) return;
    this.need = 0;
    const buf = inb.buf;
    const end = inb.end;
    let p = inb.start;
    /** Where the tunnel frames not yet relayed start. */
    let relay = p;
    const now = clock();
    while (p < end) {
      const e = scanValue(buf, p, end, this.st);
      if (e === NEED) {
        this.need = this.st.need ? this.st.need - p : 0;
        break;
      }
      if (e === BAD) {
        this.destroy(`bad reply from server: ${this.st.error}`);
        return;
      }
      if (this.tunnel !== null && this.head === null) {
        // A tunnel (its handshake answered): whole frames are relayed; the +RESET owed to the client's RESET ends it.
        if (this.resetsOwed > 0 && e - p === 8 && buf.toString('latin1', p, e) === '+RESET\r\n') {
          this.tunnel.tunnelData(buf.subarray(relay, e));
          relay = p = e;
          if (--this.resetsOwed === 0) {
            const t = this.tunnel;
            this.tunnel = null;
            t.tunnelReset();
          }
          continue;
        }
        const tr = this.tunnelReplies;
        const r = tr !== null && buf[p] !== RespType.Push ? tr.reply(buf, p, e) : null;
        if (r !== null) {
          if (relay < p) this.tunnel.tunnelData(buf.subarray(relay, p));
          this.tunnel.tunnelData(r);
          relay = e;
        }
        p = e;
        continue;
      }
      if (buf[p] === RespType.Push) {
        // A RESP3 push on a shared connection (e.g. a server-side notice): nobody asked for it.
        relay = p = e;
        continue;
      }
      const pend = this.head;
      if (!pend || this.inflight <= this.unflushed) {
        // Every command written is answered: this reply belongs to nobody, and the replies after it cannot be trusted.
        this.destroy('protocol error: a reply with no command in flight');
        return;
      }
      this.head = pend.unext;
      if (!this.head) this.tail = null;
      this.inflight--;
      const g = this.guard;
      if (g === null || g.inFlight === 0 || pend.hook === HOOK_HANDSHAKE) this.deliver(pend, buf, p, e, now);
      else if (pend.hook !== HOOK_MARKER) g.hold(pend, buf, p, e);
      else {
        freePending(pend);
        g.inFlight--;
        this.vouch(g, buf, p, e, now);
      }
      if (this.closed) return;
      relay = p = e;
    }
    if (relay < p && this.tunnel !== null) this.tunnel.tunnelData(buf.subarray(relay, p));
    if (this.guard !== null && this.guard.length > 0) this.guard.keep(buf);
    inb.consume(p);
  }

  /**
   * The command at the head of the FIFO was answered straight to its client (conn_direct.c): only the bookkeeping
   * of a delivery is left. Also while closing (`destroy` settles these before failing what is left).
   */
  private onDirect(bytes: number, ageUs: number): void {
    const t = this.opts.traffic;
    t.upstreamIn += bytes;
    t.clientOut += bytes;
    const p = this.head;
    if (p === null) return;
    this.head = p.unext;
    if (this.head === null) this.tail = null;
    this.inflight--;
    const c = p.client;
    if (c === null) return freePending(p);
    this.events.latency(p.route, (clock() - ageUs / 1000 - p.t0) / 1000);
    c.repliedDirect(p);
  }

  /** A marker's slot got buf[from, to): the held replies go out in order if it is the marker's reply, else the connection closes. */
  private vouch(g: ReplyGuard, buf: Buffer, from: number, to: number, now: number): void {
    const verdict = g.check(buf, from, to);
    if (verdict === MARK_BAD) {
      this.destroy(`protocol error: replies out of step (the check after a batch got ${JSON.stringify(buf.toString('latin1', from, Math.min(to, from + 32)))})`);
      return;
    }
    g.suspect = verdict !== MARK_OK;
    const n = g.length;
    for (let i = 0; i < n && !this.closed; i++) {
      const h = g.owners[i] as Pending;
      g.owners[i] = null;
      this.deliver(h, g.bufs[i], g.froms[i], g.tos[i], now);
    }
    g.clear();
  }

  /** The reply buf[from, to) for `p`; no Buffer is made for it unless it must be kept. */
  private deliver(p: Pending, buf: Buffer, from: number, to: number, now: number): void {
    const c = p.client;
    const first = buf[from];
    if (p.hook !== HOOK_NONE) {
      if (p.hook === HOOK_HANDSHAKE) {
        const expect = p.hookArg;
        freePending(p);
        // -BUSY: the node took the connection (authentication comes before that check) but runs a script. A PING
        // is answered; a SELECT is sent again until it is done, the commands behind it held meanwhile.
        if (first === RespType.Error && isBusy(buf, from, to)) {
          this.handshakeLeft--;
          if (expect === EXPECT_SELECT) this.retrySelect();
          else this.handshakeDone();
          return;
        }
        // A node that does not let the ambassador's user run CLIENT ID: the connection works, its id is not known.
        if (first === RespType.Error && expect === EXPECT_ID && /^-(NOPERM|ERR unknown)/.test(buf.toString('latin1', from, Math.min(to, from + 12)))) {
          this.handshakeLeft--;
          this.handshakeDone();
          return;
        }
        if (first === RespType.Error) {
          this.refusal = buf.toString('latin1', from + 1, to - 2);
          this.destroy(`refused: ${this.refusal}`);
        } else if (!handshakeAnswer(expect, buf, from, to)) {
          this.destroy(`protocol error: unexpected handshake reply ${JSON.stringify(buf.toString('latin1', from, Math.min(to, from + 32)))}`);
        } else {
          if (expect === EXPECT_SELECT) this.ungate();
          else if (expect === EXPECT_ID) this.serverId = parseIntAt(buf, from + 1, to - 2) || 0;
          this.handshakeLeft--;
          this.handshakeDone();
        }
        return;
      }
      if (p.hook === HOOK_INTERNAL) {
        if (first === RespType.Error) this.events.internalError(this, buf.toString('latin1', from + 1, to - 2));
        freePending(p);
        return;
      }
      if (p.hook === HOOK_SELECT && c && first === RespType.SimpleString) c.hookSelect(p.hookArg);
    }
    if (!c) {
      freePending(p);
      return;
    }
    // -READONLY: the node is (now) a replica and did not execute the write, so it can go to the current master.
    if (p.cmd !== null && first === RespType.Error && to - from > 9 && buf.toString('latin1', from + 1, from + 9) === 'READONLY' && c.retry(p, this, buf.subarray(from, to))) return;
    this.events.latency(p.route, (now - p.t0) / 1000);
    c.replyRange(p, buf, from, to);
  }

  private handshakeDone(): void {
    if (this.handshakeLeft === 0 && !this.ready) {
      this.ready = this.established = true;
      this.events.ready(this);
    }
  }

  private retrySelect(): void {
    if (this.selectRetry || this.closed) return;
    this.selectRetry = setTimeout(() => {
      this.selectRetry = null;
      if (!this.closed) this.sendSelect(this.head);
    }, SELECT_RETRY_MS);
    this.selectRetry.unref();
  }

  private lostError(): Buffer {
    return encodeError(`ERR upstream ${this.node.label} (${this.node.host}:${this.node.port}) connection lost`);
  }

  /**
   * This connection's id for the express path (conn_express.c), or -1 when a command may not be put on it in C now:
   * not shared through the addon, its handshake not done, commands held back (gated), or closed.
   */
  get expressId(): number {
    const c = this.conn;
    return this.tags === null || c === null || !this.ready || this.closed || this.gated !== null || this.tunnel !== null ? -1 : c.directId;
  }

  /** Whether the reply guard marks this connection's mixed batches (the express path keeps out of them). */
  get guarded(): boolean {
    return this.guard !== null;
  }

  /** Express replies this connection still owes (they keep it open as replies in flight do). */
  get expressOwed(): number {
    return this.conn?.expressOwed?.() ?? 0;
  }

  private onExpress(cmd: number, route: number, us: number, bytesIn: number, bytesOut: number): void {
    const t = this.opts.traffic;
    t.clientIn += bytesIn;
    t.upstreamOut += bytesIn;
    t.upstreamIn += bytesOut;
    t.clientOut += bytesOut;
    this.events.express(cmd, route, us / 1e6);
  }

  /** Fail every command in flight with -ERR (never another command's reply). */
  private failAll(): void {
    const err = this.lostError();
    const g = this.guard;
    // Held replies come first (their commands were sent first); none of them is delivered.
    let p = this.head;
    if (g !== null && g.length > 0) {
      for (let i = g.length - 1; i >= 0; i--) {
        const h = g.owners[i];
        if (h === null) continue;
        h.unext = p;
        p = h;
      }
      g.clear();
    }
    if (g !== null) g.inFlight = 0;
    this.head = this.tail = null;
    this.inflight = 0;
    this.unflushed = 0;
    while (p) {
      const next = p.unext;
      const c = p.client;
      if (p.hook === HOOK_INTERNAL || p.hook === HOOK_HANDSHAKE || !c) freePending(p);
      // Read-only commands may run again elsewhere; anything on a connection that never came up was never sent.
      else if (!(p.cmd !== null && (p.info.replicaOk || !this.everReady) && c.retry(p, this, null))) {
        p.reply = err;
        c.replyReady(p);
      }
      p = next;
    }
  }

  destroy(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ready = false;
    if (this.selectRetry) clearTimeout(this.selectRetry);
    this.gated = null;
    this.conn?.destroy();
    this.socket.destroy();
    this.inb.clear();
    this.failAll();
    const t = this.tunnel;
    this.tunnel = null;
    t?.tunnelClosed();
    this.drained();
    this.events.closed(this, why);
  }

  /** Idle and safe to hand to someone else after a RESET. */
  get idle(): boolean {
    return this.head === null && !this.closed && this.tunnel === null;
  }
}
