/** @module Builds the udp_batch addon with the node-gyp bundled with npm against the local Node's headers (no downloads); part of `npm run build`. */
// Never fails the build: without the addon the StatsD UDP listener uses Node's dgram (and says so once at start).
// PODKIT_NATIVE_STRICT=1 makes a failed build an error (CI on Linux, where the addon must exist).
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'build', 'Release', 'udp_batch.node');
const strict = process.env.PODKIT_NATIVE_STRICT === '1';

function give_up(why) {
  console.error(`udp-batch: not built (${why}); StatsD UDP will use Node's dgram`);
  process.exit(strict ? 1 : 0);
}

if (process.platform !== 'linux') give_up(`recvmmsg is Linux-only, this is ${process.platform}`);

const mtime = (p) => statSync(p).mtimeMs;
if (existsSync(out) && mtime(out) >= Math.max(mtime(join(here, 'udp_batch.c')), mtime(join(here, 'binding.gyp')))) process.exit(0);

// The headers of the Node that runs this script (Debian/NodeSource put them in <prefix>/include/node).
const nodedir = resolve(dirname(process.execPath), '..');
if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) give_up(`no Node headers under ${nodedir}/include/node`);

// `npm run` says where its node-gyp is; otherwise look where npm is installed next to node.
const candidates = [process.env.npm_config_node_gyp, join(nodedir, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
const gyp = candidates.find((p) => p && existsSync(p));
if (!gyp) give_up('node-gyp (bundled with npm) not found');

const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=error'], { cwd: here, encoding: 'utf8' });
if (r.status !== 0 || !existsSync(out)) {
  process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `${r.error.message}\n` : ''}`);
  give_up(`node-gyp exited ${r.status ?? r.signal}`);
}
// Compiler warnings are worth seeing; make's chatter is not.
if (/warning:/.test(r.stderr ?? '')) process.stderr.write(r.stderr);
console.error('udp-batch: built native/udp-batch/build/Release/udp_batch.node');
