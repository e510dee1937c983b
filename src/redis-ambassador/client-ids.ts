/**
 * @module Client ids as Redis means them: one per client connection of the ambassador, translated to the node's id of
 * that client's own connection where a command names a client (CLIENT UNBLOCK, TRACKING REDIRECT, GETREDIR, KILL ID).
 */
import { parseIntAt } from '../core/resp/scanner.js';
import { encodeError } from '../core/resp/encode.js';
import type { Upstream } from './upstream.js';
import { Special } from './resp/commands.js';

/** What the registry needs of a client session. */
export interface Named {
  readonly id: number;
  /** The connection held for this client alone (pinned: MULTI, a blocking command; or its tunnel), if any. */
  readonly dedicatedConn: Upstream | null;
  /** Close the client's connection now. */
  destroy(): void;
}

/** Translates a client id a command names; 0 where there is none (no connection has id 0). */
export type Translate = (id: number) => number;

/** Past this many, the remembered ids of named connections are forgotten (GETREDIR then shows the node's id). */
const MAX_NAMED = 4096;

/** The ambassador's clients by id. */
export class ClientRegistry<S extends Named> implements Iterable<S> {
  private last = 0;
  private readonly byId = new Map<number, S>();
  /** "host:port:node id" → ambassador id, for connections a command named: GETREDIR names them even once they closed, as Redis does. */
  private readonly named = new Map<string, number>();

  /** Increasing for the ambassador's life and never reused, as Redis's. */
  nextId(): number {
    return ++this.last;
  }

  add(s: S): void {
    this.byId.set(s.id, s);
  }

  delete(s: S): void {
    this.byId.delete(s.id);
  }

  get(id: number): S | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  [Symbol.iterator](): Iterator<S> {
    return this.byId.values();
  }

  /**
   * The node's id of client `id`'s own connection from pool `node` (only a tunnel when `tunnel`: a connection held
   * for good, not one handed to another client later), or 0.
   */
  serverId(id: number, node: unknown, tunnel: boolean): number {
    const u = this.byId.get(id)?.dedicatedConn;
    if (!u || u.closed || u.owner !== node || u.serverId === 0 || (tunnel && u.tunnel === null)) return 0;
    if (this.named.size >= MAX_NAMED) this.named.clear();
    this.named.set(`${u.node.host}:${u.node.port}:${u.serverId}`, id);
    return u.serverId;
  }

  /** Back from `n`, the node's id of a connection to the node `via` is connected to: the client's id, else `n`. */
  fromServer(via: Upstream, n: number): number {
    if (n <= 0) return n;
    const host = via.node.host;
    const port = via.node.port;
    for (const s of this.byId.values()) {
      const u = s.dedicatedConn;
      if (u !== null && u.serverId === n && u.node.host === host && u.node.port === port) return s.id;
    }
    return this.named.get(`${host}:${port}:${n}`) ?? n;
  }
}

/** An id argument translated; anything but an integer goes as it is (Redis answers it with its own error). */
function translated(a: Buffer, tr: Translate): Buffer {
  const n = parseIntAt(a, 0, a.length);
  return Number.isNaN(n) ? a : Buffer.from(String(tr(n)));
}

/** CLIENT UNBLOCK id [TIMEOUT|ERROR] with the id translated (null: not that form; Redis checks the rest). */
export function unblockArgs(args: Buffer[], tr: Translate): Buffer[] | null {
  if (args.length !== 3 && args.length !== 4) return null;
  const out = args.slice();
  out[2] = translated(args[2], tr);
  return out;
}

/** CLIENT TRACKING on|off [REDIRECT id] [PREFIX p]… with REDIRECT's id translated, options read as Redis reads them (null: no REDIRECT). */
export function trackingArgs(args: Buffer[], tr: Translate): Buffer[] | null {
  let out: Buffer[] | null = null;
  for (let j = 3; j < args.length; j++) {
    const opt = args[j].toString('latin1').toLowerCase();
    if (j + 1 >= args.length) break;
    if (opt === 'redirect') {
      out ??= args.slice();
      j++;
      out[j] = translated(args[j], tr);
    } else if (opt === 'prefix') j++;
  }
  return out;
}

