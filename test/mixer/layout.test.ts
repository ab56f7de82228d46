import { describe, expect, it } from 'vitest';
import { tileRects } from '../../mixer/views/layouts/index.js';
import { viewFor, viewKey } from '../../mixer/views/views.js';
import { DEFAULT_CONTROLS, type Member, type Profile } from '../../src/domain.js';

const canvas = { width: 1280, height: 720 };
const profile: Profile = { name: 'video', media: 'video', canvas, fps: 15, codec: 'VP8', videoBitrateKbps: 1200, layout: 'grid', maxMembers: 16, open: false, broadcast: { layout: 'grid', rtmp: null, hls: false, llHls: false, dash: false, record: null } };
const member = (userId: number, controls: Partial<Member['controls']> = {}, viewerOnly = false): Member => ({
  devId: 0, room: 'r', userId, profile: 'video', viewerOnly, joinedAt: 0, lastTalkingAt: null, talking: false,
  controls: { ...DEFAULT_CONTROLS, ...controls },
});

describe('tile geometry', () => {
  it('lays out a grid by count, even-sized, last row centred', () => {
    expect(tileRects('grid', 4, canvas)).toEqual([
      { x: 0, y: 0, width: 640, height: 360 },
      { x: 640, y: 0, width: 640, height: 360 },
      { x: 0, y: 360, width: 640, height: 360 },
      { x: 640, y: 360, width: 640, height: 360 },
    ]);
    const three = tileRects('grid', 3, canvas);
    expect(three[2]).toEqual({ x: 320, y: 360, width: 640, height: 360 });
    const nine = tileRects('grid', 9, canvas);
    expect(nine.every((r) => r.width === 426 && r.height === 240 && r.x % 2 === 0)).toBe(true);
    expect(tileRects('grid', 16, canvas)).toHaveLength(16);
  });

  it('puts the speaker full size with a strip of the others at the bottom', () => {
    const rects = tileRects('speaker', 4, canvas);
    expect(rects[0]).toEqual({ x: 0, y: 0, width: 1280, height: 720 });
    expect(rects.slice(1).map((r) => r.y + r.height)).toEqual([720, 720, 720]);
    expect(rects.slice(1).every((r) => r.width === 256)).toBe(true);
  });
});

describe('views', () => {
  const four = [member(1), member(2), member(3), member(4)];
  const quiet = { active: null, previous: null };

  it('grid: everyone sees the same canvas, so one encoder serves all', () => {
    const keys = new Set(four.map((m) => viewKey(viewFor(m, four, quiet, profile))));
    expect(keys.size).toBe(1);
    expect(viewFor(four[0]!, four, quiet, profile).visible).toEqual([1, 2, 3, 4]);
  });

  it('personal: everyone but the viewer, one view each', () => {
    const personal = four.map((m) => member(m.userId, { layout: 'personal' }));
    expect(viewFor(personal[1]!, personal, quiet, profile).visible).toEqual([1, 3, 4]);
    expect(new Set(personal.map((m) => viewKey(viewFor(m, personal, quiet, profile)))).size).toBe(4);
  });

  it('speaker: two views for any number of members; the speaker sees the previous speaker', () => {
    const nine = Array.from({ length: 9 }, (_, i) => member(i + 1, { layout: 'speaker' }));
    const speakers = { active: 5, previous: 2 };
    const views = nine.map((m) => viewFor(m, nine, speakers, profile));
    expect(new Set(views.map(viewKey)).size).toBe(2);
    expect(views[0]!.visible[0]).toBe(5);
    expect(views[4]!.visible[0]).toBe(2);
    expect(new Set(nine.map((m) => viewKey(viewFor(m, nine, quiet, profile)))).size).toBe(2);
  });

  it('watch lists choose whom a subscriber sees; viewer-only members have no tile', () => {
    const members = [member(1, { watch: [3, 2, 99] }), member(2), member(3), member(4, {}, true)];
    expect(viewFor(members[0]!, members, quiet, profile).visible).toEqual([3, 2]);
    expect(viewFor(members[1]!, members, quiet, profile).visible).toEqual([1, 2, 3]);
    expect(viewFor(member(5, { layout: 'single', watch: [2] }), members, quiet, profile).visible).toEqual([2]);
  });
});
