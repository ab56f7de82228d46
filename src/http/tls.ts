import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { ConfigError, configPath, type Config } from '../config.js';

/** [ws] tls_cert (the certificate, then its chain) and tls_key, as paths resolved from the configuration. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** What an operator checks to know which certificate is served. */
export interface CertificateSummary {
  subject: string;
  serial: string;
  validTo: string;
}

/** The TLS files of the configuration; undefined when the HTTP port serves plain HTTP. */
export function tlsFiles(config: Config): TlsFiles | undefined {
  const { tls_cert: cert, tls_key: key } = config.ws;
  if (!cert && !key) return undefined;
  if (!cert || !key) {
    throw new ConfigError(`[ws] tls_cert and tls_key: set both (HTTPS and WSS) or neither (plain HTTP); only ${cert ? 'tls_cert' : 'tls_key'} is set`);
  }
  return { certFile: configPath(config, cert), keyFile: configPath(config, key) };
}

/**
 * The certificate and key of the HTTPS port, read from their files at start and again on each reload.
 * Messages name the files, never what is in them (a key's bytes must not reach a log).
 */
export class TlsCertificate {
  private constructor(
    readonly files: TlsFiles,
    private options: { cert: Buffer; key: Buffer },
  ) {}

  /** Reads both files and checks that they make a context; a ConfigError naming the file otherwise. */
  static read(files: TlsFiles): TlsCertificate {
    return new TlsCertificate(files, readPair(files));
  }

  /** For https.createServer. */
  get contextOptions(): SecureContextOptions {
    return { ...this.options };
  }

  get summary(): CertificateSummary {
    // The file's first certificate is ours; the rest is its chain.
    const certificate = new X509Certificate(this.options.cert);
    return { subject: certificate.subject.replaceAll('\n', ', '), serial: certificate.serialNumber, validTo: certificate.validTo };
  }

  /**
   * Reads the files again and gives `server` the new context: new connections get the new certificate,
   * open ones (calls, sockets) keep the session they have. A pair that cannot be used is logged once and
   * the old certificate stays: a botched renewal must not take the port down.
   */
  reload(server: TlsServer, log: Logger): boolean {
    try {
      const options = readPair(this.files);
      server.setSecureContext(options);
      this.options = options;
    } catch (error) {
      log.error(`TLS certificate not reloaded, the old one is still served: ${(error as Error).message}`);
      return false;
    }
    log.info(this.summary, 'TLS certificate reloaded');
    return true;
  }
}

function readPair(files: TlsFiles): { cert: Buffer; key: Buffer } {
  const cert = readPem(files.certFile, 'tls_cert');
  const key = readPem(files.keyFile, 'tls_key');
  try {
    // What the server would do with them, done first: a key of another certificate fails here.
    createSecureContext({ cert, key });
    new X509Certificate(cert);
  } catch (error) {
    throw new ConfigError(`[ws] tls_cert ${files.certFile} and tls_key ${files.keyFile} are not a usable certificate and key: ${(error as Error).message}`);
  }
  return { cert, key };
}

function readPem(file: string, key: 'tls_cert' | 'tls_key'): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    // "ENOENT: no such file or directory", without the ", open '<file>'" that repeats the name.
    throw new ConfigError(`cannot read [ws] ${key} file ${file}: ${(error as Error).message.replace(/, \w+ '.*'$/, '')}`);
  }
}
