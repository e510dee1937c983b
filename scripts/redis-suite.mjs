// Redis's own test suite (tests/unit of the installed redis-server's version, fetched by scripts/setup.sh) in
// external mode: each unit file directly against a master with two replicas, then through `podkit redis-ambassador`
// (dist/, run `npm run build` first) with --read-policy master, the default read policy and --consistency session,
// each on a fresh master and replicas. Prints pass counts per unit and mode, and every test that passed directly
// but not through the ambassador.
// Usage: node scripts/redis-suite.mjs [--units unit/multi,unit/type/list] [--modes direct,master,default,session]
//          [--only NAME]… [--timeout SECONDS per unit run (300)] [--json FILE] [--verbose]
import { register } from 'tsx/esm/api';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';

register();
const s = await import('../test/helpers/redis-suite.ts');

const argv = process.argv.slice(2);
const opt = { units: undefined, modes: [...s.SUITE_MODES], only: [], timeout: 300, json: undefined, verbose: false };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => {
    if (i + 1 >= argv.length) usage(`${a} needs a value`);
    return argv[++i];
  };
  if (a === '--units') opt.units = val().split(',').filter(Boolean);
  else if (a === '--modes') opt.modes = val().split(',').filter(Boolean);
  else if (a === '--only') opt.only.push(val());
  else if (a === '--timeout') opt.timeout = Number(val());
  else if (a === '--json') opt.json = val();
  else if (a === '--verbose') opt.verbose = true;
  else usage(a === '--help' ? '' : `unknown argument ${a}`);
}
function usage(msg) {
  if (msg) process.stderr.write(`redis-suite: ${msg}\n`);
  process.stderr.write('Usage: node scripts/redis-suite.mjs [--units U,…] [--modes direct,master,default,session] [--only NAME]… [--timeout S] [--json FILE] [--verbose]\n');
  process.exit(msg ? 2 : 0);
}
const bad = opt.modes.filter((m) => !s.SUITE_MODES.includes(m));
if (bad.length || !opt.modes.includes('direct')) usage(`--modes must include direct and name only ${s.SUITE_MODES.join(', ')} (got ${opt.modes.join(',')})`);
if (!(opt.timeout > 0)) usage('--timeout must be a positive number of seconds');

const dir = s.suiteDir();
const units = opt.units ?? s.allUnits(dir);
const runArgs = { args: opt.only.flatMap((o) => ['--only', o]), timeoutMs: opt.timeout * 1000 };
const loadNow = () => loadavg().map((x) => x.toFixed(2)).join(' ');

const rows = [];
const diffs = [];
const all = [];
process.stdout.write(`redis-suite: ${dir}, ${units.length} unit(s), modes ${opt.modes.join(', ')}, load ${loadNow()}\n`);
for (const unit of units) {
  const runs = {};
  for (const mode of opt.modes) {
    const r = await s.runUnitInMode(dir, unit, mode, runArgs);
    runs[mode] = r;
    all.push({ unit: r.unit, mode: r.mode, exit: r.exit, ms: r.ms, tests: r.tests });
    if (opt.verbose) process.stdout.write(r.output);
    if (mode !== 'direct') diffs.push(...s.differences(runs.direct, r));
  }
  const cells = opt.modes.map((m) => {
    const r = runs[m];
    const end = r.exit === 'timeout' ? ' (timeout)' : r.tests.some((t) => t.status === 'exception') ? ' (exception)' : '';
    return `${s.countOk(r)}/${r.tests.filter((t) => t.status !== 'skip' && t.status !== 'ignore').length}${end}`;
  });
  // Written after every unit, so a long run that is stopped keeps what it measured.
  if (opt.json) writeFileSync(opt.json, JSON.stringify({ runs: all, differences: diffs }, null, 1));
  const row = `${unit.padEnd(28)} ${cells.map((c) => c.padEnd(20)).join(' ')} load ${loadNow()}`;
  rows.push(row);
  process.stdout.write(row + '\n');
}
process.stdout.write(`\n${'unit'.padEnd(28)} ${opt.modes.map((m) => m.padEnd(20)).join(' ')}\n${rows.join('\n')}\n`);
const total = (m) => all.filter((r) => r.mode === m).reduce((n, r) => n + r.tests.filter((t) => t.status === 'ok').length, 0);
process.stdout.write(`${'total ok'.padEnd(28)} ${opt.modes.map((m) => String(total(m)).padEnd(20)).join(' ')}\n`);
if (diffs.length) {
  process.stdout.write('\nPassed directly, not through the ambassador:\n');
  for (const d of diffs) process.stdout.write(`  [${d.mode}] ${d.unit}: ${d.name} → ${d.status}${d.detail ? `: ${d.detail.split('\n')[0].slice(0, 160)}` : ''}\n`);
}
process.exit(0);
