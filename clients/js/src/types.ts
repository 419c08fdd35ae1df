/**
 * Positions (message ids) are 64-bit integers that increase along the server's log
 * (one sequence shared by all topics). On the wire a message id is a decimal string;
 * this client compares ids as BigInt, so ids are exact at any size. Numeric fields the
 * server sends as JSON numbers (`oldest`, `last`, `firstPosition`, gap `requested`/`oldest`)
 * go through `JSON.parse` and are exact only below 2^53 (always the case in practice).
 */
export type Position = string | number | bigint;

export type Headers = Record<string, string>;

/** A message as stored in the log and delivered by SSE. */
export interface Message<T = string> {
  /** Position in the log, as a decimal string. */
  id: string;
  topic: string;
  /** The value as published (a string), or the parsed JSON when `parseJson` is on. */
  value: T;
  headers: Headers;
  /** RFC 3339 timestamp. */
  createdAt: string;
}

/** Sent by the server when a resume point is older than what it still retains. */
export interface GapEvent {
  topic: string;
  /** The position the client asked to resume after. */
  requested: number;
  /** The oldest position still held; the stream continues from there. */
  oldest: number;
}

/**
 * Sent by the server when the resume point was never issued by its log: an id from another log (a wiped
 * or replaced data directory, another cluster), or a position ahead of the log's head. The stream then
 * starts over from `position` (0: the beginning) of the log whose epoch is `epoch`.
 */
export interface ResetEvent {
  /** The resume point the client sent (`position@epoch`, or a bare position). */
  requested: string;
  /** The server's explanation. */
  reason: string;
  /** The epoch (identity) of the log the stream now follows. */
  epoch: string;
  /** Where the stream starts over: messages after this position are delivered (0: everything retained). */
  position: number;
}

/**
 * A topic as `GET /topics/{name}` describes it (the server's `TopicInfo` record, Repl.Host/Api/ApiJsonContext.cs).
 * e2e/contract.e2e.test.ts compares it with what a real node answers, so a field the server adds fails there.
 */
export interface TopicInfo {
  name: string;
  /** Open streams on this topic, on the node that answered. */
  subscribers: number;
  /** Messages the node's journal holds for this topic. */
  messages: number;
  /** Oldest retained position of the topic (0 when it holds none). */
  firstPosition: number;
  /** Newest position of the topic (0 when it holds none). */
  lastPosition: number;
  /** Position of the log entry that created the topic. */
  created: number;
  /** Highest position retention removed (0: none); a resume point behind it gets a `gap`. */
  trimmedThrough: number;
  /** True while the node keeps the topic's recent history in memory (it is dropped when the topic is idle). */
  active: boolean;
  /** The topic's own settings (`PATCH /topics/{name}`). */
  settings: TopicSettings;
}

/** A topic's own settings; a null is the node's setting. */
export interface TopicSettings {
  /** Messages kept (0: all) and age kept (`d.hh:mm:ss`, zero: all). */
  retention: { maxMessages: number | null; maxAge: string | null };
  /** Largest message accepted, in bytes. */
  maxMessageBytes: number | null;
  /** Publishes per second, cluster-wide. */
  publishRate: number | null;
  /** Whether the topic's clients are tracked (presence). */
  presence: boolean | null;
}

/**
 * `event: join` or `event: leave` on a stream opened with presence events (`?presence=1`): another client of one
 * of the stream's topics opened or closed its stream. Not in the log: no id, not resumable, not ordered with messages.
 */
export interface PresenceEvent {
  topic: string;
  /** The other stream's client id, unique in the cluster. */
  client: string;
  /** Its user (the subscribe hook's, or the token's `sub`), or null without auth. */
  user: string | null;
}

/**
 * A topic's presence counts: from `presenceStats()` (`GET /topics/{name}/presence/stats`), or `event: presence` on a
 * stream, which the server sends after `connected`, to a stream that fell behind, and instead of joins and leaves on
 * a topic with many clients (`Topics:PresenceEventsUpTo`).
 */
export interface PresenceCounts {
  topic: string;
  /** Open streams on the topic, cluster-wide. */
  clients: number;
  /** Distinct non-null users among them. */
  users: number;
}

/** A client of a topic, as `GET /topics/{name}/presence` lists it. */
export interface PresenceClient {
  /** The stream's client id, unique in the cluster (the one `connected` carries and the server API takes). */
  client: string;
  user: string | null;
  /** The node holding the stream. */
  node: string;
  /** When the stream opened (RFC 3339). */
  since: string;
}

export interface HistoryPage<T = string> {
  topic: string;
  messages: Message<T>[];
  /** Oldest retained position (0 when the topic is empty). */
  oldest: number;
  /** Last position of the topic. */
  last: number;
}

