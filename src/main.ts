import './threadPool.js';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { reportProcessErrors } from './processErrors.js';
import { startServer } from './server.js';
import { StoreError } from './storage/storeError.js';

const USAGE = `Usage: npm start -- [--config FILE]

Starts cometmcu. Without --config it reads conf/comet.ini; every key can be overridden by an
environment variable COMET_<SECTION>_<KEY> (for example COMET_MAIN_PASSWORD, COMET_COMETQL_PORT).`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const config = loadConfig({ file: values.config });
  const log = createLogger(config.main.log_level);
  const server = await startServer(config, log);
  // From here on nothing ends the process but a signal; a failed start still does (main().catch).
  reportProcessErrors(log);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // SIGHUP reloads the certificate (renewed in place); without TLS it keeps its default (the process ends).
  if (server.secure) process.on('SIGHUP', () => server.reloadCertificate());
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof StoreError || (error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(`cometmcu: ${(error as Error).message}`);
  } else {
    console.error(error);
  }
  process.exit(1);
});
