import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ConferenceModel } from './conference/model.js';
import type { StoreCounts } from './conference/store.js';
import type { Mixer, MixerStats } from '../mixer/mixer.js';
import { internalErrorCounts } from './faults.js';

/** Queries per second over a sliding window, for dashboards that do not compute rate() themselves. */
class RateWindow {
  private readonly buckets: number[];
  private current = 0;
  private currentSecond = Math.floor(Date.now() / 1000);

  constructor(private readonly seconds: number) {
    this.buckets = new Array<number>(seconds).fill(0);
  }

  add(): void {
    this.advance();
    this.buckets[this.current]!++;
  }

  perSecond(): number {
    this.advance();
    return this.buckets.reduce((sum, count, i) => (i === this.current ? sum : sum + count), 0) / (this.seconds - 1);
  }

  private advance(): void {
    const now = Math.floor(Date.now() / 1000);
    for (let s = this.currentSecond; s < now && s < this.currentSecond + this.seconds; s++) {
      this.current = (this.current + 1) % this.seconds;
      this.buckets[this.current] = 0;
    }
    this.currentSecond = now;
  }
}

/** Sessions counted per address and room at most: one machine that makes up sessions counts as this many. */
const MAX_SESSIONS_PER_ADDRESS = 32;

/**
 * Viewers seen in the last `windowMs`, by room: each address once per session it keeps ('' for a player
 * without one), never by what a client says it is. Old entries go at every count and every thousand notes.
 */
class RecentViewers {
  private readonly rooms = new Map<string, Map<string, Map<string, number>>>();
  private notes = 0;

  constructor(private readonly windowMs: number) {}

  note(room: string, address: string, session: string): void {
    const addresses = this.rooms.get(room) ?? new Map<string, Map<string, number>>();
    this.rooms.set(room, addresses);
    const sessions = addresses.get(address) ?? new Map<string, number>();
    addresses.set(address, sessions);
    if (sessions.has(session) || sessions.size < MAX_SESSIONS_PER_ADDRESS) sessions.set(session, Date.now());
    if (++this.notes % 1000 === 0) this.prune();
  }

  counts(): Map<string, number> {
    this.prune();
    return new Map([...this.rooms].map(([room, addresses]) => [room, [...addresses.values()].reduce((sum, sessions) => sum + sessions.size, 0)]));
  }

  private prune(): void {
    const since = Date.now() - this.windowMs;
    for (const [room, addresses] of this.rooms) {
      for (const [address, sessions] of addresses) {
        for (const [session, at] of sessions) if (at < since) sessions.delete(session);
        if (sessions.size === 0) addresses.delete(address);
      }
      if (addresses.size === 0) this.rooms.delete(room);
    }
  }
}

/** Sets a gauge by room (`<dev_id>*<room>`), or to the rooms' total where rooms may not be named. */
function setByRoom(gauge: Gauge<'room'>, values: Iterable<[string, number]>, roomLabels: boolean): void {
  gauge.reset();
  if (roomLabels) for (const [room, value] of values) gauge.set({ room }, value);
  else gauge.set([...values].reduce((total, [, value]) => total + value, 0));
}

/** How long a scrape waits for the store: a database that hangs (a dropped network) is as down as one that refuses. */
const STORE_PATIENCE_MS = 2000;

/**
 * The store's counts, asked once per scrape however many gauges show them. A store that does not answer (a
 * database away) leaves the last known counts and `up: false`, so /metrics still answers: it is most
 * needed then.
 */
export class StoreCountsOnce {
  private pending: Promise<{ counts: StoreCounts; up: boolean }> | undefined;
  private last: StoreCounts = { keys: 0, invitations: 0, rooms: 0, members: 0 };

  constructor(private readonly model: ConferenceModel) {}

  read(): Promise<{ counts: StoreCounts; up: boolean }> {
    if (!this.pending) {
      const pending = this.ask();
      this.pending = pending;
      // Shared by the gauges of this scrape only.
      void pending.then(() => setImmediate(() => this.pending === pending && (this.pending = undefined)));
    }
    return this.pending;
  }

