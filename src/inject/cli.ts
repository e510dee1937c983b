/** @module `podkit inject` CLI glue: read manifests (files or stdin), inject or un-inject, validate, write stdout or -o. */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { runCommand } from '../core/command.js';
import { flag } from '../core/config.js';
import { FileError, UsageError } from '../core/errors.js';
import { injectText } from './index.js';
import type { SidecarMode } from './plan.js';

export const spec = {
  filename: flag.string({ help: 'manifest file to read (- for stdin); repeatable', short: 'f', repeatable: true, env: [], metavar: 'FILE' }),
  output: flag.string({ help: 'write the result here instead of stdout', short: 'o', env: [], metavar: 'FILE' }),
  uninject: flag.bool({ help: 'remove exactly what an earlier inject added (per the podkit.io/status annotation)', env: [], default: false }),
  'sidecar-mode': flag.enum({ help: 'native: initContainers with restartPolicy Always; classic: regular containers (a pod annotation podkit.io/sidecar-mode overrides)', values: ['native', 'classic'], default: 'native' }),
  image: flag.string({ help: 'image of the containers podkit adds (a pod annotation podkit.io/image overrides)', env: ['PODKIT_IMAGE'], metavar: 'IMAGE' }),
  validate: flag.bool({ help: 'validate every resulting manifest (Kubernetes schema and rules) before writing it', env: [], default: true }),
};

const EPILOG = `Annotations on the pod (template) metadata choose what is added, e.g.
  podkit.io/git-sync.repo: https://example.com/site.git
  podkit.io/git-sync.mount-path: /usr/share/nginx/html
  podkit.io/redis-ambassador.master: redis-master:6379
  podkit.io/metrics-adapter.config: my-adapter-configmap
Every flag of a component is an annotation podkit.io/<component>.<flag>. See docs/inject.md.
Exit codes: 0 done, 2 bad usage, a bad annotation or an invalid manifest (the message names it).`;

async function readInput(name: string): Promise<string> {
  if (name !== '-') {
    try {
      return await readFile(name, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function run(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit inject',
      usage: 'podkit inject -f FILE|- [-f …] [-o OUT] [--uninject] [--sidecar-mode native|classic]',
      summary: "Add podkit's containers (git-sync, redis-ambassador, metrics-adapter) to Pods and workload templates according to their podkit.io/* annotations, like istioctl kube-inject.",
      spec,
      epilog: EPILOG,
      async main({ values: v }) {
        if (v.filename.length === 0) throw new UsageError('flag -f/--filename: give at least one manifest file (or - for stdin)');
        const parts: string[] = [];
        for (const name of v.filename) {
          const source = name === '-' ? '<stdin>' : name;
          let text = injectText(await readInput(name), {
            source,
            direction: v.uninject ? 'uninject' : 'inject',
            image: v.image,
            sidecarMode: v['sidecar-mode'] as SidecarMode,
            validate: v.validate,
            warn: (line) => process.stderr.write(`${line}\n`),
          });
          if (parts.length > 0 && text.trim() !== '' && !text.startsWith('---')) text = `---\n${text}`;
          if (text !== '' && !text.endsWith('\n')) text += '\n';
          parts.push(text);
        }
        const out = parts.join('');
        if (v.output) {
          const tmp = `${v.output}.podkit-${process.pid}.tmp`;
          try {
            await writeFile(tmp, out);
            await rename(tmp, v.output);
          } catch (err) {
            throw new FileError(v.output, `cannot write ${v.output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
          }
        } else await new Promise<void>((resolve, reject) => process.stdout.write(out, (e) => (e ? reject(e) : resolve())));
        return 0;
      },
    },
    argv,
  );
}
