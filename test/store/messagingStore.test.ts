import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PipeMessage, QueuedMessage } from '../../src/domain.js';
import { MAX_HISTORY_LENGTH, PipeHistory, TRUST_HISTORY_MS } from '../../src/messaging/history.js';
import { MemoryMessagingStore, SWEEP_INTERVAL_MS } from '../../src/messaging/memoryStore.js';
import { MysqlMessagingStore } from '../../src/messaging/mysqlStore.js';
import type { MessagingStore, TenantValues } from '../../src/messaging/store.js';
import type { Database } from '../../src/storage/database.js';
import { openEmptyDatabase, useMariaDB } from './database.js';

const mariadb = useMariaDB();
const START = 1_000_000;

interface Opened {
  store: MessagingStore;
  /** The same data seen by a new store, as after a restart (memory: undefined, nothing survives). */
  reopen: (() => Promise<MessagingStore>) | undefined;
  close(): Promise<void>;
}

/** The same contract, run against every implementation of MessagingStore, on a clock the test moves. */
const implementations: { name: string; open(now: () => number): Promise<Opened> }[] = [
  {
    name: 'memory',
    async open(now) {
      return { store: new MemoryMessagingStore(now), reopen: undefined, close: async () => {} };
    },
  },
  {
    name: 'MySQL',
    async open(now) {
      const db: Database = await openEmptyDatabase(mariadb());
      return { store: await MysqlMessagingStore.open(db, now), reopen: () => MysqlMessagingStore.open(db, now), close: () => db.close() };
    },
  },
];

const queued = (id: string, expiresAt: number, changes: Partial<QueuedMessage> = {}): QueuedMessage => ({
  devId: 0,
  userId: 1,
  id,
  event: 'e',
  message: id,
  queuedAt: START,
  expiresAt,
  ...changes,
});

