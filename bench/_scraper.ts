/** @module Bench helper process: GETs a URL (after unmeasured warm-ups) n times in a row; prints latencies (ms) and body size as JSON. */
const [url, nS, warmS] = process.argv.slice(2);
// Warm-up scrapes (JIT, first allocation of buffers) are not measured, for either server.
for (let i = 0; i < Number(warmS ?? 0); i++) await (await fetch(url, { headers: { accept: 'text/plain' } })).arrayBuffer();
process.stderr.write('warm\n');
const out: number[] = [];
let bytes = 0;
for (let i = 0; i < Number(nS); i++) {
  const t = performance.now();
  const res = await fetch(url, { headers: { accept: 'text/plain' } });
  const body = await res.arrayBuffer();
  out.push(performance.now() - t);
  bytes = body.byteLength;
  if (res.status !== 200) throw new Error(`status ${res.status}`);
}
process.stdout.write(JSON.stringify({ latencies: out, bytes }) + '\n');
