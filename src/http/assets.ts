import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { ServerResponse } from 'node:http';
import { sendText } from './server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

type BrowserLibrary = 'cometVideoApi.ts' | 'cometServerApi.ts';
const bundles = new Map<BrowserLibrary, Promise<string>>();

/**
 * Bundles a browser library of src/client (cometVideoApi with JsSIP, whose npm package has no browser
 * build; CometServerApi) into one script, once per process however many servers it starts (a failed
 * build is tried again). Built at start-up so a broken bundle shows at once, not at the first page.
 */
export function bundleBrowserLibrary(entry: BrowserLibrary): Promise<string> {
  let bundle = bundles.get(entry);
  if (!bundle) {
    bundle = buildBrowserLibrary(entry);
    bundles.set(entry, bundle);
    bundle.catch(() => bundles.delete(entry));
  }
  return bundle;
}

function buildBrowserLibrary(entry: BrowserLibrary): Promise<string> {
  return build({
    entryPoints: [join(ROOT, 'src/client', entry)],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    write: false,
    logLevel: 'silent',
    tsconfig: join(ROOT, 'tsconfig.client.json'),
  }).then((result) => result.outputFiles[0]!.text);
}

const TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.ts': 'video/mp2t',
  '.mpd': 'application/dash+xml',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * Serves a file below `dir` for a URL path below `prefix`; nothing outside `dir` is reachable. `transform`
 * may rewrite a file before it is sent (given its extension).
 */
export async function serveStatic(
  response: ServerResponse,
  dir: string,
  prefix: string,
  path: string,
  headers: Record<string, string> = {},
  transform?: (body: Buffer, extension: string) => Buffer,
): Promise<void> {
  let relative = decodeURIComponent(path.slice(prefix.length)) || 'index.html';
  if (relative.endsWith('/')) relative += 'index.html';
  await serveFile(response, dir, relative, headers, transform);
}

/** Serves the file `relative` (decoded already: never decoded again) below `dir`, as serveStatic does. */
export async function serveFile(
  response: ServerResponse,
  dir: string,
  relative: string,
  headers: Record<string, string> = {},
  transform?: (body: Buffer, extension: string) => Buffer,
): Promise<void> {
  const file = normalize(join(dir, relative));
  if (!file.startsWith(normalize(dir) + sep) || !TYPES[extname(file)]) {
    sendText(response, 404, 'not found\n');
    return;
  }
  try {
    const read = await readFile(file);
    const body = transform ? transform(read, extname(file)) : read;
    response.writeHead(200, { 'Content-Type': TYPES[extname(file)]!, 'Content-Length': body.length, ...headers });
    response.end(body);
  } catch {
    sendText(response, 404, 'not found\n');
  }
}

export const EXAMPLES_DIR = join(ROOT, 'examples/web');
export const HLS_JS_DIR = join(ROOT, 'node_modules/hls.js/dist');
