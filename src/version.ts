import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

export const VERSION = pkg.version;
/** Sent in the MySQL greeting: a MySQL-like version number first, since some connectors parse it. */
export const SERVER_VERSION = `5.7.99-cometmcu-${VERSION}`;
export const VERSION_COMMENT = `cometmcu ${VERSION} (CometQL, CppComet-compatible, AGPL)`;
