/** @module Upstream connections per node: small shared pools keyed by (db, protocol), dedicated connections, backoff. */
import { LANE_DB0, LANE_SCRIPT } from './resp/commands.js';
import { OWN_CLOSES, Upstream, type NodeAddr, type UpstreamEvents, type UpstreamOptions } from './upstream.js';
import { expressEpoch, settleDirect } from './io/conn.js';

/** Reconnect delays: 50 ms doubling to 2 s, with jitter. */
export function backoffMs(failures: number): number {
  const base = Math.min(2000, 50 * 2 ** Math.min(failures, 10));
  return base / 2 + Math.random() * (base / 2);
}

const MAX_IDLE_DEDICATED = 8;
/** Script connections per (db, protocol): past this many clients running scripts at once, scripts share them. */
const MAX_SCRIPT_CONNS = 8;

/**
 * Every connection to one node. Shared pools are keyed by `db * 4 + proto`, so a client that selected db N or
 * speaks RESP3 shares connections already in that state; each client uses slot (client id % size) so its
 * commands to a node stay on one connection, in order.
 */
export class NodeConns {
  private readonly pools = new Map<number, (Upstream | null)[]>();
  private readonly idle = new Map<number, Upstream[]>();
  private readonly scripts = new Map<number, Upstream[]>();
  private failures = 0;
  private retryAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  /** Last state told through `nodeState` (null: not known yet), and why the node is not usable. */
  private stateUp: boolean | null = null;
  lastError: string | null = null;
  readonly all = new Set<Upstream>();
  /** In read rotation (topology mode flips it; static replicas always are). */
  inRotation = true;

  constructor(
    readonly node: NodeAddr,
    private readonly size: number,
    private readonly opts: UpstreamOptions,
    private readonly events: UpstreamEvents,
  ) {}

  /** True while the node is reachable as far as we know (a connection is up, or none has failed yet). */
  get up(): boolean {
    return this.failures === 0;
  }

  /** Connected right now (for readiness). */
  get connected(): boolean {
    const p = this.pools.get(2);
    return !!p && p.some((u) => u !== null && u.ready);
  }

  private make(db: number, proto: number, dedicated = false): Upstream {
    const u = new Upstream(this.node, db, proto, this.opts, {
      ...this.events,
      ready: (x) => {
        this.failures = 0;
        this.lastError = null;
        this.setState(true, '');
        this.events.ready(x);
      },
      closed: (x, why) => this.onClosed(x, why),
    }, dedicated);
    u.owner = this;
    this.all.add(u);
    return u;
  }

  private setState(up: boolean, reason: string): void {
    if (this.stateUp === up) return;
    this.stateUp = up;
    this.events.nodeState?.(this.node, up, reason);
  }

  private onClosed(u: Upstream, why: string): void {
    this.all.delete(u);
    if (!this.closing && !OWN_CLOSES.has(why)) {
      if (!u.established) {
        // Closed before its handshake was answered (refused, reset, timed out): count a failure and back off.
        this.failures++;
        this.retryAt = Date.now() + backoffMs(this.failures);
        this.lastError = why;
        this.setState(false, why);
      } else if (!this.connected) this.lastError = why;
    }
    for (const list of this.pools.values()) {
      const i = list.indexOf(u);
      if (i >= 0) list[i] = null;
    }
    for (const list of [...this.idle.values(), ...this.scripts.values()]) {
      const i = list.indexOf(u);
      if (i >= 0) list.splice(i, 1);
    }
    this.events.closed(u, why);
    this.scheduleWarm();
  }

