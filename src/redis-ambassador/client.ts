/** @module One client connection: parse commands, route them, deliver replies strictly in order, per-client state. */
import { BAD, DEFAULT_MAX_BULK, NEED, commandFrame, scanCommand, scanState } from '../core/resp/scanner.js';
import { InputBuffer, OutputBatch } from './resp/bytes.js';
import { encodeCommand, encodeError } from '../core/resp/encode.js';
import { R_DEDICATED, R_LOCAL, R_MASTER, R_REPLICA, Special, UNKNOWN, arityFits, type CommandInfo } from './resp/commands.js';
import { HOOK_EXEC, HOOK_SELECT, type Pending, type ReplySink } from './pending.js';
import type { Upstream } from './upstream.js';
import { clock, markDirty } from './io/turn.js';
import type { ProxyContext } from './context.js';
import type { NodeConns } from './pools.js';
import * as local from './local.js';
import { ScanTracker, lostCursorError, scanQuery } from './scan.js';
import { Transaction, releaseDedicated } from './transaction.js';
import { ReplyQueue } from './replies.js';
import { Placement } from './placement.js';
import { EXPRESS_GET, EXPRESS_NAMES, EXPRESS_SET, type Conn, type ConnEvents } from './io/conn.js';
import { nameClient } from './client-ids.js';
import { intoTunnel } from './tunnel-replies.js';

export type { ProxyContext, ReadPolicy } from './context.js';

const STALL_BARRIER = 1;
const STALL_BACKPRESSURE = 2;
const STALL_WRITE = 4;
/** A RESET went through the tunnel: nothing more is read until its +RESET is back. */
const STALL_TUNNEL_RESET = 8;
/** Bytes that break the protocol went into the tunnel: nothing more is read (Redis closes it, or waits). */
const STALL_TUNNEL_ERROR = 16;
/** The upstream connection it last sent to is congested: read nothing more until it drains. */
const STALL_UPSTREAM = 32;
const MODE_NORMAL = 0;
const MODE_PINNED = 1;
const MODE_TUNNEL = 2;

/**
 * `POST` or `Host:` as a command name (compared as Redis's strcasecmp does, up to a NUL): an HTTP request sent to
 * Redis by cross-protocol scripting, which Redis answers by closing the connection.
 */
function crossProtocol(name: Buffer): boolean {
  const nul = name.indexOf(0);
  const n = name.toString('latin1', 0, nul < 0 ? name.length : nul).toLowerCase();
  return n === 'post' || n === 'host:';
}

export class ClientSession implements ReplySink, local.LocalState {
  dirty = false;
  db = 0;
  proto = 2;
  name: string | null = null;
  authed: boolean;
  private readonly inb = new InputBuffer();
  private readonly st;
  private readonly cmd = commandFrame();
  private need = 0;
  private readonly replies = new ReplyQueue();
  private readonly out = new OutputBatch();
  private readonly conn: Conn;
  private mode = MODE_NORMAL;
  private pinned: Upstream | null = null;
  private readonly tx = new Transaction();
  private lastMaster: Upstream | null = null;
  private readonly place: Placement;
  /** Commands of this client waiting for a master (later master-bound ones queue behind them, in order). */
  held = 0;
  private stall = 0;
  private quitting = false;
  /** The client shut down its write side: close once every command it sent has its reply (as Redis does). */
  private peerEnded = false;
  /** In a tunnel, the client's FIN was passed on to the node. */
  private finPassed = false;
  private closed = false;
  private inPump = false;
  private now = 0;

  /** `open` makes the connection (`conn.ts`) that reports to this session. */
  constructor(
    open: (ev: ConnEvents) => Conn,
    readonly id: number,
    private readonly ctx: ProxyContext,
  ) {
    this.st = scanState(ctx.maxBulk);
    this.authed = ctx.local.clientPassword === undefined;
    this.place = new Placement(ctx, id);
    this.conn = open({
      data: (chunk) => this.onData(chunk),
      drain: () => {
        if (this.mode === MODE_TUNNEL) this.pinned?.resume();
        this.unstall(STALL_WRITE);
      },
      close: () => this.onClose(),
      end: () => this.onPeerEnd(),
    });
  }

