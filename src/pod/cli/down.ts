/** @module `podkit down [POD…|--all]`: stop pods the Kubernetes way through their runner, or clean up after a runner that is gone. */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flag } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';
import { runCommand } from '../../core/command.js';
import { cleanupPod, listPods } from '../runtime/state.js';
import { stateDirFlag } from './ps.js';

export function run(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit down',
      usage: 'podkit down [--all] [POD…]',
      summary: 'Stop pods started with podkit up -d (preStop, SIGTERM, SIGKILL after the grace period) and remove their namespaces, mounts and state; pods whose runner was killed are cleaned up directly.',
      spec: {
        'state-dir': stateDirFlag,
        all: flag.bool({ help: 'Every pod in the state folder', short: 'a', default: false, env: [] }),
        timeout: flag.duration({ help: 'How long to wait for runners to stop their pods before killing everything', default: 60_000 }),
      },
      positionals: true,
      async main({ values, positionals }) {
        const root = values['state-dir'];
        if (!values.all && positionals.length === 0) throw new UsageError('name a pod, or pass --all');
        const entries = listPods(root);
        const chosen = values.all ? entries : positionals.map((n) => entries.find((e) => e.name === n) ?? n);
        const missing = chosen.filter((c): c is string => typeof c === 'string');
        if (missing.length) throw new UsageError(`no pod ${missing.map((m) => `"${m}"`).join(', ')} (see podkit ps)`);
        const targets = chosen.filter((c) => typeof c !== 'string');
        for (const t of targets) {
          if (t.orphaned) {
            await cleanupPod(t);
            process.stdout.write(`${t.name}: cleaned up (its runner was gone)\n`);
            continue;
          }
          writeFileSync(join(t.dir, 'stop-requested'), '');
          try {
            process.kill(t.state!.runner.pid, 'SIGUSR2');
          } catch {
            // runner just went away; handled below
          }
        }
        const deadline = Date.now() + values.timeout;
        let left = targets.filter((t) => !t.orphaned && existsSync(t.dir));
        while (left.length && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          const now = listPods(root);
          for (const t of left) {
            const e = now.find((x) => x.dir === t.dir);
            if (e?.orphaned) await cleanupPod(e);
          }
          const done = left.filter((t) => !existsSync(t.dir));
          for (const t of done) process.stdout.write(`${t.name}: stopped\n`);
          left = left.filter((t) => existsSync(t.dir));
        }
        for (const t of left) {
          process.stderr.write(`podkit down: ${t.name} did not stop within ${values.timeout}ms; killing it\n`);
          try {
            process.kill(t.state!.runner.pid, 'SIGKILL');
          } catch {
            // gone
          }
          await new Promise((r) => setTimeout(r, 100));
          await cleanupPod({ ...t, orphaned: true });
        }
        return 0;
      },
    },
    argv,
  );
}
