import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient, ForbiddenError, PresenceOffError, ReplError } from '../src/index.js';
import { parseRetryAfter } from '../src/errors.js';
import { fakeFetch, jsonResponse } from './helpers.js';

const msg = (id: string, value = 'v', topic = 't') => ({ id, topic, value, headers: {}, createdAt: '2024-01-01T00:00:00Z' });

describe('HTTP API', () => {
  it('publish sends value and headers and returns the message', async () => {
    const f = fakeFetch(() => jsonResponse(201, { message: 'message published', data: msg('5', 'hello', 'comments:42') }));
    const c = createClient({ url: 'http://h/', fetch: f });
    const m = await c.publish('comments:42', 'hello', { 'x-trace': '1' });
    expect(m).toEqual(msg('5', 'hello', 'comments:42'));
    expect(f.calls[0]).toMatchObject({
      url: 'http://h/topics/comments%3A42',
      method: 'POST',
      body: { value: 'hello', headers: { 'x-trace': '1' } },
    });
    expect(f.calls[0]!.headers['content-type']).toBe('application/json');
  });

  it('publish JSON-stringifies object values and omits absent headers', async () => {
    const f = fakeFetch(() => jsonResponse(201, { message: 'message published', data: msg('6') }));
    const c = createClient({ url: 'http://h', fetch: f });
    await c.publish('t', { a: 1, b: [true] });
    expect(f.calls[0]!.body).toEqual({ value: '{"a":1,"b":[true]}' });
  });

  it('publishBatch posts an array and returns the messages', async () => {
    const f = fakeFetch(() => jsonResponse(201, { message: 'messages published', data: [msg('1', 'a'), msg('2', '{"x":1}')] }));
    const c = createClient({ url: 'http://h', fetch: f });
    const out = await c.publishBatch('t', [{ value: 'a' }, { value: { x: 1 }, headers: { k: 'v' } }]);
    expect(out.map((m) => m.id)).toEqual(['1', '2']);
    expect(f.calls[0]).toMatchObject({
      url: 'http://h/topics/t/batch',
      method: 'POST',
      body: [{ value: 'a' }, { value: '{"x":1}', headers: { k: 'v' } }],
    });
  });

  it('topic management calls the right routes', async () => {
    const f = fakeFetch((req) => {
      if (req.method === 'GET' && req.url.endsWith('/topics')) return jsonResponse(200, ['demo', 'comments:42']);
      if (req.method === 'POST') return jsonResponse(201, { message: 'topic created' });
      if (req.method === 'DELETE') return jsonResponse(200, { message: 'topic deleted' });
      return jsonResponse(200, { name: 'demo', subscribers: 2, messages: 10, firstPosition: 1, lastPosition: 10 });
    });
    const c = createClient({ url: 'http://h', fetch: f });
    expect(await c.topics()).toEqual(['demo', 'comments:42']);
    await expect(c.createTopic('comments:43')).resolves.toBeUndefined();
    await expect(c.deleteTopic('comments:43')).resolves.toBeUndefined();
    expect(await c.topic('demo')).toEqual({ name: 'demo', subscribers: 2, messages: 10, firstPosition: 1, lastPosition: 10 });
    expect(f.calls.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET http://h/topics',
      'POST http://h/topics',
      'DELETE http://h/topics/comments%3A43',
      'GET http://h/topics/demo',
    ]);
    expect(f.calls[1]!.body).toEqual({ name: 'comments:43' });
  });

  it('history passes after/limit and can parse JSON values', async () => {
    const f = fakeFetch(() =>
      jsonResponse(200, { topic: 't', messages: [msg('11', '{"n":1}'), msg('12', 'not json')], oldest: 3, last: 12 }),
    );
    const c = createClient({ url: 'http://h', fetch: f });
    const page = await c.history('t', { after: 10, limit: 2, parseJson: true });
    expect(f.calls[0]!.url).toBe('http://h/topics/t/messages?after=10&limit=2');
    expect(page.messages.map((m) => m.value)).toEqual([{ n: 1 }, 'not json']);
    expect(page).toMatchObject({ topic: 't', oldest: 3, last: 12 });
    const raw = await c.history('t');
    expect(raw.messages[0]!.value).toBe('{"n":1}');
    expect(f.calls[1]!.url).toBe('http://h/topics/t/messages');
  });

  it('sends the token as a Bearer header (string or function)', async () => {
    const f = fakeFetch(() => jsonResponse(200, []));
    await createClient({ url: 'http://h', fetch: f, token: 'abc' }).topics();
    let n = 0;
    await createClient({ url: 'http://h', fetch: f, token: async () => `tok${++n}` }).topics();
    expect(f.calls[0]!.headers.authorization).toBe('Bearer abc');
    expect(f.calls[1]!.headers.authorization).toBe('Bearer tok1');
    await createClient({ url: 'http://h', fetch: f }).topics();
    expect(f.calls[2]!.headers.authorization).toBeUndefined();
  });
});

