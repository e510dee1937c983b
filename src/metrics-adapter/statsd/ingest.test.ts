/** @module Ingest fuzz: any bytes through parser + mapping + store render as valid exposition lines in both formats. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { render } from '../../core/metrics/exposition.js';
import { SeriesStore } from '../store.js';
import { StatsdIngest } from './ingest.js';
import { parseMappingConfig } from './mapping.js';

const LINE = /^(# (HELP|TYPE|UNIT) [a-zA-Z_:][a-zA-Z0-9_:]* .*|# EOF|[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)( [0-9.e+-]+)?)$/;

test('fuzz: StatsD-ish input never throws and always renders valid lines', () => {
  const mapping = parseMappingConfig({
    defaults: { observer_type: 'histogram' },
    mappings: [{ match: 'a.*', name: 'mapped_$1', labels: { x: '$1' } }, { match: 'b.*', name: 'sum_$1', observer_type: 'summary' }],
  });
  fc.assert(
    fc.property(fc.array(fc.string({ unit: fc.constantFrom(...'ab.:|@#,=[]c1-+gmsdh_\n é"\\'.split('')), maxLength: 40 }), { maxLength: 20 }), (lines) => {
      const store = new SeriesStore({ maxSeries: 50, maxSeriesPerFamily: 10 });
      const ingest = new StatsdIngest(store, mapping);
      ingest.packet(Buffer.from(lines.join('\n')));
      for (const fmt of ['prometheus', 'openmetrics'] as const) {
        for (const l of render(store.collect(), fmt).split('\n')) if (l !== '') assert.match(l, LINE, `${fmt}: ${JSON.stringify(l)}`);
      }
      store.close();
    }),
    { numRuns: 2000 },
  );
});
