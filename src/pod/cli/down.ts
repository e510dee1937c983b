/** @module `podkit down [POD…|--all]`: stop pods the Kubernetes way through their runner, or clean up after a runner that is gone. */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flag } from '../../core/config.js';
import { describeError, UsageError } from '../../core/errors.js';
import { runCommand } from '../../core/command.js';
import { alive, cleanupPod, listPods, readJSON, type PodEntry, type PodState } from '../runtime/state.js';
import { listClaims, removeClaims, type ClaimRef } from '../runtime/claims.js';
import { stateDirFlag } from './ps.js';
import { waitFor } from '../../core/wait.js';

export function run(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit down',
      usage: 'podkit down [--all] [--volumes] [POD…]',
      summary: 'Stop pods started with podkit up -d (preStop, SIGTERM, SIGKILL after the grace period) and remove their namespaces, mounts and state; pods whose runner was killed are cleaned up directly.',
      spec: {
        'state-dir': stateDirFlag,
        all: flag.bool({ help: 'Every pod in the state folder', short: 'a', default: false, env: [] }),
        timeout: flag.duration({ help: 'How long to wait for runners to stop their pods before killing everything', default: 60_000 }),
        volumes: flag.bool({ help: "Also delete the PersistentVolumeClaims' data: the named pods' claims, or with --all every claim", default: false, env: [] }),
      },
      positionals: true,
      async main({ values, positionals }) {
        const root = values['state-dir'];
        const targets = chooseTargets(root, values.all, positionals);
        const each = reporter();
        // Read before the pods' folders go: which claims they mounted.
        const claims = !values.volumes ? [] : values.all ? listClaims(root) : targets.flatMap(claimsOf);
        const asked = await askToStop(targets, each);
        const left = await waitStopped(root, asked, values.timeout, each);
        await killLeft(left, values.timeout, each);
        deleteClaims(root, claims);
        return each.failed() ? 1 : 0;
      },
    },
    argv,
  );
}

type Each = ((t: PodEntry, what: string, fn: () => Promise<void> | void) => Promise<void>) & { failed(): number };

/** Runs one pod's step; one pod's trouble is reported and the others still go down. */
function reporter(): Each {
  let failed = 0;
  const each = async (t: PodEntry, what: string, fn: () => Promise<void> | void) => {
    try {
      await fn();
      if (what) process.stdout.write(`${t.name}: ${what}\n`);
    } catch (e) {
      failed++;
      process.stderr.write(`podkit down: ${t.name}: ${describeError(e)}\n`);
    }
  };
  return Object.assign(each, { failed: () => failed });
}

function chooseTargets(root: string, all: boolean, names: string[]): PodEntry[] {
  if (!all && names.length === 0) throw new UsageError('name a pod, or pass --all');
  const entries = listPods(root);
  const chosen = all ? entries : names.map((n) => entries.find((e) => e.name === n) ?? n);
  const missing = chosen.filter((c): c is string => typeof c === 'string');
  if (missing.length) throw new UsageError(`no pod ${missing.map((m) => `"${m}"`).join(', ')} (see podkit ps)`);
  return chosen.filter((c): c is PodEntry => typeof c !== 'string');
}

function claimsOf(t: PodEntry): ClaimRef[] {
  return readJSON<ClaimRef[]>(join(t.dir, 'claims.json')) ?? [];
}

/** Finished and orphaned pods are cleaned up at once; each running pod's runner is asked to stop it. */
async function askToStop(targets: PodEntry[], each: Each): Promise<PodEntry[]> {
  const asked: PodEntry[] = [];
  for (const t of targets) {
    if (t.orphaned || t.state?.finished) {
      await each(t, t.orphaned ? 'cleaned up (its runner was gone)' : 'removed (it had finished)', () => cleanupPod(t));
      // A finished pod of a Job whose runner still runs: the runner stops that Job (no more replacements).
      if (!t.orphaned && t.state) signalRunner(t.state.runner);
      continue;
    }
    await each(t, '', () => {
      writeFileSync(join(t.dir, 'stop-requested'), '');
      asked.push(t);
      askRunner(t);
    });
  }
  return asked;
}

/** Wait until the asked pods' folders are gone (their runners cleaned up); returns those still there at the deadline. */
async function waitStopped(root: string, asked: PodEntry[], timeoutMs: number, each: Each): Promise<PodEntry[]> {
  let left = asked.filter((t) => existsSync(t.dir));
  let sweeps = 0;
  /** Clean up the pods whose runner has ended or died, report those gone; true once none is left. */
  const gone = async (): Promise<boolean> => {
    if (left.length === 0) return true;
    const i = sweeps++;
    if (i === 0) return false; // the runners were asked just now
    const now = listPods(root);
    for (const t of left) {
      const e = now.find((x) => x.dir === t.dir);
      if (e?.orphaned || e?.state?.finished) await each(e, '', () => cleanupPod(e));
      // A runner still starting had no state yet (or no handler): ask again now and then.
      else if (e && i % 20 === 0) askRunner(e);
    }
    const done = left.filter((t) => !existsSync(t.dir));
    for (const t of done) process.stdout.write(`${t.name}: stopped\n`);
    left = left.filter((t) => existsSync(t.dir));
    return left.length === 0;
  };
  await waitFor(gone, { timeoutMs, intervalMs: 50 });
  return left;
}

async function killLeft(left: PodEntry[], timeoutMs: number, each: Each): Promise<void> {
  for (const t of left) {
    process.stderr.write(`podkit down: ${t.name} did not stop within ${timeoutMs}ms; killing it\n`);
    const runner = readJSON<PodState>(join(t.dir, 'state.json'))?.runner;
    try {
      if (runner && alive(runner)) process.kill(runner.pid, 'SIGKILL');
    } catch {
      // gone
    }
    // Its cleanup below must not race the runner's own: give the SIGKILL a moment to land.
    await waitFor(() => !runner || !alive(runner), { timeoutMs: 100, intervalMs: 10 });
    await each(t, '', () => cleanupPod({ ...t, state: readJSON<PodState>(join(t.dir, 'state.json')), orphaned: true }));
  }
}

/**
 * Delete the claims' data, except a claim a pod still running mounts: it is kept, as Kubernetes' PVC protection
 * postpones deleting a claim until no running pod uses it.
 */
function deleteClaims(root: string, claims: ClaimRef[]): void {
  const key = (c: ClaimRef) => `${c.namespace}/${c.name}`;
  const users = new Map<string, string>();
  for (const e of listPods(root)) if (!e.orphaned && !e.state?.finished) for (const c of claimsOf(e)) users.set(key(c), e.name);
  const free = claims.filter((c) => !users.has(key(c)));
  removeClaims(root, free);
  for (const c of claims) {
    const user = users.get(key(c));
    process.stdout.write(user ? `persistentvolumeclaim ${key(c)}: kept (pod ${user} still uses it)\n` : `persistentvolumeclaim ${key(c)}: deleted\n`);
  }
}

/** Ask a pod's runner to stop it (the runner reads stop-requested in the pod's folder on SIGUSR2). */
function askRunner(t: PodEntry): void {
  signalRunner(readJSON<PodState>(join(t.dir, 'state.json'))?.runner);
}

function signalRunner(runner: PodState['runner'] | undefined): void {
  try {
    if (runner && alive(runner)) process.kill(runner.pid, 'SIGUSR2');
  } catch {
    // it has just gone: the next look finds the pod orphaned
  }
}
