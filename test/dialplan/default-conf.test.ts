import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { loadDialplan } from '../../dialplan/index.js';

const dialplan = loadDialplan(fileURLToPath(new URL('../../conf/dialplan.conf', import.meta.url)));

describe('the shipped conf/dialplan.conf', () => {
  it('sends <dev_id>*<room>*<profile> to room <dev_id>*<room> with that profile', () => {
    expect(dialplan.route({ destination_number: '0*101*video' })).toEqual({
      extension: 'comet_conferences',
      actions: [{ kind: 'answer' }, { kind: 'conference', room: '0*101', profile: 'video' }],
      variables: {},
    });
  });

  it('accepts the room characters CppComet accepts', () => {
    expect(dialplan.route({ destination_number: '15*room-a_1*default' })?.actions).toContainEqual({
      kind: 'conference',
      room: '15*room-a_1',
      profile: 'default',
    });
  });

  it('routes *audio to the audio-only extension, which sets media=audio', () => {
    expect(dialplan.route({ destination_number: '7*101*audio' })).toEqual({
      extension: 'comet_conferences_audio',
      actions: [
        { kind: 'set', name: 'media', value: 'audio' },
        { kind: 'answer' },
        { kind: 'conference', room: '7*101', profile: 'audio' },
      ],
      variables: { media: 'audio' },
    });
  });

  it.each(['101', '0*101', '1234567890*101*video', 'x*101*video', '0*101*video*extra', '0*ro om*video', ''])(
    'refuses %j with NO_ROUTE_DESTINATION',
    (destination_number) => {
      expect(dialplan.route({ destination_number })).toEqual({
        extension: 'no_route',
        actions: [{ kind: 'hangup', cause: 'NO_ROUTE_DESTINATION' }],
        variables: {},
      });
    },
  );
});
