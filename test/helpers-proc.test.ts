import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { DRAIN_MS, startProcess, stopAll } from './helpers/index.js';

after(stopAll);

test("startProcess: exited waits until the output is read, which can be after the process's 'exit'", async () => {
  // The child exits at once; what it started writes to the same pipe 300 ms later, as a late pipe read would deliver it.
  const p = startProcess('sh', ['-c', 'echo first; (sleep 0.3; echo last) & exit 0']);
  assert.equal(await p.exited, 0);
  assert.equal(p.stdout(), 'first\nlast\n');
});

test(`startProcess: exited does not hang on a pipe a leftover process holds open; it resolves ${DRAIN_MS} ms after the exit`, { timeout: 30_000 }, async () => {
  const p = startProcess('sh', ['-c', 'echo here; sleep 120 & exit 3']);
  try {
    assert.equal(await p.exited, 3, 'resolved long before the sleep ends (the test times out otherwise)');
    assert.equal(p.stdout(), 'here\n');
  } finally {
    process.kill(-p.pid, 'SIGKILL'); // the sleep left in the child's process group
  }
});
