import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { internalErrorCounts, internalErrorTotal } from '../../src/faults.js';
import { connect, startMediaServer, type TestServer } from '../helpers/server.js';
import { BrowserFleet, eventually, sleep, testProfilesFile, type JoinOptions } from '../mixer/harness.js';

/**
 * A live server for fuzzing its ports: the real server with its mixer on loopback and one live call (two
 * werift members on a grid, each sending its colour and tone and decoding the mix), and the checks every
 * target makes: after each input nothing escaped and the ports still answer; after each target a
 * bystander gets in and the call still flows.
 */

export const ROOM = 'fuzz';
const MEMBERS: JoinOptions[] = [
  { userId: 1, colour: 'red', tone: 400, room: ROOM },
  { userId: 2, colour: 'blue', tone: 600, room: ROOM },
];

/** A member's leg as the signalling saw it: its offer, and the server's answer (media ports, ufrag). */
export interface Leg {
  userId: number;
  offer: string;
  answer: string;
}

export interface LiveServer {
  readonly server: TestServer;
  /** The live call's legs: new ones when a broken call was restored. */
  readonly legs: readonly Leg[];
  /**
   * Throws unless, since the last look, nothing escaped every error boundary nor reached one as an internal
   * error, and nothing held the event loop (which the server shares with this test) for long; and CometQL
   * and HTTP still answer: the check after each input.
   */
  expectUnharmed(): Promise<void>;
  /**
   * Throws unless both members decode fresh pictures (made after `since`) within `patienceMs`, showing both
   * colours, and each hears the other. A call found broken is joined again before the next test, so that
   * one input that broke it does not fail the targets after it.
   */
  expectCallFlows(since?: number, patienceMs?: number): Promise<void>;
  /**
   * The property of a target: `check` sends one input and checks what it did. fast-check stops waiting for
   * a run when the target's time is up, but the run goes on; expectBystandersServed() waits for it.
   */
  property<T>(check: (input: T) => Promise<void>): (input: T) => Promise<void>;
  /**
   * After each target: its last runs ended well, a fresh CometQL connection queries, /info answers, and the
   * call's members are still in their room, with their media flowing.
   */
  expectBystandersServed(): Promise<void>;
}

/**
 * The longest the event loop may be held: what one input does must not stall everyone (#10: an IN list or
 * a LIKE pattern held it for seconds). Generous, for a loaded 2-core machine that also collects garbage.
 */
const STALL_MS = 2000;

/** How long fresh pictures may take by default: a loaded 2-core machine decodes a few per second at least. */
const FLOW_PATIENCE_MS = 3000;
/** Pictures decoded this soon after `since` may come from packets sent before it. */
const IN_FLIGHT_MS = 250;
const FRESH_PICTURES = 3;

