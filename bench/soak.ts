import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import WebSocket from 'ws';
import { sipUser } from '../src/domain.js';
import { formatReply, tagOf } from '../src/sip/message.js';
import { PASSWORD } from '../test/helpers/server.js';
import { BrowserFleet, sleep, testProfilesFile, FPS, type JoinOptions } from '../test/mixer/harness.js';
import { inviteWithCredentials, RawSipClient, sipRequest, token } from '../test/sip/rawClient.js';
import { freePort, printTable, ROOT, startProcess, stopProcess, writeResult } from './lib.js';

/**
 * The soak: a server under a steady mixed load for 20 minutes (`--minutes N`), watched from outside.
 * - A main room where two members stay all along (both decode what they get), and a visitor who joins and
 *   leaves it every cycle; a room of two created and ended every cycle (one member hangs up, the other is
 *   kicked with CometQL). Every member joins as a browser does: SIP over WebSocket, WebRTC media.
 * - CometQL queries (keys, invitations, members) and pipe messages to two comet WebSockets, at steady rates.
 * At the same moment of every cycle, with only the main room up and after a full garbage collection: the
 * server's RSS, V8 heap, open fds, child processes (FFmpeg) and event-loop lag p99 over the cycle. The
 * figures after warm-up and at the end are compared; and no call may be lost.
 */

const { values: args } = parseArgs({ options: { minutes: { type: 'string', default: '20' } } });
const MINUTES = Number(args.minutes);
const CYCLE_MS = 30_000;
const CYCLES = Math.max(2, Math.floor((MINUTES * 60_000) / CYCLE_MS));
/**
 * Leaks show once what is kept for a while has filled up; comparisons start after this. The longest such
 * state here is a SIP nonce (300 s): an 8-minute run's heap grew about 1 MB over the first five minutes, then
 * stayed within 0.2 MB.
 */
const WARMUP_MS = Math.min(5, MINUTES / 3) * 60_000;
/** Each end of the comparison is the median of the samples in a window this long. */
const WINDOW_MS = 60_000;
/** Within a cycle: the churn's calls are up from its start until ENDS_AT; the quiet moment is SAMPLE_AT. */
const CHECK_AT_MS = 12_000;
const ENDS_AT_MS = 14_000;
const SAMPLE_AT_MS = 22_000;
const QUERIES_PER_SECOND = 20;
const PIPE_MESSAGES_PER_SECOND = 10;
const PIPE = 'web_soak';
const MAIN_ROOM = 'soak-main';
const CONTACT = 'Contact: <sip:soak@abcdef.invalid;transport=ws;ob>';

const MAIN_MEMBERS: JoinOptions[] = [
  { userId: 1, colour: 'red', tone: 400 },
  { userId: 2, colour: 'blue', tone: 600 },
];
const VISITOR: JoinOptions = { userId: 3, colour: 'lime', tone: 800 };
const CHURN: JoinOptions[] = [
  { userId: 11, colour: 'yellow', tone: 500 },
  { userId: 12, colour: 'magenta', tone: 700 },
];
const keyOf = (userId: number): string => `soakKey${userId}`.padEnd(16, '0');

/** What went wrong with calls: a join refused, a call ended or gone without a hang-up, media that stopped. */
const lostCalls: string[] = [];
let callsPlaced = 0;

// ------------------------------------------------------------------------------------------------ the server

/**
 * The server runs as a child process of its own (`node --import tsx src/main.ts`, the same as `npm start`
 * without tsx's own wrapper process): its /proc is then the server's alone (the members, the load and this
 * script are elsewhere), so RSS, fds and child processes are its own. The inspector, on loopback, lets the
 * bench ask for a full garbage collection before each sample, so that the heap figures compare what is
 * live, not where the collector happened to be.
 */
interface Server {
  child: ChildProcess;
  pid: number;
  httpPort: number;
  cometqlPort: number;
  inspectorPort: number;
  /** Lines the server logged at level error or above. */
  errorLines: number;
}

