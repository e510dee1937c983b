/**
 * @module A tunnel's replies counted (pushes aside), so that the ambassador's own answers and the client ids it
 * translates back go in their places among the node's replies.
 */
import { parseIntAt } from '../core/resp/scanner.js';
import { randomBytes } from 'node:crypto';
import { encodeError, encodeInt } from '../core/resp/encode.js';
import { RespType } from '../core/resp/types.js';
import { Special, arityFits, type CommandInfo } from './resp/commands.js';
import type { Transaction } from './transaction.js';
import * as local from './local.js';
import { trackingArgs, type ClientRegistry, type Named } from './client-ids.js';
import type { Upstream } from './upstream.js';

/** One reply, relayed as it is. */
export const T_ONE = 0;
/** One reply, an integer naming a connection by the node's id (CLIENT GETREDIR): translated back. */
export const T_ID = 1;
/** One reply, CLIENT TRACKINGINFO's: its `redirect` id translated back. */
export const T_INFO = 2;
/** One reply, replaced by the ambassador's answer (a command it answers itself: the node got a stand-in, `standIn`). */
export const T_LOCAL = 3;
/** Pushes only (RESP3 (un)subscribe). */
export const T_NONE = 4;
/** CLIENT REPLY ON / OFF / SKIP: which of the next commands get a reply. */
export const T_REPLY_ON = 5;
export const T_REPLY_OFF = 6;
export const T_REPLY_SKIP = 7;
/** Replies that cannot be counted from here on (RESP2 pub/sub, MONITOR). */
export const T_LOST = 8;
/** EXEC's reply, with the answers of the local commands its MULTI queued put in their placeholders' places. */
export const T_EXEC = 9;

const REPLY_MODES: Record<string, number> = { on: T_REPLY_ON, off: T_REPLY_OFF, skip: T_REPLY_SKIP };

/** How a tunnelled command (`args` of them, `argc`) is answered on a connection speaking `proto`; not for local commands. */
export function tunnelKind(info: CommandInfo, args: () => Buffer[], argc: number, proto: number): number {
  const sp = info.special;
  if (sp === Special.ClientGetRedir) return info.name === 'client|getredir' ? T_ID : T_INFO;
  if (sp !== Special.Tunnel) return T_ONE;
  const n = info.name;
  if (n === 'client|tracking' || n === 'client|caching') return T_ONE;
  if (n === 'client|reply') return argc === 3 ? (REPLY_MODES[args()[2].toString('latin1').toLowerCase()] ?? T_ONE) : T_ONE;
  if (n === 'monitor' || proto !== 3) return T_LOST;
  // RESP3 (un)subscribe confirmations are pushes; a SUBSCRIBE without a channel gets an error instead.
  return argc < 2 && !n.endsWith('unsubscribe') ? T_ONE : T_NONE;
}

const PING = [Buffer.from('PING')];
const PONG_HEAD = Buffer.from('*2\r\n$4\r\npong\r\n');
/** Unguessable, so no message or value can pass for a probe's reply. */
const PROBE_SALT = randomBytes(12).toString('hex');

/**
 * What the node gets in place of a command the ambassador answers itself (`answer`): one reply's worth, and the
 * same effect on the tunnel's connection where it matters (its db, its protocol); never the client's credentials.
 */
export function standIn(sp: Special, args: Buffer[], answer: Buffer): Buffer[] {
  if (answer[0] === RespType.Error) return PING;
  if (sp === Special.Select) return args;
  if (sp === Special.Hello && args.length > 1) return [args[0], args[1]];
  return PING;
}

const REDIRECT_KEY = Buffer.from('$8\r\nredirect\r\n:');

interface Slot {
  /** Which reply, counted from the tunnel's first. */
  n: number;
  kind: number;
  answer: Buffer | null;
  /** T_EXEC: EXEC's reply rewritten. */
  exec?: (reply: Buffer) => Buffer;
}

/** The replies of one tunnel, counted while every command's replies can be told apart from pushes. */
export class TunnelReplies {
  private sentN = 0;
  private seen = 0;
  /** The replies to rewrite, in order. */
  private readonly slots: Slot[] = [];
  private off = false;
  private skip = false;
  private lost = false;
  /** A RESP3 (un)subscribe went in: messages may come. */
  pubsub = false;
  /** Probes in flight, in order (`probe`). */
  private readonly probes: { bulk: Buffer; answer: (subscribed: boolean) => Buffer }[] = [];
  private static probeSeq = 0;
  /**
   * A MULTI is open: each command only gets +QUEUED (or an error), and what it does to the replies after it happens
   * when EXEC runs it: those replies cannot be counted any more (pub/sub, MONITOR, CLIENT REPLY), or pushes may come.
   */
  private multi = false;
  private lostAtExec = false;
  private pubsubAtExec = false;

  /** `back` translates a node's connection id to the ambassador's client id. */
  constructor(private readonly back: (n: number) => number) {}

  /** Replies can no longer be counted (RESP2 pub/sub, MONITOR): local commands go as probes (`probe`) or as they are. */
  get counting(): boolean {
    return !this.lost;
  }

