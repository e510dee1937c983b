/** @module The image commands: `podkit pull`, `images`, `rmi`, `image prune`, `load`, `save`. */
import { flag } from '../../core/config.js';
import { ConfigError, fileErrorReason, ImageError, UsageError } from '../../core/errors.js';
import { runCommand } from '../../core/command.js';
import { imageServiceFor, type ImageRecord, type ImageService, type ImageServiceOptions } from '../images/index.js';
import type { PullProgress } from '../images/pull.js';
import { stateDirFlag } from './ps.js';

/** The store under `--state-dir`, made on first use: a state dir that cannot hold it is the flag's fault (exit 2). */
function service(stateDir: string, options?: ImageServiceOptions): ImageService {
  try {
    return imageServiceFor(stateDir, options);
  } catch (e) {
    if (!(e instanceof Error && 'syscall' in e)) throw e;
    throw new ConfigError('--state-dir', `cannot make the image store under ${stateDir} (${fileErrorReason(e)}): give a writable folder with --state-dir DIR or PODKIT_STATE_DIR=DIR`);
  }
}

const pullFlags = {
  'state-dir': stateDirFlag,
  'insecure-registry': flag.string({ help: 'A registry (HOST[:PORT]) reached over plain HTTP or unverified TLS; loopback registries always may be', repeatable: true, env: ['PODKIT_INSECURE_REGISTRIES'] }),
  'cert-dir': flag.string({ help: 'A directory of CA certificates (*.crt) for private registries', env: ['PODKIT_REGISTRY_CERT_DIR'] }),
  'ca-file': flag.string({ help: 'A CA certificate (PEM) for private registries', env: ['PODKIT_REGISTRY_CA_FILE'] }),
  'docker-config': flag.string({ help: 'Registry credentials (docker config.json: auths, credHelpers, credsStore); default $DOCKER_CONFIG/config.json, else ~/.docker/config.json', env: [] }),
};

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/** Renders pull progress: on a TTY one line per layer rewritten in place, otherwise a line per finished layer. */
export function progressPrinter(out: NodeJS.WriteStream = process.stdout): (p: PullProgress) => void {
  let drawn = 0;
  const logged = new Set<string>();
  return (p) => {
    if (out.isTTY) {
      const lines = p.layers.map((l) => `${l.digest.slice(7, 19)}  ${l.done ? `done ${mb(l.size)}` : `${mb(l.size)} …`}`);
      lines.push(`${p.ref}: ${mb(p.bytes)} / ${mb(p.total)}${p.finished ? ' pulled' : ''}`);
      out.write((drawn ? `\x1b[${drawn}A` : '') + lines.map((l) => `\x1b[2K${l}\n`).join(''));
      drawn = lines.length;
      return;
    }
    for (const l of p.layers)
      if (l.done && !logged.has(l.digest)) {
        logged.add(l.digest);
        out.write(`${p.ref}: layer ${l.digest} ${mb(l.size)} done\n`);
      }
    if (p.finished) out.write(`${p.ref}: ${mb(p.total)} pulled\n`);
  };
}

export function runPull(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit pull',
      usage: 'podkit pull [flags] IMAGE…',
      summary: 'Pull images from their registries into the store (linux/amd64 from multi-platform images): each blob downloaded and verified once; the first container to use an image unpacks its layers. Short names are Docker Hub ones: nginx:1.27 is docker.io/library/nginx:1.27.',
      spec: { ...pullFlags, quiet: flag.bool({ help: 'Print only the image IDs', short: 'q', default: false, env: [] }) },
      positionals: true,
      async main({ values, positionals }) {
        if (!positionals.length) throw new UsageError('name an image to pull');
        const svc = service(values['state-dir'], {
          insecureRegistries: values['insecure-registry'],
          ...(values['cert-dir'] ? { certDir: values['cert-dir'] } : {}),
          ...(values['ca-file'] ? { caFile: values['ca-file'] } : {}),
          ...(values['docker-config'] ? { dockerConfig: values['docker-config'] } : {}),
          ...(values.quiet ? {} : { onProgress: progressPrinter() }),
        });
        for (const ref of positionals) {
          const rec = await Promise.resolve()
            .then(() => svc.pull(ref))
            .catch((e: unknown) => {
            throw e instanceof ImageError && e.reason === 'InvalidImageName' ? new UsageError(e.message) : e;
          });
          process.stdout.write(values.quiet ? `${rec.id}\n` : `${rec.ref}: ${rec.digest} (image ${rec.id.slice(7, 19)})\n`);
        }
        return 0;
      },
    },
    argv,
  );
}

