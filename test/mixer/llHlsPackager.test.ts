import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { partSecondsFor } from '../../mixer/broadcast/broadcast.js';
import { BoxSplitter } from '../../mixer/broadcast/fmp4.js';
import { LowLatencyHls } from '../../mixer/broadcast/llHls.js';
import { expectTones, READ, readSound } from './mediaFiles.js';

/**
 * The LL-HLS packager fed by FFmpeg's fragmented MP4, as the broadcast feeds it: H.264 at 15 fps with a
 * keyframe a second and a 500 Hz tone, or the tone alone. Checks the playlist against RFC 8216bis's rules
 * and decodes what a player would fetch.
 */

const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'cometmcu-llhls-'));
const FPS = 15;

/** FFmpeg's fragments of `seconds` of test media, cut the way the broadcast cuts them. */
async function fragmentedMp4(seconds: number, video: boolean): Promise<Buffer> {
  const source = [
    ...(video ? ['-f', 'lavfi', '-i', `testsrc=size=320x180:rate=${FPS}`] : []),
    '-f', 'lavfi', '-i', 'sine=frequency=500:sample_rate=48000',
  ];
  const encode = [...(video ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(FPS), '-keyint_min', String(FPS), '-sc_threshold', '0'] : []), '-c:a', 'aac', '-ac', '1'];
  const ts = join(dir, `source-${video}.ts`);
  await exec('ffmpeg', ['-v', 'error', ...source, '-t', String(seconds), ...encode, '-f', 'mpegts', '-y', ts]);
  const { stdout } = await exec('ffmpeg', [
    '-v', 'error', '-f', 'mpegts', '-i', ts, '-c', 'copy', '-map', '0', '-bsf:a', 'aac_adtstoasc', '-f', 'mp4',
    '-movflags', '+empty_moov+delay_moov+default_base_moof', '-frag_duration', '1', 'pipe:1',
  ], READ);
  return stdout as unknown as Buffer;
}

/** Feeds the stream in uneven chunks, as a pipe delivers it. */
function feed(packager: LowLatencyHls, stream: Buffer): void {
  for (let offset = 0, size = 777; offset < stream.length; offset += size, size = (size * 7) % 5000 + 100) {
    packager.push(stream.subarray(offset, offset + size));
  }
}

interface Listed {
  parts: { duration: number; uri: string; independent: boolean }[];
  segments: { duration: number; uri: string }[];
  tags: string[];
}

function parsePlaylist(text: string): Listed {
  const listed: Listed = { parts: [], segments: [], tags: [] };
  const lines = text.trim().split('\n');
  lines.forEach((line, i) => {
    const part = /^#EXT-X-PART:DURATION=([\d.]+),URI="([^"]+)"(,INDEPENDENT=YES)?$/.exec(line);
    if (part) listed.parts.push({ duration: Number(part[1]), uri: part[2]!, independent: part[3] !== undefined });
    const extinf = /^#EXTINF:([\d.]+),$/.exec(line);
    if (extinf) listed.segments.push({ duration: Number(extinf[1]), uri: lines[i + 1]! });
    if (line.startsWith('#')) listed.tags.push(line.split(':')[0]!);
  });
  return listed;
}

async function body<T>(result: Promise<{ status: number; body?: T }>): Promise<T> {
  const answer = await result;
  expect(answer.status).toBe(200);
  return answer.body!;
}

/** The bytes of a file of the playlist, which must be there. */
async function bytesOf(packager: LowLatencyHls, name: string): Promise<Buffer> {
  return (await body(packager.file(name))).bytes;
}

