import { join } from 'node:path';
import type { Logger } from 'pino';
import { CometQLServer } from '../cometql/server.js';
import { Authenticator } from '../cometql/authentication.js';
import { Executor } from '../cometql/executor.js';
import { DialplanError, loadDialplan, type Dialplan } from '../dialplan/index.js';
import { ConfigError, configPath, publicEndpoint, type Config } from './config.js';
import type { MediaEngine } from './conference/media.js';
import { ConferenceModel } from './conference/model.js';
import { HttpServer, sendJson, sendText } from './http/server.js';
import { tlsFiles } from './http/tls.js';
import { bundleBrowserLibrary, EXAMPLES_DIR, HLS_JS_DIR, serveStatic } from './http/assets.js';
import { BroadcastAccess } from './http/broadcastAccess.js';
import { hasBroadcast, serveBroadcasts } from './http/hls.js';
import { serveMetrics } from './http/metricsEndpoint.js';
import { CometGateway } from './gateway/gateway.js';
import { Messaging } from './messaging/messaging.js';
import { Metrics } from './metrics.js';
import { ViewerTokens } from './security/viewerTokens.js';
import { loadProfiles } from './profiles.js';
import { LoginThrottle } from './security/loginThrottle.js';
import { SipServer } from './sip/sipServer.js';
import { openStores, type Stores } from './storage/stores.js';
import { EndedBroadcasts } from '../mixer/broadcast/endedBroadcasts.js';
import { Mixer } from '../mixer/mixer.js';
import type { MediaNetwork } from '../mixer/peer.js';
import { SERVER_VERSION, VERSION, VERSION_COMMENT } from './version.js';

/** A running server: its bound ports and the model, for tests and for shutdown. */
export interface RunningServer {
  cometqlPort: number;
  httpPort: number;
  model: ConferenceModel;
  metrics: Metrics;
  sip: SipServer;
  /** The mixer, unless another media engine was given. */
  mixer: Mixer | undefined;
  /** The HTTP port serves HTTPS and WSS ([ws] tls_cert and tls_key). */
  secure: boolean;
  /** Reads [ws] tls_cert and tls_key again for new connections; false (logged) if they cannot be used. */
  reloadCertificate(): boolean;
  close(): Promise<void>;
}

/**
 * The composition root: builds the store, the model, the mixer and every front end from the configuration,
 * binds the ports, and returns a handle that shuts all of it down in order. `media` replaces the mixer
 * (tests of the signalling alone).
 */
