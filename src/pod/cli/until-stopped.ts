/** @module `podkit up`'s signals: Ctrl-C, SIGTERM or a lost reader close the pods' handle; a second signal kills every container. */
import { onOutputClosed } from '../../core/stdio.js';
import type { Handle } from '../index.js';

/** Run until every pod has ended; resolves with the handle's exit code (rejects as `done` does). */
export async function untilStopped(handle: Handle): Promise<number> {
  const onSignal = (sig: 'SIGINT' | 'SIGTERM') => {
    if (handle.phase === 'running') void handle.close(sig);
    else if (handle.phase === 'stopping') handle.kill();
    else {
      // Cleaning up after the last pod: the signal's own action, as with nothing listening.
      off();
      process.kill(process.pid, sig);
    }
  };
  // `podkit up | tee` and Ctrl-C: tee is gone before our last lines; stop the pods as for SIGTERM, never crash.
  const offClosed = onOutputClosed(() => void handle.close('output closed'));
  const off = () => {
    offClosed();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await handle.done;
  } finally {
    off();
  }
}
