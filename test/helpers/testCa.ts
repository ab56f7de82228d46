import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A server certificate the test CA signed, in PEM files, as an operator would have them. */
export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  /** Upper-case hex, as X509Certificate#serialNumber gives it. */
  serial: string;
  commonName: string;
  /** base64 SHA-256 of the public key, for Chromium's --ignore-certificate-errors-spki-list. */
  spkiSha256: string;
}

/**
 * A certificate authority made for one test run with Debian's `openssl`, in a folder of its own: its
 * certificate (`ca`, to trust) and server certificates for localhost and 127.0.0.1 it signs on demand.
 */
export class TestCa {
  readonly ca: Buffer;
  private issued = 0;

  private constructor(readonly dir: string) {
    openssl('req', '-x509', ...P256, '-nodes', '-keyout', this.path('ca.key'), '-out', this.path('ca.pem'), '-days', '2',
      '-subj', '/CN=cometmcu test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    this.ca = readFileSync(this.path('ca.pem'));
  }

  static create(): TestCa {
    return new TestCa(mkdtempSync(join(tmpdir(), 'cometmcu-ca-')));
  }

  /** A new key and certificate with this common name and a serial of its own. */
  issue(commonName: string): IssuedCertificate {
    const serial = 0x1000 + ++this.issued;
    const name = `server-${this.issued}`;
    const [keyFile, csrFile, certFile, extFile] = ['key', 'csr', 'pem', 'ext'].map((ext) => this.path(`${name}.${ext}`)) as [string, string, string, string];
    writeFileSync(extFile, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
    openssl('req', '-new', ...P256, '-nodes', '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${commonName}`);
    openssl('x509', '-req', '-in', csrFile, '-CA', this.path('ca.pem'), '-CAkey', this.path('ca.key'), '-set_serial', String(serial),
      '-days', '2', '-extfile', extFile, '-out', certFile);
    const certificate = new X509Certificate(readFileSync(certFile));
    const spki = certificate.publicKey.export({ type: 'spki', format: 'der' });
    return { certFile, keyFile, serial: certificate.serialNumber, commonName, spkiSha256: createHash('sha256').update(spki).digest('base64') };
  }

  path(file: string): string {
    return join(this.dir, file);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
