import { conference } from './conference.js';
import { conferenceBroadcast } from './conferenceBroadcast.js';
import { conferenceMembers } from './conferenceMembers.js';
import { pipes } from './pipes.js';
import { pipesMessages } from './pipesMessages.js';
import { pipesSettings } from './pipesSettings.js';
import type { Table } from './table.js';
import { tenants } from './tenants.js';
import { usersAuth } from './usersAuth.js';
import { usersData } from './usersData.js';
import { usersInPipes } from './usersInPipes.js';
import { usersMessages } from './usersMessages.js';
import { usersTime } from './usersTime.js';

/** Every CometQL table, in the order SHOW TABLES lists them: CppComet's seven first, root's `tenants` last. */
export const TABLES: ReadonlyMap<string, Table> = new Map(
  [usersAuth, usersTime, usersMessages, pipesMessages, usersInPipes, pipes, pipesSettings, usersData, conference, conferenceMembers, conferenceBroadcast, tenants].map(
    (table) => [table.name, table],
  ),
);
