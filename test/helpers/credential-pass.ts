/**
 * @module A real credential helper for pulls: docker-credential-pass (Debian's golang-docker-credential-helpers) over
 * `pass`, with a throwaway gpg key and store in folders of the test's own. Its `env` reaches the helper podkit runs.
 */
import { chmodSync } from 'node:fs';
import { run, tempDir } from './proc.js';
import { requireBinary } from './redis.js';

export interface PassStore {
  /** The environment the helper needs (GNUPGHOME, PASSWORD_STORE_DIR): set it in process.env or hand it down. */
  env: Record<string, string>;
  /** `docker login`'s share: file credentials for `server` (a `<token>` user files an identity token). */
  store(server: string, user: string, secret: string): Promise<void>;
  /** Stops the gpg-agent the store started. */
  close(): Promise<void>;
}

export async function startPassStore(): Promise<PassStore> {
  for (const b of ['docker-credential-pass', 'pass', 'gpg', 'gpgconf']) requireBinary(b);
  const gnupg = tempDir('podkit-gnupg-');
  chmodSync(gnupg, 0o700); // gpg refuses a home others can read
  const env = { GNUPGHOME: gnupg, PASSWORD_STORE_DIR: tempDir('podkit-pass-') };
  const opts = { env: { ...process.env, ...env }, timeoutMs: 30_000 };
  const id = 'podkit-test@example.invalid';
  // No passphrase: nothing asks for one when the helper decrypts.
  await run('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', `podkit test <${id}>`, 'future-default', 'default', 'never'], opts);
  await run('pass', ['init', id], opts);
  return {
    env,
    store: async (server, user, secret) => {
      await run('docker-credential-pass', ['store'], { ...opts, input: JSON.stringify({ ServerURL: server, Username: user, Secret: secret }) });
    },
    close: async () => {
      await run('gpgconf', ['--kill', 'gpg-agent'], opts).catch(() => {});
    },
  };
}
