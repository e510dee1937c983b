/** @module Commands the ambassador answers from per-client state: SELECT, AUTH, HELLO, CLIENT SETNAME/GETNAME/SETINFO/ID. */
import { timingSafeEqual } from 'node:crypto';
import { isLongLong, parseIntAt } from '../core/resp/scanner.js';
import { encodeBulk, encodeError, encodeInt, encodeValue } from '../core/resp/encode.js';
import { Special, UNKNOWN, arityFits, type CommandInfo } from './resp/commands.js';

/** The per-client state these commands read and change. */
export interface LocalState {
  readonly id: number;
  db: number;
  proto: number;
  name: string | null;
  authed: boolean;
}

export interface LocalConfig {
  /** Password clients must AUTH with; undefined = no client auth (any AUTH is accepted). */
  clientPassword?: string;
  clientUsername: string;
  databases: number;
  serverVersion: string;
}

export const OK = Buffer.from('+OK\r\n');
export const RESET_REPLY = Buffer.from('+RESET\r\n');
export const NOAUTH = encodeError('NOAUTH Authentication required.');
const WRONGPASS = encodeError('WRONGPASS invalid username-password pair or user is disabled.');

export function arity(name: string): Buffer {
  return encodeError(`ERR wrong number of arguments for '${name}' command`);
}

/** The client's bytes compared with a configured secret's (UTF-8) bytes. */
function same(a: Buffer, b: string): boolean {
  const y = Buffer.from(b);
  return a.length === y.length && timingSafeEqual(a, y);
}

function checkAuth(cfg: LocalConfig, user: Buffer | null, pass: Buffer): boolean {
  if (cfg.clientPassword === undefined) return true;
  return same(pass, cfg.clientPassword) && (user === null || user.equals(Buffer.from(cfg.clientUsername)));
}

/** An argument as Redis's C string functions (strcasecmp, `%s`) see it: its bytes up to the first NUL. */
function cstr(a: Buffer): string {
  const nul = a.indexOf(0);
  return a.toString('latin1', 0, nul < 0 ? a.length : nul);
}

const NOT_INT = 'ERR value is not an integer or out of range';

export function select(st: LocalState, cfg: LocalConfig, args: Buffer[]): Buffer {
  if (args.length !== 2) return arity('select');
  const a = args[1];
  const n = parseIntAt(a, 0, a.length);
  // Redis reads a long long, then wants an int, then a db.
  if (Number.isNaN(n) && !isLongLong(a, 0, a.length)) return encodeError(NOT_INT);
  if (!(n >= -0x80000000 && n <= 0x7fffffff)) return encodeError('ERR value is out of range, value must between -2147483648 and 2147483647');
  if (n < 0 || n >= cfg.databases) return encodeError('ERR DB index is out of range');
  st.db = n;
  return OK;
}

export function auth(st: LocalState, cfg: LocalConfig, args: Buffer[]): Buffer {
  if (args.length < 2) return arity('auth');
  if (args.length > 3) return encodeError('ERR syntax error');
  const user = args.length === 3 ? args[1] : null;
  if (!checkAuth(cfg, user, args[args.length - 1])) return WRONGPASS;
  st.authed = true;
  return OK;
}

/** Client names: printable ASCII without spaces, as Redis requires. */
function validName(n: string): boolean {
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c < 33 || c > 126) return false;
  }
  return true;
}

export function clientSetName(st: LocalState, args: Buffer[]): Buffer {
  if (args.length !== 3) return arity('client|setname');
  const n = args[2].toString('latin1');
  if (!validName(n)) return encodeError('ERR Client names cannot contain spaces, newlines or special characters.');
  st.name = n === '' ? null : n;
  return OK;
}

export function clientGetName(st: LocalState, args: Buffer[]): Buffer {
  if (args.length !== 2) return arity('client|getname');
  return encodeBulk(st.name, st.proto === 3);
}

export function clientSetInfo(args: Buffer[]): Buffer {
  if (args.length !== 4) return arity('client|setinfo');
  const attr = cstr(args[2]).toLowerCase();
  if (attr !== 'lib-name' && attr !== 'lib-ver') return encodeError(`ERR Unrecognized option '${cstr(args[2])}'`);
  // Redis 7.2 checks the value as a C string (to its first NUL), '!'..'~' only; the error names the option as sent.
  if (!validName(cstr(args[3]))) return encodeError(`ERR ${cstr(args[2])} cannot contain spaces, newlines or special characters.`);
  return OK;
}

/** CLIENT ID: the ambassador's id of this client (client-ids.ts translates it where a command names a client). */
export function clientId(st: LocalState, args: Buffer[]): Buffer {
  if (args.length !== 2) return arity('client|id');
  return encodeInt(st.id);
}

