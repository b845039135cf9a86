import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findBinary } from '../harness/binaries.js';

/** PEM files of one certificate and its key. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** A private CA with a server certificate (loopback SANs) and a client certificate, all in `dir`. */
export interface Pki {
  ca: string;
  server: CertFiles;
  client: CertFiles;
}

/**
 * Generates a throwaway CA named `name` with the openssl CLI (Debian's `openssl`, which .ci/bootstrap
 * installs): P-256 keys, valid two days, server SANs 127.0.0.1 and localhost.
 */
export async function makePki(dir: string, name: string): Promise<Pki> {
  const openssl = findBinary('openssl', undefined, 'Install it with: apt-get install -y openssl');
  const run = (...args: string[]) => execFileSync(openssl, args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const file = (f: string) => join(dir, `${name}-${f}`);
  run(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca-key.pem'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  );
  const issue = async (role: 'server' | 'client', ext: string): Promise<CertFiles> => {
    const key = file(`${role}-key.pem`);
    const cert = file(`${role}.pem`);
    await writeFile(file(`${role}.ext`), `${ext}\nkeyUsage=digitalSignature,keyEncipherment\n`);
    run('req', '-new', ...ec, '-keyout', key, '-out', file(`${role}.csr`), '-subj', `/CN=${name}-${role}`);
    run(
      'x509',
      '-req',
      '-in',
      file(`${role}.csr`),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca-key.pem'),
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      '2',
      '-extfile',
      file(`${role}.ext`),
    );
    return { cert, key };
  };
  return {
    ca: file('ca.pem'),
    server: await issue('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'),
    client: await issue('client', 'extendedKeyUsage=clientAuth'),
  };
}
