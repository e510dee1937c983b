/** @module What a client session needs from the ambassador (kept apart so discovery can drive it too). */
import type { CommandInfo, CommandTable } from './resp/commands.js';
import type { NodeConns } from './pools.js';
import type { LocalConfig } from './local.js';
import type { ClientSession } from './client.js';

export type ReadPolicy = 'replica' | 'prefer-replica' | 'master';

/** What a session needs from the ambassador. */
export interface ProxyContext {
  table: CommandTable;
  /** Mutable so discovery (Sentinel) can swap the master and the replica set; sessions re-read them per command. */
  master: NodeConns;
  replicas: NodeConns[];
  readPolicy: ReadPolicy;
  readonly local: LocalConfig;
  readonly maxBulk: number;
  /** Replies owed to one client before its reading pauses. */
  readonly maxPending: number;
  routed(info: CommandInfo, route: number): void;
  error(kind: string): void;
  clientClosed(c: ClientSession): void;
}
