/** @module `podkit logs [-f] POD [CONTAINER]`: print (and follow) a pod's container logs from the state folder. */
import { existsSync, openSync, readdirSync, readSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { flag } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';
import { runCommand } from '../../core/command.js';
import { podDir } from '../runtime/state.js';
import { stateDirFlag } from './ps.js';

export function run(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit logs',
      usage: 'podkit logs [-f] POD [CONTAINER]',
      summary: "Print a pod's container logs (all containers, prefixed, when none is named).",
      spec: { 'state-dir': stateDirFlag, follow: flag.bool({ help: 'Keep printing new lines until the pod is gone or Ctrl-C', short: 'f', default: false, env: [] }) },
      positionals: true,
      async main({ values, positionals }) {
        const [pod, container, ...extra] = positionals;
        if (!pod || extra.length) throw new UsageError('usage: podkit logs [-f] POD [CONTAINER]');
        const dir = podDir(values['state-dir'], pod);
        if (!existsSync(dir)) throw new UsageError(`no pod "${pod}" (see podkit ps)`);
        const logDir = join(dir, 'logs');
        const all = existsSync(logDir) ? readdirSync(logDir).filter((f) => f.endsWith('.log')).map((f) => f.slice(0, -4)) : [];
        if (container && !all.includes(container)) {
          const st = existsSync(join(dir, 'status.json'));
          if (!st || !all.length) throw new UsageError(`no logs for container "${container}" in pod "${pod}"`);
          throw new UsageError(`container "${container}" has no logs in pod "${pod}" (have: ${all.join(', ')})`);
        }
        const names = container ? [container] : all.sort();
        const offsets = new Map<string, number>();
        const pump = () => {
          for (const n of container ? [container] : readdirSync(logDir).filter((f) => f.endsWith('.log')).map((f) => f.slice(0, -4)).sort()) {
            const f = join(logDir, `${n}.log`);
            let size = 0;
            try {
              size = statSync(f).size;
            } catch {
              continue;
            }
            const from = offsets.get(n) ?? 0;
            if (size <= from) continue;
            const fd = openSync(f, 'r');
            const buf = Buffer.alloc(size - from);
            readSync(fd, buf, 0, buf.length, from);
            closeSync(fd);
            const text = buf.toString('utf8');
            const end = text.lastIndexOf('\n') + 1;
            if (end === 0) continue;
            offsets.set(n, from + Buffer.byteLength(text.slice(0, end)));
            for (const line of text.slice(0, end - 1).split('\n')) process.stdout.write(names.length > 1 || !container ? `${pod}/${n} | ${line}\n` : `${line}\n`);
          }
        };
        pump();
        if (!values.follow) return 0;
        let stop = false;
        const onInt = () => (stop = true);
        process.once('SIGINT', onInt);
        while (!stop && existsSync(dir)) {
          await new Promise((r) => setTimeout(r, 200));
          if (existsSync(logDir)) pump();
        }
        process.off('SIGINT', onInt);
        return 0;
      },
    },
    argv,
  );
}
