/** @module The command table routing reads by: flags from the live server's COMMAND, or @ioredis/commands until then (pure). */
import { ProtocolError } from '../../core/errors.js';

export const F_WRITE = 1;
export const F_READONLY = 2;
export const F_BLOCKING = 4;
export const F_PUBSUB = 8;
export const F_ADMIN = 16;
export const F_MAY_REPLICATE = 32;
export const F_NOSCRIPT = 64;

const FLAG_BITS: Record<string, number> = {
  write: F_WRITE,
  readonly: F_READONLY,
  blocking: F_BLOCKING,
  pubsub: F_PUBSUB,
  admin: F_ADMIN,
  may_replicate: F_MAY_REPLICATE,
  noscript: F_NOSCRIPT,
};

/** Commands the ambassador handles itself instead of plain forwarding. */
export enum Special {
  None = 0,
  /** Answered locally from per-client state: SELECT, AUTH, HELLO, CLIENT SETNAME/GETNAME/SETINFO/ID, RESET, QUIT. */
  Select,
  Auth,
  Hello,
  ClientSetName,
  ClientGetName,
  ClientSetInfo,
  ClientId,
  /** Name a client by id: the ambassador's id is translated to the node's id of that client's connection (client-ids.ts). */
  ClientUnblock,
  ClientKill,
  /** GETREDIR, TRACKINGINFO: the reply names a client by the node's id, translated back inside a tunnel (tunnel-replies.ts). */
  ClientGetRedir,
  Reset,
  Quit,
  /** Starts pinning the client to one dedicated master connection: MULTI, WATCH. */
  Multi,
  Watch,
  /** End of a transaction or of watching. */
  Exec,
  Discard,
  Unwatch,
  /** Needs its own connection while it blocks (blocking flag, WAIT). */
  Blocking,
  Wait,
  /** Changes the connection into a non-request/reply stream: the client is tunnelled to a dedicated connection for good. */
  Tunnel,
  /** Refused: replication or cluster handshakes make no sense through the ambassador. */
  Refuse,
  /** SCAN/HSCAN/SSCAN/ZSCAN: a continuation (cursor ≠ 0) must go to the node that issued the cursor. */
  Scan,
}

/** Where a command went, for metrics. */
export const ROUTES = ['master', 'replica', 'local', 'dedicated'] as const;
export const R_MASTER = 0;
export const R_REPLICA = 1;
export const R_LOCAL = 2;
export const R_DEDICATED = 3;

export interface CommandInfo {
  /** Lowercase name, `container|sub` for subcommands, `unknown` for anything not in the table. */
  readonly name: string;
  readonly flags: number;
  /** May be served by a replica: readonly and not write, blocking, pub/sub, admin or may-replicate. */
  readonly replicaOk: boolean;
  readonly special: Special;
  /** Subcommands by lowercase name, when this is a container (CLIENT, CONFIG, OBJECT, …). */
  readonly subs: Map<string, CommandInfo> | null;
  /** Which connections it uses on a node: LANE_SHARED, LANE_SCRIPT or LANE_DB0. */
  readonly lane: number;
  /** Commands counted per route (indexed by R_*), kept here so counting costs no lookup. */
  readonly counts: number[];
  /** Redis's arity: N exactly N arguments (the name included), -N at least N; 0 unknown. */
  readonly arity: number;
}

const SPECIALS: Record<string, Special> = {
  select: Special.Select,
  auth: Special.Auth,
  hello: Special.Hello,
  'client|setname': Special.ClientSetName,
  'client|getname': Special.ClientGetName,
  'client|setinfo': Special.ClientSetInfo,
  'client|id': Special.ClientId,
  'client|unblock': Special.ClientUnblock,
  'client|kill': Special.ClientKill,
  'client|getredir': Special.ClientGetRedir,
  'client|trackinginfo': Special.ClientGetRedir,
  reset: Special.Reset,
  quit: Special.Quit,
  multi: Special.Multi,
  watch: Special.Watch,
  exec: Special.Exec,
  discard: Special.Discard,
  unwatch: Special.Unwatch,
  wait: Special.Wait,
  subscribe: Special.Tunnel,
  psubscribe: Special.Tunnel,
  ssubscribe: Special.Tunnel,
  unsubscribe: Special.Tunnel,
  punsubscribe: Special.Tunnel,
  sunsubscribe: Special.Tunnel,
  monitor: Special.Tunnel,
  'client|tracking': Special.Tunnel,
  'client|reply': Special.Tunnel,
  'client|caching': Special.Tunnel,
  sync: Special.Refuse,
  psync: Special.Refuse,
  replconf: Special.Refuse,
  scan: Special.Scan,
  hscan: Special.Scan,
  sscan: Special.Scan,
  zscan: Special.Scan,
};

