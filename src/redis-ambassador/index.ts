/** @module `podkit redis-ambassador`: start(options) → a RESP proxy sending writes to the master and reads to replicas. */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { HostPort } from '../core/parse.js';
import type { ComponentHandle } from '../core/lifecycle.js';
import { formatHostPort } from '../core/parse.js';
import { startHttpServer, type HttpHandle } from '../core/http.js';
import { silentLogger, type Logger } from '../core/log.js';
import { bindError, ConfigError } from '../core/errors.js';
import { DEFAULT_MAX_BULK, MAX_SAFE_BULK } from '../core/resp/scanner.js';
import { UNKNOWN, type CommandInfo } from './resp/commands.js';
import { NodeConns } from './pools.js';
import { EXPRESS_NAMES, clientIoFromEnv, connOpener, type ClientIo } from './io/conn.js';
import { ClientSession, type ProxyContext, type ReadPolicy } from './client.js';
import { newTraffic, type NodeAddr, type UpstreamEvents, type UpstreamOptions } from './upstream.js';
import { TopologyDriver } from './failover.js';
import { TopologyMetrics, key, type Topology } from './topology/index.js';
import { LiveConfig, policyConflict, type LiveOptions, type ReloadResult } from './reload.js';
import { AmbassadorMetrics, connectionChannel } from './metrics.js';
import { ControlPlane, staticTable } from './control.js';
import { sessionEvents, upstreamEvents } from './events.js';
import { ClientRegistry } from './client-ids.js';

export type { ReadPolicy } from './client.js';
export type { LiveOptions, ReloadResult } from './reload.js';
export { ProtocolError, UpstreamError, ConfigError, AuthError } from '../core/errors.js';
export { routeChannel, connectionChannel, errorChannel, latencyChannel } from './metrics.js';

export interface Options {
  /** Where clients connect. Default 127.0.0.1:6379 (loopback). */
  listen?: HostPort;
  /** The write master. Required unless `topology` is given. */
  master?: HostPort;
  /**
   * Discovery mode (Sentinel): the master and the replicas in rotation follow this topology (`master`/`replicas`
   * are then ignored); -READONLY writes are retried on the new master, writes wait up to `holdMs` while there is
   * none, reads lost with a replica are retried elsewhere. `start` owns it: `close()` closes it.
   */
  topology?: Topology;
  /**
   * `session`: after a client's write, its reads go to the master until the replica has applied it (replication
   * offsets via `topology.caughtUp`; in static mode a probed StaticTopology over the lists). Default `eventual`.
   */
  consistency?: 'eventual' | 'session';
  /** Static mode with session consistency: replica lag bounds of the offset probes (seconds, bytes). Default 5, 0 (none). */
  maxLagSeconds?: number;
  maxLagOffset?: number;
  /**
   * Where `handle.reload()` (SIGHUP) reads the live settings from (the CLI re-reads `--config` and env); it may throw
   * to keep the running settings. Default: none (reload does nothing).
   */
  reloadSource?: () => Promise<LiveOptions> | LiveOptions;
  /** Topology mode: how long a write waits for a master during a failover before -ERR, ms. Default 5000. */
  holdMs?: number;
  /** Read replicas. Default: none (everything goes to the master). */
  replicas?: HostPort[];
  /** `replica`: reads only to replicas (an error when none is reachable); `prefer-replica`: replicas, else the master; `master`: everything to the master. Default `prefer-replica`. */
  readPolicy?: ReadPolicy;
  /** Address for /healthz, /readyz and /metrics; null for none. Default 127.0.0.1:9121. */
  httpBind?: HostPort | null;
  /** Upstream ACL username. Default: none (plain `AUTH password`). */
  username?: string;
  /** Upstream password. Default: none. */
  password?: string;
  /** Password clients must AUTH with. Default: none (clients need not AUTH; any AUTH is accepted). */
  clientPassword?: string;
  /** Username accepted with the client password. Default `default`. */
  clientUsername?: string;
  /** Shared pipelined connections per node and (db, protocol). Default 1. */
  poolSize?: number;
  /** Largest bulk string accepted from a client, bytes (server replies are not limited). Default 512 MiB (Redis's proto-max-bulk-len). */
  maxBulk?: number;
  /** Replies a client may owe before its reading pauses (backpressure). Default 1024. */
  maxPending?: number;
  /** Clients connected at once (Redis's maxclients), lowered to the open-file limit less 32 as Redis lowers it. Default 10000. */
  maxClients?: number;
  /**
   * Bytes of replies that may wait for one client that does not read them before it is closed (Redis's
   * client-output-buffer-limit hard limit); 0: none. Default 1 GiB, twice the default max-bulk.
   */
  clientOutputLimit?: number;
  /** Upstream connect timeout, ms. Default 2000. */
  connectTimeoutMs?: number;
  /** Check the order of replies on shared upstream connections with a marker per batch of several clients' commands (upstream.ts, guard.ts). Default true. */
  replyGuard?: boolean;
  /** Client connection I/O: the conn_io addon (`native`), net.Socket, or the addon when it loads (`auto`, the default; env PODKIT_AMBASSADOR_CLIENT_IO). */
  clientIo?: ClientIo;
  log?: Logger;
}

