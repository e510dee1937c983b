/**
 * @module The control connection to the master: on every (re)connect it asks COMMAND (the routing flags), INFO
 * server and CONFIG GET databases, over core/resp. No client library: a sidecar in static mode loads none.
 */
import { connect, type Socket } from 'node:net';
import type { HostPort } from '../core/parse.js';
import { encodeCommand } from '../core/resp/encode.js';
import { InputBuffer } from '../core/resp/buffer.js';
import { BAD, NEED, MAX_SAFE_BULK, scanState, scanValue } from '../core/resp/scanner.js';
import { ErrorReply, decodeValue } from '../core/resp/decode.js';
import { createRequire } from 'node:module';
import type { Logger } from '../core/log.js';
import { tableFromCommandReply, tableFromStatic, type CommandTable } from './resp/commands.js';
import type { ProxyContext } from './context.js';

/** The replies to one round of questions, decoded; an error reply is an `ErrorReply`. */
export interface ControlReplies {
  command: unknown;
  info: unknown;
  databases: unknown;
}

export interface ControlOptions {
  username?: string;
  password?: string;
  connectTimeoutMs: number;
  /** After every (re)connect whose handshake (AUTH, CLIENT SETNAME) was accepted. */
  onReplies(r: ControlReplies): void;
}

/** Reconnect backoff: 100 ms doubling to 2 s, reset by a connection that got its answers. */
function backoff(tries: number): number {
  return Math.min(2000, 50 * 2 ** Math.min(tries, 6));
}

export class ControlLink {
  private socket: Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private tries = 0;
  private closed = false;

  constructor(
    private readonly at: HostPort,
    private readonly opts: ControlOptions,
  ) {
    this.open();
  }

  private open(): void {
    const { username, password } = this.opts;
    const cmds: string[][] = [];
    if (password !== undefined) cmds.push(username ? ['AUTH', username, password] : ['AUTH', password]);
    const handshake = cmds.length + 1;
    cmds.push(['CLIENT', 'SETNAME', 'podkit-ambassador-control'], ['COMMAND'], ['INFO', 'server'], ['CONFIG', 'GET', 'databases']);
    const s = connect({ host: this.at.host, port: this.at.port });
    this.socket = s;
    const inb = new InputBuffer();
    const st = scanState(MAX_SAFE_BULK);
    const replies: unknown[] = [];
    let answered = false;
    s.setTimeout(this.opts.connectTimeoutMs, () => s.destroy());
    s.on('connect', () => {
      s.setTimeout(0);
      s.write(Buffer.concat(cmds.map((c) => encodeCommand(c))));
    });
    s.on('data', (chunk: Buffer) => {
      if (answered) return;
      inb.push(chunk);
      while (inb.length > 0 && replies.length < cmds.length) {
        const e = scanValue(inb.buf, inb.start, inb.end, st);
        if (e === NEED) return;
        if (e === BAD) return void s.destroy();
        // A frame the scanner passes may still hold a value that breaks the protocol (`:x`): as for BAD, drop the link.
        try {
          replies.push(decodeValue(inb.buf, inb.start, e));
        } catch {
          return void s.destroy();
        }
        inb.consume(e);
        // A refused AUTH (or SETNAME): this connection is of no use; try again later, as for a lost one.
        if (replies.length <= handshake && replies[replies.length - 1] instanceof ErrorReply) return void s.destroy();
      }
      if (replies.length < cmds.length) return;
      answered = true;
      this.tries = 0;
      const [command, info, databases] = replies.slice(handshake);
      // Kept open and idle: its loss (a restart, a failover to a new version) means asking again.
      this.opts.onReplies({ command, info, databases });
    });
    s.on('error', () => {});
    s.on('close', () => {
      this.socket = null;
      if (this.closed) return;
      this.timer = setTimeout(() => this.open(), backoff(++this.tries));
      this.timer.unref();
    });
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.destroy();
  }
}

/** The table routing starts with, from the command list ioredis ships, until the master has answered COMMAND. */
export function staticTable(): CommandTable {
  const commandsJson = createRequire(import.meta.url)('@ioredis/commands/built/commands.json') as Record<string, { flags: string[] }>;
  return tableFromStatic(commandsJson);
}

/** The ambassador's side of the control link: each round of replies updates the routing table and what the ambassador says of itself. */
export class ControlPlane {
  private link: ControlLink | null = null;
  private firstDone: () => void = () => {};
  /** Settles after the first round of replies (loaded or not). */
  readonly first = new Promise<void>((r) => (this.firstDone = r));
  /** 'static' until the master has answered COMMAND, then 'live'. */
  source: 'static' | 'live' = 'static';

  constructor(
    private readonly ctx: ProxyContext,
    private readonly auth: { username?: string; password?: string },
    private readonly log: Logger,
  ) {}

  /** Follow the master at `hp` (a new one after a failover): the previous link is closed. */
  connect(hp: HostPort): void {
    this.link?.close();
    this.link = new ControlLink(hp, { username: this.auth.username, password: this.auth.password, connectTimeoutMs: 10_000, onReplies: (r) => this.refresh(r) });
  }

  close(): void {
    this.link?.close();
  }

  private refresh(r: ControlReplies): void {
    const ctx = this.ctx;
    try {
      if (r.command instanceof ErrorReply) throw r.command;
      const next = tableFromCommandReply(r.command);
      next.adoptCounts(ctx.table);
      ctx.table = next;
      this.source = 'live';
      if (r.info instanceof ErrorReply) throw r.info;
      const v = /redis_version:([^\r\n]+)/.exec(String(r.info));
      if (v) ctx.local.serverVersion = v[1];
      const dbs = r.databases;
      if (Array.isArray(dbs) && Number(dbs[1]) > 0) ctx.local.databases = Number(dbs[1]);
      this.log.info('command table loaded from the master', { commands: next.size, version: ctx.local.serverVersion });
    } catch (e) {
      this.log.warn('could not load COMMAND from the master; using the static table', { error: (e as Error).message });
    }
    this.firstDone();
  }
}
