/** @module Shared glue for subcommands: parse flags, print --help, turn errors into one line and an exit code. */
import { helpText, parseConfig, type FlagSpec, type Parsed, type ParseOptions } from '../core/config.js';
import { describeError, exitCodeOf } from '../core/errors.js';

export interface CommandDef<S extends FlagSpec> {
  /** `podkit git-sync`. */
  command: string;
  /** One usage line after `Usage: `. */
  usage: string;
  /** A paragraph for --help. */
  summary: string;
  spec: S;
  /** Extra text after the flags (env notes, examples). */
  epilog?: string;
  positionals?: boolean;
  env?: ParseOptions['env'];
  main(parsed: Parsed<S>): Promise<number>;
}

/** Parse argv against the spec and run `main`. --help prints to stdout (exit 0); errors print one line (exit 2 for usage/config). */
export async function runCommand<S extends FlagSpec>(def: CommandDef<S>, argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText(def.spec, def.usage, def.summary) + (def.epilog ? `\n${def.epilog.trimEnd()}\n` : ''));
    return 0;
  }
  try {
    const parsed = parseConfig(def.spec, argv, { command: def.command, env: def.env, positionals: def.positionals });
    return await def.main(parsed);
  } catch (err) {
    process.stderr.write(`${def.command}: ${describeError(err)}\n`);
    return exitCodeOf(err);
  }
}