export interface Handle extends ComponentHandle {
  /** The address clients connect to (the real port when `listen` had port 0). */
  readonly address: HostPort;
  /** The HTTP address, when `httpBind` was not null. */
  readonly httpAddress: HostPort | null;
  readonly metrics: AmbassadorMetrics;
  /** Ready: the master is connected. */
  ready(): { ready: boolean; reason?: string };
  /** The command table now in use: 'static' until the master has answered COMMAND, then 'live'. */
  tableSource(): 'static' | 'live';
  /** Re-read the live settings from `reloadSource` and apply them; a failure keeps the running ones (logged, counted). */
  reload(): Promise<ReloadResult>;
  /** Apply live settings in-process (fields left out keep their value). */
  reconfigure(next: LiveOptions): Promise<ReloadResult>;
  /** The live settings now in use. */
  live(): Required<LiveOptions>;
  close(): Promise<void>;
}

/** Readiness's reason: a node that answers but refuses us (credentials, max clients) says so. */
function notUsable(what: string, n: NodeConns): string {
  const e = n.lastError;
  return e?.startsWith('refused: ') ? `${what} refuses the ambassador: ${e.slice(9)}` : `${what} unreachable${e ? ` (${e})` : ''}`;
}

function addr(hp: HostPort, role: 'master' | 'replica'): NodeAddr {
  return { host: hp.host, port: hp.port, role, label: role === 'master' ? 'master' : `replica:${formatHostPort(hp)}` };
}

/** --client-output-limit's default: twice the default --max-bulk, so a reading client is never closed for one reply. */
const DEFAULT_OUTPUT_LIMIT = 2 * DEFAULT_MAX_BULK;

/** The settings start() refuses before it opens anything. */
function checkOptions(options: Options): void {
  if (!options.master && !options.topology) throw new ConfigError('master', 'a master HOST:PORT (or a topology) is required');
  const conflict = policyConflict(options.readPolicy ?? 'prefer-replica', options.consistency ?? 'eventual');
  if (conflict) throw new ConfigError('--consistency', conflict);
  const poolSize = options.poolSize ?? 1;
  if (!(poolSize >= 1 && poolSize <= 64)) throw new ConfigError('pool-size', 'must be between 1 and 64');
  if (options.maxBulk !== undefined && !(options.maxBulk >= 1 && options.maxBulk <= MAX_SAFE_BULK)) throw new ConfigError('max-bulk', `must be between 1 and ${MAX_SAFE_BULK} bytes (what one buffer can hold)`);
}

/** Ready when the master (static, or the one the topology confirmed) is connected; otherwise why not. */
function readiness(options: Options, ctx: ProxyContext): () => { ready: boolean; reason?: string } {
  const topo = options.topology;
  return () => {
    if (topo) {
      const snap = topo.current();
      if (!snap.master || ctx.noMaster) return { ready: false, reason: `no master: ${snap.reason ?? 'not confirmed yet'}` };
      return ctx.master.connected ? { ready: true } : { ready: false, reason: notUsable(`master ${key(snap.master)}`, ctx.master) };
    }
    return ctx.master.connected ? { ready: true } : { ready: false, reason: notUsable(`master ${formatHostPort(options.master as HostPort)}`, ctx.master) };
  };
}