/** The client's shared connection for its db and protocol. */
export const LANE_SHARED = 0;
/**
 * A script (EVAL, FCALL…) runs on a connection no other client waits on: one running past busy-reply-threshold then
 * holds up only its own client, and the others reach Redis and get its -BUSY, as they would connected directly.
 */
export const LANE_SCRIPT = 1;
/**
 * Commands Redis takes while a script is busy and that do not depend on the db: they go on the db 0 connection,
 * which is always up, since a connection for another db cannot be set up (SELECT) while a script is busy.
 */
export const LANE_DB0 = 2;

const LANES: Record<string, number> = {
  eval: LANE_SCRIPT,
  evalsha: LANE_SCRIPT,
  eval_ro: LANE_SCRIPT,
  evalsha_ro: LANE_SCRIPT,
  fcall: LANE_SCRIPT,
  fcall_ro: LANE_SCRIPT,
  'script|kill': LANE_DB0,
  'function|kill': LANE_DB0,
  'function|stats': LANE_DB0,
};

export function makeInfo(name: string, flagNames: readonly string[], subs: Map<string, CommandInfo> | null = null, arity = 0): CommandInfo {
  let flags = 0;
  for (const f of flagNames) flags |= FLAG_BITS[f.toLowerCase()] ?? 0;
  // EVALSHA_RO stays on the master: SCRIPT LOAD is not replicated (Redis 7), so a replica may answer NOSCRIPT.
  const replicaOk = (flags & F_READONLY) !== 0 && (flags & (F_WRITE | F_BLOCKING | F_PUBSUB | F_ADMIN | F_MAY_REPLICATE)) === 0 && name !== 'evalsha_ro';
  let special = SPECIALS[name] ?? Special.None;
  if (special === Special.None && (flags & F_BLOCKING) !== 0) special = Special.Blocking;
  return { name, flags, replicaOk, special, subs, lane: LANES[name] ?? LANE_SHARED, counts: [0, 0, 0, 0], arity };
}

/** Whether `argc` arguments (the name included) fit Redis's `arity` (0: unknown, anything fits). */
export function arityFits(arity: number, argc: number): boolean {
  return arity >= 0 ? arity === 0 || argc === arity : argc >= -arity;
}

/** Anything not in the table: goes to the master (safe default). */
export const UNKNOWN: CommandInfo = makeInfo('unknown', []);

/** FNV-1a over the ASCII-lowercased bytes. */
export function hashLower(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    let c = buf[i];
    if (c >= 65 && c <= 90) c += 32;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
}

const HASH_SLOTS = 1024;

/** Name → info. Lookups try the name as sent, then lowercase, so common spellings cost one Map get. */
export class CommandTable {
  private readonly byName = new Map<string, CommandInfo>();
  readonly size: number;

  /** Open hash by the name's lowercase FNV-1a, indexed by its low bits (an array index costs less than a Map get). */
  private readonly byHash: ({ nameBytes: Buffer; info: CommandInfo }[] | undefined)[] = new Array(HASH_SLOTS).fill(undefined);

  constructor(infos: Iterable<CommandInfo>) {
    let n = 0;
    for (const i of infos) {
      this.byName.set(i.name, i);
      this.byName.set(i.name.toUpperCase(), i);
      const b = Buffer.from(i.name, 'latin1');
      const slot = hashLower(b, 0, b.length) & (HASH_SLOTS - 1);
      (this.byHash[slot] ??= []).push({ nameBytes: b, info: i });
      n++;
    }
    this.size = n;
  }

  get(name: string): CommandInfo | undefined {
    return this.byName.get(name) ?? this.byName.get(name.toLowerCase());
  }

  /** Look a name up straight from the frame's bytes, case-insensitively, without making a string (hot path). */
  getBytes(buf: Buffer, start: number, end: number): CommandInfo | undefined {
    const bucket = this.byHash[hashLower(buf, start, end) & (HASH_SLOTS - 1)];
    if (bucket === undefined) return undefined;
    outer: for (let k = 0; k < bucket.length; k++) {
      const n = bucket[k].nameBytes;
      if (n.length !== end - start) continue;
      for (let i = 0; i < n.length; i++) {
        let c = buf[start + i];
        if (c >= 65 && c <= 90) c += 32;
        if (c !== n[i]) continue outer;
      }
      return bucket[k].info;
    }
    return undefined;
  }

