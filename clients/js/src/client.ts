import { backoffDelay, openConnection, type Connection, type ConnectionHandlers } from './connection.js';
import { errorFromResponse, ReplError } from './errors.js';
import { randomUuid } from './random.js';
import { shareSubscription, type BroadcastChannelConstructor, type LockManagerLike } from './tab-share.js';
import type {
  ClientOptions,
  FetchLike,
  GapEvent,
  Headers,
  HistoryPage,
  Message,
  Position,
  PresenceClient,
  PresenceCounts,
  PublishOptions,
  ResetEvent,
  SubscribeOptions,
  TopicInfo,
} from './types.js';
import { historyUrl, normalizeBase, positionString, presenceUrl, streamIdString, topicsUrl, topicUrl } from './urls.js';

export interface PublishInput {
  value: string | object;
  headers?: Headers;
  /** This item's idempotency key (see `PublishOptions.idempotencyKey`); default: a random UUID when retries are on. */
  idempotencyKey?: string;
}

export interface HistoryOptions {
  /** Return messages after this position (exclusive). */
  after?: Position;
  limit?: number;
  /** Parse each value with JSON.parse (falls back to the raw string). */
  parseJson?: boolean;
}

export interface ReplClient {
  /** Subscribe to one topic or several (one stream, one resume cursor). Returns the unsubscribe function. */
  subscribe<T = string>(
    topicOrTopics: string | string[],
    onMessage: (m: Message<T>) => void,
    options?: SubscribeOptions,
  ): () => void;
  /**
   * Publish one message; an object value is sent as its JSON text. Answered 503 or failed on the
   * network, it is retried (`publishRetry`) with the same `Idempotency-Key`, so it is committed once.
   */
  publish(topic: string, value: string | object, headers?: Headers, options?: PublishOptions): Promise<Message>;
  /** Publish several messages in one commit; each item has its own idempotency key, retried as `publish`. */
  publishBatch(topic: string, messages: PublishInput[]): Promise<Message[]>;
  createTopic(name: string): Promise<void>;
  deleteTopic(name: string): Promise<void>;
  topics(): Promise<string[]>;
  topic(name: string): Promise<TopicInfo>;
  history<T = string>(topic: string, options?: HistoryOptions): Promise<HistoryPage<T>>;
  /**
   * Every client of a topic, cluster-wide (`GET /topics/{name}/presence`, following its pages by client id: a client
   * that joins meanwhile is listed only if its id sorts after the page being read). Rejects with `PresenceOffError`
   * when the topic has presence off, `ForbiddenError` without a subscribe grant on it.
   */
  presence(topic: string, options?: PresenceOptions): Promise<PresenceClient[]>;
  /** A topic's client and user counts, cluster-wide (`GET /topics/{name}/presence/stats`); errors as `presence`. */
  presenceStats(topic: string): Promise<PresenceCounts>;
}

export interface PresenceOptions {
  /** Clients asked per request, 1–1000 (default 1000, the server's largest page). */
  pageSize?: number;
}

/** `JSON.parse`, or the string itself when it is not valid JSON. */
export function parseValue(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function encodeValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) throw new TypeError('publish: value is required');
  return JSON.stringify(value);
}

/** Checked here, not only by the server: a key fetch cannot send would fail as a (retried) network error. */
function checkKey(key: string | undefined): string | undefined {
  if (key !== undefined && !/^[\x21-\x7e]{1,200}$/.test(key)) {
    throw new TypeError('publish: idempotencyKey must be 1–200 visible ASCII characters');
  }
  return key;
}

const DEFAULT_PUBLISH_RETRY = { retries: 2, initialDelay: 250, maxDelay: 5000 };

function encodeInput(m: PublishInput, key: string | undefined) {
  const item: { value: string; headers?: Headers; idempotencyKey?: string } = { value: encodeValue(m.value) };
  if (m.headers) item.headers = m.headers;
  if (key !== undefined) item.idempotencyKey = key;
  return item;
}

