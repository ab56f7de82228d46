import { describe, expect, it } from 'vitest';
import { MAX_HISTORY_LENGTH, PipeHistory, TRUST_HISTORY_MS } from '../../src/messaging/history.js';
import { MemoryMessagingStore } from '../../src/messaging/memoryStore.js';

describe('pipe history and the messaging store', () => {
  const setup = () => {
    let now = 1_000_000;
    const clock = { advance: (ms: number) => (now += ms) };
    const store = new MemoryMessagingStore(() => now);
    return { clock, store, history: new PipeHistory(store, () => now) };
  };
  const messages = async (store: MemoryMessagingStore, pipe: string) => (await store.findPipeMessages(0, [pipe])).map((m) => m.message);

  it('keeps nothing without a setting, and the last `length` messages with one', async () => {
    const { store, history } = setup();
    expect(await history.record(0, 'plain', 'e', 'lost', 0)).toBe(false);
    await history.setLength(0, 'logged', 2);
    for (const text of ['1', '2', '3']) await history.record(0, 'logged', 'e', text, 5);
    expect(await messages(store, 'logged')).toEqual(['2', '3']);
    await history.setLength(0, 'logged', 1);
    await history.record(0, 'logged', 'e', '4', 5);
    expect(await messages(store, 'logged')).toEqual(['4']);
    await history.setLength(0, 'huge', 10 ** 6);
    expect((await store.pipeLengths.find(0, ['huge'])).get('huge')).toBe(MAX_HISTORY_LENGTH);
    expect(await history.forget(0, 'logged')).toBe(true);
    expect(await messages(store, 'logged')).toEqual([]);
    expect(await history.forget(0, 'logged')).toBe(false);
  });

  it('keeps trust_ pipes for 120 s', async () => {
    const { clock, store, history } = setup();
    await history.record(0, 'trust_a', 'e', 'old', 0);
    clock.advance(TRUST_HISTORY_MS - 1000);
    await history.record(0, 'trust_a', 'e', 'new', 0);
    expect(await messages(store, 'trust_a')).toEqual(['old', 'new']);
    clock.advance(1000);
    expect(await messages(store, 'trust_a')).toEqual(['new']);
  });

  it('queues personal messages per user with an expiry and a bound, oldest first', async () => {
    const { clock, store } = setup();
    const queued = (id: string, expiresIn: number) => ({ devId: 0, userId: 1, id, event: 'e', message: id, queuedAt: 0, expiresAt: 1_000_000 + expiresIn });
    await store.queueMessage(queued('a', 500), 2);
    await store.queueMessage(queued('b', 5000), 2);
    await store.queueMessage(queued('c', 5000), 2);
    expect((await store.findQueued(0, [1, 2])).map((m) => m.id)).toEqual(['b', 'c']);
    expect(await store.deleteQueued(0, 1, ['b', 'zzz'])).toBe(1);
    clock.advance(6000);
    expect(await store.takeQueued(0, 1)).toEqual([]);
    await store.queueMessage(queued('d', 10_000), 2);
    expect((await store.takeQueued(0, 1)).map((m) => m.id)).toEqual(['d']);
    expect(await store.findQueued(0, [1])).toEqual([]);
  });
});
