/** @module A real nginx on a free port, serving a directory and/or extra `location` blocks. */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { randomBytes } from 'node:crypto';
import { pollUntil } from './poll.js';
import { startProcess, tempDir, type Proc } from './proc.js';
import { requireBinary } from './redis.js';

export interface NginxOptions {
  /** Directory served at / (e.g. git-sync's link). */
  root?: string;
  /** Extra text inside the server block, e.g. `location = /stub_status { stub_status; }`. */
  serverExtra?: string;
  port?: number;
}

export interface Nginx {
  readonly port: number;
  readonly url: string;
  readonly proc: Proc;
  stop(): Promise<void>;
}

export async function startNginx(opts: NginxOptions = {}): Promise<Nginx> {
  const bin = process.env.PODKIT_NGINX ?? '/usr/sbin/nginx';
  requireBinary(bin);
  const port = opts.port ?? (await freePort());
  // Our own nginx answers with this token: a parallel test's server on the same port would not.
  const token = randomBytes(8).toString('hex');
  const dir = tempDir('podkit-nginx-');
  mkdirSync(join(dir, 'logs'));
  const root = opts.root ?? join(dir, 'html');
  mkdirSync(root, { recursive: true });
  const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  default_type text/plain;
  open_file_cache off;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    disable_symlinks off;
    etag off;
    add_header Cache-Control no-store;
    add_header X-Podkit-Test-Server ${token} always;
    ${opts.serverExtra ?? ''}
  }
}
`;
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  const proc = startProcess(bin, ['-p', dir, '-c', confPath], { name: `nginx:${port}` });
  const ours = pollUntil(
    async () => (await fetch(`http://127.0.0.1:${port}/`, { method: 'HEAD' })).headers.get('x-podkit-test-server') === token,
    { timeoutMs: 10_000, what: `nginx on port ${port}` },
  );
  ours.catch(() => {}); // when nginx exits first, the race below reports it
  const serving = await Promise.race([ours.then(() => true), proc.exited.then(() => false)]);
  if (!serving) throw new Error(`nginx on port ${port} exited before serving:\n${proc.stderr().slice(-1500)}`);
  return { port, url: `http://127.0.0.1:${port}`, proc, stop: () => proc.stop() };
}
