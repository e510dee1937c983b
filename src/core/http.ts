/** @module The small HTTP server every component runs for /, /healthz, /readyz, /metrics and its own routes. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { formatHostPort, type HostPort } from './parse.js';
import { bindError } from './errors.js';
import { CONTENT_TYPE, negotiate, renderChunks, type Format } from './metrics/exposition.js';
import type { MetricFamily } from './metrics/model.js';
import type { Logger } from './log.js';
import { redact, silentLogger } from './log.js';
import { podkitVersion } from './version.js';

export interface Readiness {
  ready: boolean;
  /** Why not ready (shown in the /readyz body). */
  reason?: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>;

export interface HttpServerOptions {
  /** Address to bind. Default 127.0.0.1:0 (loopback, any free port). */
  bind?: HostPort;
  /** The flag that sets `bind`, named when it cannot be bound. Default --http-bind. */
  bindFlag?: string;
  /** Liveness; default always alive. */
  health?: () => Readiness;
  /** Readiness; default always ready. */
  ready?: () => Readiness;
  /** Families for /metrics; omitted → no /metrics route. May be async for sources that must scrape first. */
  metrics?: () => Iterable<MetricFamily> | Promise<Iterable<MetricFamily>>;
  /** Path for metrics. Default /metrics. */
  metricsPath?: string;
  /** Largest request body accepted, bytes. Default 1 MiB. */
  maxBody?: number;
  /** A landing page on `/` (and the effective config on /config), as Prometheus exporters serve one. */
  landing?: Landing;
  /** Serve HTTPS with this certificate and key (PEM). `server` is then an https.Server (setSecureContext rotates it). */
  tls?: { cert: Buffer; key: Buffer };
  log?: Logger;
}

export interface HttpHandle {
  readonly address: HostPort;
  readonly server: Server;
  /** Add a route; `path` matches exactly, `method` `*` matches any. */
  route(method: string, path: string, handler: Handler): void;
  close(): Promise<void>;
}

export interface Landing {
  /** The command: `podkit redis-ambassador`. */
  name: string;
  /** One sentence: what this process does. */
  description: string;
  /** The effective config, read per request; secrets are redacted on the way out (by key name and known value). */
  config?: () => unknown;
  /** More links for the page: [path, what it is]. */
  links?: [string, string][];
  /** Who asks `/` without wanting HTML (a probe, curl) gets this instead (git-sync v4's `/` is its probe). */
  plain?: Handler;
}

/** Text safe inside HTML elements and double-quoted attributes. */
export const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

/** The config as JSON a page can show: functions and empty leftovers dropped, Maps as objects, secrets redacted. */
export function configView(config: unknown): unknown {
  const clean = (v: unknown, depth: number): unknown => {
    if (typeof v === 'function' || typeof v === 'symbol' || depth > 8) return undefined;
    if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return v;
    if (v instanceof Map) return clean(Object.fromEntries(v), depth);
    if (v instanceof Set || Array.isArray(v)) return [...(v as Iterable<unknown>)].map((x) => clean(x, depth + 1)).filter((x) => x !== undefined);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const c = clean(x, depth + 1);
      if (c !== undefined && !(typeof c === 'object' && c !== null && !Array.isArray(c) && Object.keys(c).length === 0)) out[k] = c;
    }
    return out;
  };
  return redact(clean(config, 0));
}