  /** Bytes from the client. */
  onData(chunk: Buffer): void {
    this.ctx.traffic.clientIn += chunk.length;
    // After QUIT or a protocol error nothing more is read (as Redis); a client that keeps sending is closed.
    if (this.quitting) {
      if (this.replies.length === 0) this.conn.end();
      return;
    }
    this.inb.push(chunk, this.need);
    if (this.need > 0 && this.inb.length < this.need) return;
    this.need = 0;
    this.now = clock();
    this.pump();
  }

  private pump(): void {
    if (this.inPump || this.closed) return;
    this.inPump = true;
    try {
      const inb = this.inb;
      const cmd = this.cmd;
      let p = inb.start;
      while (this.stall === 0 && !this.quitting && p < inb.end) {
        if (this.replies.length >= this.ctx.maxPending) {
          this.setStall(STALL_BACKPRESSURE);
          break;
        }
        // Before AUTH, commands are held to Redis's limits for unauthenticated clients (a few small arguments).
        this.st.authRequired = !this.authed;
        const e = scanCommand(inb.buf, p, inb.end, this.st, cmd);
        if (e === NEED) {
          this.need = this.st.need ? this.st.need - p : 0;
          break;
        }
        if (e === BAD) {
          this.protocolError(inb.buf, p, inb.end);
          p = inb.end;
          break;
        }
        if (cmd.argc === 0) {
          p = e;
          continue;
        }
        if (!this.command(inb.buf, p, e)) break;
        p = e;
      }
      inb.consume(p);
    } finally {
      this.inPump = false;
    }
  }

  private setStall(bit: number): void {
    if (this.stall === 0) this.conn.pause();
    this.stall |= bit;
  }

  private unstall(bit: number): void {
    if ((this.stall & bit) === 0) return;
    this.stall &= ~bit;
    if (this.stall === 0 && !this.closed) {
      this.conn.resume();
      this.now = clock();
      this.pump();
      if (this.peerEnded) markDirty(this);
    }
  }

  /** Handle one complete command frame buf[start, end). False: it must wait until earlier replies are in. */
  private command(buf: Buffer, start: number, end: number): boolean {
    const cmd = this.cmd;
    const table = this.ctx.table;
    let info = (cmd.inline ? table.get(cmd.inline[0].toString('latin1')) : table.getBytes(buf, cmd.argStart[0], cmd.argEnd[0])) ?? UNKNOWN;
    if (info === UNKNOWN && crossProtocol(cmd.inline ? cmd.inline[0] : buf.subarray(cmd.argStart[0], cmd.argEnd[0]))) {
      // Redis drops such a client at once, with no reply; forwarded, it would drop a connection other clients share.
      this.ctx.error('security');
      this.quitting = true;
      this.conn.destroy();
      return false;
    }
    if (info.subs !== null && cmd.argc > 1) {
      const sub = cmd.inline ? cmd.inline[1].toString('latin1') : buf.toString('latin1', cmd.argStart[1], cmd.argEnd[1]);
      info = info.subs.get(sub.toLowerCase()) ?? info;
    }
    const sp = info.special;
    if (!this.authed && sp !== Special.Auth && sp !== Special.Hello && sp !== Special.Quit && sp !== Special.Reset) {
      this.ctx.error('noauth');
      return this.reply(info, local.unauthenticated(info, this.args(buf, start, end)));
    }
    if (this.mode === MODE_TUNNEL) return this.tunnelCommand(info, buf, start, end);
    // Inside MULTI a local command is queued like any other: a placeholder holds its place, answered at EXEC.
    if (this.mode === MODE_PINNED && this.tx.inMulti && local.isLocal(sp) && sp !== Special.Select) {
      // One Redis's table refuses by its argument count is sent as it is: Redis refuses it and aborts the transaction.
      if (!arityFits(info.arity, cmd.argc)) return this.pinnedCommand(info, buf, start, end);
      const echo = encodeCommand(this.tx.queueLocal(sp, this.args(buf, start, end).map((a) => Buffer.from(a))));
      this.ctx.routed(info, R_DEDICATED);
      (this.pinned as Upstream).sendBuf(this.link(info, R_DEDICATED), echo);
      return true;
    }
    if (local.isLocal(sp) && !(sp === Special.Select && this.mode === MODE_PINNED)) {
      // Answered once the EXEC before it has run its own local commands (a CLIENT SETNAME there, then GETNAME here).
      if (this.tx.execPending) return this.barrier();
      const proto = this.proto;
      const answered = this.reply(info, local.answer(sp, this, this.ctx.local, this.args(buf, start, end)));
      // The connection held for WATCH speaks what the client now speaks (pub/sub replies after it come as pushes or
      // arrays as Redis would send them); its release RESETs it to the pool's protocol.
      if (this.proto !== proto && this.mode === MODE_PINNED) this.pinned?.internal(['HELLO', String(this.proto)]);
      return answered;
    }
    if (sp === Special.ClientUnblock || sp === Special.ClientKill) {
      // Held for a master, it may run on another node, where no connection is the named client's.
      const r = nameClient(sp, this.args(buf, start, end), this, this.ctx.clients, this.pinned?.owner ?? this.ctx.master, this.held > 0 || this.ctx.noMaster, this.tx.inMulti);
      if (r.reply !== null) {
        this.quitting ||= r.quit;
        return this.reply(info, r.reply);
      }
      if (r.send !== null) this.cmd.inline = r.send;
    }
    switch (sp) {
      case Special.Quit:
        this.quitting = true;
        return this.reply(info, local.OK);
      case Special.Reset:
        if (cmd.argc !== 1) return this.reply(info, local.arity('reset'));
        if (this.replies.length > 0) return this.barrier();
        this.resetState();
        return this.reply(info, local.RESET_REPLY);
      case Special.Refuse:
        return this.reply(info, encodeError(`ERR '${info.name}' is not supported through the ambassador`));
      case Special.Tunnel:
        return this.startTunnel(info, buf, start, end);
      default:
        break;
    }
    if (this.mode === MODE_PINNED) return this.pinnedCommand(info, buf, start, end);
    switch (sp) {
      case Special.Scan:
        return this.scanCommand(info, buf, start, end);
      case Special.Multi:
      case Special.Watch:
      case Special.Blocking:
      case Special.Wait: {
        if (this.replies.length > 0) return this.barrier();
        const u = this.ctx.master.dedicated(this.db, this.proto);
        if (!u) return this.unavailable(info, 'master');
        this.mode = MODE_PINNED;
        this.pinned = u;
        // WAIT counts replicas that have this connection's writes: a PUBLISH (replicated, keyless) makes the
        // fresh connection's write offset at least the client's own earlier writes, all acknowledged already.
        if (sp === Special.Wait) u.internal(['PUBLISH', '__podkit:ambassador:wait', '']);
        return this.pinnedCommand(info, buf, start, end);
      }
      default:
        return this.forward(info, buf, start, end);
    }
  }

