/** @module `podkit git-sync` CLI glue: flags → Options, run until a signal, --one-time or too many failures. */
import { commandLogger, runCommand } from '../core/command.js';
import { runUntilSignal } from '../core/lifecycle.js';
import { spec } from './flags.js';
import { optionsFromFlags } from './options.js';
import { start } from './index.js';

const EPILOG = `Environment: every flag also reads GITSYNC_<NAME> (and the GIT_SYNC_<NAME> spelling kubernetes/git-sync v4 still accepts).
Layout: --root/.git holds the one object store, --root/.worktrees/<hash> each published tree, and --link is a relative
symlink to the current one, swapped atomically by rename. SIGHUP triggers a sync.
Exit codes: 0 after --one-time succeeded, 1 when a sync (or a --one-time hook) failed more than --max-failures times, 2 for bad usage.
See docs/git-sync.md.`;

export async function run(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit git-sync',
      usage: 'podkit git-sync --repo=URL --root=PATH [flags]',
      summary: 'Sync a git repository into --root and publish it through a symlink; a drop-in for kubernetes/git-sync v4.',
      spec,
      epilog: EPILOG,
      async main(parsed) {
        const v = parsed.values;
        const opts = optionsFromFlags(v, (name) => parsed.origin[name] !== 'default');
        const log = commandLogger('git-sync', v);
        const handle = await start({ ...opts, log });
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
