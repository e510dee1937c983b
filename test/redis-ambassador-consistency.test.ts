/**
 * @module --consistency session (read-your-writes) vs eventual, through a real master + replica, the replica SIGSTOP-ed
 * 200 ms every second: `SET k v; GET k` sequential and pipelined (10⁵ pipelined; 2·10⁴ sequential, 10⁵ with
 * PODKIT_AMBASSADOR_FULL=1 or `npm run bench -- redis-ambassador-consistency`).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { stopAll } from './helpers/index.js';
import { ConsistencyRig, staleReads } from './helpers/redis-consistency.js';

const FULL = process.env.PODKIT_AMBASSADOR_FULL === '1';
/** Pipelined pairs cost ~25–40 µs each: the 10⁵. Sequential ones ~350 µs: 2·10⁴ here, 10⁵ with FULL or in the bench. */
const N_PIPE = 100_000;
const N_SEQ = FULL ? 100_000 : 20_000;
let rig: ConsistencyRig;

before(async () => (rig = await ConsistencyRig.start()));
// The replica is SIGCONT-ed here too, so a failing assertion never leaves it stopped.
after(async () => {
  await rig?.close();
  await stopAll();
});

test(`session: 0 stale reads in ${N_SEQ} sequential and ${N_PIPE} pipelined SET+GET; eventual: stale reads observed — replica SIGSTOP-ed 200 ms every second`, { timeout: 600_000 }, async () => {
  const session = await rig.ambassador('session');
  const eventual = await rig.ambassador('eventual');
  rig.startPausing(200, 1000);
  try {
    const s1 = await staleReads(session.c, N_SEQ, 'sequential', 'ses:seq');
    const s2 = await staleReads(session.c, N_PIPE, 'pipelined', 'ses:pipe');
    const e2 = await staleReads(eventual.c, N_PIPE, 'pipelined', 'ev:pipe');
    const e1 = await staleReads(eventual.c, N_SEQ, 'sequential', 'ev:seq');
    rig.stopPausing();
    const us = (r: { ms: number }, n: number) => ((r.ms * 1000) / n).toFixed(0);
    console.log(
      `# consistency, ${N_SEQ} sequential / ${N_PIPE} pipelined SET+GET per run: session sequential ${s1.stale} stale (${us(s1, N_SEQ)} µs/pair), pipelined ${s2.stale} stale (${us(s2, N_PIPE)} µs/pair); ` +
        `eventual sequential ${e1.stale} stale (${us(e1, N_SEQ)} µs/pair), pipelined ${e2.stale} stale (${us(e2, N_PIPE)} µs/pair)`,
    );
    assert.equal(s1.stale, 0);
    assert.equal(s2.stale, 0);
    assert.ok(e1.stale + e2.stale > 0, 'eventual consistency should show stale reads here (proof the test can fail)');
  } finally {
    rig.stopPausing();
  }
});
