/**
 * Adds a query (a private broadcast's `token=…`) to every URL a playlist names, so a player that was
 * given the playlist's URL with it asks for everything else with it too: relative URLs resolved against
 * the playlist's would lose it (RFC 3986 5.2.2).
 */

/** An HLS playlist: its media lines and every URI="…" attribute (maps, parts, preload hints, reports). */
export function withQueryInPlaylist(playlist: string, query: string): string {
  return playlist
    .split('\n')
    .map((line) => {
      if (line.startsWith('#')) return line.replace(/URI="([^"]*)"/g, (_, uri: string) => `URI="${withQuery(uri, query)}"`);
      return line.trim() ? withQuery(line, query) : line;
    })
    .join('\n');
}

/** A DASH manifest: its segment templates' initialization and media URLs. */
export function withQueryInManifest(manifest: string, query: string): string {
  // In XML an ampersand is written &amp;.
  return manifest.replace(/\b(initialization|media)="([^"]*)"/g, (_, attribute: string, uri: string) => `${attribute}="${withQuery(uri, query, '&amp;')}"`);
}

function withQuery(uri: string, query: string, ampersand = '&'): string {
  return `${uri}${uri.includes('?') ? ampersand : '?'}${query}`;
}
