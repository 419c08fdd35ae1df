import { PresenceOffError, ReplError } from './errors.js';
import { FetchEventSource } from './fetch-event-source.js';
import type {
  EventSourceConstructor,
  EventSourceLike,
  FetchLike,
  GapEvent,
  Message,
  PresenceCounts,
  PresenceEvent,
  ReconnectOptions,
  ResetEvent,
  StatusDetail,
  SubscriptionStatus,
} from './types.js';
import { formatStreamId, parseStreamId, positionString, sseUrl, toBigInt } from './urls.js';

export interface ConnectionHandlers {
  /**
   * Raw message (value as the server sent it), with the epoch of the log it came from when known.
   * Called only for ids greater than the last seen.
   */
  message: (m: Message<string>, epoch?: string) => void;
  gap: (g: GapEvent) => void;
  /** The resume point was not issued by the server's log: positions start over (see `ResetEvent`). */
  reset: (r: ResetEvent) => void;
  status: (s: SubscriptionStatus, detail?: StatusDetail) => void;
  error: (e: Error) => void;
  /** Presence events, on a stream opened with `presence` (they carry no id: the cursor does not move). */
  join?: (e: PresenceEvent) => void;
  leave?: (e: PresenceEvent) => void;
  presence?: (c: PresenceCounts) => void;
}

export interface ConnectionOptions {
  urls: string[];
  topics: string[];
  /** Ask for presence events (`?presence=1`). */
  presence?: boolean;
  /** A position, or a stream id `position@epoch`. */
  lastEventId?: string;
  getToken: () => Promise<string | undefined>;
  /** An EventSource to read streams with (token and resume id go in the query); default: the built-in fetch reader. */
  EventSource?: EventSourceConstructor;
  /** Used by the built-in reader. */
  fetch?: FetchLike;
  withCredentials?: boolean;
  reconnect?: ReconnectOptions;
  handlers: ConnectionHandlers;
}

export interface Connection {
  close(): void;
  /** The resume point: last position delivered, as `position@epoch` once the log's epoch is known. */
  readonly lastEventId: string | undefined;
}

/** Computes the delay before reconnection attempt `attempt` (1-based). */
export function backoffDelay(attempt: number, opts: ReconnectOptions = {}, random: () => number = Math.random): number {
  const initial = opts.initialDelay ?? 500;
  const max = opts.maxDelay ?? 30000;
  const nominal = Math.min(max, initial * Math.pow(2, Math.max(0, attempt - 1)));
  if (opts.jitter === false) return nominal;
  return Math.round(nominal / 2 + (random() * nominal) / 2);
}

/**
 * The delay before reconnection attempt `attempt` after an answer that said `Retry-After: retryAfter` (seconds):
 * the backoff, but never less than the server asked for. Every stream a node refuses at once (a backend hook that
 * failed, the node's stream limit) is told the same `Retry-After`, so with jitter on they come back spread over
 * half of it again rather than in the same instant. The backoff's cap does not shorten the server's wait.
 */
export function retryDelay(
  attempt: number,
  retryAfter: number | undefined,
  opts: ReconnectOptions = {},
  random: () => number = Math.random,
): number {
  const backoff = backoffDelay(attempt, opts, random);
  if (retryAfter === undefined || retryAfter <= 0) return backoff;
  const floor = retryAfter * 1000;
  return Math.max(backoff, opts.jitter === false ? floor : Math.round(floor + (random() * floor) / 2));
}

/** Whether requests carry an origin (a page or a worker), so that CORS applies to a cross-origin stream. */
function hasOrigin(): boolean {
  return typeof (globalThis as { location?: { origin?: unknown } }).location?.origin === 'string';
}

/** The `closed` reason of a refusal that a retry would not change. */
function finalReason(status: number, refusal: ReplError | undefined): string {
  if (refusal instanceof PresenceOffError) return 'presence_off';
  if (status === 400) return 'bad_request';
  return status === 404 ? 'not_found' : 'unauthorized';
}

