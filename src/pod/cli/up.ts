/** @module `podkit up FILE…`: validate every manifest first (errors name the YAML path, exit 2), then run the pods, or detach with -d. */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag } from '../../core/config.js';
import { ConfigError, PodkitError, SandboxError, TimeoutError, UsageError } from '../../core/errors.js';
import { waitFor } from '../../core/wait.js';
import { parseHostPort } from '../../core/parse.js';
import { runCommand } from '../../core/command.js';
import { formatIssue, loadManifests, parseManifests, type Issue, type LoadedManifests } from '../spec/index.js';
import { listPods, readJSON } from '../runtime/state.js';
import { heldPodLocks, podLockName } from '../runtime/podlock.js';
import type { PodStatus } from '../runtime/pod.js';
import type { LogLimits } from '../runtime/logfile.js';
import { quantity } from '../spec/resources.js';
import { provisionClaim } from '../runtime/claims.js';
import { checkStateDir, chooseSandbox } from './runner.js';
import { start } from '../index.js';
import { untilStopped } from './until-stopped.js';
import { imageServiceFor } from '../images/index.js';

export const upSpec = {
  filename: flag.string({ help: 'A manifest to run, as `kubectl apply -f` takes it (- for stdin); repeatable, and the same as a FILE argument', short: 'f', repeatable: true, metavar: 'FILE', env: [] }),
  detach: flag.bool({ help: 'Run the pods in the background (podkit ps / logs / down work on them)', short: 'd', default: false, env: [] }),
  sandbox: flag.enum({ help: 'namespaced (root: netns, mount and pid namespaces per pod), host (no isolation), auto', values: ['auto', 'namespaced', 'host'], default: 'auto' }),
  'status-bind': flag.string({ help: "Serve the live status page here (loopback); '' turns it off", default: '127.0.0.1:0', metavar: 'HOST:PORT' }),
  'job-backoff': flag.duration({ help: "Delay before a failed Job pod is replaced, doubling with each failure up to 36 times it (Kubernetes: 10s, up to 6 min; lower it for development)", default: 10_000 }),
  'max-backoff': flag.duration({ help: 'Cap of the container restart back-off (Kubernetes: 300s; lower it for development)', default: 300_000 }),
  'log-max-size': flag.string({ help: "Rotate each container's log past this size (the kubelet's containerLogMaxSize)", default: '10Mi', metavar: 'QUANTITY' }),
  'log-max-files': flag.int({ help: "Log files kept per container, the current one included (the kubelet's containerLogMaxFiles)", default: 5 }),
  'state-dir': flag.string({ help: 'Where pod state, logs and events live', env: ['PODKIT_STATE_DIR'], default: '/run/podkit' }),
  'from-images': flag.bool({ help: 'Run each container from its image on the OCI runtime (pulled into the store under --state-dir; the host-process.podkit.io/<container> annotation opts one out)', env: ['PODKIT_FROM_IMAGES'], default: true }),
  'host-processes': flag.bool({ help: "Run every container as a host process running its command + args (no image; podkit's behaviour before containers, for development)", env: ['PODKIT_HOST_PROCESSES'], default: false }),
  'oci-runtime': flag.enum({ help: 'The OCI runtime that runs containers from images (crun, or runc)', values: ['crun', 'runc'], default: 'crun' }),
  color: flag.enum({ help: 'Colour the pod/container prefixes', values: ['auto', 'always', 'never'], default: 'auto' }),
  'dry-run': flag.bool({ help: 'Validate and print the pods that would run, then exit', default: false }),
  'detached-child': flag.bool({ help: 'internal: the daemonized runner', hidden: true, default: false, env: [] }),
} as const;

let stdinCache: string | undefined;