export function createClient(options: ClientOptions): ReplClient {
  const urls = (Array.isArray(options.url) ? options.url : [options.url]).map(normalizeBase);
  if (urls.length === 0) throw new TypeError('createClient: url is required');
  const base = urls[0]!;

  const fetchImpl = (): FetchLike => {
    const f = options.fetch ?? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : undefined);
    if (!f) throw new Error('No fetch implementation: pass `fetch` to createClient');
    return f as FetchLike;
  };

  const getToken = async (): Promise<string | undefined> => {
    const t = options.token;
    if (t == null) return undefined;
    const v = typeof t === 'function' ? await t() : t;
    return v || undefined;
  };

  async function request<R>(method: string, url: string, body?: unknown, extraHeaders?: Record<string, string>): Promise<R> {
    const headers: Record<string, string> = { Accept: 'application/json', ...extraHeaders };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const token = await getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    let res: Response;
    try {
      res = await fetchImpl()(url, {
        method,
        headers,
        body: body !== undefined ? JSON.stringify(body) : undefined,
        credentials: options.withCredentials ? 'include' : 'same-origin',
      });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new ReplError(0, 'network error', msg);
    }
    if (!res.ok) throw await errorFromResponse(res);
    const text = await res.text();
    if (!text) return undefined as R;
    try {
      return JSON.parse(text) as R;
    } catch {
      throw new ReplError(res.status, 'invalid response', text.slice(0, 200));
    }
  }

  const publishRetry = options.publishRetry === false ? null : { ...DEFAULT_PUBLISH_RETRY, ...options.publishRetry };
  // With retries on, every publish carries a key: the first attempt may have been committed before its answer was lost.
  const keyFor = (given: string | undefined) => checkKey(given) ?? (publishRetry ? randomUuid() : undefined);

  /** POST a publish; a 503 or a network failure is retried with the same body (and so the same keys). */
  async function publishRequest<R>(url: string, body: unknown, headers?: Record<string, string>): Promise<R> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request<R>('POST', url, body, headers);
      } catch (err) {
        const retryable = err instanceof ReplError && (err.status === 0 || err.status === 503);
        if (!publishRetry || !retryable || attempt > publishRetry.retries) throw err;
        const { initialDelay, maxDelay } = publishRetry;
        const delay = Math.min(maxDelay, Math.max(backoffDelay(attempt, { initialDelay, maxDelay }), (err.retryAfter ?? 0) * 1000));
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  const shareName =
    typeof options.shareAcrossTabs === 'string' ? options.shareAcrossTabs : options.shareAcrossTabs ? 'repl-client' : null;

  function subscribe<T = string>(
    topicOrTopics: string | string[],
    onMessage: (m: Message<T>) => void,
    subOptions: SubscribeOptions = {},
  ): () => void {
    const topics = typeof topicOrTopics === 'string' ? [topicOrTopics] : [...topicOrTopics];
    if (topics.length === 0) throw new TypeError('subscribe: at least one topic is required');
    for (const t of topics) if (typeof t !== 'string' || t === '') throw new TypeError('subscribe: invalid topic name');
    const lastEventId = streamIdString(subOptions.lastEventId);
    const presence = !!(subOptions.onJoin || subOptions.onLeave || subOptions.onPresence);

    // A gap or a reset goes to its callback, else to onError (an Error carrying it), else to the console: never hidden.
    const surface = <E>(kind: 'gap' | 'reset', event: E, callback: ((e: E) => void) | undefined, text: string) => {
      if (callback) callback(event);
      else if (subOptions.onError) subOptions.onError(Object.assign(new Error(text), { [kind]: event }));
      else console.warn(`[repl-client] ${kind}`, event);
    };

    const handlers: ConnectionHandlers = {
      message: (m) => {
        const out = subOptions.parseJson ? { ...m, value: parseValue(m.value) } : m;
        onMessage(out as Message<T>);
      },
      gap: (g: GapEvent) =>
        surface('gap', g, subOptions.onGap, `gap on topic ${g.topic}: requested ${g.requested}, oldest retained ${g.oldest}`),
      reset: (r: ResetEvent) =>
        surface('reset', r, subOptions.onReset, `reset: ${r.requested} was not issued by this log (epoch ${r.epoch}): ${r.reason}`),
      status: (s, d) => {
        // Taken off one topic (or it was deleted), the stream goes on with the others; a later stream (a new leader tab's) asks for those.
        if (s === 'open' && (d?.reason === 'removed' || d?.reason === 'deleted') && d.topic !== undefined && topics.includes(d.topic)) {
          topics.splice(topics.indexOf(d.topic), 1);
        }
        subOptions.onStatus?.(s, d);
      },
      error: (e) => subOptions.onError?.(e),
      join: subOptions.onJoin,
      leave: subOptions.onLeave,
      presence: subOptions.onPresence,
    };

    const open = (resumeFrom: string | undefined, h: ConnectionHandlers): Connection =>
      openConnection({
        urls,
        topics,
        presence,
        lastEventId: resumeFrom,
        getToken,
        EventSource: options.EventSource,
        fetch: options.fetch,
        withCredentials: options.withCredentials,
        reconnect: subOptions.reconnect ?? options.reconnect,
        handlers: h,
      });

    const BC = (globalThis as { BroadcastChannel?: BroadcastChannelConstructor }).BroadcastChannel;
    if (shareName && BC) {
      const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
      const shared = shareSubscription({
        channelName: shareName,
        // Tabs with presence events and tabs without do not share: the server would refuse the one, or send the other nothing.
        key: `${base}|${[...topics].sort().join('\u0000')}${presence ? '|presence' : ''}`,
        BroadcastChannel: BC,
        locks: nav?.locks ?? null,
        lastEventId,
        open,
        handlers,
      });
      return () => shared.close();
    }
    const conn = open(lastEventId, handlers);
    return () => conn.close();
  }

  return {
    subscribe,

    async publish(topic, value, headers, publishOptions = {}) {
      const body = encodeInput({ value, headers }, undefined); // the key goes in the header
      const key = keyFor(publishOptions.idempotencyKey);
      const res = await publishRequest<{ data: Message }>(topicUrl(base, topic), body, key ? { 'Idempotency-Key': key } : undefined);
      return res.data;
    },

    async publishBatch(topic, messages) {
      const body = messages.map((m) => encodeInput(m, keyFor(m.idempotencyKey)));
      const res = await publishRequest<{ data: Message[] }>(topicUrl(base, topic, '/batch'), body);
      return res.data;
    },

    async createTopic(name) {
      await request('POST', topicsUrl(base), { name });
    },

    async deleteTopic(name) {
      await request('DELETE', topicUrl(base, name));
    },

    async topics() {
      return request<string[]>('GET', topicsUrl(base));
    },

    async topic(name) {
      return request<TopicInfo>('GET', topicUrl(base, name));
    },

    async history<T = string>(topic: string, opts: HistoryOptions = {}) {
      const page = await request<HistoryPage<string>>('GET', historyUrl(base, topic, positionString(opts.after), opts.limit));
      if (!opts.parseJson) return page as unknown as HistoryPage<T>;
      return { ...page, messages: page.messages.map((m) => ({ ...m, value: parseValue(m.value) })) } as HistoryPage<T>;
    },

    async presence(topic, opts = {}) {
      const limit = opts.pageSize ?? 1000;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new TypeError('presence: pageSize must be 1–1000');
      const clients: PresenceClient[] = [];
      for (let after: string | undefined; ; ) {
        const page = await request<{ clients: PresenceClient[] }>('GET', presenceUrl(base, topic, after, limit));
        clients.push(...page.clients);
        const last = page.clients[page.clients.length - 1]?.client;
        // A short page is the last; a cursor that does not move (a server that ignores `after`) must not loop forever.
        if (page.clients.length < limit || last === undefined || last === after) return clients;
        after = last;
      }
    },

    async presenceStats(topic) {
      return request<PresenceCounts>('GET', topicUrl(base, topic, '/presence/stats'));
    },
  };
}
