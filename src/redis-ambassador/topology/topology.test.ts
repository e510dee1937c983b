/** @module Unit tests for the pure topology rules: ROLE / INFO parsing and replica/master health decisions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failoverLoss, historyOffset, masterState, parseReplInfo, parseRole, replicaState, structuralKey, type ProbeResult } from './topology.js';

const masterInfo = ['# Replication', 'role:master', 'connected_slaves:1', 'slave0:ip=127.0.0.1,port=7001,state=online,offset=900,lag=0', 'master_repl_offset:1000', ''].join('\r\n');
const replicaInfo = (link: string, off: number) =>
  ['# Replication', 'role:slave', 'master_host:127.0.0.1', 'master_port:7000', `master_link_status:${link}`, 'master_last_io_seconds_ago:0', `slave_repl_offset:${off}`, 'master_repl_offset:1000', ''].join('\r\n');

function probe(role: unknown, info: string, alive = true): ProbeResult {
  return { role: parseRole(role), info: parseReplInfo(info), alive, down: alive ? undefined : 'connection lost', sentAt: 1 };
}
const M = { host: '127.0.0.1', port: 7000 };
const R = { host: '127.0.0.1', port: 7001 };
const bounds = { maxLagSeconds: 5, maxLagOffset: 0 };

test('parseRole: master, slave, sentinel; garbage is an error', () => {
  assert.deepEqual(parseRole(['master', 42, []]), { role: 'master', offset: 42 });
  assert.deepEqual(parseRole(['slave', '127.0.0.1', 7000, 'connected', 40]), { role: 'slave', masterHost: '127.0.0.1', masterPort: 7000, state: 'connected', offset: 40 });
  assert.equal(parseRole(['sentinel', []]).role, 'sentinel');
  assert.throws(() => parseRole('x'), /ROLE/);
  assert.throws(() => parseRole(['leader']), /unknown role/);
});

test('parseReplInfo reads the slaveN lines and offsets', () => {
  const m = parseReplInfo(masterInfo);
  assert.equal(m.role, 'master');
  assert.equal(m.masterOffset, 1000);
  assert.deepEqual(m.connected, [{ host: '127.0.0.1', port: 7001, state: 'online', offset: 900, lag: 0 }]);
  const r = parseReplInfo(replicaInfo('down', 5));
  assert.equal(r.linkUp, false);
  assert.equal(r.replicaOffset, 5);
});

test('replicaState: healthy replica; ackOffset is the max of its own and the master view', () => {
  const mp = probe(['master', 1000, []], masterInfo);
  const s = replicaState(R, probe(['slave', '127.0.0.1', 7000, 'connected', 950], replicaInfo('up', 950)), { ...M, probe: mp }, bounds);
  assert.equal(s.healthy, true, s.reason);
  assert.equal(s.ackOffset, 950);
  assert.equal(s.lagSeconds, 0);
});

test('replicaState: every unhealthy cause has a reason', () => {
  const mp = probe(['master', 1000, []], masterInfo);
  const master = { ...M, probe: mp };
  const ok = probe(['slave', '127.0.0.1', 7000, 'connected', 950], replicaInfo('up', 950));
  assert.match(replicaState(R, undefined, master, bounds).reason ?? '', /not probed/);
  assert.match(replicaState(R, { ...ok, alive: false, down: 'no reply for 800 ms' }, master, bounds).reason ?? '', /no reply/);
  assert.match(replicaState(R, probe(['master', 1, []], masterInfo), master, bounds).reason ?? '', /ROLE says master/);
  assert.match(replicaState(R, ok, null, bounds).reason ?? '', /no confirmed master/);
  assert.match(replicaState(R, probe(['slave', '127.0.0.1', 7999, 'connected', 950], replicaInfo('up', 950)), master, bounds).reason ?? '', /replicates from 127.0.0.1:7999/);
  assert.match(replicaState(R, probe(['slave', '127.0.0.1', 7000, 'connect', 950], replicaInfo('down', 950)), master, bounds).reason ?? '', /link_status:down/);
  const lagging = probe(['master', 1000, []], masterInfo.replace('lag=0', 'lag=9'));
  assert.match(replicaState(R, ok, { ...M, probe: lagging }, bounds).reason ?? '', /lag 9s > 5s/);
  assert.match(replicaState(R, ok, master, { maxLagSeconds: 5, maxLagOffset: 10 }).reason ?? '', /offset lag 50 > 10/);
  assert.equal(replicaState(R, ok, master, { maxLagSeconds: 5, maxLagOffset: 50 }).healthy, true);
});

test('masterState: a master that says slave is not a master', () => {
  assert.equal(masterState(M, probe(['master', 1000, []], masterInfo)).healthy, true);
  const demoted = masterState(M, probe(['slave', '127.0.0.1', 7001, 'connected', 1], replicaInfo('up', 1)));
  assert.equal(demoted.healthy, false);
  assert.match(demoted.reason ?? '', /ROLE says slave/);
});

test('structuralKey ignores offsets and lag numbers', () => {
  const a = { host: 'h', port: 1, role: 'replica' as const, healthy: false, reason: 'no reply for 800 ms', ackOffset: 1 };
  const b = { ...a, reason: 'no reply for 1050 ms', ackOffset: 99, lagSeconds: 3 };
  assert.equal(structuralKey({ master: null, replicas: [a] }), structuralKey({ master: null, replicas: [b] }));
  assert.notEqual(structuralKey({ master: null, replicas: [a] }), structuralKey({ master: null, replicas: [{ ...a, healthy: true, reason: undefined }] }));
});

test('failoverLoss: bytes of the old history seen beyond where the promoted node continued it; siblings; unknown otherwise', () => {
  const info = (lines: string[]) => parseReplInfo([...lines, ''].join('\r\n'));
  const oldMaster = info(['role:master', 'master_replid:old', 'master_replid2:older', 'master_repl_offset:5300', 'second_repl_offset:4001']);
  const promoted = info(['role:master', 'master_replid:new', 'master_replid2:old', 'master_repl_offset:5200', 'second_repl_offset:5001']);
  const seen = new Map([['old', { offset: 5300, at: 900 }]]);
  assert.deepEqual(failoverLoss(oldMaster, promoted, seen, 1000), { oldOffset: 5300, promotedAt: 5000, unreplicatedBytes: 300, sampleAgeMs: 100 });
  // The promoted node had more than anyone was seen to have: nothing known lost.
  assert.equal(failoverLoss(oldMaster, promoted, new Map([['old', { offset: 4000, at: 900 }]]), 1000).unreplicatedBytes, 0);
  // A sibling promoted from the same earlier master (Sentinel's double failover): everything since the split.
  const sibling = info(['role:master', 'master_replid:other', 'master_replid2:older', 'master_repl_offset:4500', 'second_repl_offset:4201']);
  assert.deepEqual(failoverLoss(oldMaster, sibling, seen, 1000), { oldOffset: 5300, promotedAt: 4000, unreplicatedBytes: 1300, sampleAgeMs: 100 });
  // A node that never shared the history (e.g. a manual REPLICAOF NO ONE elsewhere): unknown, not 0.
  const stranger = info(['role:master', 'master_replid:x', 'master_replid2:y', 'master_repl_offset:10', 'second_repl_offset:5']);
  assert.equal(failoverLoss(oldMaster, stranger, seen, 1000).unreplicatedBytes, null);
  assert.equal(failoverLoss(null, promoted, seen, 1000).promotedAt, null);
  const replica = parseReplInfo(replicaInfo('down', 950));
  assert.equal(historyOffset(replica), 1000);
});