function parseJsonObject(data: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(data) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * One SSE stream for a set of topics, kept alive: tracks the last id seen and the epoch of its log,
 * reconnects on any disconnect with capped exponential backoff (resuming with
 * `?lastEventId=<position>@<epoch>`, and no sooner than a refusal's `Retry-After`), drops duplicates,
 * surfaces `gap` and `reset`, stops for good on `expired` / `disconnect`, on `deleted` or `unsubscribed` of its last
 * topic (of one of several, it goes on with the others), and on a 400, 401, 403 or 404 answer.
 */
export function openConnection(opts: ConnectionOptions): Connection {
  const { handlers } = opts;
  // Shrinks when the server takes the stream off a topic, so that a reconnection does not subscribe to it again.
  let topics = [...opts.topics];
  const resumeFrom = parseStreamId(opts.lastEventId);
  let lastId: bigint | null = resumeFrom?.position ?? null;
  // The epoch of the log `lastId` belongs to: sent back with it, so a node whose log was replaced says `reset`.
  let epoch: string | null = resumeFrom?.epoch ?? null;
  // The epoch the current connection's `connected` announced. It becomes `epoch` only once the server has
  // accepted our cursor (its first message, ping or gap; a `reset` comes before any of them), so a stream
  // dropped between `connected` and `reset` cannot pair an old position with the new log's epoch.
  let offeredEpoch: string | null = null;
  let es: EventSourceLike | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  let attempt = 0;
  let urlIndex = 0;
  let generation = 0;

  // The built-in fetch reader by default, browsers included: a browser's EventSource hides the answer's status, its
  // error and its Retry-After, so a 401 or 403 (a backend hook's refusal) could not be told from a 503 (a hook that
  // failed). An EventSource is used when given, or when there is no fetch.
  const hasFetch = opts.fetch !== undefined || typeof globalThis.fetch === 'function';
  const native = opts.EventSource ?? (hasFetch ? undefined : (globalThis as { EventSource?: EventSourceConstructor }).EventSource);
  // In a page or a worker, the fetch reader asks as EventSource does (token and resume point in the query, no header
  // of its own), so a cross-origin stream stays a simple request, with no preflight per reconnection (the preflight
  // cache is per URL, and the resume point changes the URL). Elsewhere the headers keep the token out of URLs.
  const simpleRequests = hasOrigin();

  const terminate = (detail: StatusDetail) => {
    if (closed) return;
    closed = true;
    if (timer) clearTimeout(timer);
    timer = null;
    es?.close();
    es = null;
    handlers.status('closed', detail);
  };

  const scheduleReconnect = (detail: StatusDetail, retryAfter?: number) => {
    if (closed) return;
    es?.close();
    es = null;
    generation++;
    attempt++;
    if (opts.urls.length > 1) urlIndex = (urlIndex + 1) % opts.urls.length;
    const delay = retryDelay(attempt, retryAfter, opts.reconnect);
    handlers.status('reconnecting', { ...detail, attempt, delay });
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void connect();
    }, delay);
  };

  const onMessage = (ev: { data?: unknown; lastEventId?: string }) => {
    if (typeof ev.data !== 'string') return;
    const obj = parseJsonObject(ev.data);
    if (!obj) {
      handlers.error(new Error(`invalid message data: ${ev.data.slice(0, 200)}`));
      return;
    }
    const streamId = parseStreamId(ev.lastEventId);
    const idStr = obj.id != null ? String(obj.id) : streamId?.position.toString();
    const id = toBigInt(idStr);
    const from = streamId?.epoch ?? offeredEpoch ?? undefined;
    if (id !== null) {
      if (lastId !== null && id <= lastId) return; // duplicate (or replay): drop
      lastId = id;
      if (from) epoch = from;
    }
    attempt = 0; // the stream works
    const headers = obj.headers && typeof obj.headers === 'object' ? (obj.headers as Record<string, string>) : {};
    const msg: Message<string> = {
      id: id !== null ? id.toString() : String(idStr ?? ''),
      topic: typeof obj.topic === 'string' ? obj.topic : topics.length === 1 ? topics[0]! : '',
      value: typeof obj.value === 'string' ? obj.value : obj.value == null ? '' : JSON.stringify(obj.value),
      headers,
      createdAt: typeof obj.createdAt === 'string' ? obj.createdAt : '',
    };
    try {
      handlers.message(msg, from);
    } catch (err) {
      handlers.error(err instanceof Error ? err : new Error(String(err)));
    }
  };

  /** Runs an application callback: one that throws is reported, and the stream goes on. */
  const callback = (run: () => void) => {
    try {
      run();
    } catch (err) {
      handlers.error(err instanceof Error ? err : new Error(String(err)));
    }
  };

  const acceptOfferedEpoch = () => {
    if (offeredEpoch) epoch = offeredEpoch;
  };

  const connect = async () => {
    if (closed) return;
    const gen = ++generation;
    offeredEpoch = null;
    let token: string | undefined;
    try {
      token = await opts.getToken();
    } catch (err) {
      if (closed || gen !== generation) return;
      handlers.error(err instanceof Error ? err : new Error(String(err)));
      scheduleReconnect({ reason: 'error' });
      return;
    }
    if (closed || gen !== generation) return;
    const base = opts.urls[urlIndex]!;
    const lastEventId = lastId !== null ? formatStreamId(lastId, epoch) : undefined;
    let source: EventSourceLike;
    try {
      if (native) {
        const url = sseUrl(base, topics, { lastEventId, accessToken: token, presence: opts.presence });
        source = new native(url, opts.withCredentials ? { withCredentials: true } : undefined);
      } else if (simpleRequests) {
        const url = sseUrl(base, topics, { lastEventId, accessToken: token, presence: opts.presence });
        source = new FetchEventSource(url, { fetch: opts.fetch, withCredentials: opts.withCredentials });
      } else {
        const url = sseUrl(base, topics, { lastEventId, presence: opts.presence });
        const headers: Record<string, string> = {};
        if (token) headers.Authorization = `Bearer ${token}`;
        if (lastEventId !== undefined) headers['Last-Event-ID'] = lastEventId;
        source = new FetchEventSource(url, { fetch: opts.fetch, headers, withCredentials: opts.withCredentials });
      }
    } catch (err) {
      handlers.error(err instanceof Error ? err : new Error(String(err)));
      scheduleReconnect({ reason: 'error' });
      return;
    }
    es = source;
    const current = () => !closed && es === source;
    // 'open' is reported once per connection: on the server's `connected` event (which carries
    // the topics and node), or on the first message/ping if a server does not send it.
    let openReported = false;
    const reportOpen = (detail?: StatusDetail) => {
      if (openReported) return;
      openReported = true;
      handlers.status('open', detail);
    };

    source.onmessage = (ev) => {
      if (!current()) return;
      reportOpen();
      onMessage(ev);
    };
    source.addEventListener('connected', (ev) => {
      if (!current()) return;
      const data = typeof ev?.data === 'string' ? parseJsonObject(ev.data) : null;
      const detail: StatusDetail = {};
      if (data && Array.isArray(data.topics)) detail.topics = data.topics.map(String);
      if (data && typeof data.node === 'string') detail.node = data.node;
      if (data && typeof data.client === 'string') detail.client = data.client;
      if (data && typeof data.epoch === 'string' && data.epoch) {
        detail.epoch = data.epoch;
        offeredEpoch = data.epoch;
        if (lastId === null) epoch = data.epoch; // no cursor to vouch for
      }
      reportOpen(detail);
    });
    source.addEventListener('ping', () => {
      if (!current()) return;
      reportOpen();
      acceptOfferedEpoch();
      attempt = 0;
    });
    source.addEventListener('reset', (ev) => {
      if (!current()) return;
      const data = typeof ev?.data === 'string' ? parseJsonObject(ev.data) : null;
      const reset: ResetEvent = {
        requested: data?.requested != null ? String(data.requested) : (lastEventId ?? ''),
        reason: typeof data?.reason === 'string' ? data.reason : '',
        epoch: typeof data?.epoch === 'string' ? data.epoch : (offeredEpoch ?? ''),
        position: Number(data?.position ?? 0),
      };
      // The stream starts over on another log: its positions may be lower than the last one seen, so the
      // cursor (what counts as a duplicate) restarts there.
      lastId = toBigInt(data?.position as string | number | undefined) ?? 0n;
      epoch = reset.epoch || null;
      handlers.reset(reset);
    });
    source.addEventListener('gap', (ev) => {
      if (!current()) return;
      acceptOfferedEpoch();
      const data = typeof ev?.data === 'string' ? parseJsonObject(ev.data) : null;
      const gap: GapEvent = {
        topic: typeof data?.topic === 'string' ? data.topic : topics.length === 1 ? topics[0]! : '',
        requested: Number(data?.requested ?? 0),
        oldest: Number(data?.oldest ?? 0),
      };
      // With a single topic the stream now continues from `oldest`: move the cursor so that a
      // reconnection before the next message does not report the same gap again. (With several
      // topics the other topics may still hold older positions, so the cursor stays.)
      if (topics.length === 1 && data?.oldest != null) {
        const oldest = toBigInt(data.oldest as string | number);
        if (oldest !== null && oldest > 0n && (lastId === null || oldest - 1n > lastId)) lastId = oldest - 1n;
      }
      handlers.gap(gap);
    });
    source.addEventListener('expired', (ev) => {
      if (!current()) return;
      const data = typeof ev?.data === 'string' ? parseJsonObject(ev.data) : null;
      terminate({ reason: 'expired', message: typeof data?.reason === 'string' ? data.reason : undefined });
    });
    source.addEventListener('disconnect', (ev) => {
      if (!current()) return;
      // The server API ended this user's streams: final, as a reconnection would be refused (`for`) or undo it.
      const data = typeof ev?.data === 'string' ? parseJsonObject(ev.data) : null;
      terminate({ reason: 'disconnected', message: typeof data?.reason === 'string' ? data.reason : undefined });
    });
    // A topic deleted, or the server taking the stream off it (`unsubscribed`, the server API): the server goes on with
    // the stream's other topics and ends it after its last, and so does this connection.
    const topicGone = (reason: 'deleted' | 'removed') => (ev: { data?: unknown }) => {
      if (!current()) return;
      const data = typeof ev?.data === 'string' ? parseJsonObject(ev.data) : null;
      const topic = typeof data?.topic === 'string' ? data.topic : undefined;
      // A `deleted` that names no topic is taken as the end of the stream, as it was before topics were told apart.
      const left = topic === undefined && reason === 'deleted' ? [] : topics.filter((t) => t !== topic);
      if (left.length === 0) {
        terminate({ reason, topic });
      } else if (left.length < topics.length) {
        // Reconnections no longer ask for the topic.
        topics = left;
        handlers.status('open', { reason, topic, topics: [...left] });
      }
    };
    source.addEventListener('deleted', topicGone('deleted'));
    source.addEventListener('unsubscribed', topicGone('removed'));
    const presenceEvent = (kind: 'join' | 'leave') => (ev: { data?: unknown }) => {
      if (!current()) return;
      const data = typeof ev?.data === 'string' ? parseJsonObject(ev.data) : null;
      if (!data || typeof data.topic !== 'string' || typeof data.client !== 'string') {
        handlers.error(new Error(`invalid ${kind} data: ${String(ev?.data).slice(0, 200)}`));
        return;
      }
      const event: PresenceEvent = { topic: data.topic, client: data.client, user: typeof data.user === 'string' ? data.user : null };
      callback(() => handlers[kind]?.(event));
    };
    source.addEventListener('join', presenceEvent('join'));
    source.addEventListener('leave', presenceEvent('leave'));
    source.addEventListener('presence', (ev) => {
      if (!current()) return;
      const data = typeof ev?.data === 'string' ? parseJsonObject(ev.data) : null;
      if (!data || typeof data.topic !== 'string') {
        handlers.error(new Error(`invalid presence data: ${String(ev?.data).slice(0, 200)}`));
        return;
      }
      const counts: PresenceCounts = { topic: data.topic, clients: Number(data.clients ?? 0), users: Number(data.users ?? 0) };
      callback(() => handlers.presence?.(counts));
    });
    source.addEventListener('unavailable', (ev) => {
      if (!current()) return;
      const data = typeof ev?.data === 'string' ? parseJsonObject(ev.data) : null;
      scheduleReconnect({ reason: 'unavailable', message: typeof data?.reason === 'string' ? data.reason : undefined });
    });
    source.onerror = (ev) => {
      if (!current()) return;
      const status = typeof ev?.status === 'number' ? (ev.status as number) : undefined;
      // The fetch reader gives the server's refusal (its JSON error and Retry-After); an EventSource gives nothing.
      const refusal = ev?.error instanceof ReplError ? ev.error : undefined;
      const detail: StatusDetail = { reason: 'error' };
      if (status !== undefined) detail.status = status;
      if (refusal?.cause) detail.message = refusal.cause;
      if (status === 400 || status === 404 || status === 401 || status === 403) {
        // Final: the same request would be refused again. Reported, with the server's (or its hook's) reason.
        handlers.error(refusal ?? new ReplError(status, `HTTP ${status}`, ''));
        terminate({ ...detail, reason: finalReason(status, refusal) });
        return;
      }
      // Native EventSource may be retrying on its own (readyState CONNECTING) or have given up
      // (CLOSED, e.g. after a 503). Either way we take over: close it and reconnect with our cursor.
      handlers.error(refusal ?? new Error(status !== undefined ? `SSE connection failed: HTTP ${status}` : 'SSE connection lost'));
      scheduleReconnect(detail, refusal?.retryAfter);
    };
  };

  handlers.status('connecting');
  void connect();

  return {
    close() {
      terminate({ reason: 'unsubscribed' });
    },
    get lastEventId() {
      return lastId !== null ? formatStreamId(lastId, epoch) : undefined;
    },
  };
}

export { positionString };
