/** @module The topology flag fragment and topologyFromFlags: defaults, and every bad input is a clear exit-2 error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../core/config.js';
import { exitCodeOf } from '../../core/errors.js';
import { topologySpec } from './flags.js';
import { topologyFromFlags, type TopologyFlags } from './index.js';

const spec = { ...topologySpec, master: { kind: 'hostport' as const, help: 'm' }, replica: { kind: 'hostport' as const, help: 'r', repeatable: true as const } };
const parse = (argv: string[]) => parseConfig(spec, argv, { command: 'podkit redis-ambassador', env: {} }).values as unknown as TopologyFlags & { consistency: string };

function fails(fn: () => unknown, re: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.match((e as Error).message, re);
    assert.equal(exitCodeOf(e), 2);
    return;
  }
  assert.fail(`expected an error matching ${re}`);
}

test('defaults: max-lag 5s, no offset bound, eventual consistency', () => {
  const v = parse(['--sentinel', '127.0.0.1:26379', '--sentinel', '127.0.0.1:26380', '--master-name', 'mymaster']);
  assert.equal(v['max-lag'], 5000);
  assert.equal(v['max-lag-offset'], 0);
  assert.equal(v.consistency, 'eventual');
  assert.deepEqual(v.sentinel, [
    { host: '127.0.0.1', port: 26379 },
    { host: '127.0.0.1', port: 26380 },
  ]);
});

test('bad flag values are usage errors naming the flag', () => {
  fails(() => parse(['--max-lag', '500ms']), /max-lag.*at least 1s/);
  fails(() => parse(['--max-lag-offset', '-1']), /max-lag-offset/);
  fails(() => parse(['--consistency', 'strong']), /consistency/);
  fails(() => parse(['--sentinel', 'nohostport']), /sentinel/);
});

test('topologyFromFlags refuses contradictory or incomplete combinations', () => {
  const base = parse([]);
  const s = [{ host: '127.0.0.1', port: 1 }];
  fails(() => topologyFromFlags({ ...base, sentinel: s, master: { host: '127.0.0.1', port: 2 } }), /--sentinel: give either --sentinel .* or --master\/--replica, not both/);
  fails(() => topologyFromFlags({ ...base, sentinel: s }), /--master-name: required with --sentinel/);
  fails(() => topologyFromFlags({ ...base, 'master-name': 'x', master: { host: '127.0.0.1', port: 2 } }), /--master-name: only with --sentinel/);
  fails(() => topologyFromFlags(base), /--master: required/);
  fails(() => topologyFromFlags({ ...base, sentinel: s, replica: [{ host: '127.0.0.1', port: 2 }], 'master-name': 'm' }), /not both/);
  fails(() => topologyFromFlags({ ...base, sentinel: s, 'master-name': 'm', 'sentinel-password-file': '/nonexistent/pw' }), /sentinel-password-file: cannot read/);
});
