import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseIni } from 'ini';
import { LOG_LEVELS, type LogLevel } from './log.js';
import { isLoopbackAddress } from './net.js';

/** Thrown for anything wrong in the configuration; main prints it and exits non-zero. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

interface Setting<T> {
  fallback: T;
  parse(raw: string, where: string): T;
}

const text = (fallback: string): Setting<string> => ({ fallback, parse: (raw) => raw });

const integer = (fallback: number, min: number, max: number): Setting<number> => ({
  fallback,
  parse(raw, where) {
    const value = Number(raw.trim());
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${where}: expected an integer from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  },
});

const oneOf = <T extends string>(fallback: T, allowed: readonly T[]): Setting<T> => ({
  fallback,
  parse(raw, where) {
    const value = raw.trim() as T;
    if (!allowed.includes(value)) throw new ConfigError(`${where}: expected one of ${allowed.join(', ')}, got "${raw}"`);
    return value;
  },
});

/** The password shipped in conf/comet.ini and embedded here; refused on a non-loopback CometQL address. */
export const SHIPPED_PASSWORD = 'CometQLPassword';

/** Every section and key the server knows, with its embedded default. */
const SCHEMA = {
  main: {
    password: text(SHIPPED_PASSWORD),
    node_name: text('cometmcu'),
    log_level: oneOf<LogLevel>('info', LOG_LEVELS),
    dev_index_size: integer(100_000, 1, 2_147_483_647),
  },
  cometql: {
    ip: text('127.0.0.1'),
    port: integer(3300, 0, 65_535),
    max_connections: integer(1000, 1, 1_000_000),
    max_query_size: integer(1_048_576, 1024, 16 * 1024 * 1024),
    /** Values one statement may list: IN (…) entries, rows of an INSERT. */
    max_list_values: integer(10_000, 10, 1_000_000),
  },
  ws: {
    ip: text('0.0.0.0'),
    port: integer(8087, 0, 65_535),
    public_host: text(''),
    public_port: integer(0, 0, 65_535),
    queue_ttl: integer(120, 1, 86_400),
    max_sockets_per_user: integer(16, 1, 1000),
    /** PEM certificate (chain) and key: with both, the HTTP port serves HTTPS and WSS. */
    tls_cert: text(''),
    tls_key: text(''),
  },
  sip: {
    pipesalt: text('pipesalt'),
    reconnect_grace: integer(30, 1, 3600),
    realm: text(''),
    nonce_lifetime: integer(300, 10, 86_400),
    /** SIP WebSockets one user may hold registered, and registrations (contacts) one user may have. */
    max_sockets_per_user: integer(8, 1, 1000),
    max_registrations_per_user: integer(8, 1, 1000),
  },
  media: {
    addresses: text(''),
    addresses_only: oneOf<'true' | 'false'>('false', ['true', 'false']),
    port_min: integer(0, 0, 65_535),
    port_max: integer(0, 0, 65_535),
    ice_servers: text(''),
    ice_username: text(''),
    ice_credential: text(''),
    /** Seconds without a packet from a member before their leg is ended. */
    media_timeout: integer(20, 2, 3600),
    /** Seconds a new leg has to connect (ICE and DTLS) before it is ended. */
    connect_timeout: integer(10, 2, 300),
  },
  broadcast: {
    data_dir: text('../data'),
    segment: integer(1, 1, 10),
    window: integer(6, 3, 60),
    /** CA certificates an rtmps:// server's certificate is checked against; empty: the system's. */
    rtmps_ca_file: text(''),
    /** Seconds an ended room's HLS/DASH files stay served (with ENDLIST) before they are removed. */
    keep_after_end: integer(300, 0, 7 * 86_400),
    /** Key of the signed viewer tokens of private broadcasts; empty: a random one per start. */
    token_secret: text(''),
    /** Seconds a private broadcast's viewer token is valid. */
    token_ttl: integer(3600, 10, 30 * 86_400),
  },
  http: {
    /** Bearer token /metrics requires; empty: /metrics answers loopback clients only. */
    metrics_token: text(''),
    /** Label room gauges by room (tenant and room names); off by default, they are other tenants' data. */
    metrics_rooms: oneOf<'true' | 'false'>('false', ['true', 'false']),
  },
  conference: {
    profiles: text('profiles.ini'),
    dialplan: text('dialplan.conf'),
  },
  /** Where keys, invitations, queues and histories are kept: empty mysql_host means this process's memory. */
  store: {
    mysql_host: text(''),
    mysql_port: integer(3306, 1, 65_535),
    mysql_user: text('cometmcu'),
    mysql_password: text(''),
    mysql_database: text('cometmcu'),
    mysql_connections: integer(10, 1, 1000),
  },
} as const;

