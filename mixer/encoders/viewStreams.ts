import type { Logger } from 'pino';
import type { CanvasSize, UserId, View } from '../../src/domain.js';
import type { PictureSource } from '../views/compositor.js';
import { tileRects } from '../views/layouts/index.js';
import type { SubscriberVideo } from '../outbound/subscriberVideo.js';
import { viewKey } from '../views/views.js';
import { encoderSettingsKey, ViewStream } from './viewStream.js';

/** A subscriber and the view it should see now. */
export interface Wanted {
  subscriber: SubscriberVideo;
  view: View;
}

/**
 * A room's view streams: one per distinct view, as few encoders as that takes, each kept as long as it can
 * be. When views change, a stream goes on showing the view most of its subscribers want now (their picture
 * changes, their stream does not); only subscribers whose view went elsewhere move, at a keyframe asked for
 * at once. A stream nobody wants any more takes a view that needs one before a new encoder is made.
 */
export class ViewStreams {
  private readonly streams = new Set<ViewStream>();

  constructor(
    private readonly pictures: PictureSource,
    private readonly log: Logger,
  ) {}

  get all(): ReadonlySet<ViewStream> {
    return this.streams;
  }

  assign(wanted: readonly Wanted[]): void {
    const views = new Map<string, View>();
    for (const { view } of wanted) views.set(viewKey(view), view);
    // How many of each stream's subscribers want each view: a stream goes to the view most of them want.
    const votes: { stream: ViewStream; key: string; count: number }[] = [];
    for (const stream of this.streams) {
      const counts = new Map<string, number>();
      for (const { subscriber, view } of wanted) {
        if (subscriber.stream !== stream || encoderSettingsKey(view) !== stream.settingsKey) continue;
        const key = viewKey(view);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      // A stream already showing a wanted view keeps it, all else equal.
      const own = viewKey(stream.view);
      if (views.has(own) && encoderSettingsKey(views.get(own)!) === stream.settingsKey) counts.set(own, (counts.get(own) ?? 0) + 0.5);
      for (const [key, count] of counts) votes.push({ stream, key, count });
    }
    votes.sort((a, b) => b.count - a.count);
    const streamOf = new Map<string, ViewStream>();
    const taken = new Set<ViewStream>();
    for (const { stream, key } of votes) {
      if (streamOf.has(key) || taken.has(stream)) continue;
      streamOf.set(key, stream);
      taken.add(stream);
    }
    for (const [key, view] of views) {
      if (streamOf.has(key)) continue;
      const idle = [...this.streams].find((stream) => !taken.has(stream) && stream.settingsKey === encoderSettingsKey(view));
      const stream = idle ?? new ViewStream(view, this.pictures, this.log);
      this.streams.add(stream);
      streamOf.set(key, stream);
      taken.add(stream);
    }
    for (const [key, stream] of streamOf) stream.view = views.get(key)!;
    for (const { subscriber, view } of wanted) subscriber.follow(streamOf.get(viewKey(view))!);
    for (const stream of this.streams) {
      if (taken.has(stream)) continue;
      this.streams.delete(stream);
      void stream.close();
    }
  }

  /** The sizes a member is drawn at in any stream's view. */
  tileSizesOf(userId: UserId): CanvasSize[] {
    const sizes = new Map<string, CanvasSize>();
    for (const { view } of this.streams) {
      const index = view.visible.indexOf(userId);
      if (index < 0) continue;
      const { width, height } = tileRects(view.layout, view.visible.length, view.canvas)[index]!;
      sizes.set(`${width}x${height}`, { width, height });
    }
    return [...sizes.values()];
  }

  async close(): Promise<void> {
    const streams = [...this.streams];
    this.streams.clear();
    await Promise.all(streams.map((stream) => stream.close()));
  }
}