export type SubscriptionStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StatusDetail {
  /**
   * Why the status changed. For `closed`: `unsubscribed`, `deleted` (topic deleted),
   * `expired` (auth token expired), `not_found` (404), `unauthorized` (401/403, e.g. a backend hook's refusal),
   * `disconnected` (the server API ended the user's streams; `message` is its reason), `removed` (the server API took
   * the stream off its last topic), `presence_off` (presence events asked on a topic with presence off),
   * `bad_request` (another 400).
   * For `open`: `removed` when the server took the stream off one of its topics and it goes on with the others
   * (`topic`: the one removed, `topics`: those left).
   * For `reconnecting`: `error` (with `status` when the server answered, e.g. 503), `unavailable`, `ended`, `leader-gone`.
   */
  reason?: string;
  /** Server-provided explanation, when any: an event's reason, or a refusal's `cause`. */
  message?: string;
  /** Topic concerned (for `deleted` and `removed`). */
  topic?: string;
  /** From the `connected` event (for `open`); for `removed`, the topics the stream still follows. */
  topics?: string[];
  /** Node name from the `connected` event (for `open`). */
  node?: string;
  /** The log's epoch (its identity) from the `connected` event (for `open`). */
  epoch?: string;
  /**
   * This stream's client id from the `connected` event (for `open`): the id presence lists and join/leave events
   * carry, and the one the server API's unsubscribe takes. With `shareAcrossTabs`, the leader tab's stream.
   */
  client?: string;
  /** Reconnection attempt number (for `reconnecting`). */
  attempt?: number;
  /** Delay in ms before the next attempt (for `reconnecting`). */
  delay?: number;
  /** HTTP status, when known. */
  status?: number;
  /** With `shareAcrossTabs`: whether this tab holds the connection. */
  leader?: boolean;
}

export interface ReconnectOptions {
  /** First delay in ms (default 500). */
  initialDelay?: number;
  /** Cap in ms (default 30000). */
  maxDelay?: number;
  /** Randomise delays between 50% and 100% of the nominal value, and a `Retry-After` between 100% and 150% (default true). */
  jitter?: boolean;
}

export interface SubscribeOptions {
  /**
   * Resume after this position (exclusive): messages with a greater id are delivered. A stream id
   * `position@epoch` (see `StatusDetail.epoch`) also lets the server tell that the log was replaced.
   */
  lastEventId?: Position;
  /** Parse each message value with JSON.parse (falls back to the raw string if invalid). */
  parseJson?: boolean;
  /** Called when the server reports that part of the requested history is gone. */
  onGap?: (gap: GapEvent) => void;
  /**
   * Called when the server did not issue the resume point (another log, or ahead of its head): the
   * stream starts over from the beginning of the server's log, and positions may be lower than before.
   */
  onReset?: (reset: ResetEvent) => void;
  onStatus?: (status: SubscriptionStatus, detail?: StatusDetail) => void;
  onError?: (error: Error) => void;
  /**
   * Presence events: giving any of `onJoin`, `onLeave`, `onPresence` opens the stream with `?presence=1` (every topic
   * of the stream must have presence on, else it closes with `presence_off`). `onJoin`/`onLeave`: another client of
   * one of the topics opened or closed its stream (a leave waits the server's grace period, so a quick reconnect of
   * the same user is neither). They are not in the log: not resumable, not ordered with messages.
   */
  onJoin?: (event: PresenceEvent) => void;
  onLeave?: (event: PresenceEvent) => void;
  /**
   * A topic's counts: once after each (re)connection, after the stream fell behind the server's presence events, and
   * instead of `onJoin`/`onLeave` on a topic with more than `Topics:PresenceEventsUpTo` clients (at most once a second).
   */
  onPresence?: (counts: PresenceCounts) => void;
  /** Overrides the client's reconnect policy. */
  reconnect?: ReconnectOptions;
}

/** The part of the EventSource interface this client uses. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((ev: any) => any) | null;
  onmessage: ((ev: any) => any) | null;
  onerror: ((ev: any) => any) | null;
  addEventListener(type: string, listener: (ev: any) => void): void;
  close(): void;
}

export interface EventSourceInit {
  withCredentials?: boolean;
}

export type EventSourceConstructor = new (url: string, init?: EventSourceInit) => EventSourceLike;

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export type TokenProvider = string | (() => string | undefined | null | Promise<string | undefined | null>);

export interface ClientOptions {
  /** Base URL of the server, e.g. `https://repl.example.com` or `/` (same origin). Several URLs:
   *  HTTP calls use the first; subscriptions rotate through them when reconnecting. */
  url: string | string[];
  /** Auth token (JWT) or a function returning one (called before each request/connection). */
  token?: TokenProvider;
  /** fetch implementation (default: globalThis.fetch). */
  fetch?: FetchLike;
  /**
   * EventSource implementation to read streams with. Default: the built-in fetch-based reader (`FetchEventSource`),
   * in browsers too, because an EventSource hides a refusal's status, reason and `Retry-After`: with one, a 401 or 403
   * is retried like a 503. `globalThis.EventSource` is used only when there is no fetch.
   */
  EventSource?: EventSourceConstructor;
  /** Share one connection per topic set between tabs (BroadcastChannel). A string names the channel. */
  shareAcrossTabs?: boolean | string;
  /** Default reconnect policy for subscriptions. */
  reconnect?: ReconnectOptions;
  /** Passed to EventSource (cookies on cross-origin streams). */
  withCredentials?: boolean;
  /**
   * Retries of `publish` / `publishBatch` answered 503 or failed on the network, with the same idempotency
   * key (the server commits such a retry once). Default `{ retries: 2, initialDelay: 250, maxDelay: 5000 }`;
   * `false`: no retry (and no automatic key).
   */
  publishRetry?: PublishRetryOptions | false;
}

export interface PublishRetryOptions {
  /** Retries after the first attempt (default 2). */
  retries?: number;
  /** First delay in ms, doubled at each retry, jittered; a longer `Retry-After` wins (default 250). */
  initialDelay?: number;
  /** Cap in ms (default 5000). */
  maxDelay?: number;
}

export interface PublishOptions {
  /**
   * The publish's `Idempotency-Key` (1–200 visible ASCII characters): a publish retried with the same key
   * within the server's window is committed once and answered with the first message. Default: a random
   * UUID per call when retries are on.
   */
  idempotencyKey?: string;
}
