/** The servers the SIP tests call into: the whole server for the real JsSIP UA, or the SIP signalling alone. */
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll } from 'vitest';
import { loadDialplan } from '../../dialplan/index.js';
import type { MediaEngine } from '../../src/conference/media.js';
import { ConferenceModel } from '../../src/conference/model.js';
import { MemoryStore } from '../../src/conference/memoryStore.js';
import type { HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { loadProfiles } from '../../src/profiles.js';
import { SipServer, type SipServerOptions } from '../../src/sip/sipServer.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';
import { installBrowserGlobals } from './jssipUa.js';
import type { WeriftMedia } from './weriftMedia.js';

export interface JsSipServer {
  readonly server: TestServer;
  /** A CometQL connection to the server. */
  readonly sql: Connection;
}

/**
 * For a describe whose tests call in with the real JsSIP UA: before its tests, the server with `media`
 * standing in for the mixer, a CometQL connection to it, and the globals JsSIP reaches for (jssipUa.ts);
 * after them, the connection, the server and the media's peer connections ended. The describe's own
 * beforeAll hooks run after these, its afterAll hooks before.
 */
export function useJsSipServer(media: WeriftMedia): JsSipServer {
  let server: TestServer;
  let sql: Connection;
  beforeAll(async () => {
    installBrowserGlobals();
    server = await startTestServer({}, media);
    sql = await connect(server);
  });
  afterAll(async () => {
    await sql.end();
    await server.close();
    await media.close();
  });
  return {
    get server() {
      return server;
    },
    get sql() {
      return sql;
    },
  };
}

/** What a test chooses of a hand-built SipServer's options: its limits and hooks. */
export type SipServerChoices = Omit<SipServerOptions, 'model' | 'media' | 'dialplan' | 'log' | 'realm' | 'nonceLifetimeMs' | 'host'>;

/**
 * The SIP signalling and the conference model alone (a memory store, the shipped profiles and dialplan; no
 * CometQL, no mixer): a SipServer on `http`, which this starts listening on 127.0.0.1.
 */
export async function startSipServer(http: HttpServer, media: MediaEngine, choices: SipServerChoices): Promise<{ port: number; model: ConferenceModel; sip: SipServer }> {
  const port = await http.listen(0, '127.0.0.1');
  const conf = (file: string) => new URL(`../../conf/${file}`, import.meta.url).pathname;
  const model = new ConferenceModel(new MemoryStore(), loadProfiles(conf('profiles.ini')), { serverName: '127.0.0.1', serverPort: port, pipesalt: 'pipesalt' });
  const sip = new SipServer(http, {
    model,
    media,
    dialplan: loadDialplan(conf('dialplan.conf')),
    log: createLogger('silent'),
    realm: 'localhost',
    nonceLifetimeMs: 300_000,
    host: `127.0.0.1:${port}`,
    ...choices,
  });
  return { port, model, sip };
}