/** HELLO [protover [AUTH user pass] [SETNAME name]]: answered here; the reply describes the master. */
export function hello(st: LocalState, cfg: LocalConfig, args: Buffer[]): Buffer {
  let proto = st.proto;
  let i = 1;
  if (args.length > 1) {
    const v = parseIntAt(args[1], 0, args[1].length);
    if (Number.isNaN(v) && !isLongLong(args[1], 0, args[1].length)) return encodeError('ERR Protocol version is not an integer or out of range');
    if (v !== 2 && v !== 3) return encodeError('NOPROTO unsupported protocol version');
    proto = v;
    i = 2;
  }
  let name: string | null | undefined;
  let authed = st.authed;
  for (; i < args.length; i++) {
    const opt = cstr(args[i]).toLowerCase();
    if (opt === 'auth' && i + 2 < args.length) {
      if (!checkAuth(cfg, args[i + 1], args[i + 2])) return WRONGPASS;
      authed = true;
      i += 2;
    } else if (opt === 'setname' && i + 1 < args.length) {
      name = args[i + 1].toString('latin1');
      if (!validName(name)) return encodeError('ERR Client names cannot contain spaces, newlines or special characters.');
      i += 1;
    } else return encodeError(`ERR Syntax error in HELLO option '${cstr(args[i])}'`);
  }
  if (!authed) {
    // Redis 7.2 added `<proto>` to the text; the master's version says which one it sends.
    const [major, minor] = cfg.serverVersion.split('.').map(Number);
    const form = major > 7 || (major === 7 && minor >= 2) ? 'HELLO <proto> AUTH' : 'HELLO AUTH';
    return encodeError(`NOAUTH HELLO must be called with the client already authenticated, otherwise the ${form} <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time`);
  }
  st.authed = true;
  st.proto = proto;
  if (name !== undefined) st.name = name === '' ? null : name;
  return encodeValue(
    {
      map: [
        ['server', 'redis'],
        ['version', cfg.serverVersion],
        ['proto', proto],
        ['id', st.id],
        ['mode', 'standalone'],
        ['role', 'master'],
        ['modules', []],
      ],
    },
    proto === 3,
  );
}

/** Every argument of a multibulk command frame (slow path: only local commands need them all). */
export function frameArgs(buf: Buffer, start: number, end: number): Buffer[] {
  const out: Buffer[] = [];
  let p = buf.indexOf(13, start) + 2;
  while (p < end) {
    const cr = buf.indexOf(13, p);
    const len = parseIntAt(buf, p + 1, cr);
    out.push(buf.subarray(cr + 2, cr + 2 + len));
    p = cr + 2 + len + 2;
  }
  return out;
}

/** `%.Ns` of a C string: its bytes up to a NUL, at most `max` of them. */
const cfmt = (a: Buffer, max: number) => cstr(a).slice(0, max);

/**
 * What Redis answers a client that must still AUTH, in its order: a command or subcommand it does not know, then a
 * wrong argument count, then NOAUTH (EXEC's both in its EXECABORT form).
 */
export function unauthenticated(info: CommandInfo, args: Buffer[]): Buffer {
  if (info === UNKNOWN) {
    let rest = '';
    for (let i = 1; i < args.length && rest.length < 128; i++) rest += `'${cfmt(args[i], 128 - rest.length)}' `;
    return encodeError(`ERR unknown command '${cfmt(args[0], 128)}', with args beginning with: ${rest}`);
  }
  if (info.subs !== null && args.length > 1 && !info.subs.has(args[1].toString('latin1').toLowerCase()))
    return encodeError(`ERR unknown subcommand '${cfmt(args[1], 128)}'. Try ${cstr(args[0]).replace(/[a-z]/g, (c) => c.toUpperCase())} HELP.`);
  // Redis refuses an EXEC (in MULTI or not) in EXECABORT's form whatever the reason, its argument count too.
  if (!arityFits(info.arity, args.length)) return info.special === Special.Exec ? EXECABORT_ARITY : arity(info.name);
  return info.special === Special.Exec ? EXECABORT_NOAUTH : NOAUTH;
}

const EXECABORT_NOAUTH = encodeError('EXECABORT Transaction discarded because of: NOAUTH Authentication required.');
const EXECABORT_ARITY = encodeError("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command");

/** Commands answered here from per-client state. */
export function isLocal(sp: Special): boolean {
  // They are listed together in the enum, SELECT to CLIENT ID.
  return sp >= Special.Select && sp <= Special.ClientId;
}

/** The reply to a local command (isLocal(sp) must hold). */
export function answer(sp: Special, st: LocalState, cfg: LocalConfig, args: Buffer[]): Buffer {
  switch (sp) {
    case Special.Select:
      return select(st, cfg, args);
    case Special.Auth:
      return auth(st, cfg, args);
    case Special.Hello:
      return hello(st, cfg, args);
    case Special.ClientSetName:
      return clientSetName(st, args);
    case Special.ClientGetName:
      return clientGetName(st, args);
    case Special.ClientId:
      return clientId(st, args);
    default:
      return clientSetInfo(args);
  }
}
