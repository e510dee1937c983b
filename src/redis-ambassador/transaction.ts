/** @module A pinned client's transaction state: when its dedicated master connection may be handed back. */
import { Special, arityFits, type CommandInfo } from './resp/commands.js';
import { randomBytes } from 'node:crypto';
import { BAD, NEED, parseIntAt, scanState, scanValue } from '../core/resp/scanner.js';
import { RespType } from '../core/resp/types.js';
import type { Upstream } from './upstream.js';
import type { NodeConns } from './pools.js';

const TOKEN_SALT = randomBytes(12).toString('hex');
const ECHO = Buffer.from('ECHO');
const OK = Buffer.from('+OK\r\n');

/** A command the ambassador answers itself, queued in a MULTI as an ECHO of its token. */
interface Local {
  token: string;
  sp: Special;
  args: Buffer[];
}

/**
 * MULTI/WATCH bookkeeping of a client pinned to one dedicated master connection: the connection stays pinned while
 * a transaction or a WATCH is open and goes back to its pool only after both ended.
 */
export class Transaction {
  inMulti = false;
  watching = false;
  /** Commands the ambassador answers itself (AUTH, CLIENT SETNAME, …) queued in this MULTI, by placeholder. */
  private locals: Local[] = [];
  /** Commands Redis queued in this MULTI so far: the place of each one's answer in EXEC's reply. */
  private queued = 0;
  /** The SELECTs queued in this MULTI: where their answers are in EXEC's reply, and the db each switches to. */
  private selects: { at: number; db: number }[] = [];
  /**
   * Each EXEC in flight whose MULTI queued local commands or a SELECT: the placeholders, answered when its reply
   * comes, and the SELECTs, whose +OK there is the client's db from then on. Kept apart from `locals` and `selects`,
   * so a DISCARD or a new MULTI pipelined behind the EXEC does not take them away.
   */
  private execs: { locals: Local[]; selects: { at: number; db: number }[] }[] = [];
  private static seq = 0;

  /** An EXEC whose reply runs local commands or switches the client's db is in flight. */
  get execPending(): boolean {
    return this.execs.length > 0;
  }

  /** An EXEC now would be one whose reply must go through execReply (local commands to answer, or a SELECT to follow). */
  get execHooked(): boolean {
    return this.inMulti && (this.locals.length > 0 || this.selects.length > 0);
  }

  /**
   * Queue a local command inside MULTI: returns the placeholder to send in its place (an ECHO of a unique token:
   * Redis queues it, answers +QUEUED, and EXEC's reply carries the token where the command's answer goes).
   */
  queueLocal(sp: Special, args: Buffer[]): Buffer[] {
    // Unguessable, so no value a client stored can pass for a placeholder.
    const token = `__podkit_ambassador_local:${TOKEN_SALT}:${++Transaction.seq}`;
    this.locals.push({ token, sp, args });
    this.queued++;
    return [ECHO, Buffer.from(token)];
  }

  /**
   * EXEC's reply with each placeholder replaced by its command's answer, run now (in order: an AUTH takes effect
   * when the transaction runs, as in Redis). Anything but an array (EXECABORT, a WATCH failure) passes as it is.
   */
  execReply(reply: Buffer, answer: (sp: Special, args: Buffer[]) => Buffer, select?: (db: number) => void): Buffer {
    const { locals, selects } = this.execs.shift() ?? { locals: [], selects: [] };
    if (reply[0] !== RespType.Array) return reply;
    const cr = reply.indexOf(13);
    const n = parseIntAt(reply, 1, cr);
    const st = scanState(Number.MAX_SAFE_INTEGER);
    const parts: Buffer[] = [reply.subarray(0, cr + 2)];
    let p = cr + 2;
    for (let i = 0; i < n; i++) {
      const e = scanValue(reply, p, reply.length, st);
      if (e === NEED || e === BAD) return reply;
      const el = reply.subarray(p, e);
      const k = el[0] === RespType.BulkString ? locals.findIndex((l) => el.length > l.token.length && el.toString('latin1', el.length - 2 - l.token.length, el.length - 2) === l.token) : -1;
      parts.push(k >= 0 ? answer(locals[k].sp, locals[k].args) : el);
      // A SELECT that ran switched the connection's db, and so the client's, as Redis's own SELECT does.
      const sel = selects.find((x) => x.at === i);
      if (sel && el.equals(OK)) select?.(sel.db);
      p = e;
    }
    return Buffer.concat(parts);
  }

  /**
   * What command `info` with `argc` arguments does to this transaction, as Redis takes it: Special.None when Redis
   * refuses it and changes nothing — a MULTI, DISCARD, WATCH or UNWATCH with a wrong argument count (`DISCARD x`
   * leaves the transaction open, to abort at EXEC; `UNWATCH x` keeps the keys watched), an EXEC or DISCARD outside
   * MULTI (the watches stay). An EXEC refused for its argument count still discards the transaction and the
   * watches (EXECABORT), in MULTI or not.
   */
  effect(info: CommandInfo, argc: number): Special {
    const sp = info.special;
    switch (sp) {
      case Special.Exec:
        return this.inMulti || !arityFits(info.arity, argc) ? sp : Special.None;
      case Special.Discard:
        return this.inMulti && arityFits(info.arity, argc) ? sp : Special.None;
      case Special.Multi:
      case Special.Watch:
      case Special.Unwatch:
        return arityFits(info.arity, argc) ? sp : Special.None;
      default:
        return sp;
    }
  }

  /** Track a command sent on the pinned connection; returns the db a SELECT there switches to, else -1. */
  track(sp: Special, args: () => Buffer[]): number {
    switch (sp) {
      case Special.Multi:
        // (Nested, Redis refuses it and the transaction goes on: nothing to start.)
        this.inMulti = true;
        return -1;
      case Special.Watch:
        // Inside MULTI, Redis refuses it (and does not queue it).
        if (!this.inMulti) this.watching = true;
        return -1;
      case Special.Exec:
      case Special.Discard:
        if (sp === Special.Exec && this.execHooked) this.execs.push({ locals: this.locals, selects: this.selects });
        this.inMulti = false;
        this.watching = false;
        this.locals = [];
        this.selects = [];
        this.queued = 0;
        return -1;
      case Special.Unwatch:
        if (!this.inMulti) this.watching = false;
        break;
      case Special.Select: {
        const a = args();
        // Inside MULTI the SELECT is only queued: it takes effect if EXEC runs it (execReply).
        if (this.inMulti && a.length === 2) this.selects.push({ at: this.queued, db: Number(a[1].toString()) });
        else if (a.length === 2) return Number(a[1].toString());
        break;
      }
      default:
        break;
    }
    if (this.inMulti) this.queued++;
    return -1;
  }

  /** Nothing open: the connection may be handed back. */
  get open(): boolean {
    return this.inMulti || this.watching;
  }

  reset(): void {
    this.inMulti = this.watching = false;
    this.locals = [];
    this.selects = [];
    this.queued = 0;
    this.execs = [];
  }
}

/** Hand a dedicated connection back to the pool it came from (even after the master moved); `fallback` when it has none. */
export function releaseDedicated(u: Upstream, fallback: NodeConns): void {
  (u.owner ?? fallback).release(u);
}
