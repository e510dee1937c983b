/**
 * @module skopeo for `load` and `save`: it reads and writes docker save tars and OCI layouts (the archive formats'
 * conversions), verifying every blob's digest and size, and writes blobs into an OCI layout by temp file + rename.
 */
import { spawn } from 'node:child_process';
import { ImageError } from '../../core/errors.js';

export interface SkopeoResult {
  stdout: string;
  stderr: string;
}

/** Runs skopeo; `onLine` sees its progress lines as they come. Rejects with its last error line. */
export function skopeo(args: readonly string[], onLine?: (line: string) => void, env?: NodeJS.ProcessEnv): Promise<SkopeoResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('skopeo', args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!onLine) return;
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) onLine(l.trim());
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 1 << 16) stderr += d.toString();
    });
    child.once('error', (e) =>
      reject(new ImageError('ErrImagePull', (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'skopeo is not installed (apt-get install skopeo): podkit loads and saves image archives with it' : e.message, { cause: e })),
    );
    child.once('close', (code, sig) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(Object.assign(new ImageError('ErrImagePull', skopeoMessage(stderr) || `skopeo exited ${code ?? sig}`), { stderr }));
    });
  });
}

/** skopeo's error line without its logging prefix and wrappers, e.g. `reading manifest v1: manifest unknown`. */
export function skopeoMessage(stderr: string): string {
  const lines = stderr.trim().split('\n').filter((l) => l.trim());
  const last = lines[lines.length - 1] ?? '';
  const m = /msg="(.*)"\s*$/.exec(last);
  return (m ? m[1]!.replace(/\\"/g, '"') : last).trim();
}