function table(list: ImageRecord[]): string {
  const rows = [['REPOSITORY', 'TAG', 'DIGEST', 'IMAGE ID', 'SIZE', 'LAST USED']];
  for (const r of list) {
    const m = /^(.*?)(?::([\w][\w.-]*))?(?:@(sha256:[a-f0-9]+))?$/.exec(r.ref)!;
    rows.push([m[1]!, m[2] ?? '<none>', r.digest.slice(0, 19), r.id.slice(7, 19), mb(r.size), r.lastUsed ?? 'never']);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

export function runImages(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit images',
      usage: 'podkit images [--json]',
      summary: 'List the images in the store: repository, tag, digest, size (compressed) and when a pod last used it.',
      spec: { 'state-dir': stateDirFlag, json: flag.bool({ help: 'Print the records as JSON', default: false, env: [] }) },
      async main({ values }) {
        const list = service(values['state-dir']).list();
        process.stdout.write(values.json ? JSON.stringify(list, null, 2) + '\n' : table(list));
        return 0;
      },
    },
    argv,
  );
}

export function runRmi(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit rmi',
      usage: 'podkit rmi [--force] IMAGE…',
      summary: 'Remove images from the store (by reference or ID), with every blob and layer no other image shares. An image a pod uses stays unless --force.',
      spec: { 'state-dir': stateDirFlag, force: flag.bool({ help: 'Remove even if a pod uses it', short: 'f', default: false, env: [] }) },
      positionals: true,
      async main({ values, positionals }) {
        if (!positionals.length) throw new UsageError('name an image to remove');
        for (const r of await service(values['state-dir']).remove(positionals, values.force)) process.stdout.write(`Untagged: ${r}\n`);
        return 0;
      },
    },
    argv,
  );
}

export function runImage(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'prune' && sub !== '--help' && sub !== '-h') {
    process.stderr.write(`podkit image: ${sub ? `unknown subcommand "${sub}"` : 'name a subcommand'} (podkit image prune)\n`);
    return Promise.resolve(2);
  }
  return runCommand(
    {
      command: 'podkit image prune',
      usage: 'podkit image prune',
      summary: 'Remove every image no pod uses, and the blobs and unpacked layers only they held.',
      spec: { 'state-dir': stateDirFlag },
      async main({ values }) {
        const { removed, freed } = await service(values['state-dir']).prune();
        for (const r of removed) process.stdout.write(`Deleted: ${r}\n`);
        process.stdout.write(`Total reclaimed space: ${mb(freed)}\n`);
        return 0;
      },
    },
    sub === 'prune' ? rest : argv,
  );
}

export function runLoad(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit load',
      usage: 'podkit load [--name IMAGE] FILE',
      summary: 'Import images from a docker save tar or an OCI image layout (directory or tar), for machines that cannot reach a registry.',
      spec: { 'state-dir': stateDirFlag, name: flag.string({ help: 'Reference for an image the file leaves unnamed (an OCI layout tagged only "latest")', env: [] }), input: flag.string({ help: 'The file (instead of the positional)', short: 'i', env: [] }) },
      positionals: true,
      async main({ values, positionals }) {
        const file = values.input ?? positionals[0];
        if (!file || positionals.length > (values.input ? 0 : 1)) throw new UsageError('name one file to load');
        for (const r of await service(values['state-dir']).load(file, values.name)) process.stdout.write(`Loaded image: ${r.ref}\n`);
        return 0;
      },
    },
    argv,
  );
}

export function runSave(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit save',
      usage: 'podkit save -o FILE [--format docker|oci] IMAGE',
      summary: 'Write an image from the store to a tar: docker save format (docker load reads it) or an OCI layout.',
      spec: {
        'state-dir': stateDirFlag,
        output: flag.string({ help: 'The tar to write', short: 'o', env: [] }),
        format: flag.enum({ help: 'Archive format', values: ['docker', 'oci'], default: 'docker', env: [] }),
      },
      positionals: true,
      async main({ values, positionals }) {
        if (positionals.length !== 1) throw new UsageError('name one image to save');
        if (!values.output) throw new UsageError('--output FILE is required');
        await service(values['state-dir']).save(positionals[0]!, values.output, values.format as 'docker' | 'oci');
        return 0;
      },
    },
    argv,
  );
}
