import { conference } from './conference.js';
import { conferenceMembers } from './conferenceMembers.js';
import type { Table } from './table.js';
import { usersAuth } from './usersAuth.js';

/** Every CometQL table, in the order SHOW TABLES lists them. */
export const TABLES: ReadonlyMap<string, Table> = new Map(
  [usersAuth, conference, conferenceMembers].map((table) => [table.name, table]),
);
