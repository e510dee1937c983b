/** @module Bench helper process: GETs a URL n times in a row and prints each latency (ms) and body size as JSON. */
const [url, nS] = process.argv.slice(2);
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