  private args(buf: Buffer, start: number, end: number): Buffer[] {
    return this.cmd.inline ?? local.frameArgs(buf, start, end);
  }

  private barrier(): boolean {
    this.setStall(STALL_BARRIER);
    return false;
  }

  private unavailable(info: CommandInfo, what: string): boolean {
    this.ctx.error('upstream_unavailable');
    return this.reply(info, encodeError(`ERR ${what} unavailable: the ambassador cannot reach it right now`));
  }

  private forward(info: CommandInfo, buf: Buffer, start: number, end: number): boolean {
    const ctx = this.ctx;
    if (info.replicaOk && ctx.readPolicy !== 'master') {
      const n = this.place.readReplica();
      const u = n ? n.forCommand(info.lane, this.id, this.db, this.proto) : null;
      if (u) return this.enqueue(u, info, R_REPLICA, buf, start, end);
      if (ctx.readPolicy === 'replica') return this.unavailable(info, 'every replica is');
    }
    const u = ctx.noMaster || this.held > 0 ? null : ctx.master.forCommand(info.lane, this.id, this.db, this.proto);
    if (!u) {
      if (!ctx.retry) return this.unavailable(info, 'master');
      // Failover in progress: wait for the new master (bounded) rather than fail the command.
      const p = this.link(info, R_MASTER);
      ctx.routed(info, R_MASTER);
      this.place.sent(p);
      this.keep(p, buf, start, end);
      this.held++;
      ctx.rerouted('write_held');
      ctx.hold(p, this);
      return true;
    }
    return this.toMaster(u, info, buf, start, end);
  }

  private toMaster(u: Upstream, info: CommandInfo, buf: Buffer, start: number, end: number): boolean {
    if (u !== this.lastMaster) {
      // Commands of one client to the master must not overtake each other across connections.
      if (this.replies.length > 0 && this.lastMaster !== null && !this.lastMaster.closed) return this.barrier();
      this.lastMaster = u;
    }
    return this.enqueue(u, info, R_MASTER, buf, start, end);
  }

