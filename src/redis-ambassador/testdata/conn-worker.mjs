/**
 * Worker for conn.test.ts: opens native client connections and reports the port; on a message it closes one and
 * spins, and the test ends the worker with that close pending and the others open. Plain JS that registers tsx itself: module hooks are per thread.
 */
import { createServer } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { connOpener } = await import('../io/conn.js');
const opener = connOpener('native', () => {});
const conns = [];
const server = createServer({ pauseOnConnect: true }, (raw) => {
  const c = opener.open(server, raw, { data: (b) => c.write(b), drain() {}, close() {} });
  conns.push(c);
  if (conns.length === 3) parentPort.postMessage({ opened: 3 });
});
// Close one connection and never return to the loop: its close is still pending when the test ends the worker.
parentPort.on('message', () => {
  conns[1].destroy();
  parentPort.postMessage({ spinning: true });
  for (;;);
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ kind: opener.kind, port: server.address().port }));