  /** Every top-level command and subcommand. */
  *all(): Iterable<CommandInfo> {
    const seen = new Set<CommandInfo>();
    for (const i of this.byName.values()) {
      if (seen.has(i)) continue;
      seen.add(i);
      yield i;
      if (i.subs)
        for (const s of i.subs.values()) {
          if (seen.has(s)) continue;
          seen.add(s);
          yield s;
        }
    }
  }

  /** Carry counters over from an older table so a refresh does not reset metrics. */
  adoptCounts(old: CommandTable): void {
    for (const i of old.all()) {
      const mine = i.name.includes('|') ? this.get(i.name.split('|')[0])?.subs?.get(i.name) : this.get(i.name);
      if (mine) for (let r = 0; r < 4; r++) mine.counts[r] += i.counts[r];
    }
  }
}

/**
 * CLIENT subcommands answered here whatever the server version. CLIENT SETINFO (Redis 7.2+) is answered here only where
 * the master lists it: against an older master it goes there and is refused (`unknown subcommand`) as it is directly.
 */
const LOCAL_CLIENT_SUBS = ['setname', 'getname', 'id'];
const LOCAL_ARITY: Record<string, number> = { setname: 3, getname: 2, setinfo: 4, id: 2 };

/** One entry of the COMMAND reply as ioredis returns it: [name, arity, flags, first, last, step, acl, tips, keyspecs, subcommands]. */
type CommandEntry = [string, number, string[], ...unknown[]];

function entryInfo(e: CommandEntry): CommandInfo {
  const name = String(e[0]).toLowerCase();
  const flags = Array.isArray(e[2]) ? e[2].map(String) : [];
  const rawSubs = e[9];
  let subs: Map<string, CommandInfo> | null = null;
  if (Array.isArray(rawSubs) && rawSubs.length > 0) {
    subs = new Map();
    for (const s of rawSubs as CommandEntry[]) {
      const si = entryInfo(s);
      subs.set(si.name.slice(si.name.indexOf('|') + 1), si);
    }
  }
  return makeInfo(name, flags, subs, typeof e[1] === 'number' ? e[1] : 0);
}

/** Build the table from the live server's `COMMAND` reply (as decoded by ioredis). */
export function tableFromCommandReply(reply: unknown): CommandTable {
  if (!Array.isArray(reply)) throw new ProtocolError('COMMAND reply is not an array');
  const infos = (reply as CommandEntry[]).filter((e) => Array.isArray(e) && typeof e[0] === 'string').map(entryInfo);
  // The local subcommands are added where the master's list lacks them.
  const client = infos.find((i) => i.name === 'client');
  if (client?.subs) for (const s of LOCAL_CLIENT_SUBS) if (!client.subs.has(s)) client.subs.set(s, makeInfo(`client|${s}`, ['noscript', 'loading', 'stale'], null, LOCAL_ARITY[s]));
  return new CommandTable(infos);
}

/** The static table shipped with @ioredis/commands: used until the master has answered COMMAND. */
export function tableFromStatic(commands: Record<string, { flags: string[]; arity?: number }>): CommandTable {
  // The static table has no subcommands; CLIENT's local subcommands are added so they are handled from the start
  // (SETINFO too: the master's version is not known yet, and answering it here keeps it off the shared connections).
  const client = commands.client;
  const subs = new Map<string, CommandInfo>();
  for (const s of [...LOCAL_CLIENT_SUBS, 'setinfo', 'tracking', 'reply', 'caching', 'unblock', 'kill', 'getredir', 'trackinginfo']) subs.set(s, makeInfo(`client|${s}`, client?.flags ?? [], null, LOCAL_ARITY[s] ?? 0));
  return new CommandTable(Object.entries(commands).map(([n, c]) => makeInfo(n, c.flags, n === 'client' ? subs : null, c.arity ?? 0)));
}

/**
 * The info for a command given its name and (for containers) its first argument. Subcommands missing from
 * a container's list fall back to the container, whose flags are the conservative union.
 */
export function lookup(table: CommandTable, name: string, sub: string | null): CommandInfo {
  const top = table.get(name);
  if (!top) return UNKNOWN;
  if (top.subs && sub !== null) return top.subs.get(sub.toLowerCase()) ?? top;
  return top;
}