type Schema = typeof SCHEMA;
export type Config = {
  -readonly [S in keyof Schema]: { -readonly [K in keyof Schema[S]]: Schema[S][K] extends Setting<infer T> ? T : never };
} & {
  /** Folder of the configuration file; relative paths in it resolve from here. */
  baseDir: string;
};

/** conf/ of this checkout: the shipped configuration, used when no --config is given. */
export const SHIPPED_CONF_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'conf');

export interface LoadOptions {
  /** The ini file; undefined means conf/comet.ini if it exists, else embedded defaults only. */
  file?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Embedded defaults, then the ini file, then COMET_<SECTION>_<KEY> environment variables.
 * Unknown sections or keys are errors: a typo should not silently fall back to a default.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const shipped = resolve(SHIPPED_CONF_DIR, 'comet.ini');
  const file = options.file ?? (existsSync(shipped) ? shipped : undefined);
  const fileValues = file ? readIniFile(file) : {};

  const config = { baseDir: file ? dirname(resolve(file)) : SHIPPED_CONF_DIR } as Record<string, unknown>;
  for (const [section, keys] of Object.entries(SCHEMA)) {
    const out: Record<string, unknown> = {};
    for (const [key, setting] of Object.entries(keys) as [string, Setting<unknown>][]) {
      const envName = `COMET_${section}_${key}`.toUpperCase();
      const fromEnv = env[envName];
      const fromFile = fileValues[section]?.[key];
      if (fromEnv !== undefined) out[key] = setting.parse(fromEnv, envName);
      else if (fromFile !== undefined) out[key] = setting.parse(fromFile, `${file} [${section}] ${key}`);
      else out[key] = setting.fallback;
    }
    config[section] = out;
  }
  const result = config as Config;
  checkSafety(result);
  return result;
}

function readIniFile(file: string): Record<string, Record<string, string>> {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read configuration file ${file}: ${(error as Error).message}`);
  }
  const parsed = parseIni(raw) as Record<string, unknown>;
  const out: Record<string, Record<string, string>> = {};
  for (const [section, keys] of Object.entries(parsed)) {
    const known = (SCHEMA as Record<string, Record<string, unknown>>)[section];
    if (!known || typeof keys !== 'object' || keys === null) {
      throw new ConfigError(`${file}: unknown section [${section}]`);
    }
    out[section] = {};
    for (const [key, value] of Object.entries(keys as Record<string, unknown>)) {
      if (!(key in known)) throw new ConfigError(`${file}: unknown key "${key}" in section [${section}]`);
      out[section][key] = value === true ? 'true' : String(value ?? '');
    }
  }
  return out;
}

function checkSafety(config: Config): void {
  const { port_min: min, port_max: max } = config.media;
  if ((min !== 0 || max !== 0) && !(min > 0 && max > min)) {
    throw new ConfigError(`[media] port_min and port_max: both 0 (any port), or 0 < port_min < port_max; got ${min} and ${max}`);
  }
  if (config.main.password === '') {
    throw new ConfigError('[main] password is empty: MySQL clients cannot authenticate with an empty password');
  }
  if (!isLoopbackAddress(config.cometql.ip) && config.main.password === SHIPPED_PASSWORD) {
    throw new ConfigError(
      `refusing to start: CometQL would listen on ${config.cometql.ip} with the shipped default password. ` +
        'Set [main] password in the configuration (or COMET_MAIN_PASSWORD), or bind [cometql] ip to 127.0.0.1.',
    );
  }
}

/** Resolves a path from the configuration relative to the configuration file's folder. */
export function configPath(config: Config, path: string): string {
  return resolve(config.baseDir, path);
}

/** The host and port browsers use to reach this node, given the port the HTTP server actually bound. */
export function publicEndpoint(config: Config, boundPort: number): { host: string; port: number } {
  return { host: config.ws.public_host || 'localhost', port: config.ws.public_port || boundPort };
}