/** A live server for this test file, started before its tests and closed after them. */
export function useLiveServer(): LiveServer {
  const fleet = new BrowserFleet();
  const legs: Leg[] = [];
  /** What reached the process's last resort: in production that would have ended the server. */
  const escaped: unknown[] = [];
  const noteEscape = (error: unknown): void => void escaped.push(error);
  const loop = new LoopWatch();
  let server: TestServer;
  let bystander: Connection;
  let internalErrorsSeen = 0;
  let callBroken = false;
  const running = new Set<Promise<void>>();
  /** Failures of runs fast-check had stopped waiting for. */
  const lateFailures: unknown[] = [];

  const joinCall = async (options: JoinOptions): Promise<Leg> => {
    // What BrowserFleet.join does, keeping the answer: its candidates are the member's media port.
    const offer = await fleet.offer(options);
    const member = await server.model.join({ devId: 0, room: ROOM, userId: options.userId, profile: 'grid' });
    const answer = await server.mixer!.join(member, offer);
    await fleet.call('answer', options.userId, answer);
    return { userId: options.userId, offer, answer };
  };

  const joinAll = async (): Promise<void> => {
    legs.length = 0;
    for (const options of MEMBERS) legs.push(await joinCall(options));
    await eventually(() => live.expectCallFlows(), 20_000);
  };

  const live: LiveServer = {
    get server() {
      return server;
    },
    legs,

    async expectUnharmed() {
      // Taken as they are read: the next input is judged on its own, not on what this one did.
      const escapes = escaped.splice(0).map((error) => (error instanceof Error ? error.stack : String(error)));
      const internalErrors = internalErrorTotal() - internalErrorsSeen;
      internalErrorsSeen += internalErrors;
      const heldMs = loop.longestHold();
      expect(escapes, 'errors that escaped every boundary').toEqual([]);
      expect(internalErrors, `internal errors, by boundary so far: ${JSON.stringify(Object.fromEntries(internalErrorCounts()))}`).toBe(0);
      expect(heldMs, 'the longest the event loop was held (ms)').toBeLessThan(STALL_MS);
      const [rows] = await bystander.query('SELECT 1 AS one');
      expect(rows).toEqual([{ one: '1' }]);
      const info = await fetch(`http://127.0.0.1:${server.httpPort}/info`);
      expect(info.status).toBe(200);
      await info.arrayBuffer();
    },

    async expectCallFlows(since = Date.now(), patienceMs = FLOW_PATIENCE_MS) {
      callBroken = true;
      const from = since + IN_FLIGHT_MS;
      for (const [index, { userId }] of MEMBERS.entries()) {
        for (;;) {
          const { count } = await fleet.call('frames', userId, from, Date.now());
          if (count >= FRESH_PICTURES) break;
          if (Date.now() > since + patienceMs) expect(count, `pictures member ${userId} decoded in ${Date.now() - from} ms`).toBeGreaterThanOrEqual(FRESH_PICTURES);
          await sleep(50);
        }
        expect(await fleet.call('tiles', userId, 'grid', MEMBERS.length), `what member ${userId} sees`).toEqual(MEMBERS.map((m) => m.colour));
        // Mix-minus: the other's tone, well above one's own (which glitches of a loaded machine smear a little
        // into); the mix keeps coming, so a sender gone silent shows at once.
        const other = MEMBERS[1 - index]!;
        const [own, heard] = await fleet.call('tonePowers', userId, 300, [MEMBERS[index]!.tone, other.tone]);
        expect(heard, `member ${userId} hears ${other.tone} Hz`).toBeGreaterThan(10 * Math.max(own!, 1e-3));
      }
      callBroken = false;
    },

    property<T>(check: (input: T) => Promise<void>) {
      return (input: T) => {
        const run = check(input);
        running.add(run);
        // A failure fast-check waited for ends the target at once; one it no longer waited for fails it later.
        run.then(
          () => running.delete(run),
          (error: unknown) => {
            running.delete(run);
            lateFailures.push(error);
          },
        );
        return run;
      };
    },

    async expectBystandersServed() {
      await Promise.allSettled([...running]);
      if (lateFailures.length > 0) throw lateFailures[0];
      await live.expectUnharmed();
      const fresh = await connect(server);
      try {
        const [rows] = await fresh.query('SELECT user_id FROM conference_members WHERE name = ?', [ROOM]);
        expect((rows as { user_id: string }[]).map((row) => Number(row.user_id))).toEqual(expect.arrayContaining(MEMBERS.map((m) => m.userId)));
      } finally {
        await fresh.end();
      }
      const info = (await (await fetch(`http://127.0.0.1:${server.httpPort}/info`)).json()) as { status: string };
      expect(info.status).toBe('ok');
      await live.expectCallFlows();
    },
  };

  /** Ends the call and joins both members again. */
  const restoreCall = async (): Promise<void> => {
    for (const { userId } of MEMBERS) {
      await server.model.leave(0, ROOM, userId, 'hangup');
      await fleet.call('close', userId);
    }
    // The room closes in the background once empty; joining before would join the closing one.
    await eventually(() => expect(server.mixer!.stats().perRoom.map((room) => room.room)).not.toContain(ROOM), 10_000);
    await joinAll();
  };

  beforeAll(async () => {
    process.on('uncaughtException', noteEscape);
    process.on('unhandledRejection', noteEscape);
    const dir = mkdtempSync(join(tmpdir(), 'cometmcu-fuzz-'));
    server = await startMediaServer(testProfilesFile(), join(dir, 'data'), { COMET_MAIN_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' });
    bystander = await connect(server);
    await joinAll();
  }, 90_000);

  // Each target starts clean: what an earlier one did was reported there.
  beforeEach(async () => {
    if (callBroken) await restoreCall();
    lateFailures.length = 0;
    escaped.length = 0;
    loop.longestHold();
    internalErrorsSeen = internalErrorTotal();
  }, 60_000);

  afterAll(async () => {
    process.off('uncaughtException', noteEscape);
    process.off('unhandledRejection', noteEscape);
    loop.stop();
    await bystander?.end();
    await fleet.close();
    await server?.close();
  });

  return live;
}

/**
 * How long the event loop was held at most: the longest gap between ticks of a short timer. (Node's
 * monitorEventLoopDelay misses a hold that comes right after its reset.)
 */
class LoopWatch {
  private last = performance.now();
  private longest = 0;
  private readonly timer = setInterval(() => {
    this.longest = Math.max(this.longest, performance.now() - this.last);
    this.last = performance.now();
  }, 20);

  /** The longest hold since the last call, up to now. */
  longestHold(): number {
    const longest = Math.max(this.longest, performance.now() - this.last);
    this.longest = 0;
    return longest;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
