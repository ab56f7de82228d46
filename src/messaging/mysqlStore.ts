import type { DevId, PipeMessage, PipeName, QueuedMessage, UserId } from '../domain.js';
import type { Database, Queries } from '../storage/database.js';
import { MemoryValues, SWEEP_INTERVAL_MS } from './memoryStore.js';
import type { MessagingStore, TenantValues } from './store.js';

/** A row is live until its expiry; histories without one (null) are kept until trimmed. */
const LIVE = '(expires_at IS NULL OR expires_at > ?)';

/** Which column holds which field of T; `key` is the column the lists are kept by. */
interface ListTable<T> {
  table: string;
  key: string & keyof Columns<T>;
  columns: Columns<T>;
}
type Columns<T> = Record<string, keyof T>;

/** Lists of expiring rows per (dev_id, key) in one table, oldest first (by `seq`): users' queues, pipes' histories. */
class MysqlLists<K extends string | number, T extends { devId: DevId; id: string }> {
  private readonly names: string;

  constructor(
    private readonly db: Database,
    private readonly spec: ListTable<T>,
  ) {
    this.names = Object.keys(spec.columns).join(', ');
  }

  /** Appends and keeps the last `keep` live rows of the list; one transaction, so one commit to disk. */
  append(row: T, keep: number, now: number): Promise<void> {
    const { table, key, columns } = this.spec;
    return this.db.transaction(async (queries) => {
      await queries.run(`INSERT INTO ${table} (dev_id, ${this.names}) VALUES (?)`, [[row.devId, ...Object.values(columns).map((field) => row[field])]]);
      // The newest `keep` live rows stay; everything older goes, live or not.
      const list = [row.devId, row[columns[key]!]];
      const [newestDropped] = await queries.rows<{ seq: number }>(
        `SELECT seq FROM ${table} WHERE dev_id = ? AND ${key} = ? AND ${LIVE} ORDER BY seq DESC LIMIT 1 OFFSET ?`,
        [...list, now, keep],
      );
      if (newestDropped) await queries.run(`DELETE FROM ${table} WHERE dev_id = ? AND ${key} = ? AND seq <= ?`, [...list, newestDropped.seq]);
    });
  }

  /** Live rows of these keys (undefined: every key), each list oldest first, the lists in the order asked. */
  async find(devId: DevId, keys: readonly K[] | undefined, now: number, queries: Queries = this.db, lock = ''): Promise<T[]> {
    if (keys?.length === 0) return [];
    const { table, key } = this.spec;
    const rows = await queries.rows<Record<string, unknown>>(
      `SELECT ${this.names} FROM ${table} WHERE dev_id = ?${keys ? ` AND ${key} IN (?)` : ''} AND ${LIVE} ORDER BY seq${lock}`,
      keys ? [devId, keys, now] : [devId, now],
    );
    const lists = new Map<unknown, T[]>(keys?.map((k) => [k, []]));
    for (const row of rows) {
      const list = lists.get(row[key]);
      const item = this.fromRow(devId, row);
      if (list) list.push(item);
      else lists.set(row[key], [item]);
    }
    return [...lists.values()].flat();
  }

  /** Removes and returns the list's live rows, in one transaction so two readers never both get them. */
  take(devId: DevId, key: K, now: number): Promise<T[]> {
    return this.db.transaction(async (queries) => {
      const rows = await this.find(devId, [key], now, queries, ' FOR UPDATE');
      await queries.run(`DELETE FROM ${this.spec.table} WHERE dev_id = ? AND ${this.spec.key} = ?`, [devId, key]);
      return rows;
    });
  }

  /** Removes the live rows with these ids, or the whole list; resolves with how many live rows went. */
  delete(devId: DevId, key: K, now: number, ids?: readonly string[]): Promise<number> {
    if (ids?.length === 0) return Promise.resolve(0);
    const { table } = this.spec;
    return this.db.run(
      `DELETE FROM ${table} WHERE dev_id = ? AND ${this.spec.key} = ? AND ${LIVE}${ids ? ' AND id IN (?)' : ''}`,
      ids ? [devId, key, now, ids] : [devId, key, now],
    );
  }

  async sweep(now: number): Promise<void> {
    await this.db.run(`DELETE FROM ${this.spec.table} WHERE expires_at <= ?`, [now]);
  }

  private fromRow(devId: DevId, row: Record<string, unknown>): T {
    const item: Record<string, unknown> = { devId };
    for (const [column, field] of Object.entries(this.spec.columns)) item[field as string] = row[column];
    return item as T;
  }
}

/** One family of values in a table of (dev_id, key, value). */
class MysqlValues<K extends string | number, V> implements TenantValues<K, V> {
  constructor(
    private readonly db: Database,
    private readonly table: string,
    private readonly keyColumn: string,
    private readonly valueColumn: string,
  ) {}

  async put(devId: DevId, key: K, value: V): Promise<void> {
    const { table, keyColumn: k, valueColumn: v } = this;
    await this.db.run(`INSERT INTO ${table} (dev_id, ${k}, ${v}) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE ${v} = VALUES(${v})`, [devId, key, value]);
  }

