/** @module Drives the data path from a Topology: master switches, replicas in rotation, writes held while there is no master. */
import { performance } from 'node:perf_hooks';
import type { HostPort } from '../core/parse.js';
import type { Logger } from '../core/log.js';
import { encodeError } from '../core/resp/encode.js';
import { freePending, type Pending } from './pending.js';
import type { NodeConns } from './pools.js';
import type { ProxyContext } from './context.js';
import type { ClientSession } from './client.js';
import { key, type Topology, type TopologySnapshot } from './topology/index.js';

interface Held {
  p: Pending;
  s: ClientSession;
  /** The node that refused it with -READONLY: not sent there again. */
  notTo: NodeConns | null;
}

export interface DriverOptions {
  /** How long a write waits for a master before -ERR, ms. */
  holdMs: number;
  /** How long a retired master's busy connections may still deliver replies, ms. */
  graceMs: number;
  log: Logger;
  make(hp: HostPort, role: 'master' | 'replica'): NodeConns;
  /** The master moved (or was first confirmed): re-point the control connection, re-fetch COMMAND. */
  onMaster(hp: HostPort): void;
}

export class TopologyDriver {
  private masterKey: string | null = null;
  private readonly replicas = new Map<string, NodeConns>();
  private held: Held[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly offs: (() => void)[];
  private lastRecheck = 0;

  constructor(
    private readonly topo: Topology,
    private readonly ctx: ProxyContext,
    private readonly o: DriverOptions,
  ) {
    this.offs = [
      topo.on('switch-master', (from, to, _at, loss) => {
        this.apply(topo.current(), to);
        if (from && loss) {
          // The operator's record of what asynchronous replication may have cost (a lower bound; see docs).
          const lost = loss.unreplicatedBytes;
          this.o.log[lost ? 'warn' : 'info']('failover: replication stream not on the new master', {
            from: key(from),
            to: key(to),
            unreplicated_bytes: lost ?? 'unknown',
            old_history_offset: loss.oldOffset,
            promoted_at_offset: loss.promotedAt ?? 'unknown',
            sample_age_ms: loss.sampleAgeMs,
          });
        }
      }),
      topo.on('change', (s) => this.apply(s, s.master)),
    ];
    this.apply(topo.current(), topo.current().master);
  }

  /** Bring ctx in line with the snapshot: the master (switch when it moved) and the healthy replicas. */
  private apply(s: TopologySnapshot, master: { host: string; port: number } | null): void {
    const ctx = this.ctx;
    if (master && key(master) !== this.masterKey) {
      const old = ctx.master;
      const hp = { host: master.host, port: master.port };
      ctx.master = this.o.make(hp, 'master');
      ctx.master.warm();
      this.o.log.info('master switched', { from: this.masterKey, to: key(master) });
      this.masterKey = key(master);
      old.retire(this.o.graceMs);
      this.o.onMaster(hp);
    }
    ctx.noMaster = s.master === null || key(s.master) !== this.masterKey;
    const keep = new Map<string, NodeConns>();
    for (const r of s.replicas) {
      if (!r.healthy || key(r) === this.masterKey) continue;
      let n = this.replicas.get(key(r));
      if (!n || n.retired) {
        n = this.o.make({ host: r.host, port: r.port }, 'replica');
        n.warm();
      }
      keep.set(key(r), n);
    }
    for (const [k, n] of this.replicas) {
      if (keep.has(k)) continue;
      n.inRotation = false;
      n.retire(this.o.graceMs);
    }
    this.replicas.clear();
    for (const [k, n] of keep) this.replicas.set(k, n);
    ctx.replicas = [...keep.values()];
    this.drain();
  }

  /** A master-bound command waits here (in arrival order) for a master. */
  hold(p: Pending, s: ClientSession, notTo: NodeConns | null = null): void {
    this.held.push({ p, s, notTo });
    if (notTo && Date.now() - this.lastRecheck > 100) {
      // A -READONLY means the master moved: ask the topology now rather than at the next poll.
      this.lastRecheck = Date.now();
      this.topo.recheck().catch(() => {});
    }
    this.drain();
  }

  private drain(): void {
    const ctx = this.ctx;
    // Counted from when the client's command arrived, so re-held retries cannot extend it.
    const now = performance.now();
    const rest: Held[] = [];
    let blocked = ctx.noMaster;
    for (const h of this.held) {
      const { p, s } = h;
      if (p.client === null) {
        s.held--;
        freePending(p);
        continue;
      }
      const u = blocked || ctx.master === h.notTo ? null : ctx.master.shared(s.id, p.db, p.proto);
      if (u && p.cmd) {
        s.held--;
        u.sendBuf(p, p.cmd);
        continue;
      }
      blocked = true;
      if (now - p.t0 >= this.o.holdMs) {
        s.held--;
        ctx.error('no_master');
        p.reply = encodeError(`ERR no master: ${this.topo.current().reason ?? 'failover in progress'} (held ${this.o.holdMs} ms)`);
        s.replyReady(p);
        continue;
      }
      rest.push(h);
    }
    this.held = rest;
    if (rest.length > 0 && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.drain();
      }, 20);
    }
  }

  /** Replicas now in rotation (for logs/tests). */
  inRotation(): string[] {
    return [...this.replicas.keys()];
  }

  close(): void {
    for (const off of this.offs) off();
    if (this.timer) clearTimeout(this.timer);
    for (const n of this.replicas.values()) n.close();
    for (const h of this.held) {
      h.s.held--;
      if (h.p.client === null) freePending(h.p);
    }
    this.held = [];
  }
}