describe('presence', () => {
  const client = (n: number) => ({ client: `c${String(n).padStart(3, '0')}`, user: n % 2 ? 'ana' : null, node: 'n1', since: '2026-12-07T17:05:09.12Z' });

  it('presence() follows the pages by client id and returns every client', async () => {
    const all = Array.from({ length: 5 }, (_, i) => client(i));
    const f = fakeFetch((req) => {
      const q = new URL(req.url).searchParams;
      const after = q.get('after');
      const rest = all.filter((c) => after === null || c.client > after);
      return jsonResponse(200, { topic: 'comments:42', clients: rest.slice(0, Number(q.get('limit'))), total: all.length });
    });
    const c = createClient({ url: 'http://h', fetch: f });
    expect(await c.presence('comments:42', { pageSize: 2 })).toEqual(all);
    expect(f.calls.map((r) => r.url)).toEqual([
      'http://h/topics/comments%3A42/presence?limit=2',
      'http://h/topics/comments%3A42/presence?limit=2&after=c001',
      'http://h/topics/comments%3A42/presence?limit=2&after=c003',
    ]);
    // A full last page costs one more request, which comes back empty.
    f.calls.length = 0;
    expect(await c.presence('comments:42', { pageSize: 5 })).toEqual(all);
    expect(f.calls.map((r) => r.url)).toEqual([
      'http://h/topics/comments%3A42/presence?limit=5',
      'http://h/topics/comments%3A42/presence?limit=5&after=c004',
    ]);
    await expect(c.presence('t', { pageSize: 1001 })).rejects.toThrow(TypeError);
  });

  it('presenceStats() answers the counts', async () => {
    const f = fakeFetch(() => jsonResponse(200, { topic: 't', clients: 3, users: 2 }));
    const c = createClient({ url: 'http://h', fetch: f });
    expect(await c.presenceStats('t')).toEqual({ topic: 't', clients: 3, users: 2 });
    expect(f.calls[0]!.url).toBe('http://h/topics/t/presence/stats');
  });

  it('presence off is a PresenceOffError, a 403 a ForbiddenError, an unknown topic a plain 404; all are ReplErrors', async () => {
    const f = fakeFetch((req) => {
      if (req.url.includes('/off/')) return jsonResponse(404, { error: 'presence off', cause: 'topic off has presence off' });
      if (req.url.includes('/secret/')) return jsonResponse(403, { error: 'forbidden', cause: 'no subscribe grant on secret' });
      return jsonResponse(404, { error: 'topic not found', cause: 'gone' });
    });
    const c = createClient({ url: 'http://h', fetch: f });
    const off = await c.presence('off').catch((e: unknown) => e);
    expect(off).toBeInstanceOf(PresenceOffError);
    expect(off).toBeInstanceOf(ReplError);
    expect(off).toMatchObject({ status: 404, error: 'presence off', cause: 'topic off has presence off', name: 'PresenceOffError' });
    const forbidden = await c.presenceStats('secret').catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(ForbiddenError);
    expect(forbidden).toMatchObject({ status: 403, error: 'forbidden', name: 'ForbiddenError' });
    const gone = await c.presenceStats('gone').catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(ReplError);
    expect(gone).not.toBeInstanceOf(PresenceOffError);
    expect(gone).toMatchObject({ status: 404, error: 'topic not found' });
  });
});

