/** @module `--exit-codes=v4`: kubernetes/git-sync v4's exit codes for bad usage, for scripts that check them. */
import { ConfigError, exitCodeOf, UsageError } from '../core/errors.js';

/**
 * What v4's flag parser (pflag, which exits 2) refuses: an unknown flag, a flag without its value, a value its type
 * cannot hold (int, bool, duration, float) and a --credential that is not JSON. Everything else v4 checks itself
 * (required flags, ranges, enums, combinations, bad env values) and exits 1.
 */
const PARSER_REFUSAL =
  /^(unknown flag |unexpected argument |flag --[\w-]+: (needs a value|expected (an integer|a number|true or false|a duration))|flag --credential: (not a JSON|each credential must be a JSON object))/;

/** v4's exit code for an error that ends `podkit git-sync`; the catalogue's for anything but bad usage. */
export function v4ExitCode(err: unknown): number {
  if (!(err instanceof UsageError || err instanceof ConfigError)) return exitCodeOf(err);
  return PARSER_REFUSAL.test(err.message) ? 2 : 1;
}

/**
 * Whether the command line or env asks for v4's codes, read without the parser (which may be what failed):
 * the last `--exit-codes` on the command line wins, then `GITSYNC_EXIT_CODES`.
 */
export function wantsV4ExitCodes(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  let value = env.GITSYNC_EXIT_CODES;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') break;
    const m = /^--?exit-codes(?:=(.*))?$/.exec(argv[i]);
    if (m) value = m[1] ?? argv[++i];
  }
  return value === 'v4';
}
