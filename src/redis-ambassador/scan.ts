/** @module SCAN/HSCAN/SSCAN/ZSCAN stickiness: a cursor is only meaningful on the node that issued it. */
import type { CommandInfo } from './resp/commands.js';
import type { NodeConns } from './pools.js';
import type { Pending } from './pending.js';

/** One SCAN-family call as the client sent it. */
export interface ScanQuery {
  /** `scan`, `hscan`, `sscan`, `zscan`. */
  name: string;
  /** The key scanned ('' for SCAN). */
  key: string;
  cursor: string;
  db: number;
}

interface Sent extends ScanQuery {
  p: Pending;
  node: NodeConns | null;
}

interface Issued extends ScanQuery {
  node: NodeConns;
}

/** Cursors remembered per client; beyond this the oldest is forgotten (a client that abandons scans leaks nothing). */
const MAX_CURSORS = 64;

/** The query a SCAN-family command carries, or null when it has too few arguments (Redis will answer the error). */
export function scanQuery(info: CommandInfo, args: Buffer[], db: number): ScanQuery | null {
  const keyed = info.name !== 'scan';
  const at = keyed ? 2 : 1;
  if (args.length <= at) return null;
  return { name: info.name, key: keyed ? args[1].toString('latin1') : '', cursor: args[at].toString('latin1'), db };
}

/** The next cursor in a SCAN-family reply (`*2 $n cursor *m …`, RESP2 or RESP3), or null for an error or anything else. */
export function replyCursor(reply: Buffer): string | null {
  if (reply.length < 4 || reply[0] !== 0x2a /* * */) return null;
  const nl = reply.indexOf(10);
  if (nl < 0 || nl + 1 >= reply.length || reply[nl + 1] !== 0x24 /* $ */) return null;
  const nl2 = reply.indexOf(10, nl + 1);
  if (nl2 < 0) return null;
  const len = Number(reply.toString('latin1', nl + 2, nl2 - 1));
  if (!Number.isInteger(len) || len < 0 || nl2 + 1 + len > reply.length) return null;
  return reply.toString('latin1', nl2 + 1, nl2 + 1 + len);
}

const same = (a: ScanQuery, b: ScanQuery) => a.cursor === b.cursor && a.name === b.name && a.key === b.key && a.db === b.db;

/**
 * Per client (created on its first SCAN-family command, so other clients pay nothing): which node issued each
 * non-zero cursor the client holds, learned from the replies. A continuation goes back to that node; a cursor the
 * ambassador never issued goes to the node of the client's latest scan reply (best guess), else is routed as usual.
 */
export class ScanTracker {
  private sent: Sent[] = [];
  private issued: Issued[] = [];
  private last: NodeConns | null = null;

  /**
   * Where a command must go: null for a fresh scan (cursor 0) or a cursor with no known node (route as usual),
   * else the node that issued the cursor (the caller checks it is still there).
   */
  target(q: ScanQuery): NodeConns | null {
    if (q.cursor === '0') return null;
    for (const c of this.issued) if (same(c, q)) return c.node;
    return this.last;
  }

  /** The command `p` carrying `q` went to `node` (null: to whichever master takes it, it was held). */
  onSent(p: Pending, node: NodeConns | null, q: ScanQuery): void {
    const i = this.issued.findIndex((c) => same(c, q));
    if (i >= 0) this.issued.splice(i, 1);
    this.sent.push({ ...q, p, node });
  }

  /** A continuation in flight: its cursor means nothing on another node, so it must not be retried elsewhere. */
  isContinuation(p: Pending): boolean {
    const s = this.sent.find((x) => x.p === p);
    return s !== undefined && s.cursor !== '0';
  }

  /** A fresh scan was retried on another node (its first node died before answering). */
  moved(p: Pending, node: NodeConns): void {
    const s = this.sent.find((x) => x.p === p);
    if (s) s.node = node;
  }

  /** `p.reply` has come: remember the node behind a non-zero next cursor. */
  replied(p: Pending, master: NodeConns): void {
    const i = this.sent.findIndex((x) => x.p === p);
    if (i < 0) return;
    const s = this.sent[i];
    this.sent.splice(i, 1);
    const next = p.reply ? replyCursor(p.reply) : null;
    if (next === null || next === '0') return;
    const node = s.node ?? master;
    this.last = node;
    const q: Issued = { name: s.name, key: s.key, db: s.db, cursor: next, node };
    // The same cursor from an abandoned scan (possibly another node: cursors are bucket positions) is superseded.
    const old = this.issued.findIndex((c) => same(c, q));
    if (old >= 0) this.issued.splice(old, 1);
    this.issued.push(q);
    if (this.issued.length > MAX_CURSORS) this.issued.shift();
  }

  /** RESET: forget every cursor. */
  clear(): void {
    this.issued = [];
    this.last = null;
  }
}

/** The -ERR a continuation gets when the node that issued its cursor is gone (better than a silently partial scan). */
export function lostCursorError(q: ScanQuery, node: NodeConns): string {
  return `ERR ${q.name.toUpperCase()} cursor ${q.cursor} was issued by ${node.node.label}, which is no longer available through the ambassador; restart the scan from cursor 0`;
}
