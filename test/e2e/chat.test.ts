import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connect, runPhp, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The chat page in headless Chromium, as the server serves it (/examples/chat.html with /CometServerApi.js)
 * on a web_ pipe with history; two pages talk to each other and a PHP backend posts to both.
 */

// Globals of the functions that run inside the page (this file itself runs in Node, without the DOM types).
declare const document: any;
declare const window: any;

const php = fileURLToPath(new URL('../messaging/php/messaging.php', import.meta.url));

/** The lines of the page's message list. */
const lines = (page: Page): Promise<string[]> => page.evaluate(() => [...document.querySelectorAll('#messages li')].map((li: any) => `${li.className}|${li.textContent}`));

async function waitForLine(page: Page, text: string, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await lines(page)).find((line) => line.includes(text));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no "${text}" in ${JSON.stringify(await lines(page))}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('the chat page in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let alice: Page;
  let bob: Page;

  /** Calls `CometServer()[method](...args, callback)` in the page and resolves with the callback's event. */
  const answer = (page: Page, method: string, ...args: unknown[]): Promise<{ data: any; server_info: any }> =>
    page.evaluate(
      ([name, values]) => new Promise((resolve) => window.CometServer()[name as string](...(values as unknown[]), resolve)),
      [method, args] as const,
    );

  beforeAll(async () => {
    server = await startTestServer();
    const sql = await connect(server);
    await sql.query(`INSERT INTO users_auth (id, hash) VALUES (1, 'alicekey')`);
    await sql.query(`INSERT INTO pipes_settings (name, length) VALUES ('web_chat', 50)`);
    await sql.end();
    expect(await runPhp(php, ['publish', 'web_chat', 'message', '{"name":"bot","text":"welcome"}'], server)).toMatchObject({ stdout: '1\n' });

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
    const base = `http://127.0.0.1:${server.httpPort}/examples/chat.html?node=127.0.0.1:${server.httpPort}`;
    alice = await (await browser.newContext()).newPage();
    bob = await (await browser.newContext()).newPage();
    await alice.goto(`${base}&user_id=1&user_key=alicekey&name=alice`);
    await bob.goto(`${base}&name=bob`);
  });
  afterAll(async () => {
    await browser?.close();

    await server?.close();
  });

  it('logs in (or not) and shows the history', async () => {
    await alice.waitForFunction(() => document.getElementById('status').textContent.includes('as user 1'));
    await bob.waitForFunction(() => document.getElementById('status').textContent.includes('not logged in'));
    for (const page of [alice, bob]) expect(await waitForLine(page, 'welcome')).toBe('history|bot: welcome');
  });

  it('carries messages between the two pages', async () => {
    await alice.fill('#text', 'hello from alice');
    const sent = Date.now();
    await alice.press('#text', 'Enter');
    expect(await waitForLine(bob, 'hello from alice')).toBe('|alice: hello from alice');
    console.log(`web_pipe2 from one page to the other, as the test sees it: ${Date.now() - sent} ms`);
    expect(await waitForLine(alice, 'hello from alice')).toBe('mine|alice: hello from alice');
    await alice.waitForFunction(() => document.getElementById('status').dataset.delivered === '1');

    await bob.fill('#text', '<b>not markup</b>');
    await bob.click('button');
    expect(await waitForLine(alice, 'not markup')).toBe('|bob: <b>not markup</b>');
  });

  it('shows what a PHP backend posts with INSERT INTO pipes_messages, on both pages', async () => {
    const run = await runPhp(php, ['publish', 'web_chat', 'message', '{"name":"backend","text":"from PHP"}'], server);
    expect(run.stdout).toBe('1\n');
    for (const page of [alice, bob]) expect(await waitForLine(page, 'from PHP')).toBe('|backend: from PHP');
    // Messages from the pages went into the history too, for the next visitor.
    const carol = await (await browser.newContext()).newPage();
    await carol.goto(`${alice.url().replace(/&user_id.*$/, '')}&name=carol`);
    expect(await waitForLine(carol, 'from PHP')).toBe('history|backend: from PHP');
    expect(await waitForLine(carol, 'hello from alice')).toBe('history|alice: hello from alice');
  });

  it("answers CometServerApi's other calls: personal messages, counts, track_ users, users_data", async () => {
    const sql = await connect(server);
    // The callback is in place before the INSERT: a personal message to an online user is not kept.
    await alice.evaluate(() => {
      window.note = new Promise((resolve) => window.CometServer().subscription('msg.note', resolve));
    });
    await sql.query(`INSERT INTO users_messages (id, event, message) VALUES (1, 'note', '{"text":"just for alice"}')`);
    expect(await alice.evaluate(() => window.note)).toMatchObject({ data: { text: 'just for alice' }, server_info: { pipe: 'msg', event: 'note' } });

    const [[{ users }]] = (await sql.query(`SELECT users FROM pipes WHERE name = 'web_chat'`)) as unknown as [[{ users: string }]];
    expect((await answer(bob, 'count_users_in_pipe', 'web_chat')).data).toEqual({ user_in_pipe: Number(users) });
    await alice.evaluate(() => window.CometServer().subscription('track_room', () => {}));
    await new Promise((resolve) => setTimeout(resolve, 200)); // the subscription goes after 50 ms
    expect((await answer(bob, 'getTrackPipeUsers', 'track_room')).data).toEqual([{ user_id: 1, uuid: expect.stringMatching(/^[\w-]{32}$/) }]);

    await sql.query(`INSERT INTO users_data (id, data) VALUES (1, '{"nick":"Alice"}')`);
    expect((await answer(bob, 'getUserData', 1)).data).toEqual({ user_data: '{"nick":"Alice"}', user_id: 1 });
    await sql.end();
  });
});
