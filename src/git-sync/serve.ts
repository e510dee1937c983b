/** @module git-sync's HTTP server: v4's `/` probe, health, metrics, the landing page and the signed inbound trigger. */
import { describeError } from '../core/errors.js';
import { redactString, type Logger } from '../core/log.js';
import { readSecretFile } from '../core/secret-file.js';
import { sendText, startHttpServer, type HttpHandle } from '../core/http.js';
import type { HostPort } from '../core/parse.js';
import { triggerChannel, type Metrics, type TriggerEvent } from './metrics.js';
import type { Resolved } from './options.js';
import type { SyncLoop } from './loop.js';
import { verifyTrigger } from './trigger.js';

/** git config values can carry credentials (http.extraHeader=Authorization: …): shown by key, not value. */
const SECRET_KEY = /extraheader|cookie|auth|token|pass|credential/i;

export async function serveHttp(o: Resolved & { httpBind: HostPort }, loop: SyncLoop, metrics: Metrics, origin: object, log: Logger): Promise<HttpHandle> {
  const st = loop.st;
  // Bodies are read whole before the signature can be checked, so the cap bounds what unsigned requests cost.
  const http = await startHttpServer({
    bind: o.httpBind,
    ready: () => loop.readiness(),
    metrics: o.httpMetrics ? metrics.collect : undefined,
    maxBody: o.triggerMaxBody,
    log,
    landing: {
      name: 'podkit git-sync',
      description: `Keeps ${redactString(o.repo)} (${o.ref}) synced into ${o.root} and publishes each commit through the link ${o.link}.`,
      config: () => ({ ...o, gitConfig: o.gitConfig.map(([k, v]) => [k, SECRET_KEY.test(k) ? '[REDACTED]' : v]), lastSyncedHash: st.hash }),
      // v4's probe endpoint (anything but a browser): 503 until the first sync, 200 after.
      plain: (_q, res) => sendText(res, st.lastSuccessMs === undefined ? 503 : 200, st.lastSuccessMs === undefined ? 'repo is not ready\n' : 'ok\n'),
    },
  });
  if (o.triggerSecretFile) {
    const file = o.triggerSecretFile;
    http.route('POST', o.triggerPath, (req, res, body) => {
      let secret = '';
      try {
        secret = readSecretFile(file, 'trigger-secret-file');
      } catch (e) {
        log.error("can't read the trigger secret file", { path: file, error: describeError(e) });
      }
      const v = verifyTrigger(req.headers, body, secret);
      triggerChannel.publish({ source: origin, provider: v.provider ?? 'none', ok: v.ok } satisfies TriggerEvent);
      if (!v.ok) {
        log.warn('refused trigger request', { reason: v.reason, remote: req.socket.remoteAddress });
        sendText(res, 401, 'unauthorized\n');
        return;
      }
      loop.trigger('webhook');
      sendText(res, 202, 'sync triggered\n');
    });
  }
  log.info('serving HTTP', { address: http.address, trigger: o.triggerSecretFile ? o.triggerPath : undefined });
  return http;
}
