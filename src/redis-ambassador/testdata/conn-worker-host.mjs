/**
 * Run by conn.test.ts in a process of its own, so that only the worker loads the addon (and unloads it when it
 * ends): starts conn-worker.mjs, connects three peers, has one connection closed, ends the worker and waits until
 * every peer's connection has closed. Prints "ok"; a close callback into the unloaded addon is a SIGSEGV instead.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { Worker } from 'node:worker_threads';

const w = new Worker(new URL('./conn-worker.mjs', import.meta.url));
const [hello] = await once(w, 'message');
if (hello.kind !== 'native') throw new Error(`worker uses ${hello.kind} connections`);
const peers = [0, 1, 2].map(() => connect(hello.port, '127.0.0.1').on('error', () => {}));
const closed = peers.map((p) => once(p, 'close'));
await once(w, 'message'); // all three adopted
peers[0].write('echo');
await once(peers[0], 'data');
w.postMessage('stop');
await once(w, 'message'); // one is closing, and the worker's loop will not run again
const code = await w.terminate();
await Promise.all(closed);
console.log(code === 1 ? 'ok' : `worker exit code ${code}`);
