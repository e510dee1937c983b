/** @module The Topology contract (who is master, which replicas are healthy) and the pure parsers/health rules both implementations share. */
import { ProtocolError } from '../../core/errors.js';

export interface NodeState {
  host: string;
  port: number;
  /** The role this node ROLE-confirmed at its last answer (a dead node keeps the role it was known by). */
  role: 'master' | 'replica';
  /** Master: ROLE says master. Replica: ROLE says slave of the current master, link up, within the lag bounds, answering. */
  healthy: boolean;
  /** Why it is unhealthy (absent when healthy). */
  reason?: string;
  /** Replica: `master_link_status:up`. */
  linkUp?: boolean;
  /** Replica: seconds since the master last heard the replica's REPLCONF ACK (`slaveN:…lag=`); see docs for why not `master_last_io_seconds_ago`. */
  lagSeconds?: number;
  /**
   * Master: its `master_repl_offset`. Replica: the highest offset it is known to have applied
   * (max of its own `slave_repl_offset` and the master's `slaveN:…offset=`). Always a lower bound, so safe for read-your-writes.
   */
  ackOffset?: number;
  /** `Date.now()` when the request that produced `ackOffset` was SENT (the offset covers every write acknowledged before then). */
  sampledAt?: number;
}

export interface TopologySnapshot {
  /** The ROLE-confirmed master, or null while none is confirmed (writes must wait). */
  master: NodeState | null;
  /** Every known replica; only `healthy` ones are ROLE-confirmed replicas of `master` and may take reads. */
  replicas: NodeState[];
  /** Bumps on every change of master, replica set, or any node's health/role/link (not on offset/lag ticks). */
  epoch: number;
  /** Why `master` is null (for /readyz and logs): the candidate's state, or why there is no candidate. */
  reason?: string;
}

export type ChangeListener = (s: TopologySnapshot, why: string) => void;
/**
 * What a master switch may have lost, from replication offsets (see docs/redis-ambassador.md, "Lost writes").
 * `unreplicatedBytes` is a LOWER bound: bytes of the old master's replication stream that some node was seen to
 * hold (the old master itself at its last probe, or any replica) beyond the point where the new master was promoted.
 * Writes the old master acknowledged after the last sample that no replica received are invisible to it.
 */
export interface FailoverLoss {
  /** Highest offset of the old master's replication history seen on any node (0 when never seen). */
  oldOffset: number;
  /** Where the promoted node's copy of that history ends (`second_repl_offset - 1`), or null when it did not come from it. */
  promotedAt: number | null;
  /** max(0, oldOffset − promotedAt), or null when `promotedAt` is unknown. */
  unreplicatedBytes: number | null;
  /** ms between the newest sample of the old history (`oldOffset`) and the switch. */
  sampleAgeMs: number;
}

export type SwitchListener = (from: NodeState | null, to: NodeState, at: number, loss?: FailoverLoss) => void;

export interface Topology {
  current(): TopologySnapshot;
  on(event: 'change', fn: ChangeListener): () => void;
  on(event: 'switch-master', fn: SwitchListener): () => void;
  /**
   * Read-your-writes helper: true when `replica` has applied every write the master acknowledged before `since`
   * (a `Date.now()` taken when the write's reply arrived). False until a master offset sampled after `since` is known.
   */
  caughtUp(replica: { host: string; port: number }, since: number): boolean;
  /** Re-discover and re-probe now (resolves when done). */
  recheck(): Promise<void>;
  close(): Promise<void>;
}

export interface TopologyOptions {
  /** Replica lag bound in seconds (master's view of the last ACK). Default 5. */
  maxLagSeconds?: number;
  /** Replica lag bound in bytes of replication stream (master offset − replica offset). Default 0 = no bound. */
  maxLagOffset?: number;
  /** How often each node is probed with ROLE + INFO replication, ms. Default 250. */
  pollMs?: number;
  /** A node that has not answered for this long is unhealthy, ms. Default 700, counted from its last answer (so a hung node leaves within ~700 ms; healthy ones answer every ~250 ms). */
  unresponsiveMs?: number;
  /** Upstream ACL username / password for the data nodes. */
  username?: string;
  password?: string;
  /** Connect timeout for control connections, ms. Default 1000. */
  connectTimeoutMs?: number;
}

export const key = (n: { host: string; port: number }): string => `${n.host}:${n.port}`;