  /**
   * SCAN family: a fresh scan is routed like any read; a continuation goes to the node that issued its cursor, even
   * where session consistency would send a read to the master (see docs: a scan never promised to see writes made
   * during it), or gets an -ERR when that node is gone.
   */
  private scanCommand(info: CommandInfo, buf: Buffer, start: number, end: number): boolean {
    const q = scanQuery(info, this.args(buf, start, end), this.db);
    if (q === null) return this.forward(info, buf, start, end);
    const sc = (this.place.scans ??= new ScanTracker());
    const n = sc.target(q);
    if (n === null) {
      if (!this.forward(info, buf, start, end)) return false;
      const p = this.replies.tail; // null when an -ERR made here was delivered at once
      if (p?.route === R_REPLICA) sc.onSent(p, this.place.replica, q);
      else if (p?.route === R_MASTER) sc.onSent(p, this.held > 0 ? null : this.ctx.master, q);
      return true;
    }
    const u = n.retired || !n.up ? null : n.shared(this.id, this.db, this.proto);
    if (u === null) {
      this.ctx.error('scan_node_lost');
      return this.reply(info, encodeError(lostCursorError(q, n)));
    }
    if (!(n === this.ctx.master ? this.toMaster(u, info, buf, start, end) : this.enqueue(u, info, R_REPLICA, buf, start, end))) return false;
    sc.onSent(this.replies.tail as Pending, n, q);
    return true;
  }

  /** Copy the command's bytes so it can be sent again. */
  private keep(p: Pending, buf: Buffer, start: number, end: number): void {
    const inline = this.cmd.inline;
    p.cmd = inline ? encodeCommand(inline) : Buffer.from(buf.subarray(start, end));
    p.db = this.db;
    p.proto = this.proto;
  }

  retry(p: Pending, from: Upstream, reply: Buffer | null): boolean {
    const ctx = this.ctx;
    // Reads get a few other nodes; writes are bounded by the hold time (a dead master is retried only after backoff).
    if (this.closed || p.cmd === null || ++p.tries > (reply === null && p.info.replicaOk ? 4 : 64)) return false;
    if (reply === null && p.info.replicaOk) {
      const u = this.place.retryRead(p, from);
      if (!u) return false;
      u.sendBuf(p, p.cmd);
      return true;
    }
    if (p.route !== R_MASTER) return false;
    // -READONLY (the write did not run) or never sent: to the current master once there is one.
    ctx.rerouted('write_retried');
    this.held++;
    // After -READONLY that node is no master any more: wait for the switch rather than ping-pong with it.
    ctx.hold(p, this, reply !== null ? (from.owner as NodeConns | null) : null);
    return true;
  }

  private pinnedCommand(info: CommandInfo, buf: Buffer, start: number, end: number): boolean {
    const u = this.pinned as Upstream;
    const sp = this.tx.effect(info, this.cmd.argc);
    const execHooked = sp === Special.Exec && this.tx.execHooked;
    const hookDb = this.tx.track(sp, () => this.args(buf, start, end));
    this.enqueue(u, info, R_DEDICATED, buf, start, end);
    if (hookDb >= 0 && this.replies.tail) {
      this.replies.tail.hook = HOOK_SELECT;
      this.replies.tail.hookArg = hookDb;
    }
    if (execHooked && this.replies.tail) this.replies.tail.hook = HOOK_EXEC;
    return true;
  }