  /**
   * A local command sent while replies cannot be counted: the node gets `PING <token>`, whose reply names the token
   * (an array with "pong" while the connection is subscribed, a bulk string otherwise) and so is found among messages
   * that look like replies; `answer(subscribed)` is put in its place. Returns the probe's arguments.
   */
  probe(answer: (subscribed: boolean) => Buffer): Buffer[] {
    const token = `__podkit_ambassador_probe:${PROBE_SALT}:${++TunnelReplies.probeSeq}`;
    this.probes.push({ bulk: Buffer.from(`$${token.length}\r\n${token}\r\n`), answer });
    return [PING[0], Buffer.from(token)];
  }

  /** A command went into the tunnel; `answer`: the ambassador's reply to put in its place (T_LOCAL). */
  sent(kind: number, answer: Buffer | null = null): void {
    if (this.lost) return;
    if (this.multi && !this.off) {
      // Queued: one reply now; the effect comes with EXEC. Counting what CLIENT REPLY does inside an EXEC that may
      // still abort is not attempted: the replies after such an EXEC are not counted at all.
      if (kind === T_LOST || kind === T_REPLY_ON || kind === T_REPLY_OFF || kind === T_REPLY_SKIP) this.lostAtExec = true;
      else if (kind === T_NONE) this.pubsubAtExec = true;
      kind = T_ONE;
    }
    switch (kind) {
      case T_LOST:
        // The replies before it still come first: their slots stay.
        this.lost = true;
        return;
      case T_REPLY_ON:
        this.off = this.skip = false;
        this.sentN++;
        return;
      case T_REPLY_OFF:
        this.off = true;
        this.skip = false;
        return;
      case T_REPLY_SKIP:
        if (!this.off) this.skip = true;
        return;
      default:
        break;
    }
    if (kind === T_NONE) this.pubsub = true;
    if (this.off || kind === T_NONE) return;
    if (this.skip) {
      this.skip = false;
      return;
    }
    this.sentN++;
    if (kind !== T_ONE) this.slots.push({ n: this.sentN, kind, answer });
  }

  /** Whether a MULTI is open on the tunnel. */
  get inMulti(): boolean {
    return this.multi;
  }

  /**
   * MULTI, EXEC or DISCARD went in. `exec`: EXEC's reply rewritten (its MULTI queued local commands). After an EXEC
   * the queued commands' effects apply; the replies before EXEC's are still counted when they cannot be after it.
   */
  transaction(sp: Special, exec: ((reply: Buffer) => Buffer) | null = null): void {
    // Uncounted, a MULTI may be refused (a subscribed RESP2 connection): local commands go as they would outside one.
    if (this.lost) return;
    if (sp === Special.Multi) {
      this.sent(T_ONE);
      this.multi = true;
      return;
    }
    const ran = this.multi && sp === Special.Exec;
    this.multi = false;
    if (exec === null || this.lost || this.off) this.sent(T_ONE);
    else this.slots.push({ n: ++this.sentN, kind: T_EXEC, answer: null, exec });
    if (ran && this.pubsubAtExec) this.pubsub = true;
    if (ran && this.lostAtExec) this.lost = true;
    this.lostAtExec = this.pubsubAtExec = false;
  }

  /** Start counting inside a MULTI the client opened before the tunnel (a SUBSCRIBE queued in it). */
  openMulti(): void {
    this.multi = true;
  }

  /** The answer in place of the first probe's reply, if buf[from, to) is it. */
  private probeReply(buf: Buffer, from: number, to: number): Buffer | null {
    const pr = this.probes[0]!;
    const form = probeForm(buf, from, to, pr.bulk);
    if (form === 0) return null;
    this.probes.shift();
    return pr.answer(form === 2);
  }

  /** A reply that is not a push, buf[from, to): the frame to relay in its place, or null to relay it as it is. */
  reply(buf: Buffer, from: number, to: number): Buffer | null {
    if (this.lost && this.slots.length === 0) return this.probes.length === 0 ? null : this.probeReply(buf, from, to);
    const k = ++this.seen;
    const s = this.slots[0];
    if (s === undefined || s.n !== k) return null;
    this.slots.shift();
    if (s.kind === T_LOCAL) return s.answer;
    if (s.kind === T_EXEC) return s.exec!(buf.subarray(from, to));
    if (s.kind === T_ID) {
      if (buf[from] !== RespType.Integer) return null;
      const n = parseIntAt(buf, from + 1, to - 2);
      return Number.isNaN(n) ? null : encodeInt(this.back(n));
    }
    // TRACKINGINFO: flags, redirect, prefixes; no flag is named "redirect", and a prefix is never followed by an integer.
    const at = buf.indexOf(REDIRECT_KEY, from);
    if (at < 0 || at >= to) return null;
    const v = at + REDIRECT_KEY.length;
    const cr = buf.indexOf(13, v);
    const n = parseIntAt(buf, v, cr);
    return Number.isNaN(n) ? null : Buffer.concat([buf.subarray(from, v), Buffer.from(String(this.back(n))), buf.subarray(cr, to)]);
  }
}