/** Read, parse and validate every file ('-' is stdin). Warnings and errors go to `err`; any error throws ConfigError (exit 2). */
export function loadFiles(files: string[], err: (l: string) => void, images = false): LoadedManifests {
  if (files.length === 0) throw new UsageError('give at least one manifest file (or - for stdin)');
  const objects = [];
  const issues: Issue[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f === '-' ? 0 : f, 'utf8');
      if (f === '-') stdinCache = text;
    } catch (e) {
      throw new UsageError(`cannot read ${f}: ${(e as Error).message}`);
    }
    const p = parseManifests(text, f === '-' ? '<stdin>' : f);
    objects.push(...p.objects);
    issues.push(...p.issues);
  }
  const loaded = loadManifests(objects, { local: true, images });
  const all = [...issues, ...loaded.issues];
  for (const i of all) err(formatIssue(i));
  const errors = all.filter((i) => i.severity === 'error');
  if (errors.length) {
    const first = errors[0];
    // One line: a YAML error's offending line and caret were printed above with every issue.
    throw new ConfigError([first.source, first.path].filter(Boolean).join(': '), `${first.message.split('\n')[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more errors above)` : ''}`);
  }
  return { ...loaded, issues: all };
}

export function run(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit up',
      usage: 'podkit up [flags] [-f] FILE…',
      summary: 'Run Kubernetes Pod YAML locally (Pod, Deployment, ReplicaSet, ReplicationController, StatefulSet, DaemonSet, Job; ConfigMaps, Secrets and PersistentVolumeClaims from the same files; other kinds ignored with a warning): one set of namespaces per pod, each container from its image on the OCI runtime (or, opted in, a host process running its command + args).',
      epilog: 'See docs/pod.md for what is honoured locally and what is not.',
      spec: upSpec,
      positionals: true,
      async main({ values, positionals, origin }) {
        const err = (l: string) => process.stderr.write(l + '\n');
        const fromImages = runsFromImages(values['from-images'], values['host-processes'], origin) && (values.sandbox as string) !== 'host';
        const loaded = loadFiles([...values.filename, ...positionals], err, fromImages);
        const root = values['state-dir'];
        const limits = logLimits(values['log-max-size'], values['log-max-files']);
        if (values['dry-run']) {
          for (const p of loaded.pods) process.stdout.write(`${p.namespace}/${p.name}: ${[...(p.spec.initContainers ?? []), ...p.spec.containers].map((c) => c.name).join(', ')}\n`);
          return 0;
        }
        if (loaded.pods.length === 0) {
          // Like kubectl apply of a ConfigMap or a claim: nothing runs; claims are still made, as a provisioner would.
          checkStateDir(root);
          for (const c of loaded.claims) provisionClaim(root, c);
          err(`podkit up: no pod to run in ${[...values.filename, ...positionals].join(', ')}${loaded.claims.length ? `; claims provisioned: ${loaded.claims.map((c) => c.name).join(', ')}` : ''}`);
          return 0;
        }
        chooseSandbox(values.sandbox as 'auto');
        checkStateDir(root);
        const statusBind = values['status-bind'] ? parseHostPort(values['status-bind']) : undefined;
        if (values.detach) return detach(argv, root, loaded.pods.map((p) => p.name), stdinCache);
        const color = (values.color as string) === 'always' || ((values.color as string) === 'auto' && !!process.stdout.isTTY && !values['detached-child']);
        // podkit's sidecars log JSON into a pipe; on a terminal (or when asked) the runner's stream reads better as text.
        const podkitLogFormat = process.env.PODKIT_LOG_FORMAT || (process.stdout.isTTY && !values['detached-child'] ? 'text' : undefined);
        const handle = await start({ loaded, root, sandbox: values.sandbox as 'auto', statusBind, maxBackoffMs: values['max-backoff'], jobBackoff: { firstMs: values['job-backoff'], maxMs: values['job-backoff'] * 36 }, ociRuntime: values['oci-runtime'] as string, images: fromImages ? imageServiceFor(root) : undefined, keepFinished: values['detached-child'], logLimits: limits, color, podkitLogFormat, out: values['detached-child'] ? () => undefined : (l) => process.stdout.write(l + '\n'), err });
        return untilStopped(handle);
      },
    },
    argv,
  );
}

/**
 * Containers run from their images unless asked otherwise. A flag on the command line beats the environment, so
 * `--from-images` still wins over a PODKIT_HOST_PROCESSES=1 exported for a whole shell (or test run).
 */
function runsFromImages(fromImages: boolean, hostProcesses: boolean, origin: Readonly<Record<string, string | undefined>>): boolean {
  if (origin['host-processes'] === 'flag' && hostProcesses) return false;
  if (origin['from-images'] === 'flag') return fromImages;
  return fromImages && !hostProcesses;
}

/** Re-run ourselves as a daemon (own session, output to a runner log) and wait until its pods are running. */
async function detach(argv: string[], root: string, pods: string[], stdinText?: string): Promise<number> {
  mkdirSync(root, { recursive: true });
  // Refuse at once a pod a live runner holds; the daemon checks again under the lock, for `up`s that race.
  const held = heldPodLocks();
  const taken = pods.find((p) => held.has(podLockName(root, p)));
  if (taken) throw new UsageError(`pod "${taken}" is already running (podkit down ${taken})`);
  const log = join(root, `runner-${Date.now()}-${process.pid}.log`);
  const fd = openSync(log, 'a');
  const main = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
  let args = argv.filter((a) => a !== '-d' && a !== '--detach' && a !== '--detach=true');
  if (args.includes('-')) {
    // The daemon cannot read our stdin: hand it the manifests as a file in the state folder.
    const saved = join(root, `stdin-${Date.now()}-${process.pid}.yaml`);
    writeFileSync(saved, stdinText ?? '', { mode: 0o600 });
    args = args.map((a) => (a === '-' ? saved : a));
  }
  const child = spawn(process.execPath, [main, 'up', '--detached-child', ...args], { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, PODKIT_STATE_DIR: root } });
  closeSync(fd);
  let exited: number | null = null;
  child.once('exit', (c) => (exited = c ?? 1));
  child.unref();
  // Settled = our own daemon owns the pod and has set it up, or failed to (init containers may still run).
  const started = async (): Promise<boolean> => {
    const settled = listPods(root)
      .filter((e) => pods.includes(e.name) && e.state?.runner.pid === child.pid)
      .map((e) => ({ name: e.name, st: readJSON<PodStatus>(join(e.dir, 'status.json')) }))
      .filter((p) => p.st && p.st.setup !== 'pending');
    if (settled.length === pods.length) {
      const failed = settled.filter((p) => p.st?.setup === 'failed');
      if (failed.length === 0) return true;
      for (const f of failed) process.stderr.write(`podkit up: pod ${f.name} did not start: ${f.st?.message}\n`);
      const rest = pods.length - failed.length;
      throw new SandboxError(`${failed.map((f) => f.name).join(', ')} did not start (ContainerCreating)${rest ? `; the other ${rest} run on` : ''}; podkit ps shows them, podkit down --all stops them; log: ${log}`);
    }
    if (exited !== null) {
      const text = readFileSync(log, 'utf8');
      process.stderr.write(text);
      const reason = text.trimEnd().split('\n').pop()?.replace(/^podkit up: /, '');
      throw new PodkitError('PODKIT_ERR_SANDBOX', `the detached runner exited (${exited}) before its pods started${reason ? `: ${reason}` : ''}; log: ${log}`);
    }
    return false;
  };
  if (!(await waitFor(started, { timeoutMs: 60_000, intervalMs: 50 }))) throw new TimeoutError(`pods did not start within 60s; log: ${log}`);
  const url = listPods(root).find((p) => pods.includes(p.name))?.state?.statusURL;
  process.stdout.write(`${pods.join('\n')}\n`);
  process.stderr.write(`podkit: running in the background (pid ${child.pid}); runner log ${log}${url ? `; status ${url}` : ''}\n`);
  return 0;
}

/** --log-max-size / --log-max-files as the kubelet checks them: a positive quantity, at least 2 files. */
function logLimits(size: string, files: number): LogLimits {
  let maxBytes: number;
  try {
    maxBytes = quantity(size);
  } catch {
    maxBytes = NaN;
  }
  if (!Number.isFinite(maxBytes) || maxBytes < 1024) throw new UsageError(`--log-max-size: "${size}" is not a size of at least 1Ki (e.g. 10Mi)`);
  if (!Number.isInteger(files) || files < 2) throw new UsageError(`--log-max-files: must be at least 2, got ${files}`);
  return { maxBytes: Math.floor(maxBytes), maxFiles: files };
}
