/** @module `podkit git-sync` CLI glue: flags → Options, run until a signal, --one-time or too many failures. */
import { commandLogger, runCommand } from '../core/command.js';
import { runUntilSignal } from '../core/lifecycle.js';
import { spec } from './flags.js';
import { optionsFromFlags } from './options.js';
import { start } from './index.js';
import { writeErrorFile } from './fsutil.js';
import { ConfigError, exitCodeOf, UsageError } from '../core/errors.js';
import { resolve } from 'node:path';
import { v4ExitCode, wantsV4ExitCodes } from './exit-codes.js';

const EPILOG = `Environment: every flag also reads GITSYNC_<NAME> (and the GIT_SYNC_<NAME> spelling kubernetes/git-sync v4 still accepts).
Layout: --root/.git holds the one object store, --root/.worktrees/<hash> each published tree, and --link is a relative
symlink to the current one, swapped atomically by rename. SIGHUP triggers a sync.
Exit codes: 0 after --one-time succeeded, 1 at the --max-failures-th consecutive failed sync (or a failed --one-time hook), 2 for bad usage
(--exit-codes=v4: v4's 1 for bad values and combinations, 2 only for what its flag parser refuses).
See docs/git-sync.md.`;

export async function run(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit git-sync',
      usage: 'podkit git-sync --repo=URL --root=PATH [flags]',
      summary: 'Sync a git repository into --root and publish it through a symlink; a drop-in for kubernetes/git-sync v4.',
      spec,
      epilog: EPILOG,
      exitCode: (err) => (wantsV4ExitCodes(argv, process.env) ? v4ExitCode(err) : exitCodeOf(err)),
      async main(parsed) {
        const v = parsed.values;
        const log = commandLogger('git-sync', v);
        let handle;
        try {
          handle = await start({ ...optionsFromFlags(v, (name) => parsed.origin[name] !== 'default'), log });
        } catch (e) {
          // v4 writes a bad configuration's message to the error file too, once --root is known.
          if ((e instanceof UsageError || e instanceof ConfigError) && v['error-file'] && v.root) {
            try {
              writeErrorFile(resolve(v.root, v['error-file']), e.message);
            } catch {
              /* the usage error below is what matters */
            }
          }
          throw e;
        }
        let code = 0;
        const done = handle.done.then((c) => {
          code = c;
        });
        await runUntilSignal(handle, { log, deadlineMs: 10_000 }, done);
        await handle.close();
        return code;
      },
    },
    argv,
  );
}
