import { afterAll, beforeAll } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Database } from '../../src/storage/database.js';
import { MariaDB } from '../helpers/mariadb.js';

/** One MariaDB for the test file: created before its tests, destroyed after them. */
export function useMariaDB(): () => MariaDB {
  let server: MariaDB | undefined;
  beforeAll(async () => {
    server = await MariaDB.create();
  });
  afterAll(async () => {
    await server?.destroy();
  });
  return () => server!;
}

/** The stores' database on an emptied MariaDB, as the server opens it, logging nothing. */
export async function openEmptyDatabase(server: MariaDB): Promise<Database> {
  await server.empty();
  return Database.open(server.settings, createLogger('silent'));
}