  /**
   * A command inside a tunnel (SUBSCRIBE, MONITOR, CLIENT TRACKING/REPLY): still parsed and checked. RESET ends the
   * tunnel once its +RESET is back; what the ambassador would have to answer itself cannot be put in order among
   * the node's unsolicited output, so it is refused and the connection closed, and replication commands never pass.
   */
  private tunnelCommand(info: CommandInfo, buf: Buffer, start: number, end: number): boolean {
    const u = this.pinned;
    if (u === null) return false;
    const sp = info.special;
    // Answered once the EXEC before it has run the local commands it queued (a CLIENT SETNAME there, GETNAME here).
    if (local.isLocal(sp) && this.tx.execPending && u.tunnelReplies?.inMulti !== true) return this.barrier();
    this.ctx.routed(info, R_DEDICATED);
    // A command answered here goes in while its answer can be put in its place among the node's replies.
    const refused = sp === Special.Refuse;
    if (sp !== Special.Reset && !refused) this.tunnelArgs(u, info, buf, start, end);
    const inline = this.cmd.inline;
    const frame = inline ? encodeCommand(inline) : buf;
    const from = inline ? 0 : start;
    const to = inline ? frame.length : end;
    if (sp === Special.Reset) {
      u.sendTunnelReset(frame, from, to);
      this.setStall(STALL_TUNNEL_RESET);
      return true;
    }
    if (refused) {
      this.ctx.error('tunnel_refused');
      u.tunnel = null;
      u.destroy('client gone');
      this.pinned = null;
      this.tunnelData(encodeError(`ERR '${info.name}' cannot be sent inside SUBSCRIBE, MONITOR or CLIENT TRACKING/REPLY through the ambassador (send RESET first)`));
      this.quitting = true;
      return false;
    }
    u.sendRaw(frame, from, to);
    this.afterSend(u);
    return true;
  }

  private enqueue(u: Upstream, info: CommandInfo, route: number, buf: Buffer, start: number, end: number): boolean {
    const p = this.link(info, route);
    this.ctx.routed(info, route);
    if (this.ctx.retry && route !== R_DEDICATED) this.keep(p, buf, start, end);
    this.place.sent(p);
    const inline = this.cmd.inline;
    if (inline) u.sendBuf(p, encodeCommand(inline));
    else u.send(p, buf, start, end);
    this.afterSend(u);
    return true;
  }

  /** After a command to `u`: while `u` holds more than its high-water mark unsent, this client is not read. */
  private afterSend(u: Upstream): void {
    if (!u.congested) return;
    u.waitDrain(this);
    this.setStall(STALL_UPSTREAM);
  }

  upstreamDrained(): void {
    this.unstall(STALL_UPSTREAM);
  }

  private link(info: CommandInfo, route: number): Pending {
    const p = this.replies.push(this, info, route, this.now);
    // A reply now waits behind one that may go direct: its completion must not wait for the next delivery.
    if (this.replies.length === 2 && this.replies.first?.direct === true) this.conn.wantDirect?.();
    return p;
  }

  /** A reply made here, queued in order behind the replies still owed. */
  private reply(info: CommandInfo, b: Buffer): boolean {
    const p = this.link(info, R_LOCAL);
    this.ctx.routed(info, R_LOCAL);
    p.reply = b;
    this.replyReady(p);
    return true;
  }

  private startTunnel(info: CommandInfo, buf: Buffer, start: number, end: number): boolean {
    if (this.replies.length > 0) return this.barrier();
    let u = this.pinned;
    if (!u) {
      u = this.ctx.master.dedicated(this.db, this.proto);
      if (!u) return this.unavailable(info, 'master');
    }
    this.ctx.routed(info, R_DEDICATED);
    this.mode = MODE_TUNNEL;
    this.pinned = u;
    u.tunnel = this;
    this.tunnelArgs(u, info, buf, start, end);
    u.sendRaw(this.cmd.inline ? encodeCommand(this.cmd.inline) : buf.subarray(start, end));
    return true;
  }

  /** A command into tunnel `u`, rewritten where it must be (tunnel-replies.ts). */
  private tunnelArgs(u: Upstream, info: CommandInfo, buf: Buffer, start: number, end: number): void {
    const a = intoTunnel(u, info, () => this.args(buf, start, end), this.cmd.argc, this, this.tx, this.ctx);
    if (a !== null) this.cmd.inline = a;
  }

  /** The connection held for this client alone (pinned or its tunnel), if any. */
  get dedicatedConn(): Upstream | null {
    return this.pinned;
  }

  replyReady(p: Pending): void {
    this.place.replied(p);
    if (!this.replies.deliver(p, this.out)) return;
    markDirty(this);
    this.afterDelivery();
  }

  replyRange(p: Pending, src: Buffer, from: number, to: number): void {
    if (p.hook === HOOK_EXEC) {
      p.reply = this.tx.execReply(src.subarray(from, to), (sp, args) => local.answer(sp, this, this.ctx.local, args), (db) => this.hookSelect(db));
      return this.replyReady(p);
    }
    // The scan tracker reads the reply's cursor from p.reply.
    if (p.info.special === Special.Scan) {
      p.reply = src.subarray(from, to);
      return this.replyReady(p);
    }
    this.place.replied(p);
    if (!this.replies.deliverRange(p, src, from, to, this.out)) return;
    markDirty(this);
    this.afterDelivery();
  }

