// The examples' demo app (plain Node, no dependencies). Every second it counts a visit in Redis (INCR, then GET
// through whatever listens on REDIS, e.g. the ambassador on localhost:6379), sends StatsD to STATSD, and serves its
// own stats as JSON on http://127.0.0.1:$PORT/stats. Env: REDIS=host:port, STATSD=host:port (either may be unset).
import { createServer } from 'node:http';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';

const [redisHost, redisPort] = (process.env.REDIS ?? '').split(':');
const [statsdHost, statsdPort] = (process.env.STATSD ?? '').split(':');
const stats = { started: new Date().toISOString(), ticks: 0, visits: 0, redis_errors: 0, queue: { depth: 0 } };
const udp = statsdPort ? createSocket('udp4') : null;
const statsd = (line) => udp?.send(line, Number(statsdPort), statsdHost);

// A one-command-at-a-time RESP client: enough for INCR and GET.
let sock = null;
let pending = null;
let buf = '';
function redis(...args) {
  return new Promise((resolve, reject) => {
    if (!sock) {
      sock = connect(Number(redisPort), redisHost);
      sock.setEncoding('utf8');
      sock.on('data', (d) => {
        buf += d;
        const m = /^([+:-])(.*)\r\n|^\$(-?\d+)\r\n/.exec(buf);
        if (!m || !pending) return;
        if (m[1]) {
          buf = buf.slice(m[0].length);
          return settle(m[1] === '-' ? new Error(m[2]) : null, m[2]);
        }
        const n = Number(m[3]);
        if (n < 0) {
          buf = buf.slice(m[0].length);
          return settle(null, null);
        }
        if (buf.length < m[0].length + n + 2) return;
        const v = buf.slice(m[0].length, m[0].length + n);
        buf = buf.slice(m[0].length + n + 2);
        settle(null, v);
      });
      sock.on('error', (e) => settle(e));
      sock.on('close', () => {
        sock = null;
        buf = '';
        settle(new Error('connection closed'));
      });
    }
    pending = { resolve, reject };
    sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);
  });
}
function settle(err, value) {
  const p = pending;
  pending = null;
  if (p && err) p.reject(err);
  else if (p) p.resolve(value);
}

async function tick() {
  const t0 = performance.now();
  stats.ticks++;
  stats.queue.depth = stats.ticks % 7;
  if (redisPort) {
    try {
      await redis('INCR', 'app:visits');
      stats.visits = Number(await redis('GET', 'app:visits'));
    } catch (e) {
      stats.redis_errors++;
      console.error(`redis: ${e.message}`);
      sock?.destroy();
    }
  }
  statsd('app.ticks:1|c');
  statsd(`app.visits:${stats.visits}|g`);
  statsd(`app.tick_duration:${(performance.now() - t0).toFixed(3)}|ms`);
}
setInterval(() => void tick(), Number(process.env.TICK_MS ?? 1000));
void tick();

const server = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(stats));
});
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => console.log(`app: stats on 127.0.0.1:${server.address().port}/stats`));
process.on('SIGTERM', () => process.exit(0));
