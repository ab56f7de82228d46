// First: the decoders and encoders need libuv's thread pool sized before anything uses it.
import '../src/threadPool.js';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { MediaError, type MediaEngine } from '../src/conference/media.js';
import type { ConferenceModel } from '../src/conference/model.js';
import { broadcasts, roomKey, type BroadcastSettings, type Member, type Profile } from '../src/domain.js';
import { fillTemplate, type BroadcastTargets } from './broadcast/broadcast.js';
import type { LowLatencyHls } from './broadcast/llHls.js';
import type { MediaNetwork } from './peer.js';
import { Room, type RoomStats } from './room.js';
import { processCpuSeconds } from '../src/procStat.js';

/** Where embedded HLS/DASH is written ([broadcast] in comet.ini); null: no embedded output. */
export interface BroadcastOptions {
  dataDir: string | null;
  segmentSeconds: number;
  windowSegments: number;
  /** CA file for rtmps:// servers' certificates; null: the system's. */
  rtmpsCaFile: string | null;
  /** How long an ended broadcast is still served ([broadcast] keep_after_end), its low-latency HLS too. */
  keptAfterEndMs: number;
}

/** The folder of a room's embedded HLS/DASH, also its URL path below /hls/. */
export function hlsDirectory(dataDir: string, devId: number, room: string): string {
  return join(dataDir, 'hls', String(devId), room);
}

export interface MixerStats {
  rooms: number;
  members: number;
  videoEncoders: number;
  videoDecoders: number;
  decodersStarted: number;
  framesEncoded: number;
  audioMixes: number;
  framesRendered: number;
  framesDropped: number;
  perRoom: (RoomStats & { devId: number; room: string })[];
}

/**
 * The media engine: one Room per conference, created with its first member and closed with its last.
 * It follows the model: controls changes reach the media, and a member the model removes (kicked,
 * uninvited, key revoked) loses their media leg; talking goes back to the model, and a leg's failure to
 * whoever set the leg up (the SIP call, which knows whether the leg still carries the member).
 */
export class Mixer implements MediaEngine {
  private readonly rooms = new Map<string, { room: Room; devId: number; name: string; profile: Profile; broadcast: BroadcastSettings }>();
  /** CPU seconds of each room's FFmpeg processes so far, and what each live process had at the last look. */
  private readonly roomCpu = new Map<string, number>();
  private readonly lastCpuOfPid = new Map<number, number>();
  private readonly detach: () => void;
  private readonly endedHls = new Map<string, { packager: LowLatencyHls; timer: NodeJS.Timeout }>();

  constructor(
    private readonly model: ConferenceModel,
    private readonly network: MediaNetwork,
    private readonly log: Logger,
    private readonly broadcasting: BroadcastOptions = { dataDir: null, segmentSeconds: 1, windowSegments: 6, rtmpsCaFile: null, keptAfterEndMs: 30_000 },
  ) {
    this.detach = model.subscribe({
      memberChanged: (member) => void this.rooms.get(roomKey(member.devId, member.room))?.room.update(member),
      memberLeft: (member) => void this.leave(member),
      broadcastChanged: (devId, room, settings) => {
        const entry = this.rooms.get(roomKey(devId, room));
        if (!entry) return;
        entry.broadcast = settings ?? entry.profile.broadcast;
        void entry.room.replaceBroadcast(this.broadcastTargets(devId, room, entry.broadcast));
      },
    });
    model.reportBroadcastsFrom((devId) =>
      [...this.rooms.values()]
        .filter((entry) => entry.devId === devId && broadcasts(entry.broadcast))
        .map((entry) => ({ room: entry.name, settings: entry.broadcast, outputs: entry.room.stats().broadcast })),
    );
  }

  /** `onFailed`: see MediaEngine.join; left out by tests and benchmarks that watch no leg. */
  async join(member: Member, offer: string, onFailed: () => void = () => undefined): Promise<string> {
    const profile = this.model.profile(member.profile);
    if (!profile) throw new MediaError(`unknown profile ${member.profile}`);
    const key = roomKey(member.devId, member.room);
    // Read before looking for the room: a join that waited here must not create a second one.
    const broadcast = this.rooms.has(key) ? undefined : await this.model.broadcastSettingsOf(member.devId, member.room, profile);
    let entry = this.rooms.get(key);
    if (!entry) {
      const settings = broadcast ?? profile.broadcast;
      const room = new Room(profile, this.network, this.log.child({ room: key }), {
        onTalking: (userId, talking) => void this.model.setTalking(member.devId, member.room, userId, talking),
      }, this.broadcastTargets(member.devId, member.room, settings));
      entry = { room, devId: member.devId, name: member.room, profile, broadcast: settings };
      this.rooms.set(key, entry);
    }
    return entry.room.join(member, offer, onFailed);
  }

