/** @module Open a page in a real headless Chromium (Debian's package) and return the DOM it rendered. */
import { requireBinary } from './redis.js';
import { run, tempDir } from './proc.js';

export const CHROMIUM = '/usr/bin/chromium';

/** The page as Chromium renders it, from a fresh profile; as root, so without its sandbox. */
export async function dumpDom(url: string): Promise<string> {
  requireBinary(CHROMIUM);
  const profile = tempDir('podkit-chromium-');
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage', `--user-data-dir=${profile}`];
  const r = await run(CHROMIUM, [...flags, '--dump-dom', url], { timeoutMs: 60_000 });
  return r.stdout;
}
