import type { Member, Profile, UserId, View } from '../src/domain.js';

/** Who is speaking in a room, as the speech detector decided. */
export interface SpeakerState {
  active: UserId | null;
  /** The speaker before the active one: what the active speaker sees in the speaker layout. */
  previous: UserId | null;
}

/**
 * What `subscriber` sees. Equal views share one compositor and encoder, so this is deliberately
 * canonical: it depends only on what ends up on the canvas, never on who asks.
 */
export function viewFor(subscriber: Member, members: readonly Member[], speakers: SpeakerState, profile: Profile): View {
  const layout = subscriber.controls.layout ?? profile.layout;
  // Viewer-only members send nothing, so they have no tile.
  const senders = members.filter((member) => !member.viewerOnly).map((member) => member.userId);
  const watched = subscriber.controls.watch?.filter((userId) => senders.includes(userId));
  const candidates = watched && watched.length > 0 ? watched : senders;
  const base = {
    canvas: profile.canvas,
    fps: profile.fps,
    codec: profile.codec,
    videoBitrateKbps: profile.videoBitrateKbps,
  };
  switch (layout) {
    case 'grid':
      return { ...base, layout, visible: [...candidates] };
    case 'personal':
      return { ...base, layout, visible: candidates.filter((userId) => userId !== subscriber.userId) };
    case 'single': {
      const shown = watched?.[0] ?? pickSpeaker(subscriber.userId, candidates, speakers);
      return { ...base, layout, visible: shown === undefined ? [] : [shown] };
    }
    case 'speaker': {
      const main = pickSpeaker(subscriber.userId, candidates, speakers);
      if (main === undefined) return { ...base, layout, visible: [] };
      return { ...base, layout, visible: [main, ...candidates.filter((userId) => userId !== main)] };
    }
  }
}

/**
 * The member shown full size: the active speaker, except for the active speaker themself, who sees the
 * previous speaker. With nobody speaking yet, the first candidate other than the subscriber.
 */
function pickSpeaker(subscriber: UserId, candidates: readonly UserId[], speakers: SpeakerState): UserId | undefined {
  const present = (userId: UserId | null): userId is UserId => userId !== null && candidates.includes(userId);
  if (present(speakers.active) && speakers.active !== subscriber) return speakers.active;
  if (present(speakers.previous) && speakers.previous !== subscriber) return speakers.previous;
  return candidates.find((userId) => userId !== subscriber) ?? candidates[0];
}

/** The sharing key of a view: subscribers with the same key get the same encoded stream. */
export function viewKey(view: View): string {
  return JSON.stringify([view.layout, view.visible, view.canvas.width, view.canvas.height, view.fps, view.codec, view.videoBitrateKbps]);
}