export async function startServer(
  config: Config,
  log: Logger,
  stores?: Stores,
  media?: MediaEngine,
): Promise<RunningServer> {
  const startedAt = Date.now();
  const profiles = loadProfiles(configPath(config, config.conference.profiles));
  const dialplan = readDialplan(configPath(config, config.conference.dialplan));
  // The certificate is read before the store is opened: a file that cannot be read fails the start at once.
  const http = new HttpServer(log.child({ module: 'http' }), tlsFiles(config));
  // [store] decides: memory, or the MySQL database (which must answer now, or the start fails).
  const { conference: store, messaging: messagingStore, tenants, close: closeStores } = stores ?? (await openStores(config.store, log.child({ module: 'store' })));

  // The HTTP port is bound first: invitations carry the scheme, host and port browsers reach us on.
  const httpPort = await http.listen(config.ws.port, config.ws.ip);
  const endpoint = publicEndpoint(config, httpPort);
  const model = new ConferenceModel(store, profiles, {
    serverName: endpoint.host,
    serverPort: endpoint.port,
    secure: http.secure,
    pipesalt: config.sip.pipesalt,
  });
  const metrics = new Metrics(model, config.http.metrics_rooms === 'true');
  const viewerTokens = new ViewerTokens(config.broadcast.token_secret, config.broadcast.token_ttl);

  // Users, pipes and queues of the comet messaging, shared by CometQL and the gateway.
  const messaging = new Messaging(messagingStore);
  const executor = new Executor(model, messaging, tenants, {
    version: SERVER_VERSION,
    versionComment: VERSION_COMMENT,
    maxQuerySize: config.cometql.max_query_size,
    maxConnections: config.cometql.max_connections,
    devIndexSize: config.main.dev_index_size,
    startedAt,
    connections: () => cometql.connectionCount,
    queries: () => metrics.queryCount,
  }, viewerTokens);
  const cometqlLog = log.child({ module: 'cometql' });
  const cometql: CometQLServer = new CometQLServer({
    executor,
    authenticator: new Authenticator({
      mainPassword: config.main.password,
      tenants,
      devIndexSize: config.main.dev_index_size,
      throttle: new LoginThrottle(),
      log: cometqlLog,
      onFailure: () => metrics.loginFailures.inc({ front: 'cometql' }),
    }),
    serverVersion: SERVER_VERSION,
    maxQuerySize: config.cometql.max_query_size,
    limits: { maxListValues: config.cometql.max_list_values },
    maxConnections: config.cometql.max_connections,
    devIndexSize: config.main.dev_index_size,
    handshakeTimeoutMs: 10_000,
    metrics,
    log: cometqlLog,
    onConnectionCountChange: (count) => metrics.cometqlConnections.set(count),
    statistics: () =>
      `Uptime: ${Math.floor((Date.now() - startedAt) / 1000)}  Threads: ${cometql.connectionCount}  Questions: ${metrics.queryCount}`,
  });
  let cometqlPort: number;
  try {
    cometqlPort = await cometql.listen(config.cometql.port, config.cometql.ip);
  } catch (error) {
    await http.close();
    await closeStores();
    throw error;
  }

  const gateway = new CometGateway(http, {
    model,
    messaging,
    log: log.child({ module: 'gateway' }),
    serverName: VERSION_COMMENT,
    queueTtlMs: config.ws.queue_ttl * 1000,
    maxSocketsPerUser: config.ws.max_sockets_per_user,
    iceServers: iceServers(config),
    onConnectionCountChange: (count) => metrics.cometConnections.set(count),
    onLoginFailure: () => metrics.loginFailures.inc({ front: 'comet' }),
    onMessagesDropped: (count) => metrics.messagesDropped.inc(count),
  });
  const dataDir = configPath(config, config.broadcast.data_dir);
  const mixer = media
    ? undefined
    : new Mixer(model, mediaNetwork(config), log.child({ module: 'mixer' }), {
        dataDir,
        segmentSeconds: config.broadcast.segment,
        windowSegments: config.broadcast.window,
        rtmpsCaFile: config.broadcast.rtmps_ca_file ? configPath(config, config.broadcast.rtmps_ca_file) : null,
        keptAfterEndMs: config.broadcast.keep_after_end * 1000,
      });
  const sip = new SipServer(http, {
    model,
    media: media ?? mixer!,
    dialplan,
    log: log.child({ module: 'sip' }),
    realm: config.sip.realm || endpoint.host,
    nonceLifetimeMs: config.sip.nonce_lifetime * 1000,
    reconnectGraceMs: config.sip.reconnect_grace * 1000,
    host: `${endpoint.host}:${endpoint.port}`,
    maxSocketsPerUser: config.sip.max_sockets_per_user,
    maxRegistrationsPerUser: config.sip.max_registrations_per_user,
    onLoginFailure: () => metrics.loginFailures.inc({ front: 'sip' }),
  });
  if (mixer) metrics.watchMixer(mixer);

  // CppComet's status document, with a few more facts.
  const node = config.main.node_name.slice(0, 10).padEnd(10, '_');
  http.get('/info', async (_request, response) => {
    // A store that does not answer (a database away) makes the server unhealthy: 503, for health checks.
    const { counts, up } = await metrics.storeCounts.read();
    sendJson(response, up ? 200 : 503, {
      status: up ? 'ok' : 'store unavailable',
      node,
      version: VERSION,
      uptime: Math.floor((Date.now() - startedAt) / 1000),
      conferences: counts.rooms,
      members: counts.members,
    });
  });
  // The browser libraries, bundled once; and the example pages.
  for (const [path, entry] of [['/cometVideoApi.js', 'cometVideoApi.ts'], ['/CometServerApi.js', 'cometServerApi.ts']] as const) {
    const library = bundleBrowserLibrary(entry);
    library.catch((error: unknown) => log.error({ err: error }, `cannot bundle ${path}`));
    http.get(path, async (_request, response) => sendText(response, 200, await library, 'text/javascript; charset=utf-8'));
  }
  http.get('/examples/', (_request, response, url) => serveStatic(response, EXAMPLES_DIR, '/examples/', url.pathname));
  // hls.js for the viewer page, from its npm package.
  http.get('/vendor/', (_request, response, url) => serveStatic(response, HLS_JS_DIR, '/vendor/', url.pathname));
  // The embedded HLS/DASH of broadcasting rooms, ended a while after their rooms.
  const hlsRoot = join(dataDir, 'hls');
  const ended = mixer && new EndedBroadcasts(hlsRoot, config.broadcast.keep_after_end * 1000, () => mixer.stats().perRoom, log.child({ module: 'broadcast' }));
  const access = new BroadcastAccess(model, viewerTokens, (devId, room) => hasBroadcast(hlsRoot, mixer, devId, room));
  http.get('/hls/', serveBroadcasts({ root: hlsRoot, mixer, access, onViewer: (room, address, session) => metrics.noteHlsViewer(room, address, session) }));
  http.get('/metrics', serveMetrics(metrics, config.http.metrics_token));

  log.info({ cometql: `${config.cometql.ip}:${cometqlPort}`, http: `${config.ws.ip}:${httpPort}`, tls: http.certificate?.summary }, 'cometmcu started');
  return {
    cometqlPort,
    httpPort,
    model,
    metrics,
    sip,
    mixer,
    secure: http.secure,
    reloadCertificate: () => http.reloadCertificate(),
    async close() {
      await cometql.close();
      await sip.close();
      await mixer?.close();
      ended?.close();
      access.close();
      gateway.close();
      await http.close();
      await closeStores();
      log.info('cometmcu stopped');
    },
  };
}