/** The part of `ROLE` the topology needs. */
export interface RoleReply {
  role: 'master' | 'slave' | 'sentinel';
  /** slave: where it replicates from. */
  masterHost?: string;
  masterPort?: number;
  /** slave: `connect`/`connecting`/`sync`/`connected`. */
  state?: string;
  /** master: its offset; slave: its processed offset. */
  offset: number;
}

export function parseRole(reply: unknown): RoleReply {
  if (!Array.isArray(reply) || reply.length === 0) throw new ProtocolError('ROLE: unexpected reply');
  const r = String(reply[0]);
  if (r === 'master') return { role: 'master', offset: Number(reply[1]) || 0 };
  if (r === 'slave') {
    return { role: 'slave', masterHost: String(reply[1]), masterPort: Number(reply[2]), state: String(reply[3]), offset: Number(reply[4]) || 0 };
  }
  if (r === 'sentinel') return { role: 'sentinel', offset: 0 };
  throw new ProtocolError(`ROLE: unknown role ${r}`);
}

export interface ReplicaSeen {
  host: string;
  port: number;
  state: string;
  offset: number;
  lag: number;
}

export interface ReplInfo {
  role: 'master' | 'slave';
  masterHost?: string;
  masterPort?: number;
  linkUp?: boolean;
  lastIoSeconds?: number;
  /** Replica: `slave_repl_offset`. */
  replicaOffset?: number;
  /** `master_repl_offset`. */
  masterOffset: number;
  /** Master: its `slaveN:` lines. */
  connected: ReplicaSeen[];
  /** `master_replid`: the replication history this node's offsets belong to (a replica shares its master's). */
  replid?: string;
  /** `master_replid2` / `second_repl_offset`: after a promotion, the history it continued and where its copy of it ends (+1). */
  replid2?: string;
  secondOffset?: number;
}

/** Parse `INFO replication` text. */
export function parseReplInfo(text: string): ReplInfo {
  const f = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) f.set(line.slice(0, i), line.slice(i + 1));
  }
  const connected: ReplicaSeen[] = [];
  for (const [k, v] of f) {
    if (!/^slave\d+$/.test(k)) continue;
    const kv = new Map(v.split(',').map((p) => p.split('=') as [string, string]));
    connected.push({ host: kv.get('ip') ?? '', port: Number(kv.get('port')), state: kv.get('state') ?? '', offset: Number(kv.get('offset')) || 0, lag: Number(kv.get('lag')) || 0 });
  }
  const num = (k: string) => (f.has(k) ? Number(f.get(k)) : undefined);
  const role = f.get('role') === 'slave' ? 'slave' : 'master';
  return {
    role,
    masterHost: f.get('master_host'),
    masterPort: num('master_port'),
    linkUp: role === 'slave' ? f.get('master_link_status') === 'up' : undefined,
    lastIoSeconds: num('master_last_io_seconds_ago'),
    replicaOffset: num('slave_repl_offset'),
    masterOffset: num('master_repl_offset') ?? 0,
    connected,
    replid: f.get('master_replid'),
    replid2: f.get('master_replid2'),
    secondOffset: num('second_repl_offset'),
  };
}

/** The node's offset in its own replication history (`replid`): the master's offset, or what a replica processed. */
export function historyOffset(info: ReplInfo): number {
  return info.role === 'slave' ? Math.max(info.replicaOffset ?? 0, info.masterOffset) : info.masterOffset;
}

/**
 * The loss estimate for a switch from a master whose last INFO was `old` to one whose INFO is `promoted`, from
 * `seen` (the highest offset observed per replication id, with when). Offsets continue across replication ids
 * (PSYNC2), so bytes compare directly. Pure, so the rule is unit-tested.
 *
 * - The promoted node continued the old master's history (`master_replid2` = the old `master_replid`): its copy
 *   ends at `second_repl_offset − 1`.
 * - It is a sibling that never followed the old master (Sentinel's double failover: both promoted from the same
 *   earlier master): the histories split where the earlier of the two promotions happened.
 * - Anything else (e.g. a manual `REPLICAOF NO ONE` on an unrelated node): unknown.
 */