async function startServer(dir: string): Promise<Server> {
  const [cometqlPort, httpPort, inspectorPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    ...process.env,
    COMET_COMETQL_PORT: String(cometqlPort),
    COMET_WS_PORT: String(httpPort),
    COMET_WS_IP: '127.0.0.1',
    COMET_MAIN_LOG_LEVEL: 'info',
    COMET_CONFERENCE_PROFILES: testProfilesFile(),
    COMET_BROADCAST_DATA_DIR: join(dir, 'data'),
    COMET_MEDIA_ADDRESSES: '127.0.0.1',
    COMET_MEDIA_ADDRESSES_ONLY: 'true',
  };
  const child = await startProcess(process.execPath, [`--inspect=127.0.0.1:${inspectorPort}`, '--import', 'tsx', join(ROOT, 'src/main.ts')], { env, ready: /cometmcu started/ });
  const server: Server = { child, pid: child.pid!, httpPort, cometqlPort, inspectorPort, errorLines: 0 };
  child.stdout!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (/"level":(5|6)\d/.test(line)) server.errorLines++;
  });
  return server;
}

/** A full garbage collection in the server, through its inspector (Chrome DevTools protocol). */
async function collectGarbage(server: Server): Promise<void> {
  const [target] = (await (await fetch(`http://127.0.0.1:${server.inspectorPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(target!.webSocketDebuggerUrl);
  await once(ws, 'open');
  const done = once(ws, 'message');
  ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
  await done;
  ws.close();
}

async function scrapeMetrics(server: Server): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (match) values.set(match[1]!, (values.get(match[1]!) ?? 0) + Number(match[2]));
  }
  return values;
}

interface Sample {
  at_s: number;
  rss_mb: number;
  heap_mb: number;
  fds: number;
  children: number;
  lag_p99_ms: number;
  members: number;
  internal_errors: number;
}

/**
 * One sample: the event-loop lag p99 since the previous one (prom-client resets its histogram at each
 * scrape, so it covers the whole cycle), then a full collection, then memory, fds and children.
 */
async function sample(server: Server, startedAt: number): Promise<Sample> {
  const lag = (await scrapeMetrics(server)).get('cometmcu_nodejs_eventloop_lag_p99_seconds') ?? NaN;
  await collectGarbage(server);
  // Scraped again after the collection, which also drops its own pause from the next cycle's lag.
  const metrics = await scrapeMetrics(server);
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  return {
    at_s: Math.round((Date.now() - startedAt) / 1000),
    rss_mb: round(Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]) / 1024),
    heap_mb: round((metrics.get('cometmcu_nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20),
    fds: readdirSync(`/proc/${server.pid}/fd`).length,
    children: childrenOf(server.pid),
    lag_p99_ms: round(lag * 1000),
    members: (await info(server)).members,
    internal_errors: metrics.get('cometmcu_internal_errors_total') ?? 0,
  };
}

function childrenOf(pid: number): number {
  let count = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The parent's pid is the second field after the command name (which may hold spaces).
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) count++;
    } catch {
      // Gone since the directory was read.
    }
  }
  return count;
}

async function info(server: Server): Promise<{ members: number; conferences: number }> {
  return (await (await fetch(`http://127.0.0.1:${server.httpPort}/info`)).json()) as { members: number; conferences: number };
}

// ------------------------------------------------------------------------------------------------- calls

/** A member in a room over SIP and WebRTC, as a browser joins: the INVITE, then media with the fleet's peer. */
class Call {
  private constructor(
    readonly member: JoinOptions,
    readonly room: string,
    private readonly client: RawSipClient,
    private readonly fleet: BrowserFleet,
    private readonly dialog: { uri: string; callId: string; fromTag: string; toTag: string },
    /** When media could start (Date.now()). */
    readonly answeredAt: number,
  ) {}

  static async place(fleet: BrowserFleet, server: Server, member: JoinOptions, room: string): Promise<Call | undefined> {
    callsPlaced++;
    const offer = await fleet.offer(member);
    const client = await RawSipClient.connect(server.httpPort);
    const invite = { uri: `sip:0*${room}*grid@localhost`, callId: token(), fromUser: sipUser(0, member.userId), fromTag: token(), headers: [CONTACT, 'Content-Type: application/sdp'], body: offer };
    const final = await inviteWithCredentials(client, invite, keyOf(member.userId)).catch((error: Error) => error);
    if (final instanceof Error || final.status !== 200) {
      lostCalls.push(`user ${member.userId} in ${room}: ${final instanceof Error ? final.message : `INVITE answered ${final.status}`}`);
      await client.close();
      await fleet.call('close', member.userId);
      return undefined;
    }
    const call = new Call(member, room, client, fleet, { uri: invite.uri, callId: invite.callId, fromTag: invite.fromTag, toTag: tagOf(final.to) ?? '' }, Date.now());
    client.send(call.inDialog('ACK', 2));
    await fleet.call('answer', member.userId, final.body);
    return call;
  }

  private inDialog(method: string, cseq: number): string {
    const { uri, callId, fromTag, toTag } = this.dialog;
    return sipRequest({ method, uri: 'sip:cometmcu@localhost;transport=ws', toUri: uri, callId, cseq, fromUser: sipUser(0, this.member.userId), fromTag, toTag });
  }

  /** Whether the server ended this call (a BYE of its own). */
  get endedByServer(): boolean {
    return this.client.received.some((message) => message.kind === 'request' && message.method === 'BYE');
  }

  /** Notes a lost call unless the member's video kept coming since `from`: half the frame rate at least. */
  async expectMedia(from: number, to = Date.now()): Promise<void> {
    const { count } = await this.fleet.call('frames', this.member.userId, from, to);
    const expected = (FPS * (to - from)) / 1000;
    if (count < expected / 2) lostCalls.push(`user ${this.member.userId} in ${this.room}: ${count} pictures in ${to - from} ms, ${Math.round(expected)} expected`);
  }

  async hangUp(): Promise<void> {
    if (this.endedByServer) {
      lostCalls.push(`user ${this.member.userId} in ${this.room}: ended by the server`);
    } else {
      this.client.send(this.inDialog('BYE', 3));
      const answer = await this.client.final(this.dialog.callId, 3, 'BYE').catch((error: Error) => error);
      if (answer instanceof Error || answer.status !== 200) lostCalls.push(`user ${this.member.userId} in ${this.room}: BYE answered ${answer instanceof Error ? 'nothing' : answer.status}`);
    }
    await this.close();
  }

  /** After a kick: the server's BYE comes, and is answered. */
  async kicked(): Promise<void> {
    const bye = await this.client.request('BYE', this.dialog.callId).catch(() => undefined);
    if (bye) this.client.send(formatReply(bye, 200));
    else lostCalls.push(`user ${this.member.userId} in ${this.room}: kicked, and no BYE came`);
    await this.close();
  }

  private async close(): Promise<void> {
    await this.client.close();
    await this.fleet.call('close', this.member.userId);
  }
}

// -------------------------------------------------------------------------------------------- steady load

/** Calls `task` every `ms` until stopped, one at a time (late ones wait their turn); keeps the failures. */
function every(ms: number, task: (tick: number) => Promise<void>): { stop(): Promise<void>; failures: string[] } {
  const failures: string[] = [];
  let tick = 0;
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => task(tick++)).catch((error: unknown) => void failures.push((error as Error).message));
  }, ms);
  return {
    failures,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/** CometQL as a backend uses it: keys, invitations (sent to users who are not there: queued, then expired), members. */
function queryOf(tick: number): [string, unknown[]] {
  const user = 1000 + (tick % 100);
  const queries: [string, unknown[]][] = [
    ['SELECT * FROM conference_members WHERE name = ?', [MAIN_ROOM]],
    ['REPLACE INTO users_auth (id, hash) VALUES (?, ?)', [user, keyOf(user)]],
    ['SELECT * FROM users_auth WHERE id = ?', [user]],
    ["REPLACE INTO conference (name, user_id, caller_id, message, profile) VALUES ('soak-invitations', ?, 1, '{}', 'grid')", [user]],
    ["DELETE FROM conference WHERE name = 'soak-invitations' AND user_id = ?", [1000 + ((tick + 50) % 100)]],
    ['SELECT * FROM users_time WHERE id = ?', [user]],
  ];
  return queries[tick % queries.length]!;
}

/** A comet WebSocket subscribed to the pipe, counting the messages it gets. */
async function subscriber(server: Server, index: number): Promise<{ ws: WebSocket; received: () => number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.httpPort}/ws/sesion=&myid=0&devid=0&v=4.08&uuid=${String(index).padStart(32, '0')}&api=js`);
  let received = 0;
  ws.on('message', (data) => {
    if ((JSON.parse(data.toString()) as { pipe?: string }).pipe === PIPE) received++;
  });
  await once(ws, 'open');
  ws.send(`subscription\n${PIPE}`);
  return { ws, received: () => received };
}

// ------------------------------------------------------------------------------------------------ the run

interface Figure {
  name: string;
  unit: string;
  pick: (sample: Sample) => number;
  /** Allowed growth from after warm-up to the end. */
  allowed: (start: number) => number;
  goal: string;
}

const FIGURES: Figure[] = [
  { name: 'RSS', unit: 'MB', pick: (s) => s.rss_mb, allowed: () => 30, goal: '≤ +30 MB' },
  { name: 'V8 heap used', unit: 'MB', pick: (s) => s.heap_mb, allowed: (start) => 0.05 * start, goal: '≤ +5 %' },
  { name: 'open fds', unit: '', pick: (s) => s.fds, allowed: (start) => 0.05 * start, goal: '≤ +5 %' },
  { name: 'child processes', unit: '', pick: (s) => s.children, allowed: (start) => 0.05 * start, goal: '≤ +5 %' },
  { name: 'event-loop lag p99', unit: 'ms', pick: (s) => s.lag_p99_ms, allowed: (start) => 0.05 * start, goal: '≤ +5 %' },
];

async function soak(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cometmcu-soak-'));
  const server = await startServer(dir);
  const fleet = new BrowserFleet();
  const pool = mysql.createPool({ host: '127.0.0.1', port: server.cometqlPort, user: 'root', password: PASSWORD, database: 'CometQL_v1', connectionLimit: 4 });
  const subscribers: Awaited<ReturnType<typeof subscriber>>[] = [];
  let queries: ReturnType<typeof every> | undefined;
  let pipeMessages: ReturnType<typeof every> | undefined;
  try {
    for (const { userId } of [...MAIN_MEMBERS, VISITOR, ...CHURN]) await pool.query('REPLACE INTO users_auth (id, hash) VALUES (?, ?)', [userId, keyOf(userId)]);
    subscribers.push(await subscriber(server, 1), await subscriber(server, 2));
    const startedAt = Date.now();
    const main: (Call | undefined)[] = [];
    for (const member of MAIN_MEMBERS) main.push(await Call.place(fleet, server, member, MAIN_ROOM));
    let pipeMessagesSent = 0;
    queries = every(1000 / QUERIES_PER_SECOND, async (tick) => void (await pool.query(...queryOf(tick))));
    pipeMessages = every(1000 / PIPE_MESSAGES_PER_SECOND, async (tick) => {
      await pool.query("INSERT INTO pipes_messages (name, event, message) VALUES (?, 'tick', ?)", [PIPE, String(tick)]);
      pipeMessagesSent++;
    });

    const samples: Sample[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const cycleStart = startedAt + cycle * CYCLE_MS;
      await churnCycle(fleet, server, pool, cycle, cycleStart);
      await sleep(cycleStart + SAMPLE_AT_MS - Date.now());
      await expectMainRoom(pool, main, cycle, cycleStart);
      const last = await sample(server, startedAt);
      samples.push(last);
      console.log(
        `${(last.at_s / 60).toFixed(1)} min: RSS ${last.rss_mb} MB, heap ${last.heap_mb} MB, ${last.fds} fds, ${last.children} children, ` +
          `lag p99 ${last.lag_p99_ms} ms, ${last.members} members; calls lost so far: ${lostCalls.length}`,
      );
      await sleep(cycleStart + CYCLE_MS - Date.now());
    }

    await queries.stop();
    await pipeMessages.stop();
    await sleep(2000); // the last pipe messages reach their subscribers
    for (const call of main) await call?.hangUp();
    report(samples, {
      queries: { failed: queries.failures.length, failures: queries.failures.slice(0, 10) },
      pipe_messages: {
        sent: pipeMessagesSent,
        failed: pipeMessages.failures.length,
        expected_deliveries: pipeMessagesSent * subscribers.length,
        delivered: subscribers.reduce((sum, s) => sum + s.received(), 0),
      },
      server_error_log_lines: server.errorLines,
    });
  } finally {
    await queries?.stop();
    await pipeMessages?.stop();
    for (const { ws } of subscribers) ws.close();
    await pool.end();
    await fleet.close();
    await stopProcess(server.child);
  }
}

/**
 * A cycle's comings and goings: a room of two created, a visitor in the main room; their media checked;
 * then one hangs up, one is kicked with CometQL (which ends the room), and the visitor hangs up.
 */
async function churnCycle(fleet: BrowserFleet, server: Server, pool: mysql.Pool, cycle: number, cycleStart: number): Promise<void> {
  const room = `soak-${cycle}`;
  const [first, second] = [await Call.place(fleet, server, CHURN[0]!, room), await Call.place(fleet, server, CHURN[1]!, room)];
  const visitor = await Call.place(fleet, server, VISITOR, MAIN_ROOM);
  await sleep(cycleStart + CHECK_AT_MS - Date.now());
  for (const call of [first, second, visitor]) await call?.expectMedia(call.answeredAt + 3000);
  await sleep(cycleStart + ENDS_AT_MS - Date.now());
  await first?.hangUp();
  if (second) {
    await pool.query('DELETE FROM conference_members WHERE name = ? AND user_id = ?', [room, second.member.userId]);
    await second.kicked();
  }
  await visitor?.hangUp();
}

/** The main room's members are all still there, never ended by the server, and their video keeps coming. */
async function expectMainRoom(pool: mysql.Pool, main: (Call | undefined)[], cycle: number, cycleStart: number): Promise<void> {
  const [rows] = await pool.query('SELECT user_id FROM conference_members WHERE name = ?', [MAIN_ROOM]);
  const present = (rows as { user_id: string }[]).map((row) => Number(row.user_id));
  for (const call of main) {
    if (!call) continue;
    if (!present.includes(call.member.userId)) lostCalls.push(`user ${call.member.userId} in ${MAIN_ROOM}: no longer a member (cycle ${cycle})`);
    if (call.endedByServer) lostCalls.push(`user ${call.member.userId} in ${MAIN_ROOM}: ended by the server (cycle ${cycle})`);
    await call.expectMedia(Math.max(cycleStart, call.answeredAt + 3000));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
}

function report(samples: Sample[], load: Record<string, unknown>): void {
  const afterWarmup = samples.filter((s) => s.at_s * 1000 >= WARMUP_MS && s.at_s * 1000 < WARMUP_MS + WINDOW_MS);
  const end = samples.filter((s) => s.at_s * 1000 >= CYCLES * CYCLE_MS - WINDOW_MS);
  const figures = FIGURES.map((figure) => {
    const [start, last] = [median(afterWarmup.map(figure.pick)), median(end.map(figure.pick))];
    return { name: figure.name, unit: figure.unit, after_warmup: round(start), end: round(last), change: round(last - start), goal: figure.goal, pass: last - start <= figure.allowed(start) };
  });
  const pipe = load.pipe_messages as { expected_deliveries: number; delivered: number };
  const pass = figures.every((f) => f.pass) && lostCalls.length === 0;
  const file = writeResult('soak', {
    minutes: round((CYCLES * CYCLE_MS) / 60_000),
    warmup_minutes: round(WARMUP_MS / 60_000),
    cycle_s: CYCLE_MS / 1000,
    setup: {
      main_room: `${MAIN_MEMBERS.length} members all along, a visitor joining and leaving each cycle`,
      churn: `a room of ${CHURN.length} created and ended each cycle (one BYE, one kicked by CometQL)`,
      queries_per_s: QUERIES_PER_SECOND,
      pipe_messages_per_s: PIPE_MESSAGES_PER_SECOND,
      pipe_subscribers: 2,
      sampled: `${SAMPLE_AT_MS / 1000} s into each cycle, only the main room up, after a full GC; lag p99 over the whole cycle`,
      compared: `median of the samples in the minute after warm-up against the median of the last minute's`,
    },
    figures,
    calls: { placed: callsPlaced, lost: lostCalls.length, lost_how: lostCalls },
    ...load,
    pass,
    samples,
  });
  printTable(
    ['figure', 'after warm-up', 'end', 'change', 'goal', 'pass'],
    [
      ...figures.map((f) => [`${f.name}${f.unit ? ` (${f.unit})` : ''}`, f.after_warmup, f.end, f.change, f.goal, f.pass ? 'yes' : 'NO']),
      ['calls lost', '', lostCalls.length, `of ${callsPlaced}`, '0', lostCalls.length === 0 ? 'yes' : 'NO'],
      ['pipe messages lost', '', pipe.expected_deliveries - pipe.delivered, `of ${pipe.expected_deliveries}`, '(report)', ''],
      ['internal errors', '', samples.at(-1)?.internal_errors ?? '-', `${load.server_error_log_lines} error lines logged`, '(report)', ''],
    ],
  );
  for (const how of lostCalls.slice(0, 10)) console.log(`lost: ${how}`);
  console.log(`${pass ? 'PASS' : 'FAIL'}   → ${file}`);
}

const round = (value: number): number => Math.round(value * 100) / 100;

soak().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