  directId(p: Pending): number {
    // Alone in the queue (no reply to wait behind, none of the client's writes through JS meanwhile) and not read here.
    if (this.mode !== MODE_NORMAL || this.replies.length !== 1 || p.info.special === Special.Scan || this.closed) return -1;
    const id = this.conn.directId;
    p.direct = id >= 0;
    // A GET or SET is likely followed by more: told of its reply at once (not with the client's next bytes), the
    // session arms the client for the express path before those arrive.
    if (id >= 0 && EXPRESS_NAMES.includes(p.info.name) && this.conn.express !== undefined) this.conn.wantDirect?.();
    return id;
  }

  repliedDirect(p: Pending): void {
    this.place.replied(p);
    if (!this.replies.skip(p, this.out)) {
      // Cannot happen (it was alone in the queue when tagged): the client's replies are out of order now.
      this.ctx.error('protocol');
      this.conn.destroy();
      return;
    }
    if (!this.out.empty || this.peerEnded || this.quitting) markDirty(this);
    this.afterDelivery();
    // Idle now with nothing to write (else flush arms it).
    if (!this.dirty && this.replies.length === 0) this.armExpress();
  }

  private afterDelivery(): void {
    if (this.mode === MODE_PINNED && this.pinned !== null) {
      const u = this.pinned;
      if (u.closed) {
        this.pinned = null;
        this.mode = MODE_NORMAL;
        this.tx.reset();
      } else if (!this.tx.open && u.inflight === 0 && this.replies.length === 0) {
        this.pinned = null;
        this.mode = MODE_NORMAL;
        this.lastMaster = null;
        releaseDedicated(u, this.ctx.master);
      }
    }
    if (this.stall & STALL_BACKPRESSURE && this.replies.length <= this.ctx.maxPending >> 1) this.unstall(STALL_BACKPRESSURE);
    if (this.stall & STALL_BARRIER && this.replies.length === 0) this.unstall(STALL_BARRIER);
  }

  /** A tunnelled EXEC's reply has run the local commands its MULTI queued: the commands held behind it may go. */
  tunnelExecAnswered(): void {
    if (!this.tx.execPending) this.unstall(STALL_BARRIER);
  }

  tunnelData(chunk: Buffer): void {
    this.out.add(chunk);
    markDirty(this);
  }

  tunnelClosed(): void {
    this.quitting = true;
    this.pinned = null;
    markDirty(this);
  }

  tunnelReset(): void {
    const u = this.pinned;
    this.pinned = null;
    this.mode = MODE_NORMAL;
    // RESET deauthenticated that connection too (Redis's RESET): it is not reused.
    u?.destroy('released');
    this.resetState();
    this.unstall(STALL_TUNNEL_RESET);
  }

  hookSelect(db: number): void {
    this.db = db;
  }

  flush(): void {
    if (this.closed) return;
    if (!this.out.empty) {
      this.ctx.traffic.clientOut += this.out.bytes;
      if (!this.out.writeTo(this.conn)) {
        if (this.mode === MODE_TUNNEL) this.pinned?.pause();
        else if (this.ctx.clientOutputLimit > 0 && this.conn.queued() > this.ctx.clientOutputLimit) {
          // Replies of commands already sent keep coming while the client does not read: past the limit it is
          // closed, as Redis closes a client past its client-output-buffer-limit, and what it is owed is dropped.
          // (A tunnel needs no limit: its connection is paused and the node applies its own pubsub limit.)
          this.ctx.error('output_limit');
          this.conn.destroy();
          return;
        } else this.setStall(STALL_WRITE);
      }
    }
    if (this.mode === MODE_TUNNEL && this.peerEnded && this.stall === 0 && !this.quitting) {
      // A tunnel's replies are not counted (messages come between them): its FIN goes on to the node, which answers
      // what came before it and closes, and that close ends this client (`tunnelClosed`), as with Redis itself.
      if (!this.finPassed) {
        this.finPassed = true;
        this.pinned?.shutdownWrite();
      }
      return;
    }
    if ((this.quitting || (this.peerEnded && this.stall === 0)) && this.replies.length === 0) this.conn.end();
    else if (this.replies.length === 0) this.armExpress();
  }