/** The landing page: what this is, its version, links to its endpoints, and the config in use. */
export function landingPage(l: Landing, paths: { metrics?: string }): string {
  const links: [string, string][] = [
    ...(paths.metrics ? [[paths.metrics, 'metrics (Prometheus text; OpenMetrics on request)'] as [string, string]] : []),
    ['/healthz', 'liveness'],
    ['/readyz', 'readiness, with the reason when not ready'],
    ...(l.config ? [['/config', 'the config in use, as JSON (secrets redacted)'] as [string, string]] : []),
    ...(l.links ?? []),
  ];
  const config = l.config ? `<h2>Config in use</h2><pre>${escapeHtml(JSON.stringify(configView(l.config()), null, 2))}</pre>` : '';
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(l.name)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}pre{background:#f4f4f4;padding:1em;overflow:auto}</style>
</head><body><h1>${escapeHtml(l.name)}</h1><p>${escapeHtml(l.description)}</p><p>podkit ${escapeHtml(podkitVersion())}</p>
<ul>${links.map(([href, what]) => `<li><a href="${escapeHtml(href)}">${escapeHtml(href)}</a> — ${escapeHtml(what)}</li>`).join('')}</ul>${config}
</body></html>\n`;
}

export function sendText(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Write metrics, negotiating the format from Accept and gzip from Accept-Encoding. */
export function sendMetrics(req: IncomingMessage, res: ServerResponse, families: Iterable<MetricFamily>, format?: Format): void {
  const fmt = format ?? negotiate(req.headers.accept);
  let text = '';
  for (const c of renderChunks(families, fmt)) text += c;
  const headers: Record<string, string> = { 'content-type': CONTENT_TYPE[fmt], vary: 'Accept, Accept-Encoding' };
  let body: Buffer = Buffer.from(text);
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    body = gzipSync(body);
    headers['content-encoding'] = 'gzip';
  }
  headers['content-length'] = String(body.length);
  res.writeHead(200, headers);
  res.end(body);
}

/** The routes every component serves: /healthz, /readyz, the metrics path, and the landing page with /config. */
function addStandardRoutes(opts: HttpServerOptions, route: (method: string, path: string, h: Handler) => void): void {
  const status = (res: ServerResponse, r: Readiness) => sendText(res, r.ready ? 200 : 503, r.ready ? 'ok\n' : `not ready: ${r.reason ?? 'unknown'}\n`);
  route('GET', '/healthz', (_q, res) => status(res, opts.health?.() ?? { ready: true }));
  route('GET', '/readyz', (_q, res) => status(res, opts.ready?.() ?? { ready: true }));
  if (opts.metrics) {
    const metrics = opts.metrics;
    route('GET', opts.metricsPath ?? '/metrics', async (req, res) => sendMetrics(req, res, await metrics()));
  }
  if (opts.landing) {
    const l = opts.landing;
    route('GET', '/', (req, res, body) => {
      if (l.plain && !/\btext\/html\b/.test(String(req.headers.accept ?? ''))) return l.plain(req, res, body);
      sendText(res, 200, landingPage(l, { metrics: opts.metrics || opts.metricsPath ? (opts.metricsPath ?? '/metrics') : undefined }), 'text/html; charset=utf-8');
    });
    if (l.config) route('GET', '/config', (_q, res) => sendText(res, 200, JSON.stringify(configView(l.config?.()), null, 2) + '\n', 'application/json'));
  }
}

/**
 * The request listener: find the route (HEAD falls back to GET; 405 when only another method has the path), read the
 * body up to `maxBody` (413 at once beyond it), then run the handler (a throw is a 500 when nothing was sent yet).
 */
function dispatcher(routes: Map<string, Handler>, maxBody: number, log: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const h = routes.get(`${req.method} ${path}`) ?? routes.get(`* ${path}`) ?? (req.method === 'HEAD' ? routes.get(`GET ${path}`) : undefined);
    if (!h) {
      const other = [...routes.keys()].some((k) => k.endsWith(` ${path}`));
      sendText(res, other ? 405 : 404, other ? 'method not allowed\n' : 'not found\n');
      req.resume();
      return;
    }
    const tooBig = () => {
      // Answer at once and stop reading a body we will not use; the connection closes after the answer.
      res.setHeader('connection', 'close');
      sendText(res, 413, `request body larger than ${maxBody} bytes\n`);
      res.on('finish', () => req.destroy());
    };
    if (Number(req.headers['content-length'] ?? 0) > maxBody) return tooBig();
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > maxBody) {
        over = true;
        tooBig();
        return;
      }
      chunks.push(c);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (over) return;
      Promise.resolve()
        .then(() => h(req, res, Buffer.concat(chunks)))
        .catch((err: unknown) => {
          log.error('http handler failed', { path, err });
          if (!res.headersSent) sendText(res, 500, 'internal error\n');
          else res.destroy();
        });
    });
  };
}

export async function startHttpServer(opts: HttpServerOptions = {}): Promise<HttpHandle> {
  const log = opts.log ?? silentLogger;
  const routes = new Map<string, Handler>();
  const route = (method: string, path: string, h: Handler) => routes.set(`${method.toUpperCase()} ${path}`, h);
  addStandardRoutes(opts, route);
  const onRequest = dispatcher(routes, opts.maxBody ?? 1 << 20, log);
  const server: Server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }, onRequest) : createServer(onRequest);
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  const bind = opts.bind ?? { host: '127.0.0.1', port: 0 };
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(bindError(formatHostPort(bind), e, opts.bindFlag ?? '--http-bind')));
    server.listen(bind.port, bind.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    address: { host: a.address, port: a.port },
    server,
    route,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
