/** @module One command in flight (Pending, recycled through a free list), what it asks of its reply (the hooks), and who receives the reply (ReplySink). */
import { UNKNOWN, type CommandInfo } from './resp/commands.js';
import type { Upstream } from './upstream.js';

/** What to do with a reply besides delivering it. */
export const HOOK_NONE = 0;
/** An internal command (handshake, reset): the reply is dropped; an error is reported. */
export const HOOK_INTERNAL = 1;
/** SELECT sent on a pinned connection: on +OK the client's db becomes `hookArg`. */
export const HOOK_SELECT = 2;
/** A handshake command (AUTH, HELLO, SELECT, PING): an error means the node refuses this connection. */
export const HOOK_HANDSHAKE = 3;
/** EXEC of a transaction holding local commands: the client session rewrites the reply (transaction.ts). */
export const HOOK_EXEC = 4;
/** The reply guard's marker (guard.ts): its reply vouches for the replies held before it. */
export const HOOK_MARKER = 5;

/** Something that receives replies in order: a client session. */
export interface ReplySink {
  /** `p.reply` has just been set. */
  replyReady(p: Pending): void;
  /** `p`'s reply is src[from, to): `src` is never overwritten there, but a slice is made only if it must wait. */
  replyRange(p: Pending, src: Buffer, from: number, to: number): void;
  /** Raw bytes from a tunnelled connection. */
  tunnelData(chunk: Buffer): void;
  /** The tunnelled connection is gone. */
  tunnelClosed(): void;
  /** The tunnel's RESET was answered (its `+RESET` already went through `tunnelData`): the client is back to normal. */
  tunnelReset(): void;
  hookSelect(db: number): void;
  /**
   * The tag for `p`'s reply as it is sent (conn.ts `replyTags`): the client connection's id when the reply may go
   * straight to it, untouched and unordered behind anything else, else -1.
   */
  directId(p: Pending): number;
  /** `p`'s reply went straight to the client (its bytes are written): the rest of a delivery. */
  repliedDirect(p: Pending): void;
  /**
   * A command that kept its bytes (`cmd`) got `-READONLY` (reply) or lost its connection (reply null): true when
   * the sink sent it elsewhere (it now owns `p`), false to deliver the error as usual.
   */
  retry(p: Pending, from: Upstream, reply: Buffer | null): boolean;
}

/**
 * One command in flight: the only per-command object, linked into the upstream FIFO (`unext`) and the client's
 * reply queue (`cnext`). Recycled through a free list.
 */
export class Pending {
  client: ReplySink | null = null;
  reply: Buffer | null = null;
  t0 = 0;
  info: CommandInfo = UNKNOWN;
  route = 0;
  hook = HOOK_NONE;
  hookArg = 0;
  /** The command's bytes, kept only where it may be retried (topology mode); with `db`/`proto` it was sent under. */
  cmd: Buffer | null = null;
  db = 0;
  proto = 2;
  tries = 0;
  /** Counted as an outstanding write of its session (--consistency session). */
  write = false;
  /** Tagged for the direct path (its reply may go straight to the client: `ReplySink.directId`). */
  direct = false;
  unext: Pending | null = null;
  cnext: Pending | null = null;
}

const free: Pending[] = [];
export function newPending(): Pending {
  return free.pop() ?? new Pending();
}
export function freePending(p: Pending): void {
  p.client = null;
  p.reply = null;
  p.unext = null;
  p.cnext = null;
  p.hook = HOOK_NONE;
  p.cmd = null;
  p.tries = 0;
  p.write = false;
  p.direct = false;
  if (free.length < 65536) free.push(p);
}