/** handle.reload(): re-read `reloadSource` and apply it; a source that throws, or settings that do not apply, keep the running ones. */
function reloader(source: Options['reloadSource'], live: LiveConfig, log: Logger): () => Promise<ReloadResult> {
  return async () => {
    if (!source) {
      log.info('reload: no config source (nothing to re-read)');
      return { ok: true, changed: [] };
    }
    let next: LiveOptions;
    try {
      next = await source();
    } catch (e) {
      log.error('reload failed; keeping the running config', { error: (e as Error).message });
      return live.failed((e as Error).message);
    }
    const r = await live.apply(next);
    if (!r.ok) log.error('reload failed; keeping the running config', { error: r.error });
    return r;
  };
}

const MAX_CLIENTS_REPLY = '-ERR max number of clients reached\r\n';
/** Descriptors Redis keeps for itself besides its clients (CONFIG_MIN_RESERVED_FDS); the ambassador's few upstreams, logs and HTTP fit too. */
const RESERVED_FDS = 32;

/** `wanted`, or fewer when the open-file limit cannot hold that many clients (said once, as Redis says it). */
function clientLimit(wanted: number, log: Logger): number {
  let limit = Infinity;
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m && m[1] !== 'unlimited') limit = Number(m[1]);
  } catch {
    return wanted; // not Linux: no limit to read
  }
  const fits = Math.max(1, limit - RESERVED_FDS);
  if (fits >= wanted) return wanted;
  log.warn('the open-file limit holds fewer clients than --max-clients; lowered', { maxClients: wanted, openFiles: limit, lowered: fits });
  return fits;
}