  /**
   * Idle in the plain state: the connection may now forward this client's GET and SET in C, to the connections
   * `forward` would pick for them now, until the client sends anything else (conn_express.c). Not with Sentinel (a
   * write lost to a failover is held and retried, which needs its Pending here) nor with session consistency
   * (where a read follows the client's writes).
   */
  private armExpress(): void {
    const conn = this.conn;
    const ctx = this.ctx;
    if (conn.express === undefined || this.mode !== MODE_NORMAL || this.stall !== 0 || this.quitting || this.peerEnded || !this.authed || this.held > 0 || this.inb.length > 0 || this.need > 0 || this.closed) return;
    if (ctx.retry || ctx.consistency === 'session') return;
    const get = ctx.table.get(EXPRESS_NAMES[EXPRESS_GET]!);
    const set = ctx.table.get(EXPRESS_NAMES[EXPRESS_SET]!);
    if (get === undefined || set === undefined) return;
    // A connection with others' commands in flight under the reply guard would refuse the command anyway (C keeps
    // out of batches the guard must mark): not armed for it, so that a busy connection costs no arming per turn.
    const id = (u: Upstream | null) => (u === null || (u.guarded && u.inflight > 0) ? -1 : u.expressId);
    const w = ctx.noMaster ? null : ctx.master.forCommand(set.lane, this.id, this.db, this.proto);
    const master = () => (ctx.noMaster ? -1 : id(ctx.master.forCommand(get.lane, this.id, this.db, this.proto)));
    let read = -1;
    let readRoute = R_MASTER;
    if (ctx.readPolicy === 'master') read = master();
    else {
      const n = this.place.readReplica();
      const u = n ? n.forCommand(get.lane, this.id, this.db, this.proto) : null;
      if (u !== null) {
        read = id(u);
        readRoute = R_REPLICA;
      } else if (ctx.readPolicy !== 'replica') read = master();
    }
    const write = id(w);
    if (write < 0 && read < 0) return;
    if (write >= 0) this.lastMaster = w;
    conn.express(write, R_MASTER, read, readRoute, ctx.clientOutputLimit, Math.min(ctx.maxBulk, 0x7fffffff));
  }

  private onPeerEnd(): void {
    this.peerEnded = true;
    markDirty(this);
  }

  /** buf[from, end) breaks the protocol: Redis's error after the replies owed, then the connection closes. */
  private protocolError(buf: Buffer, from: number, end: number): void {
    this.ctx.error('protocol');
    const u = this.pinned;
    if (this.mode === MODE_TUNNEL && u !== null && this.ctx.maxBulk === DEFAULT_MAX_BULK && !this.st.error.includes('one buffer')) {
      // A tunnel's replies are not counted (pushes come between them), so an error made here could overtake them,
      // or be sent where Redis sends nothing (CLIENT REPLY OFF, where Redis then never closes). The connection is
      // this client's alone: Redis reads the same bytes the same way, answers after the earlier replies, and
      // closes it (which closes the client) or not.
      u.sendRaw(buf, from, end);
      this.setStall(STALL_TUNNEL_ERROR);
      return;
    }
    this.quitting = true;
    this.reply(UNKNOWN, encodeError(`ERR ${this.st.error}`));
  }

  private resetState(): void {
    const u = this.pinned;
    this.pinned = null;
    this.mode = MODE_NORMAL;
    if (u) releaseDedicated(u, this.ctx.master);
    this.db = 0;
    this.proto = 2;
    this.name = null;
    this.authed = this.ctx.local.clientPassword === undefined;
    this.tx.reset();
    this.lastMaster = null;
    this.place.scans?.clear();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.replies.abandon();
    const u = this.pinned;
    this.pinned = null;
    if (u) {
      // A tunnel or a connection still running our commands is closed; an idle one is RESET (drops MULTI/WATCH).
      if (this.mode === MODE_TUNNEL || u.inflight > 0) {
        u.tunnel = null;
        u.destroy('client gone');
      }
      else releaseDedicated(u, this.ctx.master);
    }
    this.inb.clear();
    this.ctx.clientClosed(this);
  }

  /** Close the client connection now (ambassador shutting down). */
  destroy(): void {
    this.conn.destroy();
  }
}
