/** @module A real smart-HTTP git server: `git http-backend` run as CGI behind HTTP basic auth, on a free loopback port. */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitHttpServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>/<path under projectRoot>` (no credentials). */
  url(path: string): string;
  /** Replace the accepted credentials (e.g. to rotate a password). */
  setUsers(users: Record<string, string>): void;
  /** Authorization outcomes seen so far. */
  readonly log: { user?: string; ok: boolean }[];
  close(): Promise<void>;
}

/** Serve every repository under `projectRoot`; requests need basic auth matching `users` (unless `users` is empty). */
export async function startGitHttpServer(projectRoot: string, users: Record<string, string>): Promise<GitHttpServer> {
  let accepted = { ...users };
  const log: { user?: string; ok: boolean }[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const auth = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    const [user, ...rest] = auth ? Buffer.from(auth[1], 'base64').toString().split(':') : [];
    const ok = Object.keys(accepted).length === 0 || (user !== undefined && accepted[user] === rest.join(':'));
    log.push({ user, ok });
    if (!ok) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'content-type': 'text/plain' });
      res.end('unauthorized\n');
      req.resume();
      return;
    }
    const u = new URL(req.url ?? '/', 'http://x');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(u.pathname),
        QUERY_STRING: u.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_USER: user ?? '',
        REMOTE_ADDR: req.socket.remoteAddress ?? '',
        SERVER_PROTOCOL: 'HTTP/1.1',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    req.pipe(cgi.stdin);
    let buf = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (d: Buffer) => {
      if (headersDone) {
        res.write(d);
        return;
      }
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of buf.subarray(0, end).toString().split('\r\n')) {
        const i = line.indexOf(':');
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.write(buf.subarray(end + 4));
    });
    cgi.once('close', () => {
      if (!headersDone) res.writeHead(500).end();
      else res.end();
    });
  };
  const server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}/${path.replace(/^\/+/, '')}`,
    setUsers: (u) => {
      accepted = { ...u };
    },
    log,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