/** The init segment the playlist names last. */
function lastInit(playlist: string): string {
  return [...playlist.matchAll(/#EXT-X-MAP:URI="([^"]+)"/g)].at(-1)![1]!;
}

/** Frames and sound of an init segment followed by media, decoded by FFmpeg. */
async function decodeMedia(init: Buffer, media: Buffer[]): Promise<{ frames: number; sound: Int16Array }> {
  const file = join(dir, `decoded-${Math.random().toString(36).slice(2)}.mp4`);
  writeFileSync(file, Buffer.concat([init, ...media]));
  const { stderr } = await exec('ffmpeg', ['-v', 'error', '-stats', '-i', file, '-map', '0:v?', '-f', 'null', '-'], { encoding: 'utf8' });
  const frames = Number([...stderr.matchAll(/frame=\s*(\d+)/g)].at(-1)?.[1] ?? 0);
  return { frames, sound: await readSound(file) };
}

describe('LL-HLS packager', () => {
  it('cuts 15 fps video into 0.2 s parts and 1 s segments that begin on keyframes, and they decode', async () => {
    const partSeconds = partSecondsFor(FPS);
    expect(partSeconds).toBeCloseTo(0.2, 6);
    const packager = new LowLatencyHls({ segmentSeconds: 1, partSeconds, windowSegments: 6 });
    feed(packager, await fragmentedMp4(5, true));
    const text = packager.playlist();
    const listed = parsePlaylist(text);
    expect(text).toMatch(/^#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n/);
    expect(text).toContain('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600');
    expect(text).toContain('#EXT-X-PART-INF:PART-TARGET=0.200');
    expect(text).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-\d+\.\d+\.m4s"\n$/);
    // 5 s of media: 4 complete segments of 1 s (the fifth waits for the keyframe that would end it).
    expect(listed.segments.map((s) => s.duration)).toEqual([1, 1, 1, 1]);
    // Every part is exactly 3 frames; each segment's first part starts on a keyframe, and only it.
    expect(listed.parts.length).toBeGreaterThanOrEqual(15);
    for (const part of listed.parts) {
      expect(part.duration).toBeCloseTo(0.2, 3);
      expect(part.independent).toBe(/\.0\.m4s$/.test(part.uri));
    }

    const init = await bytesOf(packager, lastInit(text));
    // A whole segment: 15 frames and its second of tone.
    const segment = await decodeMedia(init, [await bytesOf(packager, listed.segments[1]!.uri)]);
    expect(segment.frames).toBe(FPS);
    expectTones(segment.sound, [500]);
    // A segment's parts, fetched one by one, are that segment.
    const msn = /segment-(\d+)/.exec(listed.segments.at(-1)!.uri)![1];
    const parts = await Promise.all([0, 1, 2, 3, 4].map((i) => bytesOf(packager, `part-${msn}.${i}.m4s`)));
    expect(Buffer.concat(parts).equals(await bytesOf(packager, `segment-${msn}.m4s`))).toBe(true);
    expect((await decodeMedia(init, parts.slice(0, 2))).frames).toBe(6);
  }, 30_000);

  it('cuts a sound-only stream into parts of whole AAC frames', async () => {
    const partSeconds = partSecondsFor(undefined);
    const packager = new LowLatencyHls({ segmentSeconds: 1, partSeconds, windowSegments: 6 });
    feed(packager, await fragmentedMp4(4, false));
    const text = packager.playlist();
    const listed = parsePlaylist(text);
    // 10 AAC frames, 0.21333 s: the declared target is rounded up, never down.
    expect(text).toContain('#EXT-X-PART-INF:PART-TARGET=0.214');
    expect(listed.segments.length).toBeGreaterThanOrEqual(2);
    for (const part of listed.parts) {
      expect(part.duration).toBeLessThanOrEqual(partSeconds + 0.0005);
      expect(part.independent).toBe(true);
    }
    const init = await bytesOf(packager, lastInit(text));
    expect((await body(packager.file(lastInit(text)))).type).toBe('audio/mp4');
    expectTones((await decodeMedia(init, [await bytesOf(packager, listed.segments[0]!.uri)])).sound, [500]);
  }, 30_000);

  it('marks a restarted fragmenter as a discontinuity with its own init segment', async () => {
    const stream = await fragmentedMp4(3, true);
    const packager = new LowLatencyHls({ segmentSeconds: 1, partSeconds: 0.2, windowSegments: 20 });
    feed(packager, stream);
    packager.restart();
    feed(packager, stream);
    const text = packager.playlist();
    const maps = [...text.matchAll(/#EXT-X-MAP:URI="(init-\d+\.mp4)"/g)].map((match) => match[1]);
    expect(new Set(maps).size).toBe(2);
    expect(text).toContain(`#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="${maps[1]}"\n`);
    expect(parsePlaylist(text).segments.length).toBe(5);
  }, 30_000);

  it('keeps the window it was given, counting the discontinuities that slid out of it', async () => {
    const stream = await fragmentedMp4(3, true);
    const packager = new LowLatencyHls({ segmentSeconds: 1, partSeconds: 0.2, windowSegments: 3 });
    feed(packager, stream);
    const firstInit = lastInit(packager.playlist());
    packager.restart();
    feed(packager, stream);
    packager.restart();
    feed(packager, stream);
    const text = packager.playlist();
    const listed = parsePlaylist(text);
    expect(listed.segments.length).toBe(3);
    // 3 segments listed: the last one of the second run, then the third run (after one discontinuity).
    expect(text).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:1\n');
    expect(text.match(/#EXT-X-DISCONTINUITY\n/g)?.length).toBe(1);
    // Segments that left the playlist stay a little (2 of them), for players holding an older playlist; what
    // is older than that is gone, its init segment too.
    const firstListed = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)![1]);
    expect((await packager.file(`segment-${firstListed - 2}.m4s`)).status).toBe(200);
    expect((await packager.file(`segment-${firstListed - 3}.m4s`)).status).toBe(404);
    expect(await packager.file(firstInit)).toMatchObject({ status: 404 });
  }, 30_000);

  it('holds a blocking playlist reload and the hinted part until they exist', async () => {
    const stream = await fragmentedMp4(3, true);
    const packager = new LowLatencyHls({ segmentSeconds: 1, partSeconds: 0.2, windowSegments: 6 });
    const half = stream.length >> 1;
    feed(packager, stream.subarray(0, half));
    const hint = /PRELOAD-HINT:TYPE=PART,URI="part-(\d+)\.(\d+)\.m4s"/.exec(packager.playlist())!;
    const [msn, part] = [Number(hint[1]), Number(hint[2])];
    let answered = false;
    const reload = packager.blockingPlaylist(msn, part).then((result) => ((answered = true), result));
    const hinted = packager.file(`part-${msn}.${part}.m4s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(answered).toBe(false);
    feed(packager, stream.subarray(half));
    const playlist = await body(reload);
    expect(playlist).toContain(`URI="part-${msn}.${part}.m4s"`);
    expect((await body(hinted)).bytes.length).toBeGreaterThan(0);
    // Too far ahead: 400; a part that is neither there nor next: 404.
    expect(await packager.blockingPlaylist(msn + 10, 0)).toMatchObject({ status: 400 });
    expect(await packager.file(`part-${msn + 5}.0.m4s`)).toMatchObject({ status: 404 });
    // What never comes: 503 after three target durations, or at once when the client goes away.
    const started = Date.now();
    expect(await packager.blockingPlaylist(msn + 2, 0)).toMatchObject({ status: 503 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    const gone = new AbortController();
    const abandoned = packager.blockingPlaylist(msn + 2, 0, gone.signal);
    gone.abort();
    expect(await abandoned).toMatchObject({ status: 503, reason: 'the client went away' });
    // The end of the broadcast answers waiting players with the final playlist.
    const waiting = packager.blockingPlaylist(msn + 2, 0);
    packager.end();
    const final = await body(waiting);
    expect(final).toMatch(/#EXT-X-ENDLIST\n$/);
    expect(final).not.toContain('PRELOAD-HINT');
  }, 30_000);

  it('hints, at every moment, a part that then comes (segment boundaries included)', async () => {
    for (const video of [true, false]) {
      const stream = await fragmentedMp4(4, video);
      const packager = new LowLatencyHls({ segmentSeconds: 1, partSeconds: partSecondsFor(video ? FPS : undefined), windowSegments: 20 });
      const hinted = new Set<string>();
      // Box by box: every state the packager can be in between two fragments.
      for (const box of new BoxSplitter().push(stream)) {
        packager.push(box.bytes);
        const hint = /PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(packager.playlist())?.[1];
        if (hint) hinted.add(hint);
      }
      const last = [...hinted].at(-1)!;
      for (const name of hinted) {
        if (name !== last) expect((await packager.file(name)).status, `${video ? 'video' : 'sound'}: ${name}`).toBe(200);
      }
      expect(hinted.size).toBeGreaterThan(10);
    }
  }, 30_000);

  it('rejects a stream that is not fragmented MP4, and a fragment whose sample count lies', async () => {
    const packager = new LowLatencyHls({ segmentSeconds: 1, partSeconds: 0.2, windowSegments: 6 });
    expect(() => packager.push(Buffer.from('\x00\x00\x00\x04junk-and-more-junk'))).toThrow(/box of 4 bytes/);
    // A real stream whose first video trun claims 4 billion samples: an error, not a frozen process.
    const stream = await fragmentedMp4(1, true);
    const trun = stream.indexOf('trun', stream.indexOf('moof'));
    stream.writeUInt32BE(0xffff_fff0, trun + 8);
    expect(() => new LowLatencyHls({ segmentSeconds: 1, partSeconds: 0.2, windowSegments: 6 }).push(stream)).toThrow(/trun of \d+ samples does not fit/);
  });
});

