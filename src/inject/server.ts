/** @module The webhook's HTTPS glue: TLS from files (reloaded when they change), POST /mutate → review(), /healthz, /readyz, /metrics. */
import { readFileSync, statSync } from 'node:fs';
import type { Server } from 'node:https';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../core/errors.js';
import { sendText, startHttpServer, type Handler } from '../core/http.js';
import type { ComponentHandle, ReloadResult } from '../core/lifecycle.js';
import { silentLogger, type Logger } from '../core/log.js';
import { Registry } from '../core/metrics/index.js';
import type { HostPort } from '../core/parse.js';
import { review, type ReviewOptions } from './admission.js';

export interface WebhookOptions {
  certFile: string;
  keyFile: string;
  /** Default 127.0.0.1:0. */
  bind?: HostPort;
  review: ReviewOptions;
  /** Largest AdmissionReview accepted, bytes. Default 8 MiB. */
  maxBody?: number;
  /** How often the cert and key files are checked for changes, ms; 0 turns polling off (SIGHUP still reloads). Default 10 s. */
  reloadIntervalMs?: number;
  log?: Logger;
}

/**
 * The webhook's data plane is POST /mutate on its one HTTPS server, so `address` and `httpAddress` are the same
 * address (the server that also answers /healthz, /readyz and /metrics).
 */
export interface WebhookHandle extends ComponentHandle {
  readonly address: HostPort;
  readonly httpAddress: HostPort;
  readonly server: Server;
  /** Re-read the certificate and key now; a bad pair keeps the old one (`ok: false`). `changed` is `['tls']` when a new pair was loaded. */
  reload(): Promise<ReloadResult>;
}

function readPair(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(certFile);
    key = readFileSync(keyFile);
  } catch (err) {
    throw new ConfigError('', `cannot read TLS files: ${(err as Error).message}`);
  }
  try {
    createSecureContext({ cert, key }); // throws on a bad or mismatched pair, before we serve with it
  } catch (err) {
    throw new ConfigError('', `TLS certificate ${certFile} and key ${keyFile} do not load: ${(err as Error).message}`);
  }
  return { cert, key };
}

function fingerprint(files: string[]): string {
  return files
    .map((f) => {
      try {
        const s = statSync(f); // follows symlinks, so a Kubernetes Secret's ..data swap is seen
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}

export async function startWebhook(o: WebhookOptions): Promise<WebhookHandle> {
  const log = o.log ?? silentLogger;
  const registry = new Registry();
  const reviews = registry.counter({ name: 'podkit_webhook_reviews_total', help: 'Admission reviews by outcome', labelNames: ['outcome'] });
  const reloads = registry.counter({ name: 'podkit_webhook_tls_reloads_total', help: 'Certificate reloads by result', labelNames: ['result'] });
  let pair = readPair(o.certFile, o.keyFile);
  let seen = fingerprint([o.certFile, o.keyFile]);

  const http = await startHttpServer({ bind: o.bind, tls: pair, maxBody: o.maxBody ?? 8 << 20, metrics: () => registry.collect(), log });
  const server = http.server as Server;

  const mutate: Handler = (req, res, body) => {
    const type = String(req.headers['content-type'] ?? 'application/json');
    if (!/^application\/json\b/i.test(type)) {
      reviews.labels({ outcome: 'bad_request' }).inc();
      return sendText(res, 415, `unsupported content-type ${type}: send application/json\n`);
    }
    const r = review(body, o.review);
    reviews.labels({ outcome: r.outcome }).inc();
    if (r.outcome === 'denied' || r.outcome === 'bad_request') log.warn('admission review refused', { outcome: r.outcome, subject: r.subject, error: r.message });
    else log.debug('admission review', { outcome: r.outcome, subject: r.subject });
    if (r.status !== 200) return sendText(res, r.status, `${String(r.body)}\n`);
    sendText(res, 200, JSON.stringify(r.body), 'application/json');
  };
  const postOnly: Handler = (_req, res) => {
    res.setHeader('allow', 'POST');
    sendText(res, 405, 'method not allowed: POST AdmissionReview v1 to /mutate\n');
  };
  for (const path of ['/mutate', '/inject']) {
    http.route('POST', path, mutate);
    http.route('*', path, postOnly);
  }

  async function reload(): Promise<ReloadResult> {
    const now = fingerprint([o.certFile, o.keyFile]);
    try {
      const next = readPair(o.certFile, o.keyFile);
      seen = now;
      if (next.cert.equals(pair.cert) && next.key.equals(pair.key)) return { ok: true, changed: [] };
      server.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' });
      pair = next;
      reloads.labels({ result: 'ok' }).inc();
      log.info('TLS certificate reloaded', { certFile: o.certFile });
      return { ok: true, changed: ['tls'] };
    } catch (err) {
      // A rotation caught half-written: keep serving the old pair and try again next tick.
      reloads.labels({ result: 'error' }).inc();
      const error = (err as Error).message;
      log.warn('TLS reload failed; keeping the old certificate', { error });
      return { ok: false, changed: [], error };
    }
  }

  const interval = o.reloadIntervalMs ?? 10_000;
  const timer = interval > 0 ? setInterval(() => void (fingerprint([o.certFile, o.keyFile]) !== seen && reload()), interval) : undefined;
  timer?.unref();

  return {
    address: http.address,
    httpAddress: http.address,
    server,
    reload,
    close: async () => {
      if (timer) clearInterval(timer);
      await http.close();
    },
  };
}
