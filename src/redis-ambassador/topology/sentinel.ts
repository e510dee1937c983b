/** @module SentinelTopology: discovery from every reachable Sentinel, kept current by their pub/sub events and a periodic re-check. */
import type { Redis } from 'ioredis';
import { ioredis } from './probe.js';
import type { HostPort } from '../../core/parse.js';
import { ConfigError } from '../../core/errors.js';
import { ProbedTopology } from './base.js';
import { key, type TopologyOptions } from './topology.js';

export interface SentinelOptions extends TopologyOptions {
  /** How often every Sentinel is asked again (besides events), ms. Default 1000. */
  recheckMs?: number;
  /** Password for the Sentinels themselves (`requirepass` in sentinel.conf). */
  sentinelPassword?: string;
  /** Called with every Sentinel event about our master (name, payload, Date.now() on receipt), for logs and metrics. */
  onSentinelEvent?: (channel: string, payload: string, at: number, sentinel: string) => void;
}

interface Addr {
  host: string;
  port: number;
}

/** Sentinel events that may change the topology; anything else (e.g. +vote-for-leader) is ignored. */
const WATCHED = ['+switch-master', '+sdown', '-sdown', '+odown', '-odown', '+slave', '+convert-to-slave', '+reboot', '+failover-end', '+role-change', '-role-change', '+slave-reconf-done'];

function fields(arr: unknown): Map<string, string> {
  const m = new Map<string, string>();
  if (Array.isArray(arr)) for (let i = 0; i + 1 < arr.length; i += 2) m.set(String(arr[i]), String(arr[i + 1]));
  return m;
}

interface SentinelConn {
  addr: string;
  cmd: Redis;
  sub: Redis;
}

export class SentinelTopology extends ProbedTopology {
  private readonly conns: SentinelConn[];
  /** Sentinels we connect to at most (configured + discovered through `SENTINEL SENTINELS`). */
  private static readonly MAX_SENTINELS = 16;
  private readonly timer: NodeJS.Timeout;
  /** Highest Sentinel config-epoch adopted; answers from a Sentinel that has not yet learned of a failover carry a lower one. */
  private configEpoch = -1;
  private rechecking: Promise<void> | null = null;
  private again = false;

  constructor(
    sentinels: HostPort[],
    private readonly masterName: string,
    private readonly sopts: SentinelOptions = {},
  ) {
    super(sopts);
    if (sentinels.length === 0) throw new ConfigError('sentinel', 'at least one --sentinel HOST:PORT is required');
    if (!masterName) throw new ConfigError('master-name', 'a --master-name is required with --sentinel');
    this.conns = sentinels.map((s) => this.connect(s));
    this.timer = setInterval(() => void this.recheck(), sopts.recheckMs ?? 1000);
    this.timer.unref();
  }

  private connect(s: HostPort): SentinelConn {
    const common = {
      host: s.host,
      port: s.port,
      password: this.sopts.sentinelPassword,
      connectTimeout: this.sopts.connectTimeoutMs ?? 1000,
      // A Sentinel that went away is retried quietly; the others carry on meanwhile.
      retryStrategy: () => (this.closed ? null : 500),
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
    };
    const cmd = new (ioredis().Redis)({ ...common, connectionName: 'podkit-ambassador-sentinel' });
    const sub = new (ioredis().Redis)({ ...common, enableOfflineQueue: true, connectionName: 'podkit-ambassador-sentinel-sub' });
    cmd.on('error', () => {});
    sub.on('error', () => {});
    const addr = `${s.host}:${s.port}`;
    sub.on('message', (channel: string, payload: string) => this.event(channel, payload, addr));
    // Subscribing from every Sentinel: one that is partitioned or dead must not hide a failover.
    sub.subscribe(...WATCHED).catch(() => {});
    // A Sentinel (re)connecting may know of a failover we missed.
    cmd.on('ready', () => void this.recheck());
    return { addr, cmd, sub };
  }

  private event(channel: string, payload: string, sentinel: string): void {
    if (this.closed) return;
    const at = Date.now();
    const parts = payload.split(' ');
    if (channel === '+switch-master') {
      // "<name> <old-ip> <old-port> <new-ip> <new-port>"
      if (parts[0] !== this.masterName) return;
      this.sopts.onSentinelEvent?.(channel, payload, at, sentinel);
      const to = { host: parts[3], port: Number(parts[4]) };
      if (this.masterAddr && key(this.masterAddr) === key(to)) return;
      void this.onSwitch(to, { host: parts[1], port: Number(parts[2]) }, sentinel);
      return;
    }
    // "<type> <name> <ip> <port> @ <master-name> <master-ip> <master-port>" or "master <name> <ip> <port>".
    const about = parts[0] === 'master' ? parts[1] : parts[5];
    if (about !== this.masterName) return;
    this.sopts.onSentinelEvent?.(channel, payload, at, sentinel);
    if (parts[0] === 'slave' && parts[2]) {
      const a = { host: parts[2], port: Number(parts[3]) };
      if (!this.replicaAddrs.has(key(a)) && !(this.masterAddr && key(this.masterAddr) === key(a))) this.replicaAddrs.set(key(a), a);
      void this.probeFor(a).probe();
    }
    void this.recheck();
  }

