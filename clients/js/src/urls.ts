/** Remove trailing slashes from a base URL ("" stays "", meaning same origin). */
export function normalizeBase(base: string): string {
  return base.replace(/\/+$/, '');
}

/** Encode one path segment (topic names such as `comments:42` are valid). */
export function segment(name: string): string {
  return encodeURIComponent(name);
}

export function topicsUrl(base: string): string {
  return `${normalizeBase(base)}/topics`;
}

export function topicUrl(base: string, topic: string, suffix = ''): string {
  return `${normalizeBase(base)}/topics/${segment(topic)}${suffix}`;
}

export function historyUrl(base: string, topic: string, after?: string, limit?: number): string {
  const q = new URLSearchParams();
  if (after !== undefined) q.set('after', after);
  if (limit !== undefined) q.set('limit', String(limit));
  const qs = q.toString();
  return topicUrl(base, topic, '/messages') + (qs ? `?${qs}` : '');
}

/** `/topics/{topic}/presence`, a page of its clients by client id: `?after=` the last id of the page before. */
export function presenceUrl(base: string, topic: string, after?: string, limit?: number): string {
  const q = new URLSearchParams();
  if (limit !== undefined) q.set('limit', String(limit));
  if (after !== undefined) q.set('after', after);
  const qs = q.toString();
  return topicUrl(base, topic, '/presence') + (qs ? `?${qs}` : '');
}

export interface SseUrlOptions {
  lastEventId?: string;
  /** Put the token in the query (`access_token`), for EventSource which cannot set headers. */
  accessToken?: string;
  /** Ask for presence events (`join`, `leave`, `presence`): `?presence=1`. */
  presence?: boolean;
}

/**
 * One topic → `/topics/{topic}/sse`; several → `/sse?topic=a&topic=b` (one stream, one cursor).
 * `presence` → `?presence=1`, `lastEventId` → `?lastEventId=`, token → `?access_token=`.
 */
export function sseUrl(base: string, topics: string | readonly string[], opts: SseUrlOptions = {}): string {
  const list = typeof topics === 'string' ? [topics] : [...topics];
  if (list.length === 0) throw new TypeError('subscribe: at least one topic is required');
  const q = new URLSearchParams();
  let path: string;
  if (list.length === 1) {
    path = topicUrl(base, list[0]!, '/sse');
  } else {
    path = `${normalizeBase(base)}/sse`;
    for (const t of list) q.append('topic', t);
  }
  if (opts.presence) q.set('presence', '1');
  if (opts.lastEventId !== undefined && opts.lastEventId !== '') q.set('lastEventId', opts.lastEventId);
  if (opts.accessToken) q.set('access_token', opts.accessToken);
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Normalise a position to its decimal string form, or undefined. */
export function positionString(p: string | number | bigint | undefined | null): string | undefined {
  if (p === undefined || p === null || p === '') return undefined;
  if (typeof p === 'bigint') return p.toString();
  if (typeof p === 'number') {
    if (!Number.isFinite(p) || !Number.isInteger(p) || p < 0) throw new TypeError(`invalid position: ${p}`);
    return BigInt(p).toString();
  }
  const s = String(p).trim();
  if (!/^[0-9]+$/.test(s)) throw new TypeError(`invalid position: ${p}`);
  return BigInt(s).toString();
}

/** Parse a position to BigInt, or null when absent/invalid. */
export function toBigInt(p: string | number | bigint | undefined | null): bigint | null {
  try {
    const s = positionString(p);
    return s === undefined ? null : BigInt(s);
  } catch {
    return null;
  }
}

/**
 * A resume point: a position, and the epoch of the log that issued it when known. Streams send ids
 * as `position@epoch` (the epoch is the log's identity, 8 hex digits), so a node can tell an id from a
 * wiped or replaced log; a bare position is still accepted.
 */
export interface StreamId {
  position: bigint;
  epoch?: string;
}

/** Parse `position` or `position@epoch`; null when absent or invalid. */
export function parseStreamId(id: string | number | bigint | undefined | null): StreamId | null {
  if (typeof id === 'string' && id.includes('@')) {
    const at = id.indexOf('@');
    const position = toBigInt(id.slice(0, at));
    const epoch = id.slice(at + 1).trim();
    return position !== null && /^[0-9a-fA-F]{1,16}$/.test(epoch) ? { position, epoch } : null;
  }
  const position = toBigInt(id);
  return position === null ? null : { position };
}

/** `position@epoch`, or the bare position when the epoch is not known. */
export function formatStreamId(position: bigint, epoch: string | null | undefined): string {
  return epoch ? `${position}@${epoch}` : position.toString();
}

/** Normalise a resume point given by the caller (a position or a stream id), or undefined; throws on anything else. */
export function streamIdString(p: string | number | bigint | undefined | null): string | undefined {
  if (p === undefined || p === null || p === '') return undefined;
  if (typeof p !== 'string' || !p.includes('@')) return positionString(p);
  const id = parseStreamId(p);
  if (!id) throw new TypeError(`invalid stream id: ${p}`);
  return formatStreamId(id.position, id.epoch);
}
