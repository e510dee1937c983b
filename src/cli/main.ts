#!/usr/bin/env node
/** @module The podkit CLI: argv → subcommand. Sets process.exitCode; never exits mid-flight. */
import { commands } from './commands.js';
import { sentence } from '../core/config.js';
import { describeError, exitCodeOf } from '../core/errors.js';
import { guardStdio } from '../core/stdio.js';
import { podkitVersion } from '../core/version.js';
import { closest } from '../core/suggest.js';

function usage(): string {
  const width = Math.max(8, ...commands.map((c) => c.name.length)) + 2;
  const lines = [
    'Usage: podkit <command> [flags]',
    '',
    'Reusable containers for the composite-container patterns, and the Pod that composes them.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${sentence(c.summary)}`),
    '',
    'Flags:',
    `  ${'--help'.padEnd(width)}Show this help (podkit <command> --help for a command's flags)`,
    `  ${'--version'.padEnd(width)}Print the version`,
  ];
  return lines.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    if (first === 'help' && rest[0]) return main([rest[0], '--help']);
    process.stdout.write(usage());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-V' || first === 'version') {
    process.stdout.write(`podkit ${podkitVersion()}\n`);
    return 0;
  }
  const entry = commands.find((c) => c.name === first);
  if (!entry) {
    const near = closest(first, commands.map((c) => c.name));
    process.stderr.write(`podkit: unknown command "${first}"${near ? ` (did you mean ${near}?)` : ''} (see podkit --help)\n`);
    return 2;
  }
  const mod = await entry.load();
  return mod.run(rest);
}

guardStdio();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`podkit: ${describeError(err)}\n`);
    process.exitCode = exitCodeOf(err);
  },
);
