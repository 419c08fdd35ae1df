import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createClient,
  FetchEventSource,
  ForbiddenError,
  PresenceOffError,
  ReplError,
  type Message,
  type PresenceEvent,
  type StatusDetail,
  type SubscriptionStatus,
} from '../src/index.js';
import { flushMicrotasks } from './helpers.js';

/** A server-side stream the test writes to. */
function controllableStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  const enc = new TextEncoder();
  return {
    stream,
    write: (s: string | Uint8Array) => controller.enqueue(typeof s === 'string' ? enc.encode(s) : s),
    end: () => controller.close(),
    error: (e: unknown) => controller.error(e),
  };
}

function sseResponse(stream: ReadableStream<Uint8Array>) {
  return new Response(stream, { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' } });
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(cond()).toBe(true);
};

describe('FetchEventSource', () => {
  it('requests with SSE headers and dispatches open, message and named events', async () => {
    const s = controllableStream();
    const fetch = vi.fn(async (_url: string, _init?: RequestInit) => sseResponse(s.stream));
    const es = new FetchEventSource('http://h/topics/t/sse', { fetch, headers: { Authorization: 'Bearer x', 'Last-Event-ID': '4' } });
    const seen: string[] = [];
    es.onopen = () => seen.push('open');
    es.onmessage = (e) => seen.push(`message:${e.data}:${e.lastEventId}`);
    es.addEventListener('connected', (e) => seen.push(`connected:${e.data}`));
    es.addEventListener('ping', () => seen.push('ping'));
    expect(es.readyState).toBe(0);

    s.write('retry: 1500\n\nevent: connected\ndata: {"topics":["t"]}\n\n');
    s.write('id: 5\ndata: {"id":"5"');
    s.write('}\n\nevent: ping\r\ndata: {}\r\n\r\n');
    await until(() => seen.length === 4);
    expect(seen).toEqual(['open', 'connected:{"topics":["t"]}', 'message:{"id":"5"}:5', 'ping']);
    expect(es.readyState).toBe(1);
    expect(es.retry).toBe(1500);

    const init = fetch.mock.calls[0]![1]!;
    expect(init.headers).toMatchObject({ Accept: 'text/event-stream', Authorization: 'Bearer x', 'Last-Event-ID': '4' });
    es.close();
    expect(es.readyState).toBe(2);
  });

  it('decodes UTF-8 split across chunks', async () => {
    const s = controllableStream();
    const es = new FetchEventSource('http://h/x', { fetch: async () => sseResponse(s.stream) });
    const data: string[] = [];
    es.onmessage = (e) => data.push(e.data);
    const bytes = new TextEncoder().encode('data: é😀\n\n');
    for (const b of bytes) s.write(new Uint8Array([b]));
    await until(() => data.length === 1);
    expect(data).toEqual(['é😀']);
    es.close();
  });

  it('a non-200 answer is an error event with the status, and the source is closed', async () => {
    const es = new FetchEventSource('http://h/x', {
      fetch: async () => new Response('{"error":"not found"}', { status: 404, headers: { 'content-type': 'application/json' } }),
    });
    const errors: any[] = [];
    es.onerror = (e) => errors.push(e);
    await until(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ type: 'error', status: 404 });
    expect(es.readyState).toBe(2);
  });

  it('a refusal carries the server\'s error and Retry-After', async () => {
    const body = '{"error":"hook failed","cause":"the subscribe hook timed out"}';
    const es = new FetchEventSource('http://h/x', {
      fetch: async () => new Response(body, { status: 503, headers: { 'content-type': 'application/json', 'retry-after': '7' } }),
    });
    const errors: any[] = [];
    es.onerror = (e) => errors.push(e);
    await until(() => errors.length === 1);
    expect(errors[0].status).toBe(503);
    expect(errors[0].error).toBeInstanceOf(ReplError);
    expect(errors[0].error).toMatchObject({ status: 503, error: 'hook failed', cause: 'the subscribe hook timed out', retryAfter: 7 });
  });

  it('a 200 that is not an event stream is an error', async () => {
    const es = new FetchEventSource('http://h/x', { fetch: async () => new Response('<html>', { status: 200, headers: { 'content-type': 'text/html' } }) });
    const errors: any[] = [];
    es.onerror = (e) => errors.push(e);
    await until(() => errors.length === 1);
    expect(errors[0].status).toBe(200);
  });

  it('end of stream and network errors are error events; no reconnection by itself', async () => {
    const s = controllableStream();
    const fetch = vi.fn(async () => sseResponse(s.stream));
    const es = new FetchEventSource('http://h/x', { fetch });
    const errors: any[] = [];
    es.onerror = (e) => errors.push(e);
    s.write('data: a\n\ndata: unterminated');
    s.end();
    await until(() => errors.length === 1);
    expect(errors[0].status).toBeUndefined();
    expect(es.readyState).toBe(2);
    expect(fetch).toHaveBeenCalledTimes(1);

    const es2 = new FetchEventSource('http://h/x', {
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    const errors2: any[] = [];
    es2.onerror = (e) => errors2.push(e);
    await until(() => errors2.length === 1);
    expect(errors2[0].error).toBeInstanceOf(TypeError);
  });

  it('close() aborts the request and emits nothing more', async () => {
    const s = controllableStream();
    let signal: AbortSignal | undefined;
    const es = new FetchEventSource('http://h/x', {
      fetch: async (_u, init) => {
        signal = init?.signal ?? undefined;
        return sseResponse(s.stream);
      },
    });
    const seen: string[] = [];
    es.onmessage = (e) => seen.push(e.data);
    es.onerror = () => seen.push('error');
    s.write('data: 1\n\n');
    await until(() => seen.length === 1);
    es.close();
    expect(signal?.aborted).toBe(true);
    try {
      s.write('data: 2\n\n');
    } catch {
      /* stream cancelled */
    }
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual(['1']);
  });
});

describe('client on Node without EventSource (fetch-based reader)', () => {
  afterEach(() => vi.useRealTimers());

  it('has no global EventSource in this runtime (so the fallback is exercised)', () => {
    expect((globalThis as { EventSource?: unknown }).EventSource).toBeUndefined();
  });

  it('subscribes, sends the token and resume id as headers, reconnects with the last id, stops on 404', async () => {
    const streams: ReturnType<typeof controllableStream>[] = [];
    const requests: { url: string; headers: Record<string, string> }[] = [];
    let answer404 = false;
    const fetch = async (url: string, init?: RequestInit) => {
      requests.push({ url, headers: { ...(init?.headers as Record<string, string>) } });
      if (answer404) return new Response('{"error":"topic not found","cause":"t"}', { status: 404 });
      const s = controllableStream();
      streams.push(s);
      return sseResponse(s.stream);
    };
    const client = createClient({ url: 'http://h', fetch, token: 'jwt', reconnect: { initialDelay: 5, jitter: false } });
    const messages: Message[] = [];
    const statuses: [SubscriptionStatus, StatusDetail | undefined][] = [];
    client.subscribe('comments:42', (m) => messages.push(m), { lastEventId: 2, onStatus: (s, d) => statuses.push([s, d]) });

    await until(() => streams.length === 1);
    expect(requests[0]!.url).toBe('http://h/topics/comments%3A42/sse?lastEventId=2');
    expect(requests[0]!.headers).toMatchObject({ Authorization: 'Bearer jwt', 'Last-Event-ID': '2' });
    expect(requests[0]!.url).not.toContain('access_token');

    const msg = (id: number) =>
      `id: ${id}\ndata: ${JSON.stringify({ id: String(id), topic: 'comments:42', value: `v${id}`, headers: {}, createdAt: 'x' })}\n\n`;
    streams[0]!.write('event: connected\ndata: {"topics":["comments:42"],"node":"n"}\n\n' + msg(3) + msg(4));
    await until(() => messages.length === 2);
    streams[0]!.end(); // server goes away

    await until(() => streams.length === 2);
    expect(requests[1]!.url).toBe('http://h/topics/comments%3A42/sse?lastEventId=4');
    expect(requests[1]!.headers['Last-Event-ID']).toBe('4');
    streams[1]!.write(msg(4) + msg(5));
    await until(() => messages.length === 3);
    expect(messages.map((m) => m.id)).toEqual(['3', '4', '5']);

    answer404 = true;
    streams[1]!.error(new Error('connection reset'));
    await until(() => statuses.at(-1)?.[0] === 'closed');
    expect(statuses.at(-1)).toEqual(['closed', { reason: 'not_found', status: 404, message: 't' }]);
    expect(statuses.map((s) => s[0])).toEqual(['connecting', 'open', 'reconnecting', 'open', 'reconnecting', 'closed']);
  });

  it('presence events read off the wire between messages: delivered, and the resume point stays the last message', async () => {
    const streams: ReturnType<typeof controllableStream>[] = [];
    const urls: string[] = [];
    const fetch = async (url: string) => {
      urls.push(url);
      const s = controllableStream();
      streams.push(s);
      return sseResponse(s.stream);
    };
    const client = createClient({ url: 'http://h', fetch, reconnect: { initialDelay: 5, jitter: false } });
    const messages: Message[] = [];
    const seen: string[] = [];
    const presence = (kind: string) => (e: PresenceEvent) => seen.push(`${kind} ${e.client} ${e.user}`);
    client.subscribe('t', (m) => messages.push(m), { onJoin: presence('join'), onLeave: presence('leave'), onPresence: (c) => seen.push(`counts ${c.clients}/${c.users}`) });
    await until(() => streams.length === 1);
    expect(urls[0]).toBe('http://h/topics/t/sse?presence=1');
    const msg = (id: number) => `id: ${id}@0000aaaa\ndata: ${JSON.stringify({ id: String(id), topic: 't', value: `v${id}`, headers: {}, createdAt: 'x' })}\n\n`;
    streams[0]!.write(
      'event: connected\ndata: {"topics":["t"],"node":"n","position":2,"epoch":"0000aaaa","client":"c0"}\n\n' +
        'event: presence\ndata: {"topic":"t","clients":2,"users":1}\n\n' +
        msg(3) +
        'event: join\ndata: {"topic":"t","client":"c1","user":"ana"}\n\n' +
        'event: leave\ndata: {"topic":"t","client":"c2","user":null}\n\n',
    );
    await until(() => seen.length === 3);
    expect(seen).toEqual(['counts 2/1', 'join c1 ana', 'leave c2 null']);
    expect(messages.map((m) => m.id)).toEqual(['3']);
    streams[0]!.end();
    await until(() => streams.length === 2);
    expect(urls[1]).toBe('http://h/topics/t/sse?presence=1&lastEventId=3%400000aaaa');
  });
});

describe('client retrying refused streams (fetch-based reader)', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  const refusal = (status: number, error: string, cause: string, retryAfter?: string) =>
    new Response(JSON.stringify({ error, cause }), {
      status,
      headers: { 'content-type': 'application/json', ...(retryAfter ? { 'retry-after': retryAfter } : {}) },
    });

  function subscribeWith(answers: (() => Response)[], reconnect = { initialDelay: 100, maxDelay: 1000, jitter: false }, options = {}) {
    const requests: { url: string; headers: Record<string, string> }[] = [];
    const fetch = async (url: string, init?: RequestInit) => {
      requests.push({ url, headers: { ...(init?.headers as Record<string, string>) } });
      const next = answers.shift();
      if (!next) return new Promise<Response>(() => {}); // hangs: no more answers in this test
      return next();
    };
    const statuses: [SubscriptionStatus, StatusDetail | undefined][] = [];
    const errors: Error[] = [];
    const client = createClient({ url: 'http://h', fetch, token: 'jwt', reconnect });
    client.subscribe('t', () => {}, { onStatus: (s, d) => statuses.push([s, d]), onError: (e) => errors.push(e), ...options });
    return { requests, statuses, errors };
  }

  it('a 503 is retried no sooner than its Retry-After, with the reason reported; the backoff goes on after it', async () => {
    vi.useFakeTimers();
    const t = subscribeWith([
      () => refusal(503, 'hook failed', 'the subscribe hook answered 502', '3'),
      () => refusal(503, 'hook failed', 'the subscribe hook answered 502'),
    ]);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.requests).toHaveLength(1);
    expect(t.statuses.at(-1)).toEqual([
      'reconnecting',
      { reason: 'error', status: 503, message: 'the subscribe hook answered 502', attempt: 1, delay: 3000 },
    ]);
    expect(t.errors.at(-1)).toMatchObject({ status: 503, error: 'hook failed', retryAfter: 3 });
    await vi.advanceTimersByTimeAsync(2999);
    expect(t.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.requests).toHaveLength(2);
    // No Retry-After this time: the exponential backoff, second attempt.
    expect(t.statuses.at(-1)![1]).toMatchObject({ status: 503, attempt: 2, delay: 200 });
  });

  it('401 and 403 are final and reported with the server\'s reason', async () => {
    for (const status of [401, 403]) {
      const t = subscribeWith([() => refusal(status, 'refused', 'no session for this page')]);
      await until(() => t.statuses.at(-1)?.[0] === 'closed');
      expect(t.statuses.at(-1)).toEqual(['closed', { reason: 'unauthorized', status, message: 'no session for this page' }]);
      expect(t.errors).toHaveLength(1);
      expect(t.errors[0]).toBeInstanceOf(ReplError);
      expect(t.errors[0] instanceof ForbiddenError).toBe(status === 403);
      expect(t.errors[0]).toMatchObject({ status, error: 'refused', cause: 'no session for this page' });
      await new Promise((r) => setTimeout(r, 150));
      expect(t.requests).toHaveLength(1);
    }
  });

  it('presence events asked on a topic with presence off (400) are final: a PresenceOffError, closed presence_off', async () => {
    const t = subscribeWith([() => refusal(400, 'presence off', 'topic t has presence off')], undefined, { onJoin: () => {} });
    await until(() => t.statuses.at(-1)?.[0] === 'closed');
    expect(t.requests[0]!.url).toBe('http://h/topics/t/sse?presence=1');
    expect(t.statuses.at(-1)).toEqual(['closed', { reason: 'presence_off', status: 400, message: 'topic t has presence off' }]);
    expect(t.errors).toHaveLength(1);
    expect(t.errors[0]).toBeInstanceOf(PresenceOffError);
    expect(t.errors[0]).toMatchObject({ status: 400, error: 'presence off', name: 'PresenceOffError' });
    await new Promise((r) => setTimeout(r, 150));
    expect(t.requests).toHaveLength(1);
  });

  it('in a page, asks as EventSource does: token and resume point in the query, no header of its own (no CORS preflight)', async () => {
    vi.stubGlobal('location', { origin: 'http://page.example' });
    const t = subscribeWith([() => refusal(503, 'too many streams', 'retry later')], { initialDelay: 5, maxDelay: 5, jitter: false });
    await until(() => t.requests.length === 1);
    expect(t.requests[0]!.url).toBe('http://h/topics/t/sse?access_token=jwt');
    expect(t.requests[0]!.headers).toEqual({ Accept: 'text/event-stream' });
  });
});