/** The client listener: each accepted socket becomes a session of `ctx` (refused once `closing()`). */
async function listenClients(listen: HostPort, opener: ReturnType<typeof connOpener>, ctx: ProxyContext, sessions: ClientRegistry<ClientSession>, origin: object, closing: () => boolean): Promise<Server> {
  const server: Server = createServer({ noDelay: true, pauseOnConnect: true, allowHalfOpen: true }, (raw) => {
    if (closing()) {
      raw.destroy();
      return;
    }
    if (sessions.size >= ctx.maxClients) {
      // As Redis past maxclients: the error written straight to the socket, then closed; nothing of it is read.
      ctx.error('max_clients');
      raw.end(MAX_CLIENTS_REPLY);
      return;
    }
    const s = new ClientSession((ev) => opener.open(server, raw, ev), sessions.nextId(), ctx);
    sessions.add(s);
    connectionChannel.publish({ source: origin, kind: 'client', event: 'open' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(bindError(formatHostPort(listen), e, '--listen')));
    server.listen(listen.port, listen.host, () => resolve());
  });
  return server;
}

/** /healthz, /readyz, /metrics and the landing page, or null when `httpBind` is null. */
function serveHttp(options: Options, address: HostPort, ready: () => { ready: boolean; reason?: string }, metrics: AmbassadorMetrics, log: Logger): Promise<HttpHandle | null> {
  const httpBind = options.httpBind === undefined ? { host: '127.0.0.1', port: 9121 } : options.httpBind;
  if (!httpBind) return Promise.resolve(null);
  const topo = options.topology;
  return startHttpServer({
    bind: httpBind,
    ready,
    metrics: () => metrics.collect(),
    log,
    landing: {
      name: 'podkit redis-ambassador',
      description: `A Redis ambassador: clients connect to ${formatHostPort(address)} as to one Redis; writes go to the master, reads to the replicas.`,
      config: () => ({ ...options, listen: formatHostPort(address), master: topo ? topo.current().master : options.master, log: undefined, topology: undefined }),
    },
  });
}

/**
 * The upstream pools: a factory for a node's pipelined connections, the master's and the static replicas'. Topology
 * mode starts with a closed placeholder master (writes are held) until the topology confirms one.
 */
function upstreamPools(options: Options, opener: UpstreamOptions['opener'], events: UpstreamEvents) {
  const poolSize = options.poolSize ?? 1;
  // Replies are not limited by the client limit (a value written directly to Redis may be longer), only by what a
  // Buffer can hold: a longer one fails its command and drops that connection instead of the process.
  const traffic = newTraffic();
  const uopts: UpstreamOptions = { username: options.username, password: options.password, maxBulk: MAX_SAFE_BULK, connectTimeoutMs: options.connectTimeoutMs ?? 2000, opener, traffic, replyGuard: options.replyGuard ?? true };
  const mk = (hp: HostPort, role: 'master' | 'replica') => new NodeConns(addr(hp, role), poolSize, uopts, events);
  const master = mk(options.master ?? { host: '127.0.0.1', port: 0 }, 'master');
  if (options.topology) master.close();
  const replicas = options.topology ? [] : (options.replicas ?? []).map((r) => mk(r, 'replica'));
  return { uopts, traffic, mk, master, replicas };
}

/** The self-metrics of one ambassador: its channel events, nodes, live settings and (discovery mode) topology. */
function wireMetrics(origin: object, ctx: ProxyContext, live: LiveConfig, topo: Topology | undefined) {
  const metrics = new AmbassadorMetrics(
    origin,
    ctx.traffic,
    () => ctx.table,
    () => [ctx.master, ...ctx.replicas].map((n) => ({ node: n.node.label, up: n.connected })),
  );
  const reroutes = metrics.registry.counter({ name: 'podkit_ambassador_reroutes_total', help: 'Commands sent again or held: read_retried (replica lost), write_retried (-READONLY or never sent), write_held (no master)', labelNames: ['kind'] });
  const topoMetrics = topo ? new TopologyMetrics(topo) : null;
  if (topoMetrics) metrics.registry.addCollector(() => topoMetrics.collect());
  metrics.registry.addCollector(() => live.collect());
  return { metrics, reroutes, topoMetrics };
}

/**
 * Start reaching the upstreams: in discovery mode a driver that follows the topology (and points the control plane at
 * each confirmed master); in static mode the control plane and warm pools to the given master and replicas.
 */
function connectUpstreams(options: Options, ctx: ProxyContext, control: ControlPlane, make: (hp: HostPort, role: 'master' | 'replica') => NodeConns, log: Logger): TopologyDriver | null {
  if (options.topology) return new TopologyDriver(options.topology, ctx, { holdMs: options.holdMs ?? 5000, graceMs: 2000, log, make, onMaster: (hp) => control.connect(hp) });
  control.connect(options.master as HostPort);
  ctx.master.warm();
  for (const r of ctx.replicas) r.warm();
  return null;
}

/** Wait for `p`, at most `ms` (discovery may take a few probe rounds; a static master answers at once or not at all). */
async function settle(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((r) => (timer = setTimeout(r, ms)));
  await Promise.race([p, timeout]);
  clearTimeout(timer);
}

interface Front {
  options: Options;
  listen: HostPort;
  opener: ReturnType<typeof connOpener>;
  ctx: ProxyContext;
  sessions: ClientRegistry<ClientSession>;
  origin: object;
  live: LiveConfig;
  ready: () => { ready: boolean; reason?: string };
  metrics: AmbassadorMetrics;
  log: Logger;
  closing: () => boolean;
}

/** The live settings' probes, then the client listener, then HTTP; when one fails, `abort` closes what opened. */
async function openServers(f: Front, abort: (clients: Server | null) => Promise<void>): Promise<{ clients: Server; address: HostPort; http: HttpHandle | null }> {
  let server: Server | null = null;
  try {
    await f.live.init(f.ctx.consistency);
    server = await listenClients(f.listen, f.opener, f.ctx, f.sessions, f.origin, f.closing);
    const a = server.address() as AddressInfo;
    const address = { host: a.address, port: a.port };
    const http = await serveHttp(f.options, address, f.ready, f.metrics, f.log);
    return { clients: server, address, http };
  } catch (e) {
    await abort(server);
    throw e;
  }
}

export async function start(options: Options): Promise<Handle> {
  checkOptions(options);
  const topo = options.topology;
  const log = options.log ?? silentLogger;
  const listen = options.listen ?? { host: '127.0.0.1', port: 6379 };
  const opener = connOpener(options.clientIo ?? clientIoFromEnv(), (msg, fields) => log.warn(msg, fields));
  let closing = false;
  const isClosing = () => closing;

  // Names this ambassador's events on the process-wide channels (see metrics.ts).
  const origin = {};
  // An express command's info: the table in use when it is counted (the master's replaces the built-in one).
  const expressInfo = (cmd: number) => ctx.table.get(EXPRESS_NAMES[cmd] ?? '') ?? UNKNOWN;
  const { uopts, traffic, mk, master, replicas } = upstreamPools(options, opener, upstreamEvents(origin, log, isClosing, expressInfo));

  const table = staticTable();
  const sessions = new ClientRegistry<ClientSession>();
  const ctx: ProxyContext = {
    table,
    master,
    replicas,
    readPolicy: options.readPolicy ?? 'prefer-replica',
    local: { clientPassword: options.clientPassword, clientUsername: options.clientUsername ?? 'default', databases: 16, serverVersion: '7.0.0' },
    maxBulk: options.maxBulk ?? DEFAULT_MAX_BULK,
    traffic,
    maxPending: options.maxPending ?? 1024,
    maxClients: clientLimit(options.maxClients ?? 10_000, log),
    clientOutputLimit: options.clientOutputLimit ?? DEFAULT_OUTPUT_LIMIT,
    ...sessionEvents(origin, table.get('ping') as CommandInfo, (c) => sessions.delete(c)),
    clients: sessions,
    retry: !!topo,
    consistency: options.consistency ?? 'eventual',
    caughtUp: (n, since) => live.caughtUp(n, since),
    noMaster: !!topo,
    hold: (p, s, notTo) => driver?.hold(p, s, notTo ?? null),
    rerouted: (kind) => reroutes.labels({ kind }).inc(),
  };
  let driver: TopologyDriver | null = null;
  const live = new LiveConfig(
    { ctx, topo, master: options.master, make: mk, graceMs: 2000, connectTimeoutMs: uopts.connectTimeoutMs, probe: { username: options.username, password: options.password, maxLagSeconds: options.maxLagSeconds, maxLagOffset: options.maxLagOffset }, log },
    topo ? [] : (options.replicas ?? []),
  );
  const { metrics, reroutes, topoMetrics } = wireMetrics(origin, ctx, live, topo);
  const control = new ControlPlane(ctx, { username: options.username, password: options.password }, log);
  driver = connectUpstreams(options, ctx, control, mk, log);
  await settle(control.first, topo ? Math.max(5000, uopts.connectTimeoutMs) : uopts.connectTimeoutMs);
  /** Everything start() opened before the client listener: released by close(), and by start() when it fails. */
  const release = async () => {
    driver?.close();
    ctx.master.close();
    for (const r of ctx.replicas) r.close();
    live.close();
    control.close();
    topoMetrics?.close();
    await topo?.close();
    metrics.close();
  };
  const ready = readiness(options, ctx);
  const { clients, address, http } = await openServers({ options, listen, opener, ctx, sessions, origin, live, ready, metrics, log, closing: isClosing }, async (opened) => {
    closing = true;
    if (opened) await new Promise<void>((r) => opened.close(() => r()));
    await release();
  });
  log.info('redis ambassador listening', { listen: formatHostPort(address), master: topo ? (topo.current().master ? key(topo.current().master as HostPort) : 'none yet') : formatHostPort(options.master as HostPort), replicas: topo ? ctx.replicas.map((r) => r.node.label) : (options.replicas ?? []).map(formatHostPort), readPolicy: ctx.readPolicy, clientIo: opener.kind });

  return {
    address,
    httpAddress: http ? http.address : null,
    metrics,
    ready,
    tableSource: () => control.source,
    reload: reloader(options.reloadSource, live, log),
    reconfigure: (next) => live.apply(next),
    live: () => ({ replicas: topo ? ctx.replicas.map((n) => ({ host: n.node.host, port: n.node.port })) : live.replicaList(), readPolicy: ctx.readPolicy, consistency: ctx.consistency }),
    async close() {
      if (closing) return;
      closing = true;
      const closed = new Promise<void>((r) => clients.close(() => r()));
      for (const s of sessions) s.destroy();
      await release();
      await closed;
      await http?.close();
    },
  };
}