  /** Keep the default pool connected so readiness reflects the node even without traffic. */
  private scheduleWarm(): void {
    if (this.closing || this.timer) return;
    const delay = Math.max(0, this.retryAt - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.warm();
    }, delay);
    this.timer.unref();
  }

  warm(): void {
    if (this.closing) return;
    const list = this.poolFor(0, 2);
    if (!list.some((u) => u !== null)) list[0] = this.make(0, 2);
  }

  private poolFor(db: number, proto: number): (Upstream | null)[] {
    const key = db * 4 + proto;
    let list = this.pools.get(key);
    if (!list) {
      list = new Array<Upstream | null>(this.size).fill(null);
      this.pools.set(key, list);
    }
    return list;
  }

  /** The shared connection for this client and state, or null while backing off after failures. */
  shared(clientId: number, db: number, proto: number): Upstream | null {
    const list = this.poolFor(db, proto);
    const slot = clientId % this.size;
    const u = list[slot];
    if (u !== null) return u;
    if (this.closing || (this.failures > 0 && Date.now() < this.retryAt)) return null;
    return (list[slot] = this.make(db, proto));
  }

  /** The connection for a command of this client by the command's lane (`resp/commands.ts`). */
  forCommand(lane: number, clientId: number, db: number, proto: number): Upstream | null {
    if (lane === LANE_SCRIPT) return this.script(clientId, db, proto);
    return this.shared(clientId, lane === LANE_DB0 ? 0 : db, proto);
  }

  /**
   * A connection for a script command: the one this client's scripts are in flight on, else one with nothing in
   * flight, else a new one (up to MAX_SCRIPT_CONNS), else the least busy. Scripts need no reset between clients:
   * a SELECT inside a script does not outlive it (Redis 7).
   */
  script(clientId: number, db: number, proto: number): Upstream | null {
    if (this.closing || (this.failures > 0 && Date.now() < this.retryAt)) return null;
    const key = db * 4 + proto;
    let list = this.scripts.get(key);
    if (!list) this.scripts.set(key, (list = []));
    let pick: Upstream | null = null;
    for (const u of list) if (u.inflight > 0 && u.scriptOwner === clientId) pick = u;
    if (pick === null) pick = list.find((u) => u.inflight === 0) ?? null;
    if (pick === null && list.length < MAX_SCRIPT_CONNS) list.push((pick = this.make(db, proto)));
    if (pick === null) for (const u of list) if (pick === null || u.inflight < pick.inflight) pick = u;
    if (pick !== null) pick.scriptOwner = clientId;
    return pick;
  }

  /** A connection for one client alone (transactions, blocking commands, pub/sub). */
  dedicated(db: number, proto: number): Upstream | null {
    if (this.closing || (this.failures > 0 && Date.now() < this.retryAt)) return null;
    const idle = this.idle.get(db * 4 + proto);
    let u = idle?.pop();
    while (u && u.closed) u = idle?.pop();
    u ??= this.make(db, proto, true);
    return u;
  }

  /**
   * A dedicated connection comes back. It is reset first (RESET clears MULTI, WATCH, subscriptions, db,
   * protocol and name; then the handshake restores its pool state); one with commands still in flight, or
   * that carried a tunnel, is closed instead.
   */
  release(u: Upstream): void {
    if (u.closed) return;
    const key = u.db * 4 + u.proto;
    const idle = this.idle.get(key) ?? [];
    this.idle.set(key, idle);
    if (!u.idle || this.closing || idle.length >= MAX_IDLE_DEDICATED) {
      u.destroy('released');
      return;
    }
    u.internal(['RESET']);
    u.handshake();
    idle.push(u);
  }

  /**
   * No longer the master, out of the topology or removed by a reload: take no new connections; drain — each shared
   * connection closes once its replies in flight (e.g. -READONLY, retried elsewhere) are in — and close whatever is
   * left after `graceMs`.
   */
  retire(graceMs: number): void {
    if (this.closing) return;
    this.closing = true;
    expressEpoch(); // no client's GET/SET goes to this node in C any more (conn_express.c)
    if (this.timer) clearTimeout(this.timer);
    const deadline = Date.now() + graceMs;
    const sweep = () => {
      settleDirect(); // replies that went direct count as answered only once told
      for (const u of [...this.all]) if (!u.dedicated && u.inflight === 0 && u.expressOwed === 0) u.destroy('released');
      if (this.all.size === 0) return;
      if (Date.now() >= deadline) this.close();
      else setTimeout(sweep, Math.min(50, graceMs)).unref();
    };
    sweep();
  }

  get retired(): boolean {
    return this.closing;
  }

  close(): void {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    for (const u of [...this.all]) u.destroy('ambassador closing');
  }
}
