import type { SpeakerState, UserId } from '../../src/domain.js';

/** RMS level of 16-bit PCM in dBFS (-100 for silence). */
export function levelDb(samples: Int16Array): number {
  if (samples.length === 0) return -100;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i]!;
    sum += sample * sample;
  }
  const rms = Math.sqrt(sum / samples.length) / 32768;
  return rms > 0 ? Math.max(-100, 20 * Math.log10(rms)) : -100;
}

export interface TalkOptions {
  /** Level a member must exceed to start talking. */
  onDb: number;
  /** Level below which a member is considered quiet; lower than onDb, so talk does not flicker. */
  offDb: number;
  /** How long the level must stay above onDb before talking starts. */
  attackMs: number;
  /** How long it must stay below offDb before talking stops: pauses between words keep the state. */
  releaseMs: number;
}

export const DEFAULT_TALK_OPTIONS: TalkOptions = { onDb: -45, offDb: -52, attackMs: 60, releaseMs: 600 };

/** Talking or not, from frame levels, with hysteresis in level and in time. */
export class TalkDetector {
  talking = false;
  private aboveMs = 0;
  private belowMs = 0;

  constructor(private readonly options: TalkOptions = DEFAULT_TALK_OPTIONS) {}

  /** Feeds one frame; returns true when the talking state changed. */
  feed(db: number, frameMs: number): boolean {
    this.aboveMs = db > this.options.onDb ? this.aboveMs + frameMs : 0;
    this.belowMs = db < this.options.offDb ? this.belowMs + frameMs : 0;
    if (!this.talking && this.aboveMs >= this.options.attackMs) return (this.talking = true);
    if (this.talking && this.belowMs >= this.options.releaseMs) {
      this.talking = false;
      return true;
    }
    return false;
  }
}

/** A member's level in one frame period; `missing`: their frame has not come (jitter), the level says nothing. */
export interface SpeakerLevel {
  db: number;
  talking: boolean;
  missing?: boolean;
}

/**
 * The active speaker: the loudest talking member, by a smoothed level. A challenger takes over only after
 * being louder by `marginDb` for `holdMs`, so the picture does not jump at every cough.
 */
export class SpeakerTracker {
  private state: SpeakerState = { active: null, previous: null };
  /** Each member's smoothed level, in an object updated in place. */
  private readonly smoothed = new Map<UserId, { db: number }>();
  private challenger: UserId | null = null;
  private challengeMs = 0;
  /** The loudest talker of the frame period being fed. */
  private loudest: UserId | null = null;

  constructor(
    private readonly holdMs = 400,
    private readonly marginDb = 3,
  ) {}

  get current(): SpeakerState {
    return { ...this.state };
  }

  /** Feeds one frame period's levels of talking members; returns true when the active speaker changed. */
  feed(levels: ReadonlyMap<UserId, SpeakerLevel>, frameMs: number): boolean {
    this.loudest = null;
    levels.forEach(this.smooth);
    // smooth() added anyone new, so the same size means the same members: nobody to forget.
    if (this.smoothed.size > levels.size) for (const userId of this.smoothed.keys()) if (!levels.has(userId)) this.smoothed.delete(userId);
    const loudest = this.loudest;
    const active = this.state.active;
    if (loudest === null || loudest === active) {
      this.challenger = null;
      this.challengeMs = 0;
      return false;
    }
    const activeLevel = active !== null && levels.get(active)?.talking ? this.smoothed.get(active)!.db : -Infinity;
    if (this.smoothed.get(loudest)!.db < activeLevel + this.marginDb) return false;
    this.challengeMs = this.challenger === loudest ? this.challengeMs + frameMs : frameMs;
    this.challenger = loudest;
    // Nobody talking before: take the floor at once; otherwise only after the hold time.
    if (activeLevel !== -Infinity && this.challengeMs < this.holdMs) return false;
    this.state = { active: loudest, previous: active };
    this.challenger = null;
    this.challengeMs = 0;
    return true;
  }

  /**
   * Smooths one member's level and keeps the loudest talker so far in `loudest`. A callback made once
   * (and levels updated in place) rather than iterators: feed runs every 20 ms and so allocates nothing.
   */
  private readonly smooth = (level: SpeakerLevel, userId: UserId): void => {
    let smoothed = this.smoothed.get(userId);
    if (!smoothed) this.smoothed.set(userId, (smoothed = { db: level.db }));
    // No frame this period (it comes late): no news of the level, which stays as it was.
    else if (!level.missing) smoothed.db += 0.2 * (level.db - smoothed.db);
    if (level.talking && (this.loudest === null || smoothed.db > this.smoothed.get(this.loudest)!.db)) this.loudest = userId;
  };

  /** A member left: they can no longer be shown as a speaker. */
  forget(userId: UserId): void {
    this.smoothed.delete(userId);
    if (this.state.previous === userId) this.state = { ...this.state, previous: null };
    if (this.state.active === userId) this.state = { active: null, previous: this.state.previous };
  }
}
