import type { Member, Profile, SpeakerState, View } from '../../src/domain.js';
import { LAYOUTS } from './layouts/index.js';

/**
 * What `subscriber` sees. Equal views share one compositor and encoder, so this is deliberately
 * canonical: it depends only on what ends up on the canvas, never on who asks.
 */
export function viewFor(subscriber: Member, members: readonly Member[], speakers: SpeakerState, profile: Profile): View {
  const layout = subscriber.controls.layout ?? profile.layout;
  // Viewer-only members send nothing, so they have no tile.
  const senders = members.filter((member) => !member.viewerOnly).map((member) => member.userId);
  const present = subscriber.controls.watch?.filter((userId) => senders.includes(userId));
  const watched = present && present.length > 0 ? present : undefined;
  const visible = LAYOUTS[layout].visible({ subscriber: subscriber.userId, candidates: watched ?? senders, watched, speakers });
  return { layout, visible, canvas: profile.canvas, fps: profile.fps, codec: profile.codec, videoBitrateKbps: profile.videoBitrateKbps };
}

/** The sharing key of a view: subscribers with the same key get the same encoded stream. */
export function viewKey(view: View): string {
  return JSON.stringify([view.layout, view.visible, view.canvas.width, view.canvas.height, view.fps, view.codec, view.videoBitrateKbps]);
}
