import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { runUntilSignal } from './lifecycle.js';
import { silentLogger } from './log.js';

class FakeProc extends EventEmitter {
  exitCode: number | undefined;
  exits: number[] = [];
  exit(code?: number): never {
    this.exits.push(code ?? 0);
    return undefined as never;
  }
}

test('SIGTERM closes gracefully and resolves; listeners are removed', async () => {
  const proc = new FakeProc();
  let closed = 0;
  const done = runUntilSignal({ close: async () => void closed++ }, { log: silentLogger, proc });
  proc.emit('SIGTERM', 'SIGTERM');
  await done;
  assert.equal(closed, 1);
  assert.deepEqual(proc.exits, []);
  assert.equal(proc.listenerCount('SIGTERM') + proc.listenerCount('SIGINT') + proc.listenerCount('SIGHUP'), 0);
});

test('SIGHUP calls reload; a failing reload keeps running', async () => {
  const proc = new FakeProc();
  let reloads = 0;
  const done = runUntilSignal(
    {
      close: async () => {},
      reload: async () => {
        reloads++;
        if (reloads === 1) throw new Error('bad config');
      },
    },
    { log: silentLogger, proc },
  );
  proc.emit('SIGHUP');
  proc.emit('SIGHUP');
  await new Promise((r) => setImmediate(r));
  assert.equal(reloads, 2);
  proc.emit('SIGINT', 'SIGINT');
  await done;
});

test('the deadline ends a stuck close; a second signal exits at once', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const proc = new FakeProc();
  void runUntilSignal({ close: () => new Promise<void>(() => {}) }, { log: silentLogger, proc, deadlineMs: 20 });
  proc.emit('SIGTERM', 'SIGTERM');
  proc.emit('SIGTERM', 'SIGTERM');
  assert.deepEqual(proc.exits, [1]);
  t.mock.timers.tick(19);
  assert.deepEqual(proc.exits, [1]);
  t.mock.timers.tick(1);
  assert.deepEqual(proc.exits, [1, 1]);
});

test('a failing close sets exit code 1; a finished component resolves without a signal', async () => {
  const proc = new FakeProc();
  const p = runUntilSignal({ close: async () => Promise.reject(new Error('x')) }, { log: silentLogger, proc });
  proc.emit('SIGTERM', 'SIGTERM');
  await p;
  assert.equal(proc.exitCode, 1);
  const proc2 = new FakeProc();
  await runUntilSignal({ close: async () => {} }, { log: silentLogger, proc: proc2 }, Promise.resolve());
  assert.equal(proc2.listenerCount('SIGTERM'), 0);
});
