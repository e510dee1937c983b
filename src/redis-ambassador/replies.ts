/** @module A client's replies owed, in command order: entries are linked as commands go out, replies leave from the head only. */
import { freePending, newPending, type Pending, type ReplySink } from './pending.js';
import type { CommandInfo } from './resp/commands.js';
import type { OutputBatch } from './resp/bytes.js';

/**
 * One entry (a pooled `Pending`) per command, linked through `cnext`. Replies may come back out of order (reads on
 * a replica, writes on the master); they are written only once every earlier one is in.
 */
export class ReplyQueue {
  private head: Pending | null = null;
  /** The newest entry (a hook may still be set on it), null when nothing is owed. */
  tail: Pending | null = null;
  /** Replies still owed. */
  length = 0;

  /** The oldest entry, whose reply goes out first. */
  get first(): Pending | null {
    return this.head;
  }

  /** An entry for a command `client` sends now. */
  push(client: ReplySink, info: CommandInfo, route: number, t0: number): Pending {
    const p = newPending();
    p.client = client;
    p.info = info;
    p.route = route;
    p.t0 = t0;
    if (this.tail) this.tail.cnext = p;
    else this.head = p;
    this.tail = p;
    this.length++;
    return p;
  }

  /** `p` has its reply: move every reply ready at the head into `out`. False while `p` waits behind an earlier one. */
  deliver(p: Pending, out: OutputBatch): boolean {
    if (p !== this.head) return false;
    this.writeReady(p, out);
    return true;
  }

  /**
   * `p`'s reply is src[from, to) (a region its owner never overwrites): at the head it joins `out` as a range, with
   * no Buffer made for it, and every reply ready behind it follows; otherwise `p` keeps a slice of it and waits.
   */
  deliverRange(p: Pending, src: Buffer, from: number, to: number, out: OutputBatch): boolean {
    if (p !== this.head) {
      p.reply = src.subarray(from, to);
      return false;
    }
    out.addRange(src, from, to);
    const n = p.cnext;
    freePending(p);
    this.length--;
    this.writeReady(n, out);
    return true;
  }

  /**
   * `p`, the head, was answered straight to the client: gone from the queue, and every reply ready behind it joins
   * `out`. False if `p` was not the head (its reply was written out of turn: the caller cannot mend that).
   */
  skip(p: Pending, out: OutputBatch): boolean {
    if (p !== this.head) return false;
    const n = p.cnext;
    freePending(p);
    this.length--;
    this.writeReady(n, out);
    return true;
  }

  private writeReady(from: Pending | null, out: OutputBatch): void {
    let q = from;
    while (q !== null && q.reply !== null) {
      out.add(q.reply);
      const n: Pending | null = q.cnext;
      freePending(q);
      this.length--;
      q = n;
    }
    this.head = q;
    if (q === null) this.tail = null;
  }

  /** The client is gone: entries with a reply are freed; the rest are detached (their upstream frees them on reply). */
  abandon(): void {
    let p = this.head;
    this.head = this.tail = null;
    this.length = 0;
    while (p) {
      const n: Pending | null = p.cnext;
      if (p.reply !== null) freePending(p);
      else p.client = null;
      p = n;
    }
  }
}