/** Whether buf[from, to) is the reply to a probe: its token as a bulk string, or RESP2's ["pong", token] while subscribed. */
function probeForm(buf: Buffer, from: number, to: number, bulk: Buffer): 0 | 1 | 2 {
  if (to - from === bulk.length) return buf.compare(bulk, 0, bulk.length, from, to) === 0 ? 1 : 0;
  const head = to - from - bulk.length;
  return head === PONG_HEAD.length && buf.compare(PONG_HEAD, 0, head, from, from + head) === 0 && buf.compare(bulk, 0, bulk.length, from + head, to) === 0 ? 2 : 0;
}

/** Redis's answer to a command a RESP2 connection may not send while subscribed. */
export const notInSubscribed = (name: string): Buffer => encodeError(`ERR Can't execute '${name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`);

/**
 * A command (`args`, `argc` of them) of client `st` into tunnel `u`, its replies counted: one the ambassador answers
 * itself goes as a stand-in, its answer put in the stand-in's place; a REDIRECT names the redirect client's tunnel
 * (client-ids.ts). Returns the arguments to send instead, or null.
 */
export function intoTunnel(
  u: Upstream,
  info: CommandInfo,
  args: () => Buffer[],
  argc: number,
  st: local.LocalState & { tunnelExecAnswered(): void },
  tx: Transaction,
  ctx: { readonly local: local.LocalConfig; readonly clients: ClientRegistry<Named> },
): Buffer[] | null {
  const clients = ctx.clients;
  let tr = u.tunnelReplies;
  if (tr === null) {
    tr = u.tunnelReplies = new TunnelReplies((n) => (n > 0 && n === u.serverId ? st.id : clients.fromServer(u, n)));
    // The command that opens the tunnel may be queued in the client's MULTI (a SUBSCRIBE there).
    if (tx.inMulti) tr.openMulti();
  }
  const sp = tx.effect(info, argc);
  if (sp === Special.Multi || sp === Special.Exec || sp === Special.Discard) {
    // (A SELECT in it switched the tunnel's connection alone: the client's db is 0 again once the tunnel is RESET.)
    const hooked = sp === Special.Exec && tx.execHooked;
    tx.track(sp, args);
    const exec = (reply: Buffer) => {
      const r = tx.execReply(reply, (lsp, a) => local.answer(lsp, st, ctx.local, a));
      st.tunnelExecAnswered();
      return r;
    };
    tr.transaction(sp, hooked ? exec : null);
    return null;
  }
  if (local.isLocal(sp)) {
    if (!tr.counting) return lostLocal(tr, info, args(), st, ctx.local);
    if (tr.inMulti) {
      // Queued as in a pinned MULTI: a placeholder answered at EXEC. SELECT is queued itself (it must switch the
      // tunnel's connection when EXEC runs), and a wrong argument count is sent as it is, for Redis to refuse.
      tr.sent(T_ONE);
      return sp === Special.Select || !arityFits(info.arity, argc) ? null : tx.queueLocal(sp, args().map((a) => Buffer.from(a)));
    }
    const a = args();
    const answer = local.answer(sp, st, ctx.local, a);
    tr.sent(T_LOCAL, answer);
    // After HELLO 2 in a RESP3 pub/sub tunnel, messages come as arrays, like replies.
    if (sp === Special.Hello && tr.pubsub && st.proto === 2) tr.sent(T_LOST);
    return standIn(sp, a, answer);
  }
  tr.sent(tunnelKind(info, args, argc, st.proto));
  return info.name === 'client|tracking' ? trackingArgs(args(), (id) => clients.serverId(id, u.owner, true)) : null;
}

/**
 * A local command while the tunnel's replies cannot be counted. SELECT and HELLO (without AUTH) go as they are, so
 * the node answers as Redis would: refused while the connection is subscribed, run on it (its db, its protocol)
 * otherwise. The rest go as probes, answered here when the connection is not subscribed; HELLO with AUTH then gets an
 * error, since the node could not take its protocol without the client's credentials.
 */
function lostLocal(tr: TunnelReplies, info: CommandInfo, args: Buffer[], st: local.LocalState, cfg: local.LocalConfig): Buffer[] | null {
  const sp = info.special;
  const withAuth = sp === Special.Hello && args.some((a, i) => i >= 2 && a.toString('latin1').toLowerCase() === 'auth');
  // Redis checks the argument count before the subscribed context: a wrong count goes as it is, but for credentials.
  const fits = arityFits(info.arity, args.length);
  if (sp === Special.Select || (sp === Special.Hello && !withAuth) || (!fits && sp !== Special.Auth && !withAuth)) return null;
  const copy = args.map((a) => Buffer.from(a));
  return tr.probe((subscribed) => {
    if (!fits) return local.arity(info.name);
    if (subscribed) return notInSubscribed(info.name);
    if (withAuth) return encodeError('ERR HELLO with AUTH cannot be sent inside a SUBSCRIBE or MONITOR tunnel through the ambassador (send RESET first)');
    return local.answer(sp, st, cfg, copy);
  });
}
