/** @module Real Redis servers and topologies (master, replicas, sentinels) on free ports, data in temp dirs. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { pollUntil } from './poll.js';
import { startProcess, tempDir, waitForOutput, type Proc } from './proc.js';

export const REDIS_SERVER = 'redis-server';
export const REDIS_SENTINEL = 'redis-sentinel';

/** Fail loudly (never skip) when a server the tests need is not installed. */
export function requireBinary(name: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${name} is not installed: run "npm run setup" (bash scripts/setup.sh) first`);
  }
}

export interface RedisNode {
  readonly port: number;
  readonly host: string;
  readonly proc: Proc;
  readonly dir: string;
  /** "127.0.0.1:port". */
  readonly addr: string;
  /** A fresh ioredis client to this node (closed by the topology's stop()). */
  client(): Redis;
  stop(): Promise<void>;
}

export interface RedisOptions {
  port?: number;
  /** Make it a replica of this node. */
  replicaOf?: { host: string; port: number };
  password?: string;
  /** Extra `--name value` settings. */
  args?: string[];
}

const clients = new Set<Redis>();

/**
 * Wait until this very process says it is serving (not merely that something answers on the port: a port picked
 * by freePort() can be taken by a parallel test). Resolves false when it exited first (e.g. the port was taken).
 */
async function readyOrExited(proc: Proc, ready: RegExp): Promise<boolean> {
  const seen = waitForOutput(proc, ready, 15_000).then(
    () => true,
    () => false,
  );
  return Promise.race([seen, proc.exited.then(() => false)]);
}

export async function startRedis(opts: RedisOptions = {}): Promise<RedisNode> {
  requireBinary(REDIS_SERVER);
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const dir = tempDir('podkit-redis-');
    // No 5 s wait before a full sync: any node may become a master in a failover test, and tests wait on sync.
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', '', '--repl-diskless-sync-delay', '0'];
    if (opts.replicaOf) args.push('--replicaof', opts.replicaOf.host, String(opts.replicaOf.port));
    if (opts.password) args.push('--requirepass', opts.password, '--masterauth', opts.password);
    args.push(...(opts.args ?? []));
    const proc = startProcess(REDIS_SERVER, args, { name: `redis:${port}` });
    if (await readyOrExited(proc, /Ready to accept connections/)) return redisNode(port, proc, dir, opts.password);
    if (opts.port !== undefined || attempt >= 5) throw new Error(`redis-server on port ${port} did not start:\n${proc.stdout().slice(-1500)}`);
  }
}

function redisNode(port: number, proc: Proc, dir: string, password?: string): RedisNode {
  const node: RedisNode = {
    port,
    host: '127.0.0.1',
    proc,
    dir,
    addr: `127.0.0.1:${port}`,
    client() {
      const c = new Redis({ port, host: '127.0.0.1', password, lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => null });
      c.on('error', () => {});
      clients.add(c);
      return c;
    },
    stop: () => proc.stop(),
  };
  return node;
}

export interface SentinelNode {
  readonly port: number;
  readonly proc: Proc;
  readonly addr: string;
  client(): Redis;
  stop(): Promise<void>;
}

export interface TopologyOptions {
  replicas?: number;
  sentinels?: number;
  masterName?: string;
  /** Sentinel down-after-milliseconds. Default 1000. */
  downAfterMs?: number;
  /** Sentinel failover-timeout. Default 5000. */
  failoverTimeoutMs?: number;
  password?: string;
}

export interface Topology {
  master: RedisNode;
  replicas: RedisNode[];
  sentinels: SentinelNode[];
  masterName: string;
  stop(): Promise<void>;
}

async function startSentinel(master: RedisNode, o: Required<Pick<TopologyOptions, 'masterName' | 'downAfterMs' | 'failoverTimeoutMs'>> & { quorum: number; password?: string }): Promise<SentinelNode> {
  requireBinary(REDIS_SENTINEL);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const dir = tempDir('podkit-sentinel-');
    const conf = join(dir, 'sentinel.conf');
    const lines = [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      'sentinel resolve-hostnames no',
      `sentinel monitor ${o.masterName} 127.0.0.1 ${master.port} ${o.quorum}`,
      `sentinel down-after-milliseconds ${o.masterName} ${o.downAfterMs}`,
      `sentinel failover-timeout ${o.masterName} ${o.failoverTimeoutMs}`,
      `sentinel parallel-syncs ${o.masterName} 1`,
    ];
    if (o.password) lines.push(`sentinel auth-pass ${o.masterName} ${o.password}`);
    writeFileSync(conf, lines.join('\n') + '\n');
    const proc = startProcess(REDIS_SENTINEL, [conf], { name: `sentinel:${port}` });
    if (await readyOrExited(proc, /\+monitor master/)) return sentinelNode(port, proc);
    if (attempt >= 5) throw new Error(`redis-sentinel on port ${port} did not start:\n${proc.stdout().slice(-1500)}`);
  }
}

function sentinelNode(port: number, proc: Proc): SentinelNode {
  return {
    port,
    proc,
    addr: `127.0.0.1:${port}`,
    client() {
      const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => null });
      c.on('error', () => {});
      clients.add(c);
      return c;
    },
    stop: () => proc.stop(),
  };
}

/** 1 master, N replicas (replication link up), M sentinels (each seeing every replica). */
export async function startTopology(opts: TopologyOptions = {}): Promise<Topology> {
  const masterName = opts.masterName ?? 'mymaster';
  const master = await startRedis({ password: opts.password });
  const replicas: RedisNode[] = [];
  for (let i = 0; i < (opts.replicas ?? 2); i++) replicas.push(await startRedis({ replicaOf: master, password: opts.password }));
  for (const r of replicas) {
    const c = r.client();
    await pollUntil(async () => /master_link_status:up/.test(await c.info('replication')), { timeoutMs: 15_000, what: `replica ${r.addr} to link up` });
    c.disconnect();
  }
  const n = opts.sentinels ?? 0;
  const sentinels: SentinelNode[] = [];
  for (let i = 0; i < n; i++) {
    sentinels.push(
      await startSentinel(master, {
        masterName,
        quorum: Math.floor(n / 2) + 1,
        downAfterMs: opts.downAfterMs ?? 1000,
        failoverTimeoutMs: opts.failoverTimeoutMs ?? 5000,
        password: opts.password,
      }),
    );
  }
  for (const s of sentinels) {
    const c = s.client();
    await pollUntil(
      async () => {
        const reps = (await c.call('SENTINEL', 'REPLICAS', masterName)) as unknown[];
        const others = (await c.call('SENTINEL', 'SENTINELS', masterName)) as unknown[];
        return reps.length === replicas.length && others.length === n - 1;
      },
      { timeoutMs: 20_000, what: `sentinel ${s.addr} to see ${replicas.length} replicas and ${n - 1} sentinels` },
    );
    c.disconnect();
  }
  return {
    master,
    replicas,
    sentinels,
    masterName,
    async stop() {
      for (const c of clients) c.disconnect();
      clients.clear();
      await Promise.all([...sentinels, ...replicas, master].map((x) => x.stop()));
    },
  };
}

/** Disconnect every client the helpers made (call in `after()` beside stopAll). */
export function closeRedisClients(): void {
  for (const c of clients) c.disconnect();
  clients.clear();
}
