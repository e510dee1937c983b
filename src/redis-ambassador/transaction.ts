/** @module A pinned client's transaction state: when its dedicated master connection may be handed back. */
import { Special } from './resp/commands.js';
import type { Upstream } from './upstream.js';
import type { NodeConns } from './pools.js';

/**
 * MULTI/WATCH bookkeeping of a client pinned to one dedicated master connection: the connection stays pinned while
 * a transaction or a WATCH is open and goes back to its pool only after both ended.
 */
export class Transaction {
  inMulti = false;
  watching = false;

  /** Track a command sent on the pinned connection; returns the db a SELECT there switches to, else -1. */
  track(sp: Special, args: () => Buffer[]): number {
    switch (sp) {
      case Special.Multi:
        this.inMulti = true;
        break;
      case Special.Watch:
        this.watching = true;
        break;
      case Special.Exec:
      case Special.Discard:
        this.inMulti = false;
        this.watching = false;
        break;
      case Special.Unwatch:
        if (!this.inMulti) this.watching = false;
        break;
      case Special.Select: {
        // Inside MULTI the SELECT is only queued; its effect is not known until EXEC.
        const a = args();
        if (!this.inMulti && a.length === 2) return Number(a[1].toString());
        break;
      }
      default:
        break;
    }
    return -1;
  }

  /** Nothing open: the connection may be handed back. */
  get open(): boolean {
    return this.inMulti || this.watching;
  }

  reset(): void {
    this.inMulti = this.watching = false;
  }
}

/** Hand a dedicated connection back to the pool it came from (even after the master moved); `fallback` when it has none. */
export function releaseDedicated(u: Upstream, fallback: NodeConns): void {
  (u.owner ?? fallback).release(u);
}
