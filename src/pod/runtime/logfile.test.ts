import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { RotatingLog } from './logfile.js';

test('RotatingLog: a rotated-out stream is forgotten once it has finished, so a long run of rotations holds none', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'podkit-logfile-'));
  try {
    const path = join(dir, 'app.log');
    const log = new RotatingLog(path, { maxBytes: 1000, maxFiles: 3 });
    const line = 'x'.repeat(99); // 100 bytes with its newline: ten fill a file
    const rotations = 2000;
    let most = 0;
    for (let i = 0; i < rotations * 10; i++) {
      log.write(line);
      if (i % 10 === 9) {
        most = Math.max(most, log.pendingRotations);
        await turn(); // let the streams' writes and ends run, as a container's output arrives over many turns
      }
    }
    for (let i = 0; i < 1000 && log.pendingRotations > 0; i++) await turn();
    assert.equal(log.pendingRotations, 0, 'every finished stream was dropped');
    assert.ok(most < rotations / 10, `at most ${most} of ${rotations} rotations were pending at once`);
    log.write('last');
    await log.close();
    assert.deepEqual(readdirSync(dir).sort(), ['app.log', 'app.log.1', 'app.log.2']);
    assert.equal(readFileSync(path, 'utf8'), 'last\n');
    assert.equal(readFileSync(`${path}.1`, 'utf8'), `${line}\n`.repeat(10));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
