import type { DevId } from '../domain.js';
import type { Database } from '../storage/database.js';
import type { TenantStore } from './store.js';

/** Tenants' password hashes in the MySQL store (`tenants`), so they outlive the process. */
export class MysqlTenantStore implements TenantStore {
  constructor(private readonly db: Database) {}

  async passwordHash(devId: DevId): Promise<string | undefined> {
    const [row] = await this.db.rows<{ password_hash: string }>('SELECT password_hash FROM tenants WHERE dev_id = ?', [devId]);
    return row?.password_hash;
  }

  async find(devIds: readonly DevId[] | undefined): Promise<DevId[]> {
    if (devIds?.length === 0) return [];
    const rows = devIds
      ? await this.db.rows<{ dev_id: DevId }>('SELECT dev_id FROM tenants WHERE dev_id IN (?) ORDER BY dev_id', [devIds])
      : await this.db.rows<{ dev_id: DevId }>('SELECT dev_id FROM tenants ORDER BY dev_id');
    return rows.map((row) => row.dev_id);
  }

  async put(devId: DevId, passwordHash: string): Promise<void> {
    await this.db.run('REPLACE INTO tenants (dev_id, password_hash) VALUES (?, ?)', [devId, passwordHash]);
  }

  async delete(devId: DevId): Promise<boolean> {
    return (await this.db.run('DELETE FROM tenants WHERE dev_id = ?', [devId])) > 0;
  }
}