/** [media] as the mixer's peers use it. */
function mediaNetwork(config: Config): MediaNetwork {
  const addresses = config.media.addresses.split(',').map((a) => a.trim()).filter(Boolean);
  return {
    announcedAddresses: addresses,
    announcedOnly: config.media.addresses_only === 'true' && addresses.length > 0,
    portRange: config.media.port_min ? [config.media.port_min, config.media.port_max] : undefined,
    iceServers: iceServers(config),
    silenceTimeoutMs: config.media.media_timeout * 1000,
    connectTimeoutMs: config.media.connect_timeout * 1000,
  };
}

/** [media] ice_servers with the TURN credentials on every TURN URL. */
export function iceServers(config: Config): { urls: string; username?: string; credential?: string }[] {
  const { ice_servers: list, ice_username: username, ice_credential: credential } = config.media;
  return list
    .split(',')
    .map((url) => url.trim())
    .filter(Boolean)
    .map((urls) => (/^turns?:/.test(urls) && username ? { urls, username, credential } : { urls }));
}

/** Dialplan mistakes stop the start as configuration mistakes do, reported as <file>:<line>: <problem>. */
function readDialplan(file: string): Dialplan {
  try {
    return loadDialplan(file);
  } catch (error) {
    if (error instanceof DialplanError) throw new ConfigError(error.message);
    if ((error as NodeJS.ErrnoException).code) throw new ConfigError(`cannot read dialplan file ${file}: ${(error as Error).message}`);
    throw error;
  }
}
