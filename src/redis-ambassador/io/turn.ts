/**
 * @module Writes batched per event-loop turn: a connection with bytes to send is marked dirty, and every dirty one
 * is flushed once, after all the reads of the turn have been handled.
 *
 * With the conn_io addon every read of a turn (clients and upstreams) reaches JS in one call, and the flush runs at
 * its end (`endTurn`): one entry into JS per turn. A connection marked dirty outside that call (a timer, a socket
 * on the fallback path) is flushed from a `setImmediate`, which also keeps the poll phase from blocking first.
 */

import { performance } from 'node:perf_hooks';

export interface Flushable {
  dirty: boolean;
  flush(): void;
}

/** dirty[0, nDirty): swapped with `spare` per flush, and never shortened (a JS array's `length = 0` frees its storage). */
let dirty: Flushable[] = [];
let nDirty = 0;
let spare: Flushable[] = [];
let scheduled = false;
let inTurn = false;
/** performance.now() when the turn's delivery began. */
let turnStart = 0;

function runFlush(): void {
  scheduled = false;
  const list = dirty;
  const n = nDirty;
  dirty = spare;
  nDirty = 0;
  for (let i = 0; i < n; i++) {
    const x = list[i];
    list[i] = DONE;
    x.dirty = false;
    x.flush();
  }
  spare = list;
}

/** What a flushed slot holds, so the list keeps no connection alive. */
const DONE: Flushable = { dirty: false, flush() {} };

/** Write `x` once at the end of this event-loop turn, after every read of the turn has been handled. */
export function markDirty(x: Flushable): void {
  if (x.dirty) return;
  x.dirty = true;
  if (nDirty < dirty.length) dirty[nDirty] = x;
  else dirty.push(x);
  nDirty++;
  if (!scheduled && !inTurn) {
    scheduled = true;
    setImmediate(runFlush);
  }
}

/** The reads of a turn are about to be handled (conn.ts, around each delivery). */
export function beginTurn(): void {
  inTurn = true;
  turnStart = performance.now();
}

/**
 * The time for latency stamps: within a turn the turn's start (one clock read for all its commands and replies,
 * which are handled within microseconds of it), otherwise the clock.
 */
export function clock(): number {
  return inTurn ? turnStart : performance.now();
}

/** They have been: flush. What is marked dirty during the flush itself waits for a `setImmediate`. */
export function endTurn(): void {
  inTurn = false;
  if (nDirty > 0) runFlush();
}
