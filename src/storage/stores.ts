import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { MemoryStore } from '../conference/memoryStore.js';
import { MysqlStore } from '../conference/mysqlStore.js';
import type { Store } from '../conference/store.js';
import { MemoryMessagingStore } from '../messaging/memoryStore.js';
import { MysqlMessagingStore } from '../messaging/mysqlStore.js';
import type { MessagingStore } from '../messaging/store.js';
import { MysqlTenantStore } from '../tenants/mysqlStore.js';
import { MemoryTenantStore, type TenantStore } from '../tenants/store.js';
import { Database } from './database.js';

/** The conference, messaging and tenant stores of one server, and what closes them. */
export interface Stores {
  conference: Store;
  messaging: MessagingStore;
  tenants: TenantStore;
  close(): Promise<void>;
}

/** This process's memory, lost on restart: the embedded default. */
export function memoryStores(): Stores {
  const conference = new MemoryStore();
  return { conference, messaging: new MemoryMessagingStore(), tenants: new MemoryTenantStore(), close: () => conference.close() };
}

/** [store]: the MySQL/MariaDB database when mysql_host is set (one pool for both stores), else memory. */
export async function openStores(settings: Config['store'], log: Logger): Promise<Stores> {
  if (settings.mysql_host === '') return memoryStores();
  const db = await Database.open(
    {
      host: settings.mysql_host,
      port: settings.mysql_port,
      user: settings.mysql_user,
      password: settings.mysql_password,
      database: settings.mysql_database,
      connections: settings.mysql_connections,
    },
    log,
  );
  try {
    const messaging = await MysqlMessagingStore.open(db);
    log.info({ host: settings.mysql_host, port: settings.mysql_port, database: settings.mysql_database }, 'MySQL store open');
    return { conference: new MysqlStore(db), messaging, tenants: new MysqlTenantStore(db), close: () => db.close() };
  } catch (error) {
    await db.close();
    throw error;
  }
}
