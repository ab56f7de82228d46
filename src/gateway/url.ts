/** The parameters of CppComet's comet WebSocket URL. */
export interface CometUrl {
  sessionKey: string;
  userId: number;
  devId: number;
  version: string;
  uuid: string;
  api: string;
}

/** Paths CppComet accepted before the parameters (leading slashes are folded by the HTTP layer). */
export const COMET_PATH_PREFIXES = ['/ws/', '/comet-server/ws/'];

const NAMES = ['sesion', 'myid', 'devid', 'v', 'uuid', 'api'] as const;
const ALIASES: Record<string, (typeof NAMES)[number]> = { session: 'sesion', user_id: 'myid', dev_id: 'devid' };

/**
 * Reads `/ws/sesion=<key>&myid=<uid>&devid=<dev>&v=4.08&uuid=<32>&api=js`. CppComet read the values by
 * position whatever their names; we read them by name in any order (also after `?`), and fall back to
 * the position for a parameter whose name is missing or misspelt.
 */
export function parseCometUrl(path: string): CometUrl | undefined {
  const prefix = COMET_PATH_PREFIXES.find((p) => path.startsWith(p));
  if (!prefix) return undefined;
  const tail = path.slice(prefix.length).replace(/^\?/, '');
  const pairs = tail.split(/[&?]/).filter(Boolean).map((part) => {
    const equals = part.indexOf('=');
    return equals < 0 ? { name: '', value: part } : { name: part.slice(0, equals), value: safeDecode(part.slice(equals + 1)) };
  });
  const values = new Map<string, string>();
  for (const { name, value } of pairs) {
    const known = (NAMES as readonly string[]).includes(name) ? name : ALIASES[name];
    if (known && !values.has(known)) values.set(known, value);
  }
  NAMES.forEach((name, position) => {
    if (!values.has(name) && pairs[position]) values.set(name, pairs[position]!.value);
  });
  const userId = Number(values.get('myid') ?? 0);
  const devId = Number(values.get('devid') ?? 0);
  if (!Number.isSafeInteger(userId) || userId < 0 || !Number.isSafeInteger(devId) || devId < 0) return undefined;
  return {
    sessionKey: values.get('sesion') ?? '',
    userId,
    devId,
    version: values.get('v') ?? '',
    uuid: (values.get('uuid') ?? '').slice(0, 32),
    api: values.get('api') ?? '',
  };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
