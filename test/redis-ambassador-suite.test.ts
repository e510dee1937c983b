/**
 * @module Redis's own test suite (the installed server's tests/unit, fetched by scripts/setup.sh) through the
 * ambassador: for the units that exercise what a proxy most easily gets wrong (transactions, busy scripts, blocking
 * commands, pub/sub, client-side caching), every test that passes directly against the master passes through the ambassador, apart from
 * the named, documented limits of a read/write-splitting proxy (docs/redis-ambassador.md, "Redis's own test suite").
 * `node scripts/redis-suite.mjs` runs every unit in every mode.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopAll } from './helpers/index.js';
import { differences, runUnitInMode, suiteDir, type SuiteMode } from './helpers/redis-suite.js';

after(async () => {
  await stopAll();
});

interface Case {
  unit: string;
  modes: Exclude<SuiteMode, 'direct'>[];
  /** runtest --only patterns ("/regexp"); none = the whole unit. */
  only?: string[];
}

const CASES: Case[] = [
  { unit: 'unit/multi', modes: ['master', 'session'] },
  { unit: 'unit/scripting', modes: ['master'], only: ['/^Timedout', '/Script ACL check', '/^Script return recursive object', '/^Script with RESP3 map'] },
  { unit: 'unit/functions', modes: ['master'], only: ['/function kill', '/script kill'] },
  { unit: 'unit/type/list', modes: ['master'], only: ['/^BLPOP', '/^BLMPOP_LEFT', '/^BLMOVE', '/^BRPOPLPUSH', '/inside a transaction', '/^MULTI', '/client unblock'] },
  { unit: 'unit/pubsub', modes: ['master'] },
  { unit: 'unit/tracking', modes: ['master'] },
];

/** Passes directly, cannot pass through a proxy that shares upstream connections; each is in the docs with its reason. */
const EXPECTED: Record<string, string> = {
  'unit/scripting: Script ACL check': 'scripts run as the ambassador\'s upstream user, not the user the client sent AUTH for',
  'unit/scripting: Script ACL check #2': 'the same, for a function',
  'unit/multi: WATCH will consider touched expired keys': 'with --consistency session its wait_for_dbsize reads DBSIZE on a second client with no writes of its own, which may read a replica that has not yet received the SET: it sees 0 before the key expires, and EXEC then runs (passes with --read-policy master; a read on a lagging replica)',
  'unit/tracking: RESP3 based basic redirect invalidation with client reply off': 'REDIRECT names a RESP3 client that never subscribed: it has no connection of its own to the master for the invalidations (skipped through it)',
  'unit/type/list: MULTI + LPUSH + EXPIRE + DEBUG SLEEP on blocked client, key already expired': 'reads the replication stream with SYNC, which the ambassador refuses (skipped through it)',
};

const dir = suiteDir();

for (const c of CASES) {
  test(`Redis's ${c.unit}${c.only ? ' (' + c.only.join(', ') + ')' : ''}: what passes directly passes through the ambassador (${c.modes.join(', ')})`, { timeout: 110_000 }, async () => {
    const opts = { args: (c.only ?? []).flatMap((o) => ['--only', o]), timeoutMs: 90_000 };
    const direct = await runUnitInMode(dir, c.unit, 'direct', opts);
    const passed = direct.tests.filter((t) => t.status === 'ok').length;
    assert.ok(passed > 0, `no test passed directly (exit ${direct.exit}):\n${direct.output.slice(-2000)}`);
    for (const mode of c.modes) {
      const run = await runUnitInMode(dir, c.unit, mode, opts);
      const unexpected = differences(direct, run).filter((d) => !(`${d.unit}: ${d.name}` in EXPECTED));
      assert.deepEqual(
        unexpected.map((d) => `[${d.mode}] ${d.name} → ${d.status}${d.detail ? ': ' + d.detail : ''}`),
        [],
        `passed directly (${passed}), not through the ambassador; last output:\n${run.output.slice(-3000)}`,
      );
    }
  });
}
