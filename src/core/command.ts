/** @module Shared glue for subcommands: parse flags, print --help, turn errors into one line and an exit code. */
import { flag, helpText, parseConfig, type FlagSpec, type Parsed, type ParseOptions } from '../core/config.js';
import { createLogger, levelFromVerbosity, type Logger } from '../core/log.js';
import { describeError, exitCodeOf } from './errors.js';

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
  /** The exit code for an error that ends the command, when not the catalogue's (`exitCodeOf`): a drop-in may need its peer's codes. */
  exitCode?(err: unknown): number;
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
    return (def.exitCode ?? exitCodeOf)(err);
  }
}

/** The `--log-format` flag every long-running component takes (one env var for all: PODKIT_LOG_FORMAT). */
export const logFormatFlag = flag.enum({ help: 'log format', values: ['auto', 'json', 'text'], env: ['PODKIT_LOG_FORMAT'], default: 'auto' });

/** The component's logger from its `-v` and `--log-format` values. */
export function commandLogger(name: string, v: { readonly verbose: number; readonly 'log-format': string }): Logger {
  return createLogger({ name, level: levelFromVerbosity(v.verbose), format: v['log-format'] as 'auto' | 'json' | 'text' });
}
