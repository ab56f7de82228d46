import { describe, expect, it } from 'vitest';
import { SendBudget } from '../../src/gateway/sendBudget.js';
import type { CometClient } from '../../src/messaging/frames.js';

const client = (ip: string): CometClient => ({
  devId: 0,
  userId: 0,
  uuid: '',
  info: { userAgent: '', ip, origin: '', language: '' },
  send: () => true,
  close() {},
});

describe('the send budget', () => {
  const rates = { socket: { burst: 100, perSecond: 10 }, address: { burst: 250, perSecond: 100 } };

  it('lets a socket spend its burst, into debt once, then waits for the refill', () => {
    let now = 0;
    const budget = new SendBudget(rates, () => now);
    const socket = client('192.0.2.1');
    budget.spend(socket, 99);
    expect(budget.allows(socket)).toBe(true);
    // More than is left still passes: a message bigger than the burst is not refused for ever.
    budget.spend(socket, 120);
    expect(budget.allows(socket)).toBe(false);
    now += 11_000; // 110 of the 119 owed paid back
    expect(budget.allows(socket)).toBe(false);
    now += 1_000;
    expect(budget.allows(socket)).toBe(true);
  });

  it('shares one budget among the sockets of an address, not with other addresses', () => {
    const budget = new SendBudget(rates, () => 0);
    const sockets = [client('192.0.2.1'), client('192.0.2.1'), client('192.0.2.1')];
    for (const socket of sockets.slice(0, 2)) budget.spend(socket, 99);
    expect(budget.allows(sockets[2]!)).toBe(true);
    budget.spend(sockets[2]!, 60);
    expect(sockets.map((socket) => budget.allows(socket))).toEqual([false, false, false]);
    expect(budget.allows(client('192.0.2.2'))).toBe(true);
  });

  it('remembers a bounded number of addresses, forgetting first those that owe least', () => {
    const budget = new SendBudget(rates, () => 0, 10);
    budget.spend(client('192.0.2.1'), 1000);
    // Many addresses spending a little each cannot wipe out the first one's debt.
    for (let i = 0; i < 100; i++) budget.spend(client(`198.51.100.${i}`), 10);
    expect(budget.allows(client('192.0.2.1'))).toBe(false);
  });
});
