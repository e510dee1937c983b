/**
 * @module skopeo as the registry transport: it speaks the distribution API (token, basic and anonymous auth, TLS and
 * plain HTTP), verifies every blob's digest and size, and writes blobs into an OCI layout by temp file + rename.
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
      reject(new ImageError('ErrImagePull', (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'skopeo is not installed (apt-get install skopeo): podkit pulls images with it' : e.message, { cause: e })),
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

/** A short explanation for common transport failures, put before skopeo's own words. */
export function explain(msg: string): string {
  if (/unauthorized|authentication required|401|denied/i.test(msg)) return 'authentication failed (check the credentials in the docker config or imagePullSecrets)';
  if (/manifest unknown|name unknown|not found|404/i.test(msg)) return 'not found in the registry';
  if (/connection refused|no such host|i\/o timeout|network is unreachable|dial tcp/i.test(msg)) return 'the registry cannot be reached';
  if (/x509|certificate/i.test(msg)) return 'TLS certificate not trusted (give the registry CA with --ca-file)';
  if (/digest|size mismatch|does not match/i.test(msg)) return 'a blob did not match its digest; nothing of it was stored';
  if (/no space left/i.test(msg)) return 'the disk is full';
  return 'pull failed';
}
