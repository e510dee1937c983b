/** @module What a client session needs from the ambassador (kept apart so discovery can drive it too). */
import type { CommandInfo, CommandTable } from './resp/commands.js';
import type { NodeConns } from './pools.js';
import type { LocalConfig } from './local.js';
import type { ClientSession } from './client.js';
import type { Pending } from './pending.js';
import type { Traffic } from './upstream.js';
import type { ClientRegistry } from './client-ids.js';

export type ReadPolicy = 'replica' | 'prefer-replica' | 'master';

/** What a session needs from the ambassador. */
export interface ProxyContext {
  table: CommandTable;
  /** Mutable so discovery (Sentinel) can swap the master and the replica set; sessions re-read them per command. */
  master: NodeConns;
  replicas: NodeConns[];
  readPolicy: ReadPolicy;
  readonly local: LocalConfig;
  /** This ambassador's byte counters (shared with its upstreams' options). */
  readonly traffic: Traffic;
  readonly maxBulk: number;
  /** Replies owed to one client before its reading pauses. */
  readonly maxPending: number;
  /** Clients connected at once; one more is refused as Redis refuses it past maxclients. */
  readonly maxClients: number;
  /** Bytes of replies that may wait for a client that does not read them before it is closed; 0: no limit. */
  readonly clientOutputLimit: number;
  routed(info: CommandInfo, route: number): void;
  error(kind: string): void;
  clientClosed(c: ClientSession): void;
  /** The clients by id (CLIENT UNBLOCK, KILL ID, TRACKING REDIRECT name them). */
  readonly clients: ClientRegistry<ClientSession>;
  /** Topology mode: commands keep their bytes so a -READONLY write or a read on a lost replica can be retried. */
  retry: boolean;
  /** Topology mode: no ROLE-confirmed master right now (writes are held, not failed). */
  noMaster: boolean;
  /** Hold a master-bound command `p` of session `s` until a master can take it (bounded; then -ERR). */
  hold(p: Pending, s: ClientSession, notTo?: NodeConns | null): void;
  /** `session`: after a client's write, its reads go to the master until the replica has caught up (topology mode). */
  consistency: 'eventual' | 'session';
  /** Has replica `n` applied every write the master acknowledged before `since` (Date.now())? */
  caughtUp(n: NodeConns, since: number): boolean;
  /** Count a retry or reroute: `read_retried`, `write_retried`, `write_held`, `stale_read_protected`. */
  rerouted(kind: string): void;
}
