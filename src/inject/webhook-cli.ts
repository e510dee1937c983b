/** @module `podkit webhook` CLI glue: flags → startWebhook, run until a signal; SIGHUP reloads the certificate. */
import { commandLogger, logFormatFlag, runCommand } from '../core/command.js';
import { flag } from '../core/config.js';
import { UsageError } from '../core/errors.js';
import { runUntilSignal } from '../core/lifecycle.js';
import { formatHostPort, parseBytes } from '../core/parse.js';
import type { SidecarMode } from './plan.js';
import { startWebhook } from './server.js';
import { defaultImage, podkitVersion } from './version.js';

export const spec = {
  'tls-cert-file': flag.string({ help: 'PEM certificate (chain) to serve (required); reloaded when the file changes', metavar: 'PATH' }),
  'tls-key-file': flag.string({ help: 'PEM private key (required)', metavar: 'PATH' }),
  'http-bind': flag.hostport({ help: 'HTTPS bind address for POST /mutate, /healthz, /readyz, /metrics (use 0.0.0.0:8443 in a pod)', default: { host: '127.0.0.1', port: 8443 } }),
  'sidecar-mode': flag.enum({ help: 'native or classic sidecars (a pod annotation podkit.io/sidecar-mode overrides)', values: ['native', 'classic'], default: 'native' }),
  image: flag.string({ help: 'image of the containers podkit adds (default: podkit at this version)', env: ['PODKIT_IMAGE'], metavar: 'IMAGE' }),
  validate: flag.bool({ help: 'deny a pod whose injected form fails strict validation', default: true }),
  'max-body': flag.string({ help: 'largest AdmissionReview accepted', default: '8mb', metavar: 'BYTES', check: (v) => (parseBytes(v) === undefined ? 'expected a size like 8mb' : undefined) }),
  'tls-reload-interval': flag.duration({ help: 'how often to check the TLS files for changes (0 = only on SIGHUP)', default: 10_000 }),
  verbose: flag.int({ help: 'log verbosity: 0 info, 1+ debug', short: 'v', default: 0 }),
  'log-format': logFormatFlag,
};

export async function run(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit webhook',
      usage: 'podkit webhook --tls-cert-file=PATH --tls-key-file=PATH [--http-bind=HOST:PORT]',
      summary: 'Serve a Kubernetes mutating admission webhook (AdmissionReview v1 → JSONPatch) that injects podkit containers exactly as `podkit inject` does.',
      spec,
      epilog: 'Kubernetes objects for it: deploy/webhook.yaml. See docs/inject.md.',
      async main({ values: v }) {
        if (!v['tls-cert-file'] || !v['tls-key-file']) throw new UsageError('flags --tls-cert-file and --tls-key-file are required');
        const log = commandLogger('webhook', v);
        const handle = await startWebhook({
          certFile: v['tls-cert-file'],
          keyFile: v['tls-key-file'],
          bind: v['http-bind'],
          maxBody: parseBytes(v['max-body']),
          reloadIntervalMs: v['tls-reload-interval'],
          review: { image: v.image ?? defaultImage(), sidecarMode: v['sidecar-mode'] as SidecarMode, version: podkitVersion(), validate: v.validate },
          log,
        });
        log.info('webhook listening', { address: formatHostPort(handle.address), path: '/mutate' });
        await runUntilSignal(handle, { log, deadlineMs: 10_000 });
        return 0;
      },
    },
    argv,
  );
}
