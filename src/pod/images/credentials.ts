/**
 * @module Registry credentials, found as the kubelet and Docker find them: the pod's pull secrets first (Secrets of type
 * `kubernetes.io/dockerconfigjson`; the first that names the registry wins), then the user's docker config — the
 * credential helper it names for the registry (`credHelpers`, else `credsStore`), or, with none, its `auths` entry. A
 * helper is Docker's protocol: `docker-credential-NAME get`, the server on stdin, `{ServerURL, Username, Secret}` on
 * stdout; a `<token>` user, like an entry's `identitytoken`, means the secret is an OAuth2 refresh token
 * (registry.ts trades it for a bearer token). Credentials stay in memory: never on a command line or in a file.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describeError, ImageError } from '../../core/errors.js';
import type { RegistryCredentials } from './registry.js';

export type Fail = (why: string, cause?: unknown) => ImageError;

/** What podkit reads of a docker config (`docker login`'s config.json, or a pull secret's .dockerconfigjson). */
export interface DockerConfig {
  auths?: Record<string, unknown>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** A helper that says nothing for this long fails the pull (one that waits on a passphrase prompt, say). */
const HELPER_TIMEOUT_MS = 60_000;
/** The most a helper may print: its answer is one small JSON object. */
const HELPER_MAX_OUTPUT = 64 << 10;

const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);

function parseConfig(text: string, what: string): DockerConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ImageError('ErrImagePull', `${what} is not valid JSON: ${describeError(e)}`);
  }
  if (!isObject(parsed)) throw new ImageError('ErrImagePull', `${what} is not a JSON object`);
  const auths = (parsed as DockerConfig).auths;
  if (auths !== undefined && !isObject(auths)) throw new ImageError('ErrImagePull', `${what}: auths is not an object`);
  return parsed as DockerConfig;
}

/** The keys a docker config may file a registry's credentials under (Docker Hub's legacy URL for docker.io). */
function authKeys(registry: string): string[] {
  const hosts = registry === 'docker.io' ? ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'] : [registry];
  return hosts.flatMap((h) => [h, `https://${h}`, `http://${h}`, `https://${h}/v1/`, `https://${h}/v2/`]);
}

/**
 * The credentials an `auths` holds for `registry`: an identity token (`identitytoken`, which Docker prefers when it is
 * there), `auth` (base64 user:password), username/password, or a registry token.
 */
export function credentialsFor(auths: Record<string, unknown> | undefined, registry: string, fail: Fail): RegistryCredentials | undefined {
  const key = authKeys(registry).find((k) => auths && k in auths);
  if (!key) return undefined;
  const e = (auths![key] ?? {}) as { auth?: string; username?: string; password?: string; registrytoken?: string; identitytoken?: string };
  if (e.identitytoken) return { identityToken: e.identitytoken };
  if (e.registrytoken) return { token: e.registrytoken };
  if (e.auth) {
    const plain = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon < 0) throw fail(`the credentials for ${key} are not base64 of user:password`);
    return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
  }
  if (e.username !== undefined) return { username: e.username, password: e.password ?? '' };
  return undefined;
}

/** The server name a helper files a registry's credentials under, as `docker login` gives it. */
export function helperServer(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

/** The helper the docker config names for `registry`: its own in `credHelpers`, else `credsStore`, else none. */
export function helperFor(config: DockerConfig, registry: string, fail: Fail): string | undefined {
  if (config.credHelpers !== undefined && !isObject(config.credHelpers)) throw fail('the docker config\'s credHelpers is not an object');
  const own = config.credHelpers && authKeys(registry).find((k) => Object.hasOwn(config.credHelpers!, k));
  const name = own ? config.credHelpers![own] : config.credsStore;
  if (name === undefined || name === '') return undefined;
  // The name becomes part of a program's name looked up on PATH: nothing that could name a path.
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw fail(`the docker config names a credential helper ${JSON.stringify(name)}, which is not a helper's name`);
  return name;
}

/**
 * Asks `docker-credential-NAME` for the server's credentials; undefined when it has none (Docker's "credentials not
 * found": the pull goes on anonymously, as Docker's does).
 */
export function askHelper(name: string, server: string, fail: Fail, env: NodeJS.ProcessEnv = process.env, timeoutMs = HELPER_TIMEOUT_MS): Promise<RegistryCredentials | undefined> {
  const program = `docker-credential-${name}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, ['get'], { stdio: ['pipe', 'pipe', 'pipe'], env });
    const out: Buffer[] = [];
    let size = 0;
    let err = '';
    let failed: ImageError | undefined;
    const stop = (why: string) => {
      failed ??= fail(`the credential helper ${program} ${why}`);
      child.kill('SIGKILL');
      // A process the helper started may still hold the pipes (a shell script's child): 'close' must not wait on it.
      child.stdout.destroy();
      child.stderr.destroy();
    };
    const timer = setTimeout(() => stop(`did not answer in ${timeoutMs / 1000} s`), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      size += d.length;
      if (size > HELPER_MAX_OUTPUT) stop(`printed more than ${HELPER_MAX_OUTPUT} bytes`);
      else out.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 1024) err += d.toString('utf8');
    });
    // A helper that exits without reading its stdin makes the write fail (EPIPE): its exit says what happened.
    child.stdin.on('error', () => {});
    child.stdin.end(server);
    child.once('error', (e) => {
      clearTimeout(timer);
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      reject(fail(missing ? `the docker config names the credential helper ${JSON.stringify(name)}, and ${program} is not on PATH` : `the credential helper ${program} could not run: ${e.message}`, e));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (failed) return reject(failed);
      const text = Buffer.concat(out).toString('utf8').trim();
      if (code !== 0) {
        // The helpers' own words for "no entry" (docker-credential-helpers' ErrCredentialsNotFound).
        if (/credentials not found/i.test(text)) return resolve(undefined);
        const said = (text || err.trim()).slice(0, 200);
        return reject(fail(`the credential helper ${program} failed (${code === null ? `signal ${signal}` : `exit ${code}`})${said ? `: ${said}` : ''}`));
      }
      try {
        resolve(helperAnswer(text, program, fail));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** A helper's JSON answer as credentials; `<token>` as the user means the secret is an identity (refresh) token. */
export function helperAnswer(text: string, program: string, fail: Fail): RegistryCredentials {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw fail(`the credential helper ${program} did not answer with JSON`);
  }
  const { Username: user, Secret: secret } = (j ?? {}) as { Username?: unknown; Secret?: unknown };
  if (typeof user !== 'string' || typeof secret !== 'string') throw fail(`the credential helper ${program} answered without a Username and Secret`);
  return user === '<token>' ? { identityToken: secret } : { username: user, password: secret };
}

/**
 * The credentials for `registry`: a pull secret's entry, else the docker config's helper (when it names one) or its
 * `auths` entry. `configFile` need not exist.
 */
export async function resolveCredentials(registry: string, secrets: readonly string[], configFile: string, fail: Fail): Promise<RegistryCredentials | undefined> {
  for (const [i, s] of secrets.entries()) {
    const auths = parseConfig(s, `imagePullSecrets[${i}] (.dockerconfigjson)`).auths;
    if (auths && authKeys(registry).some((k) => k in auths)) return credentialsFor(auths, registry, fail);
  }
  if (!existsSync(configFile)) return undefined;
  const config = parseConfig(readFileSync(configFile, 'utf8'), configFile);
  const helper = helperFor(config, registry, fail);
  if (helper) return askHelper(helper, helperServer(registry), fail);
  return credentialsFor(config.auths, registry, fail);
}
