import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { Invitation } from '../../src/domain.js';
import type { SipCallPayload } from '../../src/conference/invitePayload.js';
import { runPhp, startTestServer, type TestServer } from '../helpers/server.js';

const examples = (name: string): string => fileURLToPath(new URL(`../../examples/php/${name}`, import.meta.url));
const flows = fileURLToPath(new URL('./php/flows.php', import.meta.url));
const lines = (stdout: string): unknown[] => stdout.trim().split('\n').map((line) => JSON.parse(line));

describe('PHP mysqli and PDO against CometQL', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('auth.php gives a user a key that the model then accepts', async () => {
    const run = await runPhp(examples('auth.php'), ['user_id=7'], server);
    expect(run.code).toBe(0);
    const { user_id, hash } = JSON.parse(run.stdout) as { user_id: number; hash: string };
    expect(user_id).toBe(7);
    expect(hash).toMatch(/^[0-9a-f]{32}$/);
    expect(await server.model.authenticate(0, 7, hash)).toBe(true);
    expect(await server.model.authenticate(0, 7, 'x'.repeat(32))).toBe(false);
  });

  it('call.php invites every user (statements end in ";") and each invitation emits sys_sipCall data', async () => {
    const invited: [Invitation, SipCallPayload][] = [];
    server.model.on('invited', (invitation, payload) => invited.push([invitation, payload]));
    const run = await runPhp(examples('call.php'), ['room=101', 'users=1,2,3', 'caller=1', 'profile=video', 'message={"text":"hi"}'], server);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ room: '101', invited: [1, 2, 3] });
    expect(invited.map(([invitation]) => invitation.userId)).toEqual([1, 2, 3]);
    const [, payload] = invited[0]!;
    expect(payload.message).toBe('{"text":"hi"}');
    expect(payload.sys).toMatchObject({
      conference: 'true',
      sipNumber: '0*101*video',
      caller_id: 1,
      mode: 'video',
      conference_name: '101',
      stream: 0,
      type: 'video',
      serverName: 'localhost',
      serverPort: server.httpPort,
    });
    // One signalling pipe per room, the same for every invitee, with CppComet's mangled prefix.
    expect(payload.sys.callPipe).toMatch(/^web_syscall_vA_[A-z]{28}$/);
    expect(new Set(invited.map(([, p]) => p.sys.callPipe)).size).toBe(1);
    expect(new Set(invited.map(([, p]) => p.sys.callKey)).size).toBe(3);
  });

  it('members.php lists, mutes and kicks members of a room', async () => {
    await runPhp(examples('call.php'), ['room=202', 'users=4,5', 'caller=4'], server);
    await server.model.join({ devId: 0, room: '202', userId: 4, profile: 'video' });
    await server.model.join({ devId: 0, room: '202', userId: 5, profile: 'video' });

    const list = JSON.parse((await runPhp(examples('members.php'), ['room=202'], server)).stdout);
    expect(list.members.map((m: { user_id: string }) => m.user_id)).toEqual(['4', '5']);
    expect(list.members[0]).toMatchObject({ name: '202', audio: '1', video: '1', talking: '0', join_time: '0', last_talking: '0' });

    const muted = JSON.parse((await runPhp(examples('members.php'), ['room=202', 'mute=5'], server)).stdout);
    expect(muted.members.find((m: { user_id: string }) => m.user_id === '5').audio).toBe('0');
    expect((await server.model.findMembers(0, { rooms: ['202'], userIds: [5] }))[0]!.controls.audio).toBe(false);

    const kicked = JSON.parse((await runPhp(examples('members.php'), ['room=202', 'kick=4'], server)).stdout);
    expect(kicked.members.map((m: { user_id: string }) => m.user_id)).toEqual(['5']);
  });

  it('a wrong password is refused with CometQL error 16', async () => {
    const [result] = lines((await runPhp(flows, ['wrong-password'], server)).stdout);
    expect(result).toEqual({ connected: false, errno: 16, error: 'Authentication failure' });
  });

  it('errors carry CometQL codes and SQLSTATEs, and the connection stays usable', async () => {
    const results = lines((await runPhp(flows, ['errors'], server)).stdout);
    expect(results).toEqual([
      { ok: false, errno: 15, error: "Table doesn't exist", sqlstate: 'HY000' },
      { ok: false, errno: 3, error: 'Syntax error in query', sqlstate: '42000' },
      { ok: false, errno: 14, error: 'Not a specific column', sqlstate: 'HY000' },
      { ok: false, errno: 12, error: 'field `message` is required', sqlstate: 'HY000' },
      { ok: false, errno: 13, error: 'Selection without transferring the requested values of the primary key is not supported', sqlstate: 'HY000' },
      { after: '1' },
    ]);
  });

  it('values escaped with \\\' and with \'\' are both unescaped, and a trailing ;\' is tolerated', async () => {
    const [rows] = lines((await runPhp(flows, ['escaping'], server)).stdout);
    expect(rows).toEqual([
      { user_id: '1', message: 'it\'s a "test" with \\ backslash' },
      { user_id: '2', message: "it's doubled" },
      { user_id: '3', message: 'double "quoted"' },
    ]);
  });

  it('PDO with its default emulated prepares works, and reports errors as exceptions', async () => {
    const [rows, failure, deleted] = lines((await runPhp(flows, ['pdo'], server)).stdout);
    expect(rows).toEqual([{ name: 'pdo-room', user_id: '11', caller_id: '10', message: '{"text":"O\'Reilly"}', profile: 'video' }]);
    expect((failure as { exception: string }).exception).toContain("Table doesn't exist");
    expect(deleted).toEqual({ count: 1 });
  });
});
