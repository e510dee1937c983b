/**
 * @module Where one client's reads may run: its replica while that stays in rotation (monotonic reads), the master
 * while the client's own write may be missing on a replica (`--consistency session`), and SCAN cursors on the node
 * that issued them. The session (`client.ts`) sends; this decides.
 */
import { R_LOCAL, R_REPLICA, Special } from './resp/commands.js';
import { ScanTracker } from './scan.js';
import type { ProxyContext } from './context.js';
import type { NodeConns } from './pools.js';
import type { Pending } from './pending.js';
import type { Upstream } from './upstream.js';

export class Placement {
  /** The replica this client reads from while it stays in rotation. */
  replica: NodeConns | null = null;
  /** SCAN-family cursors this client holds and the nodes that issued them (made on its first scan). */
  scans: ScanTracker | null = null;
  /** Session consistency: writes whose reply has not come yet, and Date.now() when the last one's reply came. */
  private writesOut = 0;
  private lastWriteAt = 0;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly clientId: number,
  ) {}

  /** The replica for a read now; null when none is in rotation, or when it may not have this client's last write. */
  readReplica(): NodeConns | null {
    const n = this.pick(null);
    if (n !== null && this.ctx.consistency === 'session' && (this.writesOut > 0 || (this.lastWriteAt > 0 && !this.ctx.caughtUp(n, this.lastWriteAt)))) {
      // Read-your-writes: this replica may not have the client's last write yet; the master has.
      this.ctx.rerouted('stale_read_protected');
      return null;
    }
    return n;
  }

  /** The client's replica while it stays in rotation, else the next one in rotation (not `not`). */
  private pick(not: NodeConns | null): NodeConns | null {
    const r = this.replica;
    if (r !== null && r !== not && r.inRotation && r.up) return r;
    const reps = this.ctx.replicas;
    for (let k = 0; k < reps.length; k++) {
      const n = reps[(this.clientId + k) % reps.length];
      if (n !== not && n.inRotation && n.up) return (this.replica = n);
    }
    return null;
  }

  /** Session consistency: a command that may write is outstanding until its reply. */
  sent(p: Pending): void {
    if (this.ctx.consistency === 'session' && p.route !== R_REPLICA && p.route !== R_LOCAL && !p.info.replicaOk) {
      this.writesOut++;
      p.write = true;
    }
  }

  replied(p: Pending): void {
    if (p.write) {
      p.write = false;
      this.writesOut--;
      this.lastWriteAt = Date.now();
    }
    if (p.info.special === Special.Scan && this.scans !== null) this.scans.replied(p, this.ctx.master);
  }

  /**
   * A read whose connection died: the connection to send it on again (another replica in rotation, else the master
   * unless reads must not go there), or null to deliver the error. A scan continuation's cursor means nothing on
   * another node, so it is never moved.
   */
  retryRead(p: Pending, from: Upstream): Upstream | null {
    const ctx = this.ctx;
    if (p.info.special === Special.Scan && this.scans?.isContinuation(p)) return null;
    const n = ctx.consistency === 'session' ? null : this.pick(from.owner as NodeConns | null);
    let u = n ? n.shared(this.clientId, p.db, p.proto) : null;
    if (!u && ctx.readPolicy !== 'replica' && !ctx.noMaster && from.owner !== ctx.master) u = ctx.master.shared(this.clientId, p.db, p.proto);
    if (!u) return null;
    ctx.rerouted('read_retried');
    if (p.info.special === Special.Scan) this.scans?.moved(p, u.owner as NodeConns);
    return u;
  }
}
