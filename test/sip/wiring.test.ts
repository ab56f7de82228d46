import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { once } from 'node:events';
import { startTestServer } from '../helpers/server.js';
import { WeriftMedia } from './weriftMedia.js';

describe('SIP wiring', () => {
  it('refuses to start with a broken dialplan, naming its file and line', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cometmcu-dialplan-')), 'dialplan.conf');
    writeFileSync(file, 'extension a\n  condition destination_number ^(\n  action answer\n');
    await expect(startTestServer({ COMET_CONFERENCE_DIALPLAN: file }, new WeriftMedia())).rejects.toThrow(`${file}:2:`);
    await expect(startTestServer({ COMET_CONFERENCE_DIALPLAN: join(file, '..', 'missing.conf') })).rejects.toThrow(/cannot read dialplan file/);
  });

  it('serves /sip with the mixer by default', async () => {
    const server = await startTestServer();
    try {
      expect(server.mixer).toBeDefined();
      const ws = new WebSocket(`ws://127.0.0.1:${server.httpPort}/sip`, 'sip');
      await once(ws, 'open');
      expect(ws.protocol).toBe('sip');
      ws.close();
    } finally {
      await server.close();
    }
  });
});