export function failoverLoss(old: ReplInfo | null | undefined, promoted: ReplInfo | null | undefined, seen: Map<string, { offset: number; at: number }>, now: number): FailoverLoss {
  const h = old?.replid ? seen.get(old.replid) : undefined;
  const oldOffset = h?.offset ?? 0;
  // second_repl_offset is one past the last byte of the earlier history the node had (-1 when it has none).
  const end = (i: ReplInfo | null | undefined) => ((i?.secondOffset ?? -1) > 0 ? (i?.secondOffset as number) - 1 : null);
  let promotedAt: number | null = null;
  if (old?.replid && promoted?.replid2 === old.replid) promotedAt = end(promoted);
  else if (old?.replid2 && promoted?.replid2 === old.replid2 && end(promoted) !== null && end(old) !== null) promotedAt = Math.min(end(promoted) as number, end(old) as number);
  return { oldOffset, promotedAt, unreplicatedBytes: promotedAt === null || !h ? null : Math.max(0, oldOffset - promotedAt), sampleAgeMs: h ? now - h.at : -1 };
}

/** What one probe of a node found (null fields while it has never answered). */
export interface ProbeResult {
  role: RoleReply | null;
  info: ReplInfo | null;
  /** Reachable and answering within the unresponsive bound. */
  alive: boolean;
  /** Why not alive. */
  down?: string;
  sentAt: number;
}

/**
 * Decide one replica's state from its own probe and the master's probe (pure, so the rules are unit-tested).
 * `sameHost` compares addresses as Sentinel/ROLE report them (both are IPs here).
 */
export function replicaState(
  addr: { host: string; port: number },
  own: ProbeResult | undefined,
  master: { host: string; port: number; probe: ProbeResult | undefined } | null,
  o: { maxLagSeconds: number; maxLagOffset: number },
): NodeState {
  const st: NodeState = { host: addr.host, port: addr.port, role: 'replica', healthy: false };
  const fail = (reason: string): NodeState => ((st.reason = reason), st);
  if (!own || !own.role) return fail(own?.down ?? 'not probed yet');
  if (own.role.role === 'master') st.role = 'master';
  const fromMaster = master?.probe?.info?.connected.find((c) => c.host === addr.host && c.port === addr.port);
  const ownOffset = own.info?.replicaOffset ?? own.role.offset;
  st.ackOffset = Math.max(ownOffset, fromMaster?.offset ?? 0);
  st.sampledAt = own.sentAt;
  st.linkUp = own.info?.linkUp;
  if (fromMaster) st.lagSeconds = fromMaster.lag;
  if (!own.alive) return fail(own.down ?? 'not answering');
  if (own.role.role !== 'slave') return fail(`ROLE says ${own.role.role}`);
  if (!master) return fail('no confirmed master');
  if (own.role.masterHost !== master.host || own.role.masterPort !== master.port) {
    return fail(`replicates from ${own.role.masterHost}:${own.role.masterPort}, not the master ${key(master)}`);
  }
  if (own.info && own.info.linkUp === false) return fail('master_link_status:down');
  if (st.lagSeconds !== undefined && st.lagSeconds > o.maxLagSeconds) return fail(`lag ${st.lagSeconds}s > ${o.maxLagSeconds}s`);
  const mOff = master.probe?.info?.masterOffset;
  if (o.maxLagOffset > 0 && mOff !== undefined && mOff - st.ackOffset > o.maxLagOffset) return fail(`offset lag ${mOff - st.ackOffset} > ${o.maxLagOffset}`);
  st.healthy = true;
  return st;
}

/** The master candidate's state: healthy only when alive and ROLE says master. */
export function masterState(addr: { host: string; port: number }, own: ProbeResult | undefined): NodeState {
  const st: NodeState = { host: addr.host, port: addr.port, role: 'master', healthy: false };
  if (!own || !own.role) return { ...st, reason: own?.down ?? 'not probed yet' };
  st.ackOffset = own.info?.masterOffset ?? own.role.offset;
  st.sampledAt = own.sentAt;
  if (!own.alive) return { ...st, reason: own.down ?? 'not answering' };
  if (own.role.role !== 'master') return { ...st, role: 'replica', reason: `ROLE says ${own.role.role}` };
  st.healthy = true;
  return st;
}

/** The fields whose change is a topology change (offsets and lag ticks are not). */
export function structuralKey(s: { master: NodeState | null; replicas: NodeState[]; reason?: string }): string {
  const n = (x: NodeState) => `${key(x)}/${x.role}/${x.healthy ? 'ok' : `down(${(x.reason ?? '').replace(/\d+/g, '#')})`}/${x.linkUp ?? ''}`;
  return `${s.master ? n(s.master) : `-(${(s.reason ?? '').replace(/\d+/g, '#')})`}|${s.replicas.map(n).sort().join(',')}`;
}