  /** Where a room's broadcast goes, from its settings, or null when it is not broadcast. */
  private broadcastTargets(devId: number, room: string, settings: BroadcastSettings): BroadcastTargets | null {
    if (!broadcasts(settings)) return null;
    const values = { room, devId };
    const embedded = (settings.hls || settings.llHls || settings.dash) && this.broadcasting.dataDir;
    return {
      rtmp: settings.rtmp && fillTemplate(settings.rtmp, values),
      hlsDir: embedded ? hlsDirectory(this.broadcasting.dataDir!, devId, room) : null,
      lowLatency: settings.llHls,
      dash: settings.dash,
      record: settings.record && fillTemplate(settings.record, values),
      segmentSeconds: this.broadcasting.segmentSeconds,
      windowSegments: this.broadcasting.windowSegments,
      rtmpsCaFile: this.broadcasting.rtmpsCaFile,
    };
  }

  /** The low-latency HLS of a room broadcasting it now, or of one that ended less than keptAfterEndMs ago. */
  lowLatencyHls(devId: number, room: string): LowLatencyHls | undefined {
    const key = roomKey(devId, room);
    return this.rooms.get(key)?.room.lowLatencyHls ?? this.endedHls.get(key)?.packager;
  }

  async leave(member: Member): Promise<void> {
    const key = roomKey(member.devId, member.room);
    const entry = this.rooms.get(key);
    if (!entry) return;
    await entry.room.leave(member.userId);
    if (entry.room.size === 0 && this.rooms.get(key) === entry) {
      this.rooms.delete(key);
      // Its players still get the last segments while it drains, then the final playlist (EXT-X-ENDLIST).
      const hls = entry.room.lowLatencyHls;
      if (hls) this.keepEnded(key, hls);
      await entry.room.close();
    }
  }

  private keepEnded(key: string, packager: LowLatencyHls): void {
    clearTimeout(this.endedHls.get(key)?.timer);
    const timer = setTimeout(() => this.endedHls.delete(key), this.broadcasting.keptAfterEndMs);
    timer.unref();
    this.endedHls.set(key, { packager, timer });
  }

  stats(): MixerStats {
    const perRoom = [...this.rooms.values()].map(({ room, devId, name }) => ({ ...room.stats(), devId, room: name }));
    const sum = (pick: (stats: RoomStats) => number): number => perRoom.reduce((total, stats) => total + pick(stats), 0);
    return {
      rooms: perRoom.length,
      members: sum((s) => s.members),
      videoEncoders: sum((s) => s.videoEncoders),
      videoDecoders: sum((s) => s.videoDecoders),
      decodersStarted: sum((s) => s.decodersStarted),
      framesEncoded: sum((s) => s.framesEncoded),
      audioMixes: sum((s) => s.audioMixes),
      framesRendered: sum((s) => s.framesRendered),
      framesDropped: sum((s) => s.framesDropped),
      perRoom,
    };
  }

  /**
   * CPU seconds used by each live room's FFmpeg processes (its broadcast's encoder and outputs) since the
   * room began; decoding, composing and encoding for members happen in this process.
   * Sampled on demand (by /metrics); a process that died between two samples loses its last interval.
   */
  cpuSecondsByRoom(): Map<string, number> {
    const seen = new Map<number, number>();
    for (const [key, pids] of this.ffmpegPids()) {
      let total = this.roomCpu.get(key) ?? 0;
      for (const pid of pids) {
        const now = processCpuSeconds(pid);
        if (now === undefined) continue;
        total += now - (this.lastCpuOfPid.get(pid) ?? 0);
        seen.set(pid, now);
      }
      this.roomCpu.set(key, total);
    }
    this.lastCpuOfPid.clear();
    for (const [pid, cpu] of seen) this.lastCpuOfPid.set(pid, cpu);
    for (const key of this.roomCpu.keys()) if (!this.rooms.has(key)) this.roomCpu.delete(key);
    return new Map(this.roomCpu);
  }

  /** FFmpeg process ids per room, for CPU accounting. */
  ffmpegPids(): Map<string, number[]> {
    return new Map([...this.rooms].map(([key, { room }]) => [key, room.ffmpegPids()]));
  }

  async close(): Promise<void> {
    this.detach();
    const rooms = [...this.rooms.values()];
    this.rooms.clear();
    await Promise.all(rooms.map(({ room }) => room.close()));
    for (const { timer } of this.endedHls.values()) clearTimeout(timer);
    this.endedHls.clear();
  }
}
