/** @module `npm run bench -- <name> [--smoke]`: runs bench/<name>.ts and prints its table and ratios. */
import { readdirSync } from 'node:fs';

export interface BenchOptions {
  /** A second-long run that proves the benchmark still works (the test suite runs this). */
  smoke: boolean;
  /** Where the table goes. */
  out: (line: string) => void;
}

export type Bench = (opts: BenchOptions) => Promise<void>;

const here = new URL('.', import.meta.url);
const names = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const smoke = args.includes('--smoke');
  const name = args.find((a) => !a.startsWith('-'));
  if (!name || args.includes('--help')) {
    process.stdout.write(`Usage: npm run bench -- <name> [--smoke]\n\nBenchmarks: ${names.join(', ') || '(none yet)'}\n`);
    return name ? 0 : 2;
  }
  if (!names.includes(name)) {
    process.stderr.write(`bench: unknown benchmark "${name}" (have: ${names.join(', ') || 'none'})\n`);
    return 2;
  }
  const mod = (await import(new URL(`./${name}.ts`, here).href)) as { default: Bench };
  await mod.default({ smoke, out: (l) => process.stdout.write(l + '\n') });
  return 0;
}

main().then(
  (c) => {
    process.exitCode = c;
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
