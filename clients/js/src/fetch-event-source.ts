import { errorFromResponse, type ReplError } from './errors.js';
import { SseParser } from './sse-parser.js';
import type { EventSourceLike, FetchLike } from './types.js';

export interface FetchEventSourceInit {
  fetch?: FetchLike;
  /** Extra request headers (e.g. `Authorization`, `Last-Event-ID`). */
  headers?: Record<string, string>;
  withCredentials?: boolean;
}

/**
 * Event object given to listeners. An error event caused by an HTTP answer has its `status` and, in `error`, a
 * `ReplError` with the server's `{"error","cause"}` and `Retry-After`; a network failure has the thrown `error`.
 */
export interface FetchSourceEvent {
  type: string;
  data?: string;
  lastEventId?: string;
  status?: number;
  error?: unknown;
}

type Listener = (ev: FetchSourceEvent) => void;

/**
 * A minimal EventSource over fetch + ReadableStream (Node 18+, or any runtime without EventSource).
 *
 * Differences from the browser EventSource, on purpose: it connects once and never reconnects by
 * itself (the subscription logic does that, with backoff and resume); it can send headers; error
 * events carry the HTTP `status`, the server's error and its `Retry-After` when the server answered
 * with something else than an event stream (a browser's EventSource hides all three).
 */
export class FetchEventSource implements EventSourceLike {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;

  readyState = 0;
  readonly url: string;
  onopen: ((ev: any) => any) | null = null;
  onmessage: ((ev: any) => any) | null = null;
  onerror: ((ev: any) => any) | null = null;
  /** Last `retry:` value received, in ms. */
  retry: number | undefined;

  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly controller = new AbortController();

  constructor(url: string, init: FetchEventSourceInit = {}) {
    this.url = url;
    const fetchImpl = init.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (!fetchImpl) throw new Error('FetchEventSource: no fetch implementation available');
    void this.run(fetchImpl, init);
  }

  addEventListener(type: string, listener: (ev: any) => void): void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  removeEventListener(type: string, listener: (ev: any) => void): void {
    this.listeners.get(type)?.delete(listener);
  }

  close(): void {
    if (this.readyState === 2) return;
    this.readyState = 2;
    this.controller.abort();
  }

  private emit(ev: FetchSourceEvent): void {
    const handler = ev.type === 'open' ? this.onopen : ev.type === 'message' ? this.onmessage : ev.type === 'error' ? this.onerror : null;
    const call = (fn: (ev: FetchSourceEvent) => unknown) => {
      try {
        fn.call(this, ev);
      } catch (err) {
        // Like EventTarget: a throwing listener must not break the stream.
        setTimeout(() => {
          throw err;
        }, 0);
      }
    };
    if (handler) call(handler);
    const set = this.listeners.get(ev.type);
    if (set) for (const l of [...set]) call(l);
  }

  private fail(status?: number, error?: unknown): void {
    if (this.readyState === 2) return;
    this.readyState = 2;
    this.controller.abort();
    const ev: FetchSourceEvent = { type: 'error' };
    if (status !== undefined) ev.status = status;
    if (error !== undefined) ev.error = error;
    this.emit(ev);
  }

  private async run(fetchImpl: FetchLike, init: FetchEventSourceInit): Promise<void> {
    let res: Response;
    try {
      res = await fetchImpl(this.url, {
        method: 'GET',
        // Only `Accept` of our own, a header CORS lets through without a preflight; `cache: 'no-store'` makes a
        // browser send `Cache-Control: no-cache` itself.
        headers: { Accept: 'text/event-stream', ...init.headers },
        credentials: init.withCredentials ? 'include' : 'same-origin',
        cache: 'no-store',
        signal: this.controller.signal,
      });
    } catch (err) {
      this.fail(undefined, err);
      return;
    }
    if (this.readyState === 2) {
      void res.body?.cancel().catch(() => {});
      return;
    }
    const contentType = res.headers.get('content-type') ?? '';
    if (res.status !== 200 || !/^text\/event-stream/i.test(contentType) || !res.body) {
      // A refusal's JSON error says why (a hook's reason, what a 503 means); the body of a 200 that is not an event
      // stream may never end, so it is not read.
      let error: ReplError | undefined;
      if (res.status !== 200) error = await errorFromResponse(res);
      else void res.body?.cancel().catch(() => {});
      if (this.readyState === 2) return;
      this.fail(res.status, error);
      return;
    }
    this.readyState = 1;
    this.emit({ type: 'open' });

    const parser = new SseParser({
      onEvent: (e) => {
        if (this.readyState !== 1) return;
        this.emit({ type: e.type, data: e.data, lastEventId: e.lastEventId });
      },
      onRetry: (ms) => {
        this.retry = ms;
      },
    });
    const decoder = new TextDecoder('utf-8');
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (this.readyState !== 1) break;
        parser.feed(decoder.decode(value, { stream: true }));
      }
      const tail = decoder.decode();
      if (tail) parser.feed(tail);
      parser.end();
      this.fail();
    } catch (err) {
      this.fail(undefined, err);
    } finally {
      try {
        reader.releaseLock();
      } catch {
        /* ignore */
      }
    }
  }
}
