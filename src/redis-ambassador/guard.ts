/**
 * @module The reply guard of a shared upstream connection: a batch that holds several clients' commands ends with a
 * `PING <nonce>` whose reply nothing else can produce, and its replies are held until that reply is read in its
 * place — so an extra (or missing) reply from the node closes the connection instead of handing one client
 * another's reply.
 */
import { randomBytes } from 'node:crypto';
import { encodeCommand } from '../core/resp/encode.js';
import type { Pending } from './pending.js';

/** What the marker's slot held. */
export const MARK_OK = 0;
/** An error the node answers every command with for a while (-BUSY, -LOADING, -MASTERDOWN), and so did the whole batch. */
export const MARK_STALLED = 1;
/** Anything else: the replies are out of step. */
export const MARK_BAD = 2;

/**
 * Errors a node gives every command, PING too, while a script runs, while it loads, or as a stale replica. The native
 * guard (native/conn-io/conn_guard.c STALLS) keeps its own copy; guard.test.ts checks the two agree.
 */
export const STALL_ERRORS: readonly string[] = ['-BUSY ', '-LOADING ', '-MASTERDOWN '];

/**
 * A marked batch is cut, where the client changes, once this many bytes of commands have gone since its last marker:
 * Redis reads a client's commands 16 KiB at a time and writes each read's replies before the next, so a marker in
 * every read lets the replies held behind it go out as the node answers them, not after the whole write. The native
 * guard (conn_guard.h XG_SEGMENT) cuts express batches the same; guard.test.ts checks the two agree.
 */
export const GUARD_SEGMENT = 4096;

/** The replies read while a marker is in flight (whose place it vouches for), in order, until it is answered. */
export class ReplyGuard {
  /** The marker command, encoded once per connection. */
  readonly marker: Buffer;
  /** Its only possible reply, a bulk string of the nonce (RESP2 and RESP3 alike). */
  readonly answer: Buffer;
  /** Markers written and not yet answered. */
  inFlight = 0;
  /**
   * A marker's slot was taken by a stall error: it may have been an extra reply, so every batch is marked until a
   * marker's own reply is read in place again.
   */
  suspect = false;
  /** Held replies: owner `owners[i]`, bytes `bufs[i]`[`froms[i]`, `tos[i]`). */
  readonly owners: (Pending | null)[] = [];
  readonly bufs: Buffer[] = [];
  readonly froms: number[] = [];
  readonly tos: number[] = [];
  length = 0;
  /** Held replies before this index have their own copy of their bytes. */
  private kept = 0;

  constructor() {
    const nonce = randomBytes(8).toString('hex');
    this.marker = encodeCommand(['PING', nonce]);
    this.answer = Buffer.from(`$${nonce.length}\r\n${nonce}\r\n`, 'latin1');
  }

  hold(owner: Pending, buf: Buffer, from: number, to: number): void {
    const i = this.length++;
    this.owners[i] = owner;
    this.bufs[i] = buf;
    this.froms[i] = from;
    this.tos[i] = to;
  }

  /** The read buffer `buf` may be overwritten after this read: the replies held in it get one copy of their span. */
  keep(buf: Buffer): void {
    const n = this.length;
    if (this.kept === n) return;
    const lo = this.froms[this.kept];
    const copy = Buffer.from(buf.subarray(lo, this.tos[n - 1]));
    for (let i = this.kept; i < n; i++) {
      this.bufs[i] = copy;
      this.froms[i] -= lo;
      this.tos[i] -= lo;
    }
    this.kept = n;
  }

  /** What the reply buf[from, to) in a marker's slot says about the replies held before it. */
  check(buf: Buffer, from: number, to: number): number {
    if (this.answer.compare(buf, from, to) === 0) return MARK_OK;
    // A stall error answers in order only if every held reply is that same error: then even an injected copy of it
    // moves nothing but identical bytes, and `suspect` catches the reply it may have displaced.
    if (buf[from] !== 45 || !STALL_ERRORS.some((e) => buf.toString('latin1', from, from + e.length) === e)) return MARK_BAD;
    for (let i = 0; i < this.length; i++) if (this.bufs[i].compare(buf, from, to, this.froms[i], this.tos[i]) !== 0) return MARK_BAD;
    return MARK_STALLED;
  }

  /** Forget the held replies (delivered or failed by the caller). */
  clear(): void {
    for (let i = 0; i < this.length; i++) {
      this.owners[i] = null;
      this.bufs[i] = EMPTY;
    }
    this.length = this.kept = 0;
  }
}

const EMPTY = Buffer.alloc(0);
