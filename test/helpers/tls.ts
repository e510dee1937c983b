/** @module A throwaway certificate authority made with the real `openssl` CLI, and server certificates it signs. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './proc.js';
import { requireBinary } from './redis.js';
import { tempDir } from './proc.js';

export interface TestCA {
  dir: string;
  /** PEM text of the CA certificate, for a client's `ca` option. */
  cert: string;
  certFile: string;
  keyFile: string;
}

export interface ServerCert {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A new CA (EC P-256, valid one day) in its own temp dir. */
export async function makeCA(name = 'podkit-test-ca'): Promise<TestCA> {
  requireBinary('openssl');
  const dir = tempDir('podkit-ca-');
  const certFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'ca.key');
  await run('openssl', ['req', '-x509', ...EC, '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { dir, cert: readFileSync(certFile, 'utf8'), certFile, keyFile };
}

/** A server certificate for `hosts` (DNS names or IPs) signed by `ca`, written under `ca.dir` as `<name>.crt/.key`. */
export async function issueCert(ca: TestCA, hosts: readonly string[] = ['localhost', '127.0.0.1'], name = 'server'): Promise<ServerCert> {
  const keyFile = join(ca.dir, `${name}.key`);
  const csr = join(ca.dir, `${name}.csr`);
  const certFile = join(ca.dir, `${name}.crt`);
  const ext = join(ca.dir, `${name}.ext`);
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  writeFileSync(ext, `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`);
  await run('openssl', ['req', ...EC, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${hosts[0]}`]);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '1', '-extfile', ext]);
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}
