// @ts-check
/**
 * @module The house rule, as an ESLint rule: floors are folders and no import runs up.
 *
 *   src/core            ground floor: imports nothing of the project outside core
 *   src/git-sync, src/redis-ambassador, src/metrics-adapter, src/pod
 *                       components: import core and themselves, never another component
 *   src/inject          knows every component, but only through its flag spec (<component>/flags.ts) and pod/spec
 *   src/cli             top floor: the only folder that may import components wholesale; nothing imports it
 *
 * Parsers are pure: nothing under resp/, statsd/ or pod/spec/ imports sockets, files or processes (tests may).
 * docs/architecture.md draws the same plan.
 */
import { dirname, relative, resolve, sep } from 'node:path';

const COMPONENTS = new Set(['git-sync', 'redis-ambassador', 'metrics-adapter', 'pod']);
const IMPURE = new Set(['net', 'fs', 'fs/promises', 'dgram', 'child_process', 'tls', 'http', 'https', 'dns', 'dns/promises']);
const PURE_FOLDERS = [/^[^/]+\/resp\//, /^metrics-adapter\/statsd\//, /^pod\/spec\//];

/** `src`-relative path of an absolute file, or null outside src/. */
function inSrc(root, file) {
  const rel = relative(resolve(root, 'src'), file).split(sep).join('/');
  return rel.startsWith('..') || rel === '' ? null : rel;
}

/** Why `from` (src-relative) may not import `to` (src-relative), or null when it may. */
export function floorViolation(from, to) {
  const floor = from.split('/')[0];
  const target = to.split('/')[0];
  if (floor === target) return null;
  if (target === 'cli') return 'nothing outside src/cli imports src/cli (it is the top floor)';
  if (floor === 'core') return `src/core is the ground floor and imports nothing from src/${target}`;
  if (COMPONENTS.has(floor)) {
    if (target === 'core') return null;
    return `a component (src/${floor}) imports only src/core and itself, not src/${target}`;
  }
  if (floor === 'inject') {
    if (target === 'core') return null;
    if (COMPONENTS.has(target) && (/^[^/]+\/flags\.ts$/.test(to) || to.startsWith('pod/spec/'))) return null;
    return `src/inject imports a component only through its flags.ts or pod/spec, not ${to}`;
  }
  return null;
}

/** Why a pure parser file may not import `spec`, or null. */
export function purityViolation(from, spec) {
  if (/\.test\.ts$/.test(from)) return null;
  if (!PURE_FOLDERS.some((re) => re.test(from))) return null;
  const mod = spec.replace(/^node:/, '');
  return IMPURE.has(mod) ? `parsers are pure: ${from} may not import ${spec} (put socket/file glue beside the parser's folder)` : null;
}

/** @type {import('eslint').Rule.RuleModule} */
const rule = {
  meta: { type: 'problem', docs: { description: 'floors are folders: no import runs up, parsers do no I/O' }, schema: [] },
  create(context) {
    const file = context.filename;
    const root = context.cwd;
    const from = inSrc(root, file);
    if (from === null) return {};
    function check(node, spec) {
      if (typeof spec !== 'string') return;
      const pure = purityViolation(from, spec);
      if (pure) context.report({ node, message: pure });
      if (!spec.startsWith('.')) return;
      const to = inSrc(root, resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
      if (to === null) return;
      const why = floorViolation(from, to);
      if (why) context.report({ node, message: `${why} (import '${spec}')` });
    }
    return {
      ImportDeclaration: (n) => check(n, n.source.value),
      ExportNamedDeclaration: (n) => n.source && check(n, n.source.value),
      ExportAllDeclaration: (n) => check(n, n.source.value),
      ImportExpression: (n) => n.source.type === 'Literal' && check(n, n.source.value),
    };
  },
};

export default { rules: { floors: rule } };