  private async ask(): Promise<{ counts: StoreCounts; up: boolean }> {
    let timer: NodeJS.Timeout | undefined;
    const patience = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the store is too slow')), STORE_PATIENCE_MS);
    });
    try {
      this.last = await Promise.race([this.model.counts(), patience]);
      return { counts: this.last, up: true };
    } catch {
      return { counts: this.last, up: false };
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Everything /metrics exposes, in Prometheus text format: process CPU and memory (prom-client defaults),
 * CometQL connections, queries and errors, and the conference model's rooms, members and invitations.
 * Rooms, which name every tenant's conferences, label a figure only with `roomLabels` ([http] metrics_rooms);
 * otherwise it is their total.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly cometqlConnections: Gauge;
  readonly cometConnections: Gauge;
  readonly queries: Counter<'table' | 'kind'>;
  readonly errors: Counter<'code'>;
  /** Failed logins of every front end (`front`: cometql, sip, comet), refused-while-throttled attempts included. */
  readonly loginFailures: Counter<'front'>;
  /** Pipe messages dropped, oldest first, for browsers that read too slowly. */
  readonly messagesDropped: Counter;
  /** The store's counts, for /metrics and /info. */
  readonly storeCounts: StoreCountsOnce;
  private readonly queryRate = new RateWindow(11);
  private totalQueries = 0;

  constructor(
    model: ConferenceModel,
    private readonly roomLabels: boolean,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'cometmcu_' });
    this.cometqlConnections = new Gauge({ name: 'cometql_connections', help: 'Open CometQL connections', registers });
    this.cometConnections = new Gauge({ name: 'comet_connections', help: 'Open comet WebSockets (browsers)', registers });
    this.queries = new Counter({
      name: 'cometql_queries_total',
      help: 'CometQL statements run, by table and kind',
      labelNames: ['table', 'kind'],
      registers,
    });
    this.errors = new Counter({ name: 'cometql_errors_total', help: 'CometQL errors sent, by code', labelNames: ['code'], registers });
    this.loginFailures = new Counter({
      name: 'cometmcu_login_failures_total',
      help: 'Failed logins, by front end: wrong credentials and attempts refused while throttled',
      labelNames: ['front'],
      registers,
    });
    this.messagesDropped = new Counter({
      name: 'cometmcu_messages_dropped_total',
      help: 'Pipe messages dropped (the oldest first) for comet WebSockets that read too slowly',
      registers,
    });
    const rate = this.queryRate;
    new Gauge({
      name: 'cometql_queries_per_second',
      help: 'CometQL statements per second over the last 10 seconds',
      registers,
      collect() {
        this.set(rate.perSecond());
      },
    });
    const viewers = this.hlsViewers;
    new Gauge({
      name: 'cometmcu_hls_viewers',
      help: 'Viewers of the embedded HLS/DASH (sessions that fetched a playlist in the last 10 s), by room with metrics_rooms',
      labelNames: roomLabels ? ['room'] : [],
      registers,
      collect() {
        setByRoom(this, viewers.counts(), roomLabels);
      },
    });
    new Counter({
      name: 'cometmcu_internal_errors_total',
      help: 'Errors an entry point caught that were not the client\'s fault (bugs of ours), by boundary',
      labelNames: ['boundary'],
      registers,
      collect() {
        this.reset();
        for (const [boundary, count] of internalErrorCounts()) this.inc({ boundary }, count);
      },
    });
    const counts = (this.storeCounts = new StoreCountsOnce(model));
    new Gauge({
      name: 'cometmcu_store_up',
      help: '1 when the store answered the last scrape, 0 when it did not (the counts below are then the last known)',
      registers,
      async collect() {
        this.set((await counts.read()).up ? 1 : 0);
      },
    });
    const countsGauge = (name: string, help: string, pick: (counts: StoreCounts) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(pick((await counts.read()).counts));
        },
      });
    };
    countsGauge('cometmcu_conferences', 'Rooms with members', (c) => c.rooms);
    countsGauge('cometmcu_members', 'Members in rooms', (c) => c.members);
    countsGauge('cometmcu_invitations', 'Invitations (rows of the conference table)', (c) => c.invitations);
    countsGauge('cometmcu_user_keys', 'Users with a key (rows of users_auth)', (c) => c.keys);
  }

  /** Clients that fetched a room's playlist in the last 10 s, by room (`<dev_id>*<room>`). */
  private readonly hlsViewers = new RecentViewers(10_000);

  /**
   * Counts a viewer of a room's embedded HLS/DASH (`room`: its roomKey) who was served a playlist (players
   * fetch it every segment, LL-HLS players every part), by address and session ('' for none).
   */
  noteHlsViewer(room: string, address: string, session: string): void {
    this.hlsViewers.note(room, address, session);
  }

  /** Media figures, read from the mixer when scraped. */
  watchMixer(mixer: Mixer): void {
    const registers = [this.registry];
    // One look at the mixer per scrape, however many gauges show it.
    let scraped: MixerStats | undefined;
    const stats = (): MixerStats => {
      if (!scraped) setImmediate(() => (scraped = undefined));
      return (scraped ??= mixer.stats());
    };
    const stat = (name: string, help: string, pick: (stats: MixerStats) => number): void => {
      new Gauge({ name, help, registers, collect() { this.set(pick(stats())); } });
    };
    stat('cometmcu_media_rooms', 'Conferences with media running', (s) => s.rooms);
    stat('cometmcu_media_members', 'Members with a WebRTC leg', (s) => s.members);
    stat('cometmcu_video_encoders', 'Video encoders running (one per distinct view, and each broadcast\'s)', (s) => s.videoEncoders);
    stat('cometmcu_video_decoders', 'Members whose video is being decoded', (s) => s.videoDecoders);
    stat('cometmcu_audio_mixes', 'Audio mixes being encoded (one per distinct mix)', (s) => s.audioMixes);
    stat('cometmcu_video_frames_rendered', 'Canvases composed by the rooms running now', (s) => s.framesRendered);
    stat('cometmcu_video_frames_dropped', 'Canvases skipped because an encoder was behind, in the rooms running now', (s) => s.framesDropped);
    const roomLabels = this.roomLabels;
    new Gauge({
      name: 'cometmcu_conference_ffmpeg_cpu_seconds',
      help: 'CPU seconds used by the live conferences\' FFmpeg children (broadcast encoders and outputs) since each began, by room with metrics_rooms',
      labelNames: roomLabels ? ['room'] : [],
      registers,
      collect() {
        setByRoom(this, mixer.cpuSecondsByRoom(), roomLabels);
      },
    });
  }

  statement(table: string, kind: string): void {
    this.queries.inc({ table: table || 'none', kind });
    this.queryRate.add();
    this.totalQueries++;
  }

  error(code: number): void {
    this.errors.inc({ code: String(code) });
  }

  get queryCount(): number {
    return this.totalQueries;
  }
}
