/** @module `podkit redis-ambassador` CLI glue: flags → Options (secrets from files), run until a signal. */
import { commandLogger, runCommand } from '../core/command.js';
import { readSecretFile } from '../core/secret-file.js';
import { runUntilSignal } from '../core/lifecycle.js';
import { UsageError } from '../core/errors.js';
import { parseBytes } from '../core/parse.js';
import { MAX_SAFE_BULK } from '../core/resp/scanner.js';
import { parseConfig, type Values } from '../core/config.js';
import { spec, readConfigFile, LIVE_FLAGS } from './flags.js';
import { start, type LiveOptions, type ReadPolicy } from './index.js';
import { setSchedPolicy } from './io/conn.js';
import { checkMode, topologyFromFlags } from './topology/index.js';

const COMMAND = 'podkit redis-ambassador';
type V = Values<typeof spec>;

/** The settings as flags, env and the --config file give them (flags win over env, env over the file). */
function load(argv: string[], path: string | undefined): V {
  const file = path ? readConfigFile(path) : undefined;
  const v = parseConfig(spec, argv, { command: COMMAND, file }).values;
  checkMode(v);
  return v;
}

function liveOf(v: V): LiveOptions {
  return { replicas: v.sentinel.length > 0 ? undefined : [...v.replica], readPolicy: v['read-policy'] as ReadPolicy, consistency: v.consistency as 'eventual' | 'session' };
}

const EPILOG = `Passwords are read from files (--password-file, --client-password-file), never from argv; the first line is used.
Writes and anything not known to be read-only go to --master; read-only commands go to a --replica under --read-policy.
See docs/redis-ambassador.md.`;

export async function run(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: COMMAND,
      usage: 'podkit redis-ambassador (--master HOST:PORT [--replica HOST:PORT …] | --sentinel HOST:PORT … --master-name NAME) [--config FILE] [flags]',
      summary: 'A Redis ambassador: the app talks to one Redis on localhost; writes go to the master, reads to replicas.',
      spec,
      epilog: EPILOG,
      async main(parsed) {
        const path = parsed.values.config;
        let v = load(argv, path);
        const sentinel = v.sentinel.length > 0;
        const maxBulk = parseBytes(v['max-bulk']);
        if (maxBulk === undefined || maxBulk < 1) throw new UsageError(`flag --max-bulk: expected a size like 512mb (got ${JSON.stringify(v['max-bulk'])})`);
        if (maxBulk > MAX_SAFE_BULK) throw new UsageError(`flag --max-bulk: at most ${MAX_SAFE_BULK} bytes (what one buffer can hold), got ${maxBulk}`);
        const outputLimit = parseBytes(v['client-output-limit']);
        if (outputLimit === undefined) throw new UsageError(`flag --client-output-limit: expected a size like 1gb, or 0 for none (got ${JSON.stringify(v['client-output-limit'])})`);
        if (outputLimit !== 0 && outputLimit < 2 * maxBulk) throw new UsageError(`flag --client-output-limit: 0 or at least twice --max-bulk (${2 * maxBulk} bytes), so one reply of the largest size never closes a client that reads; got ${outputLimit}`);
        const log = commandLogger('redis-ambassador', v);
        const username = v.username;
        const password = v['password-file'] ? readSecretFile(v['password-file'], 'password-file') : undefined;
        // Static mode keeps plain lists in both consistency modes (session adds offset probes over them), so a reload
        // can switch the mode; Sentinel mode follows its topology.
        const topology = sentinel ? topologyFromFlags(v, { username, password }) : undefined;
        const first = liveOf(v);
        // A process setting, not the component's (start() may share its process): set before the first connection.
        setSchedPolicy(v['sched-policy']);
        const handle = await start({
          listen: v.listen,
          master: v.master,
          topology,
          consistency: first.consistency,
          maxLagSeconds: Math.floor(v['max-lag'] / 1000),
          maxLagOffset: v['max-lag-offset'],
          replicas: first.replicas,
          readPolicy: first.readPolicy,
          httpBind: v['http-bind'],
          username,
          password,
          clientPassword: v['client-password-file'] ? readSecretFile(v['client-password-file'], 'client-password-file') : undefined,
          clientUsername: v['client-username'],
          poolSize: v['pool-size'],
          maxBulk,
          maxPending: v['max-pending'],
          maxClients: v['max-clients'],
          clientOutputLimit: outputLimit,
          connectTimeoutMs: v['connect-timeout'],
          replyGuard: v['reply-guard'] === 'on',
          log,
          // SIGHUP: re-read the file (and env); a bad one throws here and the running settings stay.
          reloadSource: () => {
            const next = load(argv, path);
            const restart = Object.keys(spec).filter((k) => !LIVE_FLAGS.has(k) && JSON.stringify(next[k as keyof V]) !== JSON.stringify(v[k as keyof V]));
            if (next.sentinel.length > 0 !== sentinel) restart.push('mode (static/Sentinel)');
            if (restart.length > 0) log.warn('changed settings that need a restart to take effect (still using the old values)', { settings: restart.map((k) => `--${k}`) });
            const live = liveOf(next);
            v = { ...v, replica: next.replica, 'read-policy': next['read-policy'], consistency: next.consistency };
            return live;
          },
        });
        await runUntilSignal(handle, { log, deadlineMs: 10_000 });
        await handle.close();
        return 0;
      },
    },
    argv,
  );
}