describe('idempotent publish', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('publish sends a fresh random Idempotency-Key per call', async () => {
    const f = fakeFetch(() => jsonResponse(201, { message: 'message published', data: msg('1') }));
    const c = createClient({ url: 'http://h', fetch: f });
    await c.publish('t', 'a');
    await c.publish('t', 'a');
    const keys = f.calls.map((r) => r.headers['idempotency-key']!);
    expect(keys[0]).toMatch(uuid);
    expect(keys[1]).toMatch(uuid);
    expect(keys[0]).not.toBe(keys[1]);
    expect(f.calls[0]!.body).toEqual({ value: 'a' });
  });

  it('a 503 and a network failure are retried with the same key and body; Retry-After is honoured', async () => {
    vi.useFakeTimers();
    let n = 0;
    const f = fakeFetch(() => {
      n++;
      if (n === 1) return jsonResponse(503, { error: 'log unavailable', cause: 'no quorum' }, { 'Retry-After': '1' });
      if (n === 2) throw new TypeError('fetch failed');
      return jsonResponse(201, { message: 'message published', data: msg('9', 'paid') });
    });
    const c = createClient({ url: 'http://h', fetch: f, publishRetry: { retries: 2, initialDelay: 100, maxDelay: 5000 } });
    const published = c.publish('t', 'paid', undefined, { idempotencyKey: 'order-17' });
    await vi.advanceTimersByTimeAsync(999);
    expect(f.calls).toHaveLength(1); // Retry-After: 1 s beats the 100 ms backoff
    await vi.advanceTimersByTimeAsync(1);
    expect(f.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(200);
    expect(await published).toEqual(msg('9', 'paid'));
    expect(f.calls.map((r) => r.headers['idempotency-key'])).toEqual(['order-17', 'order-17', 'order-17']);
    expect(f.calls.every((r) => JSON.stringify(r.body) === '{"value":"paid"}')).toBe(true);
  });

  it('gives up after the bounded retries; 4xx and other 5xx are not retried', async () => {
    const unavailable = fakeFetch(() => jsonResponse(503, { error: 'log unavailable', cause: '' }));
    const c = createClient({ url: 'http://h', fetch: unavailable, publishRetry: { retries: 2, initialDelay: 1, maxDelay: 1 } });
    await expect(c.publish('t', 'x')).rejects.toMatchObject({ status: 503 });
    expect(unavailable.calls).toHaveLength(3);
    expect(new Set(unavailable.calls.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    for (const status of [400, 404, 500]) {
      const f = fakeFetch(() => jsonResponse(status, { error: 'no', cause: '' }));
      await expect(createClient({ url: 'http://h', fetch: f }).publish('t', 'x')).rejects.toMatchObject({ status });
      expect(f.calls).toHaveLength(1);
    }
  });

  it('publishRetry: false sends no automatic key and does not retry; a given key is still sent', async () => {
    const f = fakeFetch(() => jsonResponse(503, { error: 'log unavailable', cause: '' }));
    const c = createClient({ url: 'http://h', fetch: f, publishRetry: false });
    await expect(c.publish('t', 'x')).rejects.toBeInstanceOf(ReplError);
    await expect(c.publish('t', 'x', undefined, { idempotencyKey: 'mine' })).rejects.toBeInstanceOf(ReplError);
    expect(f.calls.map((r) => r.headers['idempotency-key'])).toEqual([undefined, 'mine']);
  });

  it('publishBatch gives each item its own key (or the one given) and retries the same items', async () => {
    let n = 0;
    const f = fakeFetch(() =>
      ++n === 1
        ? jsonResponse(503, { error: 'log unavailable', cause: '' })
        : jsonResponse(201, { message: 'messages published', data: [msg('1', 'a'), msg('2', 'b')] }),
    );
    const c = createClient({ url: 'http://h', fetch: f, publishRetry: { initialDelay: 1, maxDelay: 1 } });
    await c.publishBatch('t', [{ value: 'a' }, { value: 'b', idempotencyKey: 'b-1' }]);
    const [first, retry] = f.calls.map((r) => r.body as { value: string; idempotencyKey: string }[]);
    expect(first![0]!.idempotencyKey).toMatch(uuid);
    expect(first![1]!.idempotencyKey).toBe('b-1');
    expect(retry).toEqual(first);
    expect(f.calls[0]!.headers['idempotency-key']).toBeUndefined(); // batches key their items, not the request
  });

  it('rejects a key the server would refuse before sending anything', async () => {
    const f = fakeFetch(() => jsonResponse(201, {}));
    const c = createClient({ url: 'http://h', fetch: f });
    for (const key of ['', 'has space', 'é', 'x'.repeat(201)]) {
      await expect(c.publish('t', 'x', undefined, { idempotencyKey: key })).rejects.toBeInstanceOf(TypeError);
    }
    await expect(c.publishBatch('t', [{ value: 'x', idempotencyKey: 'a b' }])).rejects.toBeInstanceOf(TypeError);
    expect(f.calls).toHaveLength(0);
  });
});

describe('errors → ReplError', () => {
  it.each([
    ['createTopic', 409, 'topic exists', 'topic "a" already exists'],
    ['createTopic', 400, 'invalid topic name', 'name must match [A-Za-z0-9:._-]+'],
    ['publish', 404, 'topic not found', 'no topic "nope"'],
    ['publish', 400, 'invalid body', 'value must be a string'],
  ] as const)('%s %i', async (op, status, error, cause) => {
    const f = fakeFetch(() => jsonResponse(status, { error, cause }));
    const c = createClient({ url: 'http://h', fetch: f });
    const p = op === 'createTopic' ? c.createTopic('a') : c.publish('nope', 'x');
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplError);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'ReplError', status, error, cause });
    expect((err as ReplError).message).toBe(`${error}: ${cause}`);
    expect((err as ReplError).retryAfter).toBeUndefined();
  });

  it('429 carries retryAfter in seconds', async () => {
    const f = fakeFetch(() => jsonResponse(429, { error: 'too many requests', cause: 'rate limit' }, { 'Retry-After': '7' }));
    const err = (await createClient({ url: 'http://h', fetch: f })
      .publish('t', 'x')
      .catch((e: unknown) => e)) as ReplError;
    expect(err.status).toBe(429);
    expect(err.retryAfter).toBe(7);
  });

  it('non-JSON error bodies keep the status and the text as cause', async () => {
    const f = fakeFetch(() => new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    const err = (await createClient({ url: 'http://h', fetch: f })
      .topics()
      .catch((e: unknown) => e)) as ReplError;
    expect(err).toMatchObject({ status: 502, error: 'Bad Gateway', cause: '<html>Bad Gateway</html>' });
  });

  it('empty error bodies fall back to HTTP status', async () => {
    const f = fakeFetch(() => new Response(null, { status: 500 }));
    const err = (await createClient({ url: 'http://h', fetch: f })
      .deleteTopic('t')
      .catch((e: unknown) => e)) as ReplError;
    expect(err).toMatchObject({ status: 500, error: 'HTTP 500', cause: '' });
  });

  it('network failures become ReplError with status 0', async () => {
    const f = fakeFetch(() => {
      throw new TypeError('fetch failed');
    });
    const err = (await createClient({ url: 'http://h', fetch: f })
      .topics()
      .catch((e: unknown) => e)) as ReplError;
    expect(err).toBeInstanceOf(ReplError);
    expect(err).toMatchObject({ status: 0, error: 'network error', cause: 'fetch failed' });
  });

  it('parses Retry-After as seconds or HTTP date', () => {
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Sun, 31 Dec 2023 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