  async find(devId: DevId, keys: readonly K[]): Promise<Map<K, V>> {
    if (keys.length === 0) return new Map();
    const rows = await this.db.rows<{ k: K; v: V }>(
      `SELECT ${this.keyColumn} AS k, ${this.valueColumn} AS v FROM ${this.table} WHERE dev_id = ? AND ${this.keyColumn} IN (?)`,
      [devId, keys],
    );
    return new Map(rows.map((row) => [row.k, row.v]));
  }

  async delete(devId: DevId, key: K): Promise<boolean> {
    return (await this.db.run(`DELETE FROM ${this.table} WHERE dev_id = ? AND ${this.keyColumn} = ?`, [devId, key])) > 0;
  }

  /** Every stored value, for a cache. */
  all(): Promise<{ devId: DevId; k: K; v: V }[]> {
    return this.db.rows(`SELECT dev_id AS devId, ${this.keyColumn} AS k, ${this.valueColumn} AS v FROM ${this.table}`);
  }
}

/**
 * Values read from memory and written through to their table. For pipe lengths, read on every publish:
 * loaded whole at open, so this server must be the only one writing them.
 */
class WriteThrough<K extends string | number, V> implements TenantValues<K, V> {
  private readonly cache = new MemoryValues<K, V>();

  constructor(private readonly stored: MysqlValues<K, V>) {}

  async load(): Promise<void> {
    for (const row of await this.stored.all()) await this.cache.put(row.devId, row.k, row.v);
  }

  async put(devId: DevId, key: K, value: V): Promise<void> {
    await this.stored.put(devId, key, value);
    await this.cache.put(devId, key, value);
  }

  find(devId: DevId, keys: readonly K[]): Promise<Map<K, V>> {
    return this.cache.find(devId, keys);
  }

  async delete(devId: DevId, key: K): Promise<boolean> {
    const existed = await this.stored.delete(devId, key);
    await this.cache.delete(devId, key);
    return existed;
  }
}

/**
 * The messaging store in MySQL: queued personal messages, pipe histories and settings, users' data and
 * last-seen times outlive the process. Expired rows are filtered on every read and swept at most once a
 * minute, on a write. The pool belongs to whoever opened it.
 */
export class MysqlMessagingStore implements MessagingStore {
  private readonly queues: MysqlLists<UserId, QueuedMessage>;
  private readonly histories: MysqlLists<PipeName, PipeMessage>;
  readonly pipeLengths: WriteThrough<PipeName, number>;
  readonly userData: TenantValues<UserId, string>;
  readonly lastSeen: TenantValues<UserId, number>;
  private nextSweepAt = 0;

  private constructor(
    db: Database,
    private readonly now: () => number,
  ) {
    this.queues = new MysqlLists(db, {
      table: 'users_messages',
      key: 'user_id',
      columns: { user_id: 'userId', id: 'id', event: 'event', message: 'message', queued_at: 'queuedAt', expires_at: 'expiresAt' },
    });
    this.histories = new MysqlLists(db, {
      table: 'pipes_messages',
      key: 'pipe',
      columns: { pipe: 'pipe', id: 'id', time: 'time', event: 'event', message: 'message', user_id: 'userId', expires_at: 'expiresAt' },
    });
    this.pipeLengths = new WriteThrough(new MysqlValues(db, 'pipes_settings', 'pipe', 'length'));
    this.userData = new MysqlValues(db, 'users_data', 'user_id', 'data');
    this.lastSeen = new MysqlValues(db, 'users_time', 'user_id', 'last_seen');
  }

  static async open(db: Database, now: () => number = Date.now): Promise<MysqlMessagingStore> {
    const store = new MysqlMessagingStore(db, now);
    await store.pipeLengths.load();
    return store;
  }

  async queueMessage(message: QueuedMessage, maxPerUser: number): Promise<void> {
    await this.sweepIfDue();
    await this.queues.append(message, maxPerUser, this.now());
  }

  findQueued(devId: DevId, userIds: readonly UserId[]): Promise<QueuedMessage[]> {
    return this.queues.find(devId, userIds, this.now());
  }

  takeQueued(devId: DevId, userId: UserId): Promise<QueuedMessage[]> {
    return this.queues.take(devId, userId, this.now());
  }

  deleteQueued(devId: DevId, userId: UserId, ids: readonly string[]): Promise<number> {
    return this.queues.delete(devId, userId, this.now(), ids);
  }

  async appendPipeMessage(message: PipeMessage, keep: number): Promise<void> {
    await this.sweepIfDue();
    await this.histories.append(message, keep, this.now());
  }

  findPipeMessages(devId: DevId, pipes: readonly PipeName[] | undefined): Promise<PipeMessage[]> {
    return this.histories.find(devId, pipes, this.now());
  }

  deletePipeMessages(devId: DevId, pipe: PipeName, ids?: readonly string[]): Promise<number> {
    return this.histories.delete(devId, pipe, this.now(), ids);
  }

  private async sweepIfDue(): Promise<void> {
    const now = this.now();
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    await this.queues.sweep(now);
    await this.histories.sweep(now);
  }
}
