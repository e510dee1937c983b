/**
 * @module A raw-socket RESP server scripted per test: it answers like a small Redis until the script says to
 * misbehave — literal bytes (an oversized length, a reply nobody asked for, a bad type byte), bytes dripped one
 * write at a time, a refusal, a reset, or silence — so an upstream fault can be produced exactly.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { BAD, NEED, scanState, scanValue } from '../../src/core/resp/scanner.js';
import { withTimeout } from './poll.js';

/** What a script does with a command (or a new connection): bytes to write, or one of the faults. */
export type FaultAction = string | Buffer | { drip: string | Buffer } | { reset: true } | { close: string | Buffer } | { hang: true } | undefined;

/** One accepted connection: its number (from 1) and the commands it sent, lowercased name first. */
export interface FaultConn {
  readonly n: number;
  readonly socket: Socket;
  readonly commands: string[][];
}

export interface FaultScript {
  /** On accept, before any command (e.g. Redis's `-ERR max number of clients reached` then close). */
  connect?(conn: FaultConn): FaultAction;
  /** A command: return undefined to get the default small-Redis answer. */
  command?(args: string[], conn: FaultConn): FaultAction;
}

export interface FaultServer {
  readonly port: number;
  /** "127.0.0.1:port". */
  readonly addr: string;
  /** Every connection accepted so far, in order (closed ones too). */
  readonly conns: FaultConn[];
  /** Connections still open. */
  open(): number;
  /** Every command received, on any connection. */
  commands(): string[][];
  close(): Promise<void>;
}

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;

/** What a small Redis would answer: enough for the ambassador's handshake, its control client and GET/SET. */
function defaultAnswer(args: string[], store: Map<string, string>): string {
  switch (args[0]) {
    case 'ping':
      return args.length > 1 ? bulk(args[1]) : '+PONG\r\n';
    case 'auth':
    case 'select':
    case 'client':
      return '+OK\r\n';
    case 'reset':
      return '+RESET\r\n';
    case 'info':
      return bulk('# Server\r\nredis_version:7.0.0\r\n# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:0\r\nloading:0\r\n');
    case 'echo':
      return bulk(args[1] ?? '');
    case 'get': {
      const v = store.get(args[1] ?? '');
      return v === undefined ? '$-1\r\n' : bulk(v);
    }
    case 'set':
      store.set(args[1] ?? '', args[2] ?? '');
      return '+OK\r\n';
    default:
      return `-ERR unknown command '${args[0]}'\r\n`;
  }
}

/** Decode the complete commands (arrays of bulk strings) at the start of `buf`; returns them and the bytes used. */
function decode(buf: Buffer): { cmds: string[][]; used: number } {
  const st = scanState();
  const cmds: string[][] = [];
  let p = 0;
  for (;;) {
    const e = scanValue(buf, p, buf.length, st);
    if (e === NEED) break;
    if (e === BAD || buf[p] !== 42) throw new Error(`resp-fault: not a command: ${JSON.stringify(buf.toString('latin1', p, p + 40))}`);
    const args: string[] = [];
    let q = buf.indexOf('\r\n', p) + 2;
    while (q < e) {
      const cr = buf.indexOf('\r\n', q);
      const len = Number(buf.toString('latin1', q + 1, cr));
      args.push(buf.toString('utf8', cr + 2, cr + 2 + len));
      q = cr + 4 + len;
    }
    if (args.length > 0) args[0] = args[0].toLowerCase();
    cmds.push(args);
    p = e;
  }
  return { cmds, used: p };
}

/** Returns false when the connection is gone (reset or closed) and nothing more is to be read. */
function act(socket: Socket, a: FaultAction): boolean {
  if (a === undefined) return true;
  if (typeof a === 'string' || Buffer.isBuffer(a)) {
    socket.write(a);
    return true;
  }
  if ('drip' in a) {
    // One byte per write, each in its own event-loop turn: the reader sees every split point. Commands answered
    // meanwhile would interleave: a test drips only the last reply it expects.
    const b = Buffer.isBuffer(a.drip) ? a.drip : Buffer.from(a.drip);
    let i = 0;
    const next = () => {
      if (i >= b.length || socket.destroyed) return;
      socket.write(b.subarray(i, ++i), () => setImmediate(next));
    };
    next();
    return true;
  }
  if ('reset' in a) {
    socket.resetAndDestroy();
    return false;
  }
  if ('close' in a) {
    socket.end(a.close);
    return false;
  }
  return true; // hang: nothing is written
}

/** Start a fault server on a free loopback port. */
export async function startFaultServer(script: FaultScript = {}): Promise<FaultServer> {
  const conns: FaultConn[] = [];
  const sockets = new Set<Socket>();
  const store = new Map<string, string>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    // Replies are written one per command: without this, Nagle holds the second until the first is acked (40 ms).
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const conn: FaultConn = { n: conns.length + 1, socket, commands: [] };
    conns.push(conn);
    if (!act(socket, script.connect?.(conn))) return;
    let buf = Buffer.alloc(0);
    let hung = false;
    socket.on('data', (chunk: Buffer) => {
      if (hung) return;
      buf = Buffer.concat([buf, chunk]);
      const { cmds, used } = decode(buf);
      buf = buf.subarray(used);
      for (const args of cmds) {
        conn.commands.push(args);
        const a = script.command?.(args, conn);
        if (a !== undefined && typeof a === 'object' && 'hang' in a) hung = true;
        if (!act(socket, a ?? defaultAnswer(args, store)) || hung) return;
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await withTimeout(once(server, 'listening'), 5000, 'the fault server listening');
  const port = (server.address() as { port: number }).port;
  return {
    port,
    addr: `127.0.0.1:${port}`,
    conns,
    open: () => sockets.size,
    commands: () => conns.flatMap((c) => c.commands),
    close: async () => {
      for (const s of sockets) s.destroy();
      await withTimeout(new Promise<void>((r) => server.close(() => r())), 5000, 'the fault server closing');
    },
  };
}
