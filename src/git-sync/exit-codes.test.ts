import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../core/config.js';
import { exitCodeOf, GitError } from '../core/errors.js';
import { spec } from './flags.js';
import { optionsFromFlags, resolveOptions } from './options.js';
import { v4ExitCode, wantsV4ExitCodes } from './exit-codes.js';
import { createLogger } from '../core/log.js';

const BASE = ['--repo=file:///r.git', '--root=/tmp/r'];

/** The error `podkit git-sync` ends with for this command line (before any sync). */
function failure(argv: string[], env: NodeJS.ProcessEnv = {}): unknown {
  try {
    const p = parseConfig(spec, argv, { command: 'podkit git-sync', env });
    resolveOptions(optionsFromFlags(p.values, (n) => p.origin[n] !== 'default'), createLogger({ name: 't', level: 'error' }));
  } catch (err) {
    return err;
  }
  assert.fail(`no error for ${argv.join(' ')}`);
}
const codes = (argv: string[], env?: NodeJS.ProcessEnv) => {
  const err = failure(argv, env);
  return { podkit: exitCodeOf(err), v4: v4ExitCode(err) };
};

// kubernetes/git-sync v4: pflag (ExitOnError) exits 2 on what it cannot parse; fatalConfigError and the env
// readers exit 1.
test('--exit-codes=v4: 2 where v4\'s flag parser refuses the command line, 1 where v4 validates', () => {
  for (const argv of [['--no-such-flag'], ['--depth=abc'], ['--period=soon'], ['--one-time=maybe'], ['--ref'], ['--credential=not-json']]) {
    assert.deepEqual(codes([...BASE, ...argv]), { podkit: 2, v4: 2 }, argv.join(' '));
  }
  for (const argv of [['--repo=', '--root=/tmp/r'], ['--depth=-1'], ['--period=5ms'], ['--submodules=some'], ['--username=u'], ['--password=p', '--password-file=/f', '--username=u'], ['--credential={"url":"https://h/"}'], ['--sync-on-signal=SIGUSR1']]) {
    const argvFull = argv[0].startsWith('--repo=') ? argv : [...BASE, ...argv];
    assert.deepEqual(codes(argvFull), { podkit: 2, v4: 1 }, argv.join(' '));
  }
  assert.deepEqual(codes(BASE, { GITSYNC_DEPTH: 'abc' }), { podkit: 2, v4: 1 }, 'a bad env value: v4 exits 1');
  // Failures that are not usage keep the catalogue's code.
  assert.equal(v4ExitCode(new GitError('x')), 1);
});

test('v4 exit codes are asked for by the last --exit-codes on the command line, else GITSYNC_EXIT_CODES', () => {
  assert.equal(wantsV4ExitCodes(['--exit-codes=v4'], {}), true);
  assert.equal(wantsV4ExitCodes(['--exit-codes', 'v4', '--no-such-flag'], {}), true);
  assert.equal(wantsV4ExitCodes(['-exit-codes=v4'], {}), true);
  assert.equal(wantsV4ExitCodes([], { GITSYNC_EXIT_CODES: 'v4' }), true);
  assert.equal(wantsV4ExitCodes(['--exit-codes=podkit'], { GITSYNC_EXIT_CODES: 'v4' }), false);
  assert.equal(wantsV4ExitCodes(['--exit-codes=v4', '--exit-codes=podkit'], {}), false);
  assert.equal(wantsV4ExitCodes(['--', '--exit-codes=v4'], {}), false);
  assert.equal(wantsV4ExitCodes([], {}), false);
});
