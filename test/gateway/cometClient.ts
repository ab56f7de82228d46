import { once } from 'node:events';
import WebSocket from 'ws';
import type { CometMessage } from '../../src/messaging/frames.js';
import type { TestServer } from '../helpers/server.js';

/** A frame as the browser gets it; serverInfo also says whether the key was accepted. */
export type Frame = CometMessage & { authorized?: boolean };

/** Picks frames: by event name, or any test. */
export type FrameMatch = string | ((frame: Frame) => boolean);

export interface ClientOptions {
  devId?: number;
  path?: string;
  uuid?: string;
  headers?: Record<string, string>;
}

export interface CometTestClient {
  ws: WebSocket;
  /** Frames received and not yet taken by `next`. */
  frames: Frame[];
  /** Takes the first frame that matches, waiting for it. */
  next(match: FrameMatch, timeoutMs?: number): Promise<Frame>;
  /** Takes `count` matching frames, in the order they came. */
  take(match: FrameMatch, count: number, timeoutMs?: number): Promise<Frame[]>;
  /** Sends a command frame and waits until the server has read it (a round trip of pings). */
  send(command: string): Promise<void>;
}

const matches = (match: FrameMatch) => (frame: Frame) => (typeof match === 'string' ? frame.event === match : match(frame));

/** A browser-like comet client: connects with CppComet's URL and records every frame. */
export async function cometClient(server: TestServer, userId: number, key: string, options: ClientOptions = {}): Promise<CometTestClient> {
  const { devId = 0, path = '/ws/', uuid = 'a'.repeat(32), headers } = options;
  const ws = new WebSocket(`ws://127.0.0.1:${server.httpPort}${path}sesion=${key}&myid=${userId}&devid=${devId}&v=4.08&uuid=${uuid}&api=js`, { headers });
  const frames: Frame[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data) => {
    frames.push(JSON.parse(data.toString()) as Frame);
    waiters.splice(0).forEach((wake) => wake());
  });
  const take = async (match: FrameMatch, count: number, timeoutMs = 3000): Promise<Frame[]> => {
    const deadline = Date.now() + timeoutMs;
    const taken: Frame[] = [];
    for (;;) {
      for (let index = frames.findIndex(matches(match)); index >= 0 && taken.length < count; index = frames.findIndex(matches(match))) {
        taken.push(frames.splice(index, 1)[0]!);
      }
      if (taken.length === count) return taken;
      if (Date.now() > deadline) throw new Error(`${taken.length} of ${count} frames matching ${String(match)}; left: ${JSON.stringify(frames).slice(0, 500)}`);
      await Promise.race([new Promise<void>((wake) => waiters.push(wake)), new Promise((r) => setTimeout(r, 50))]);
    }
  };
  await once(ws, 'open');
  return {
    ws,
    frames,
    take,
    next: async (match, timeoutMs) => (await take(match, 1, timeoutMs))[0]!,
    async send(command) {
      ws.send(command);
      // The server reads frames in order, so the pong means the command was read.
      ws.ping();
      await once(ws, 'pong');
    },
  };
}