const SYNTAX = encodeError('ERR syntax error');

/**
 * CLIENT KILL with an ID filter names an ambassador client: the filters read as Redis reads them (its errors), or
 * null when there is no ID (the old `KILL addr` form, or other filters: the node's connections, sent as it is).
 */
export function killFilter(args: Buffer[]): { id: number; skipme: boolean } | Buffer | null {
  if (args.length <= 3) return null;
  let id = 0;
  let skipme = true;
  let other = false;
  for (let i = 2; i < args.length; i += 2) {
    if (i + 1 >= args.length) return SYNTAX;
    const opt = args[i].toString('latin1').toLowerCase();
    const v = args[i + 1];
    if (opt === 'id') {
      id = parseIntAt(v, 0, v.length);
      if (!(id >= 1)) return encodeError('ERR client-id should be greater than 0');
    } else if (opt === 'skipme') {
      const x = v.toString('latin1').toLowerCase();
      if (x !== 'yes' && x !== 'no') return SYNTAX;
      skipme = x === 'yes';
    } else if (opt === 'type' || opt === 'addr' || opt === 'laddr' || opt === 'user') other = true;
    else return SYNTAX;
  }
  if (id === 0) return null;
  if (other) return encodeError('ERR CLIENT KILL ID takes no other filter than SKIPME through the ambassador');
  return { id, skipme };
}

/** No connection has this id (Redis's ids stay below 2^63): what CLIENT KILL ID inside MULTI is sent with (it kills nothing). */
export const NO_SUCH_ID = Buffer.from('9223372036854775807');

/** The ID filter's value replaced (inside MULTI, where the kill cannot be answered here in order). */
export function killArgsNoMatch(args: Buffer[]): Buffer[] {
  const out = args.slice();
  for (let i = 2; i + 1 < out.length; i += 2) if (out[i].toString('latin1').toLowerCase() === 'id') out[i + 1] = NO_SUCH_ID;
  return out;
}

const ZERO = Buffer.from(':0\r\n');
const ONE = Buffer.from(':1\r\n');

/**
 * CLIENT UNBLOCK and KILL ID of client `me` name a client by the ambassador's id. UNBLOCK goes to the node (its
 * connections are from pool `node`) with the node's id of the named client's own connection there — the one it
 * blocks on — or with 0 (none, or `held`: it may run on another node); Redis answers. KILL ID closes that client here
 * (`quit`: it is `me`, closed after the reply), or inside MULTI goes to the node with an id no connection has.
 * `send`: the arguments to send instead (null: as they are); `reply`: the answer made here (null: send it).
 */
export function nameClient<S extends Named>(
  sp: Special,
  args: Buffer[],
  me: S,
  clients: ClientRegistry<S>,
  node: unknown,
  held: boolean,
  inMulti: boolean,
): { send: Buffer[] | null; reply: Buffer | null; quit: boolean } {
  if (sp === Special.ClientUnblock) return { send: unblockArgs(args, (id) => (held ? 0 : clients.serverId(id, node, false))), reply: null, quit: false };
  const f = killFilter(args);
  if (f === null) return { send: null, reply: null, quit: false };
  if (Buffer.isBuffer(f)) return { send: null, reply: f, quit: false };
  // Inside MULTI it runs at EXEC, on the node, where the answer goes in order.
  if (inMulti) return { send: killArgsNoMatch(args), reply: null, quit: false };
  const target = f.id === me.id && f.skipme ? undefined : clients.get(f.id);
  if (target !== undefined && target !== me) target.destroy();
  return { send: null, reply: target ? ONE : ZERO, quit: target === me };
}
