/**
 * @module Free TCP ports on loopback for servers a test starts.
 *
 * A port is handed out some time before its server binds it. Taken from the kernel's ephemeral range (`listen(0)`),
 * it could meanwhile become the local port of one of the many outgoing connections the tests make (clients,
 * redis-benchmark, replication links), and the server's bind would fail. So ports come from just below that range,
 * which outgoing connections never use, and each is checked free by binding it once.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const handedOut = new Set<number>();

/** [low, high] of the ports handed out: the 10,000 below the ephemeral range, or null when there is no such room. */
export function testPortRange(rangeFile = '/proc/sys/net/ipv4/ip_local_port_range'): [number, number] | null {
  let ephemeralLow = 32768;
  try {
    const n = Number(readFileSync(rangeFile, 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(n) && n > 0) ephemeralLow = n;
  } catch {
    // Not Linux: the common default.
  }
  const high = ephemeralLow - 1;
  const low = Math.max(1024, high - 9999);
  return high - low >= 1000 ? [low, high] : null;
}

const range = testPortRange();

/** Listen on `port` (0: any) and close again; the port bound, or null when it was in use. */
function tryBind(port: number, host: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' || e.code === 'EACCES' ? resolve(null) : reject(e)));
    srv.listen(port, host, () => {
      const addr = srv.address();
      const p = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(p));
    });
  });
}

/** A port nothing listens on right now (and that this process has not handed out before). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const want = range ? range[0] + Math.floor(Math.random() * (range[1] - range[0] + 1)) : 0;
    if (handedOut.has(want)) continue;
    const port = await tryBind(want, host);
    if (port === null || handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('freePort: no free port found');
}

export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await freePort(host));
  return out;
}