  /**
   * A `+switch-master` carries no epoch, and under load Sentinels can disagree for a while (two of them promoting
   * different replicas, each announcing its own switch). One round trip to the announcing Sentinel for its
   * config-epoch lets the higher epoch win, as it will in Sentinel itself; a stale announcement only triggers a re-check.
   */
  private async onSwitch(to: Addr, from: Addr, sentinel: string): Promise<void> {
    const conn = this.conns.find((c) => c.addr === sentinel);
    let epoch: number | null = null;
    if (conn && conn.cmd.status === 'ready') {
      try {
        const m = fields(await conn.cmd.call('SENTINEL', 'MASTER', this.masterName));
        const addr = { host: m.get('ip') ?? '', port: Number(m.get('port')) };
        // The Sentinel may have moved on again since it announced: its current answer is the one to use.
        if (addr.host) to = addr;
        epoch = Number(m.get('config-epoch'));
      } catch {
        // fall through: adopt the announcement without an epoch, the re-check corrects it
      }
    }
    if (this.closed) return;
    if (epoch !== null && epoch < this.configEpoch) return void this.recheck();
    if (epoch !== null) this.configEpoch = epoch;
    if (this.masterAddr && key(this.masterAddr) === key(to)) return;
    this.switchTo(to, from);
  }

  /** Adopt `to` at once: ROLE-confirm it (retrying briefly while it finishes promotion); `update` emits when ROLE says master. */
  private switchTo(to: Addr, from: Addr): void {
    const old = this.masterAddr;
    this.masterAddr = to;
    this.replicaAddrs.delete(key(to));
    // The masters we leave become replica candidates (Sentinel lists them so; ROLE decides whether they serve).
    for (const x of [old, from]) {
      if (x && key(x) !== key(to)) {
        this.replicaAddrs.set(key(x), x);
        this.probeFor(x);
      }
    }
    const p = this.probeFor(to);
    this.update('+switch-master');
    const confirm = async (tries: number): Promise<void> => {
      const r = await p.probe();
      if (this.closed || !this.masterAddr || key(this.masterAddr) !== key(to)) return;
      if (r.alive && r.role?.role === 'master') return;
      if (tries > 0) await new Promise((res) => setTimeout(res, 20)).then(() => confirm(tries - 1));
    };
    void confirm(100).then(() => this.recheck());
  }

  /** The Sentinels in use (configured and discovered) and whether each is connected now. */
  sentinels(): { address: string; connected: boolean }[] {
    return this.conns.map((c) => ({ address: c.addr, connected: c.cmd.status === 'ready' }));
  }

  /** Ask every reachable Sentinel; adopt the master of the highest config-epoch, the union of their replicas; probe all. */
  recheck(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.rechecking) {
      this.again = true;
      return this.rechecking;
    }
    this.rechecking = (async () => {
      do {
        this.again = false;
        await this.discover();
      } while (this.again && !this.closed);
    })().finally(() => (this.rechecking = null));
    return this.rechecking;
  }

  private async discover(): Promise<void> {
    const answers = await Promise.all(
      this.conns.map(async (c) => {
        if (c.cmd.status !== 'ready') return { error: `${c.addr}: not connected` };
        try {
          const [m, reps, peers] = await Promise.all([
            c.cmd.call('SENTINEL', 'MASTER', this.masterName),
            c.cmd.call('SENTINEL', 'REPLICAS', this.masterName),
            c.cmd.call('SENTINEL', 'SENTINELS', this.masterName),
          ]);
          return { master: fields(m), replicas: (reps as unknown[]).map(fields), peers: (peers as unknown[]).map(fields) };
        } catch (e) {
          return { error: `${c.addr}: ${(e as Error).message}` };
        }
      }),
    );
    if (this.closed) return;
    let best: { addr: Addr; epoch: number } | null = null;
    const replicas = new Map<string, Addr>();
    for (const a of answers) {
      if ('error' in a) continue;
      const epoch = Number(a.master.get('config-epoch') ?? 0);
      const addr = { host: a.master.get('ip') ?? '', port: Number(a.master.get('port')) };
      if (addr.host && (!best || epoch > best.epoch)) best = { addr, epoch };
      // Peers we were not told about: listening to them too means losing the configured ones later loses nothing.
      for (const p of a.peers) {
        const addr = `${p.get('ip') ?? ''}:${p.get('port') ?? ''}`;
        if (!p.get('ip') || this.conns.some((c) => c.addr === addr) || this.conns.length >= SentinelTopology.MAX_SENTINELS) continue;
        this.conns.push(this.connect({ host: p.get('ip') as string, port: Number(p.get('port')) }));
      }
      for (const r of a.replicas) {
        const ra = { host: r.get('ip') ?? '', port: Number(r.get('port')) };
        if (ra.host) replicas.set(key(ra), ra);
      }
    }
    if (!best) {
      // No Sentinel answered: keep what we have, the probes still watch the nodes.
      this.noCandidate = `no Sentinel answered for master "${this.masterName}" (${answers.map((a) => ('error' in a ? a.error : '')).join('; ')})`;
      this.update('sentinel re-check failed');
      return;
    }
    if (best.epoch >= this.configEpoch) {
      this.configEpoch = best.epoch;
      if (!this.masterAddr || key(this.masterAddr) !== key(best.addr)) this.masterAddr = best.addr;
    }
    const mk = this.masterAddr ? key(this.masterAddr) : '';
    replicas.delete(mk);
    // Keep replicas we learned from events that a Sentinel has not listed yet.
    for (const [k, a] of this.replicaAddrs) if (k !== mk && !replicas.has(k)) replicas.set(k, a);
    this.replicaAddrs = replicas;
    if (this.masterAddr) this.probeFor(this.masterAddr);
    for (const a of replicas.values()) this.probeFor(a);
    this.prune();
    await this.probeAll();
    this.update('sentinel re-check');
  }

  override async close(): Promise<void> {
    clearInterval(this.timer);
    await super.close();
    for (const c of this.conns) {
      c.cmd.disconnect();
      c.sub.disconnect();
    }
  }
}
