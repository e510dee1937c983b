/** @module A real OpenSSH server on a loopback port with a throwaway host key and one authorized user key. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { waitForPort } from './poll.js';
import { startProcess, tempDir, type Proc } from './proc.js';
import { requireBinary } from './redis.js';

export interface Sshd {
  readonly port: number;
  readonly proc: Proc;
  /** Private key authorized to log in as the current user (root here). */
  readonly userKey: string;
  /** A known_hosts file that trusts this server. */
  readonly knownHosts: string;
  /** A known_hosts file with a different key for this server (verification must fail). */
  readonly wrongKnownHosts: string;
  /** Login user. */
  readonly user: string;
  stop(): Promise<void>;
}

export async function startSshd(): Promise<Sshd> {
  const bin = process.env.PODKIT_SSHD ?? '/usr/sbin/sshd';
  requireBinary(bin);
  const dir = tempDir('podkit-sshd-');
  const keygen = (file: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'podkit-test', '-f', file]);
  keygen(join(dir, 'host'));
  keygen(join(dir, 'other-host'));
  keygen(join(dir, 'user'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user.pub')));
  const port = await freePort();
  const hostPub = readFileSync(join(dir, 'host.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  const otherPub = readFileSync(join(dir, 'other-host.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostPub}\n`);
  writeFileSync(join(dir, 'wrong_known_hosts'), `[127.0.0.1]:${port} ${otherPub}\n`);
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true }); // privilege-separation dir sshd insists on
  const proc = startProcess(bin, ['-D', '-e', '-f', config], { name: `sshd:${port}` });
  await waitForPort(port).catch((e: Error) => {
    throw new Error(`${e.message}\n${proc.stderr().slice(-1500)}`);
  });
  const user = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
  return { port, proc, userKey: join(dir, 'user'), knownHosts: join(dir, 'known_hosts'), wrongKnownHosts: join(dir, 'wrong_known_hosts'), user, stop: () => proc.stop() };
}
