/** @module Bench helper process: sends StatsD lines over UDP at a paced rate, then prints what it sent as JSON. */
import { createSocket } from 'node:dgram';

const [portS, mode, rateS, durS] = process.argv.slice(2);
const port = Number(portS);
const rate = Number(rateS); // lines per second
const duration = Number(durS);
const batched = mode === 'batched';
const sock = createSocket('udp4');

/** One ~1 KB datagram of lines, or one line. */
function payload(seq: number): { buf: Buffer; lines: number } {
  if (!batched) return { buf: Buffer.from(`bench.m${seq % 1000}:1|c\n`), lines: 1 };
  let s = '';
  let n = 0;
  while (s.length < 1000) {
    s += `bench.m${(seq + n) % 1000}:1|c|#k:v\n`;
    n++;
  }
  return { buf: Buffer.from(s), lines: n };
}

// Pre-build payloads so the sender measures the receiver, not its own string building.
const ring = Array.from({ length: 1000 }, (_, i) => payload(i * 37));
let linesSent = 0;
let datagrams = 0;
let idx = 0;
let t0 = 0;
function tick(): void {
  const elapsed = performance.now() - t0;
  if (elapsed >= duration) return finish();
  const due = (rate * elapsed) / 1000;
  // A connected socket skips the per-send address lookup; no callbacks keeps the sender cheap.
  for (let n = 0; linesSent < due && n < 512 && sock.getSendQueueCount() < 1000; n++) {
    const p = ring[idx++ % ring.length];
    linesSent += p.lines;
    datagrams++;
    sock.send(p.buf);
  }
  setImmediate(tick);
}
function finish(): void {
  const elapsedMs = performance.now() - t0;
  // Queued sends would be cancelled by close(); let them go out first.
  if (sock.getSendQueueCount() > 0) {
    setImmediate(finish);
    return;
  }
  sock.close(() => process.stdout.write(JSON.stringify({ linesSent, datagrams, elapsedMs }) + '\n'));
}
sock.connect(port, '127.0.0.1', () => {
  t0 = performance.now();
  // Tells the bench to start measuring the receiver's CPU now (process start-up is not the receiver's cost).
  process.stderr.write('warm\n');
  tick();
});
