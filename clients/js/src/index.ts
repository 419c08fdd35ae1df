export { createClient, parseValue } from './client.js';
export type { ReplClient, PublishInput, HistoryOptions, PresenceOptions } from './client.js';
export { ReplError, ForbiddenError, PresenceOffError, parseRetryAfter } from './errors.js';
export { SseParser, parseSse } from './sse-parser.js';
export type { SseEvent, SseParserHandlers } from './sse-parser.js';
export { FetchEventSource } from './fetch-event-source.js';
export type { FetchEventSourceInit, FetchSourceEvent } from './fetch-event-source.js';
export { sseUrl, topicUrl, topicsUrl, historyUrl, presenceUrl, parseStreamId, formatStreamId } from './urls.js';
export type { StreamId } from './urls.js';
export { backoffDelay, retryDelay } from './connection.js';
export type {
  ClientOptions,
  EventSourceConstructor,
  EventSourceLike,
  FetchLike,
  GapEvent,
  Headers,
  HistoryPage,
  Message,
  Position,
  PresenceClient,
  PresenceCounts,
  PresenceEvent,
  PublishOptions,
  PublishRetryOptions,
  ReconnectOptions,
  ResetEvent,
  StatusDetail,
  SubscribeOptions,
  SubscriptionStatus,
  TokenProvider,
  TopicInfo,
  TopicSettings,
} from './types.js';
export type { BroadcastChannelConstructor, BroadcastChannelLike, LockManagerLike } from './tab-share.js';
