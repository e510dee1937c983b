/** @module Builds the native addons with the node-gyp bundled with npm against the local Node's headers (no downloads); part of `npm run build`. */
// Never fails the build: each addon has a pure-Node fallback, which its component uses (and says so once at start).
// PODKIT_NATIVE_STRICT=1 makes a failed build an error (CI on Linux, where the addons must exist).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const strict = process.env.PODKIT_NATIVE_STRICT === '1';

/** Each addon: its folder, target and what runs without it. */
const ADDONS = [
  { dir: 'udp-batch', target: 'udp_batch', fallback: "StatsD UDP will use Node's dgram" },
  { dir: 'conn-io', target: 'conn_io', fallback: "the Redis ambassador's clients will use net.Socket" },
];

let failed = false;

function build({ dir, target, fallback }) {
  const cwd = join(here, dir);
  const out = join(cwd, 'build', 'Release', `${target}.node`);
  const skip = (why) => {
    console.error(`${dir}: not built (${why}); ${fallback}`);
    failed = true;
  };
  // Both use Linux-only system calls and socket options (recvmmsg, SO_MEMINFO; level-triggered polls of dup'ed fds).
  if (process.platform !== 'linux') return skip(`Linux only, this is ${process.platform}`);
  const mtime = (p) => statSync(p).mtimeMs;
  const inputs = readdirSync(cwd).filter((f) => /\.(c|h|gyp)$/.test(f));
  if (existsSync(out) && mtime(out) >= Math.max(...inputs.map((f) => mtime(join(cwd, f))))) return;

  // The headers of the Node that runs this script (Debian/NodeSource put them in <prefix>/include/node).
  const nodedir = resolve(dirname(process.execPath), '..');
  if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) return skip(`no Node headers under ${nodedir}/include/node`);

  // `npm run` says where its node-gyp is; otherwise look where npm is installed next to node.
  const candidates = [process.env.npm_config_node_gyp, join(nodedir, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  const gyp = candidates.find((p) => p && existsSync(p));
  if (!gyp) return skip('node-gyp (bundled with npm) not found');

  const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=error'], { cwd, encoding: 'utf8' });
  if (r.status !== 0 || !existsSync(out)) {
    process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `${r.error.message}\n` : ''}`);
    return skip(`node-gyp exited ${r.status ?? r.signal}`);
  }
  // Compiler warnings are worth seeing; make's chatter is not.
  if (/warning:/.test(r.stderr ?? '')) process.stderr.write(r.stderr);
  console.error(`${dir}: built native/${dir}/build/Release/${target}.node`);
}

for (const a of ADDONS) build(a);
process.exit(failed && strict ? 1 : 0);
