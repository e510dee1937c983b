/**
 * @module The redis-ambassador bench's targets and whether one run met them, judged from that run's medians (pure,
 * so the verdicts are tested apart from a run). A target whose config or peer did not run reads "not run".
 */
import { fmt } from './_table.js';

export type Test = 'set' | 'get';
export type Field = 'rps' | 'p50' | 'p99' | 'cpu';
/** A median of the run: config name ('-c 50 -P 1'), test, target ('direct', 'nutcracker', 'ambassador'), field. */
export type Med = (cfg: string, test: Test, target: string, field: Field) => number;

/** [what was measured, as printed; whether it meets the target], or null when this run could not measure it. */
type Judge = (m: (target: string, field: Field) => number) => [string, boolean] | null;

const finite = (...xs: number[]) => xs.every(Number.isFinite);

/** The ambassador's field ÷ nutcracker's, at least (`more`) or at most `k`. */
function ratio(field: Field, k: number, more: boolean): Judge {
  return (m) => {
    const a = m('ambassador', field);
    const n = m('nutcracker', field);
    if (!finite(a, n)) return null;
    return [`${fmt(a / n)}×`, more ? a / n >= k : a / n <= k];
  };
}

/** The latency the ambassador adds at p50 over direct Redis, at most nutcracker's (both in µs). */
const addedP50: Judge = (m) => {
  const d = m('direct', 'p50');
  const a = m('ambassador', 'p50');
  const n = m('nutcracker', 'p50');
  if (!finite(d, a, n)) return null;
  const us = (x: number) => Math.round((x - d) * 1000);
  return [`+${us(a)} µs / +${us(n)} µs`, us(a) <= us(n)];
};

/** The ambassador's p99 at most `ms`. */
const p99AtMost =
  (ms: number): Judge =>
  (m) => {
    const a = m('ambassador', 'p99');
    return Number.isFinite(a) ? [`${fmt(a)} ms`, a <= ms] : null;
  };

/** Every target the bench holds the ambassador to: issue-sized statements, each judged per test (SET, GET). */
export const TARGETS: { cfg: string; what: string; judge: Judge }[] = [
  { cfg: '-c 50 -P 1', what: 'rps ≥ 1.0× nutcracker', judge: ratio('rps', 1.0, true) },
  { cfg: '-c 50 -P 1', what: 'p99 ≤ 1.0 ms', judge: p99AtMost(1.0) },
  { cfg: '-c 50 -P 16', what: 'rps ≥ 1.6× nutcracker', judge: ratio('rps', 1.6, true) },
  { cfg: '-c 1 -P 1', what: 'CPU per request ≤ nutcracker\'s', judge: ratio('cpu', 1.0, false) },
  { cfg: '-c 1 -P 1', what: 'added p50 ≤ nutcracker\'s (ambassador / nutcracker)', judge: addedP50 },
];

/** The table's rows: config, test, target, measured, verdict. */
export function targetRows(med: Med): string[][] {
  const rows: string[][] = [];
  for (const t of TARGETS)
    for (const test of ['set', 'get'] as const) {
      const j = t.judge((target, field) => med(t.cfg, test, target, field));
      rows.push([t.cfg, test.toUpperCase(), t.what, j ? j[0] : '-', j ? (j[1] ? 'met' : 'NOT MET') : 'not run']);
    }
  return rows;
}
