import type { DevId } from '../domain.js';

/**
 * Tenants with a password of their own. A tenant (dev_id) listed here logs in to CometQL only with its
 * password and acts only on its own data; one that is not uses the main password, as in CppComet. The
 * password is kept only as MySQL keeps it (`*` and the hex of SHA1(SHA1(password))): exactly what
 * mysql_native_password checks a login against, and never the password itself.
 */
export interface TenantStore {
  /** The stored hash of the tenant's password; undefined: the tenant has none. */
  passwordHash(devId: DevId): Promise<string | undefined>;
  /** The tenants with a password among `devIds` (all of them when undefined), in dev_id order. */
  find(devIds: readonly DevId[] | undefined): Promise<DevId[]>;
  /** Sets or replaces the tenant's password hash. */
  put(devId: DevId, passwordHash: string): Promise<void>;
  delete(devId: DevId): Promise<boolean>;
}

/** Tenants in this process's memory, lost on restart. */
export class MemoryTenantStore implements TenantStore {
  private readonly hashes = new Map<DevId, string>();

  async passwordHash(devId: DevId): Promise<string | undefined> {
    return this.hashes.get(devId);
  }

  async find(devIds: readonly DevId[] | undefined): Promise<DevId[]> {
    const found = devIds ? [...new Set(devIds)].filter((devId) => this.hashes.has(devId)) : [...this.hashes.keys()];
    return found.sort((a, b) => a - b);
  }

  async put(devId: DevId, passwordHash: string): Promise<void> {
    this.hashes.set(devId, passwordHash);
  }

  async delete(devId: DevId): Promise<boolean> {
    return this.hashes.delete(devId);
  }
}