describe.each(implementations)('the messaging store in $name', (implementation) => {
  let now: number;
  let opened: Opened;
  let store: MessagingStore;
  let history: PipeHistory;
  const advance = (ms: number) => (now += ms);
  const messages = async (pipe: string) => (await store.findPipeMessages(0, [pipe])).map((m) => m.message);
  beforeEach(async () => {
    now = START;
    opened = await implementation.open(() => now);
    store = opened.store;
    history = new PipeHistory(store, () => now);
  });
  afterEach(() => opened.close());

  it('keeps nothing without a setting, and the last `length` messages with one', async () => {
    expect(await history.record(0, 'plain', 'e', 'lost', 0)).toBe(false);
    await history.setLength(0, 'logged', 2);
    for (const text of ['1', '2', '3']) await history.record(0, 'logged', 'e', text, 5);
    expect(await messages('logged')).toEqual(['2', '3']);
    await history.setLength(0, 'logged', 1);
    await history.record(0, 'logged', 'e', '4', 5);
    expect(await messages('logged')).toEqual(['4']);
    await history.setLength(0, 'huge', 10 ** 6);
    expect((await store.pipeLengths.find(0, ['huge'])).get('huge')).toBe(MAX_HISTORY_LENGTH);
    expect(await history.forget(0, 'logged')).toBe(true);
    expect(await messages('logged')).toEqual([]);
    expect(await history.forget(0, 'logged')).toBe(false);
  });

  it('keeps trust_ pipes for 120 s', async () => {
    await history.record(0, 'trust_a', 'e', 'old', 0);
    advance(TRUST_HISTORY_MS - 1000);
    await history.record(0, 'trust_a', 'e', 'new', 0);
    expect(await messages('trust_a')).toEqual(['old', 'new']);
    advance(1000);
    expect(await messages('trust_a')).toEqual(['new']);
  });

  it('reads histories per pipe, oldest first, in the order asked, every field as written', async () => {
    const message = (pipe: string, id: string, changes: Partial<PipeMessage> = {}): PipeMessage => ({
      devId: 0, pipe, id, time: START, event: 'ev', message: id, userId: 0, expiresAt: null, ...changes,
    });
    const unicode = `😀 ${'ж'.repeat(20_000)} 'q' "d" \\`;
    await store.appendPipeMessage(message('web_b', 'b1', { message: unicode, userId: 7, time: START + 5 }), 10);
    await store.appendPipeMessage(message('web_a', 'a1'), 10);
    await store.appendPipeMessage(message('web_b', 'b2'), 10);
    await store.appendPipeMessage(message('Web_b', 'B1'), 10);
    await store.appendPipeMessage(message('web_a', 'x1', { devId: 3 }), 10);
    expect(await store.findPipeMessages(0, ['web_a', 'web_b'])).toEqual([
      message('web_a', 'a1'),
      message('web_b', 'b1', { message: unicode, userId: 7, time: START + 5 }),
      message('web_b', 'b2'),
    ]);
    expect((await store.findPipeMessages(0, undefined)).map((m) => m.id).sort()).toEqual(['B1', 'a1', 'b1', 'b2']);
    expect(await store.findPipeMessages(0, [])).toEqual([]);
    expect(await store.deletePipeMessages(0, 'web_b', ['b1', 'nope'])).toBe(1);
    expect(await store.deletePipeMessages(0, 'web_b', [])).toBe(0);
    expect((await store.findPipeMessages(0, ['web_b'])).map((m) => m.id)).toEqual(['b2']);
    expect(await store.deletePipeMessages(0, 'web_a')).toBe(1);
    expect(await store.findPipeMessages(0, ['web_a'])).toEqual([]);
    expect((await store.findPipeMessages(3, ['web_a'])).map((m) => m.id)).toEqual(['x1']);
  });

  it('queues personal messages per user with an expiry and a bound, oldest first', async () => {
    await store.queueMessage(queued('a', START + 500), 2);
    await store.queueMessage(queued('b', START + 5000), 2);
    await store.queueMessage(queued('c', START + 5000), 2);
    expect((await store.findQueued(0, [1, 2])).map((m) => m.id)).toEqual(['b', 'c']);
    expect(await store.deleteQueued(0, 1, ['b', 'zzz'])).toBe(1);
    advance(6000);
    expect(await store.takeQueued(0, 1)).toEqual([]);
    await store.queueMessage(queued('d', now + 10_000), 2);
    expect((await store.takeQueued(0, 1)).map((m) => m.id)).toEqual(['d']);
    expect(await store.findQueued(0, [1])).toEqual([]);
  });

  it('never returns an expired message, and bounds only what is live', async () => {
    await store.queueMessage(queued('gone', START + 100), 2);
    await store.queueMessage(queued('kept', START + 10_000), 2);
    advance(100);
    expect((await store.findQueued(0, [1])).map((m) => m.id)).toEqual(['kept']);
    expect(await store.deleteQueued(0, 1, ['gone'])).toBe(0);
    await store.queueMessage(queued('new', START + 10_000), 2);
    expect((await store.findQueued(0, [1])).map((m) => m.id)).toEqual(['kept', 'new']);
    // A sweep (at most once a minute, on a write) changes nothing that can be read.
    advance(SWEEP_INTERVAL_MS);
    await store.queueMessage(queued('late', now + 1000, { userId: 2 }), 2);
    expect((await store.findQueued(0, [2, 1])).map((m) => `${m.userId}:${m.id}`)).toEqual(['2:late']);
  });

  it('keeps the queues of users and tenants apart, each message as written', async () => {
    const first = queued('m1', START + 1000, { event: 'sys_sipCall', message: '{"data":"😀 \\" \'"}', queuedAt: START - 5 });
    await store.queueMessage(first, 100);
    await store.queueMessage(queued('m2', START + 1000, { userId: 2 }), 100);
    await store.queueMessage(queued('m3', START + 1000, { devId: 4 }), 100);
    expect(await store.findQueued(0, [2, 1])).toEqual([queued('m2', START + 1000, { userId: 2 }), first]);
    expect(await store.takeQueued(0, 1)).toEqual([first]);
    expect((await store.findQueued(0, [1, 2])).map((m) => m.id)).toEqual(['m2']);
    expect((await store.findQueued(4, [1])).map((m) => m.id)).toEqual(['m3']);
  });

  it("keeps pipe lengths, users' data and last-seen times per tenant", async () => {
    const check = async <K, V>(family: TenantValues<K, V>, key: K, other: K, value: V, changed: V) => {
      await family.put(0, key, value);
      await family.put(1, key, changed);
      expect(await family.find(0, [key, other])).toEqual(new Map([[key, value]]));
      expect(await family.find(0, [])).toEqual(new Map());
      await family.put(0, key, changed);
      expect((await family.find(0, [key])).get(key)).toBe(changed);
      expect(await family.delete(0, key)).toBe(true);
      expect(await family.delete(0, key)).toBe(false);
      expect(await family.find(0, [key])).toEqual(new Map());
      expect((await family.find(1, [key])).get(key)).toBe(changed);
    };
    await check(store.pipeLengths, 'web_x', 'Web_x', 5, 7);
    await check(store.userData, 12, 13, `{"name":"Zoë 😀"} ${'x'.repeat(60_000)}`, 'changed');
    await check(store.lastSeen, 12, 13, 1_700_000_000_123, 1_700_000_000_999);
  });

  it('gives a store opened again (a restart) what the last one kept, if it keeps anything', async () => {
    if (!opened.reopen) return;
    await history.setLength(0, 'web_log', 3);
    await history.record(0, 'web_log', 'e', 'before', 0);
    await store.queueMessage(queued('waiting', START + 60_000), 100);
    await store.userData.put(0, 5, 'data');
    await store.lastSeen.put(0, 5, START);
    const again = await opened.reopen();
    // The pipe lengths are served from memory: the new store loaded them.
    await new PipeHistory(again, () => now).record(0, 'web_log', 'e', 'after', 0);
    expect((await again.findPipeMessages(0, ['web_log'])).map((m) => m.message)).toEqual(['before', 'after']);
    expect((await again.takeQueued(0, 1)).map((m) => m.id)).toEqual(['waiting']);
    expect((await again.userData.find(0, [5])).get(5)).toBe('data');
    expect((await again.lastSeen.find(0, [5])).get(5)).toBe(START);
  });
});
