/** @module `podkit redis-ambassador` CLI glue: flags → Options (secrets from files), run until a signal. */
import { readFileSync } from 'node:fs';
import { commandLogger, runCommand } from '../cli/run.js';
import { addSecret } from '../core/log.js';
import { runUntilSignal } from '../core/lifecycle.js';
import { ConfigError, UsageError } from '../core/errors.js';
import { parseBytes } from '../core/parse.js';
import { spec } from './flags.js';
import { start, type ReadPolicy } from './index.js';
import { topologyFromFlags } from './topology/index.js';

const EPILOG = `Passwords are read from files (--password-file, --client-password-file), never from argv; the first line is used.
Writes and anything not known to be read-only go to --master; read-only commands go to a --replica under --read-policy.
See docs/redis-ambassador.md.`;

function readSecret(path: string, flagName: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(flagName, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const secret = text.split(/\r?\n/)[0];
  if (secret === '') throw new ConfigError(flagName, `${path} is empty`);
  addSecret(secret);
  return secret;
}

export async function run(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit redis-ambassador',
      usage: 'podkit redis-ambassador (--master HOST:PORT [--replica HOST:PORT …] | --sentinel HOST:PORT … --master-name NAME) [flags]',
      summary: 'A Redis ambassador: the app talks to one Redis on localhost; writes go to the master, reads to replicas.',
      spec,
      epilog: EPILOG,
      async main(parsed) {
        const v = parsed.values;
        const sentinel = v.sentinel.length > 0;
        if (sentinel && (v.master || v.replica.length > 0)) throw new UsageError('flag --sentinel: give either --sentinel (with --master-name) or --master/--replica, not both');
        if (!sentinel && !v.master) throw new UsageError('flag --master: required (HOST:PORT of the write master), or --sentinel HOST:PORT with --master-name');
        if (sentinel && !v['master-name']) throw new UsageError('flag --master-name: required with --sentinel');
        if (!sentinel && v['master-name']) throw new UsageError('flag --master-name: only with --sentinel');
        const maxBulk = parseBytes(v['max-bulk']);
        if (maxBulk === undefined || maxBulk < 1) throw new UsageError(`flag --max-bulk: expected a size like 512mb (got ${JSON.stringify(v['max-bulk'])})`);
        const log = commandLogger('redis-ambassador', v);
        const username = v.username;
        const password = v['password-file'] ? readSecret(v['password-file'], 'password-file') : undefined;
        // Static mode keeps its plain lists unless session consistency needs replication offsets (a probed StaticTopology).
        const consistency = v.consistency as 'eventual' | 'session';
        const topology = sentinel || consistency === 'session' ? topologyFromFlags(v, { username, password }) : undefined;
        const handle = await start({
          listen: v.listen,
          master: v.master,
          topology,
          consistency,
          replicas: [...v.replica],
          readPolicy: v['read-policy'] as ReadPolicy,
          httpBind: v['http-bind'],
          username,
          password,
          clientPassword: v['client-password-file'] ? readSecret(v['client-password-file'], 'client-password-file') : undefined,
          clientUsername: v['client-username'],
          poolSize: v['pool-size'],
          maxBulk,
          maxPending: v['max-pending'],
          connectTimeoutMs: v['connect-timeout'],
          log,
        });
        await runUntilSignal(handle, { log, deadlineMs: 10_000 });
        await handle.close();
        return 0;
      },
    },
    argv,
  );
}
