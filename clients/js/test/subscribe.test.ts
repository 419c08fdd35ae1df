import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  backoffDelay,
  createClient,
  retryDelay,
  type GapEvent,
  type Message,
  type PresenceCounts,
  type PresenceEvent,
  type ResetEvent,
  type StatusDetail,
  type SubscriptionStatus,
} from '../src/index.js';
import { FakeEventSource, flushMicrotasks } from './helpers.js';

const noJitter = { initialDelay: 100, maxDelay: 1000, jitter: false };

function setup(opts: { token?: string | (() => Promise<string>); url?: string | string[] } = {}) {
  const client = createClient({ url: opts.url ?? 'http://h', EventSource: FakeEventSource, token: opts.token, reconnect: noJitter });
  const messages: Message<any>[] = [];
  const gaps: GapEvent[] = [];
  const resets: ResetEvent[] = [];
  const statuses: [SubscriptionStatus, StatusDetail | undefined][] = [];
  const errors: Error[] = [];
  const sub = (topics: string | string[], extra: Record<string, unknown> = {}) =>
    client.subscribe(topics, (m) => messages.push(m), {
      onGap: (g) => gaps.push(g),
      onReset: (r) => resets.push(r),
      onStatus: (s, d) => statuses.push([s, d]),
      onError: (e) => errors.push(e),
      ...extra,
    });
  return { client, messages, gaps, resets, statuses, errors, sub };
}

/** Fails the current stream; the resume point (`?lastEventId=`) of the reconnection `delay` ms later. */
async function resumePointAfterFailure(delay = 100): Promise<string | null> {
  FakeEventSource.last.fail();
  await vi.advanceTimersByTimeAsync(delay);
  return FakeEventSource.last.query.get('lastEventId');
}

beforeEach(() => {
  FakeEventSource.reset();
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('subscribe', () => {
  it('opens one EventSource on the single-topic route and delivers messages with their topic', async () => {
    const t = setup();
    t.sub('comments:42');
    await flushMicrotasks();
    expect(FakeEventSource.instances).toHaveLength(1);
    const es = FakeEventSource.last;
    expect(es.url).toBe('http://h/topics/comments%3A42/sse');
    es.open();
    es.connected(['comments:42'], 'node-1');
    es.message(1, 'hello', 'comments:42');
    expect(t.messages).toEqual([{ id: '1', topic: 'comments:42', value: 'hello', headers: {}, createdAt: '2024-01-01T00:00:00Z' }]);
    expect(t.statuses.map((s) => s[0])).toEqual(['connecting', 'open']);
    expect(t.statuses[1]![1]).toEqual({ topics: ['comments:42'], node: 'node-1' });
  });

  it('several topics share one stream on /sse?topic=..', async () => {
    const t = setup();
    t.sub(['a', 'comments:42']);
    await flushMicrotasks();
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(FakeEventSource.last.url).toBe('http://h/sse?topic=a&topic=comments%3A42');
    FakeEventSource.last.message(3, 'x', 'a');
    FakeEventSource.last.message(4, 'y', 'comments:42');
    expect(t.messages.map((m) => [m.id, m.topic])).toEqual([
      ['3', 'a'],
      ['4', 'comments:42'],
    ]);
  });

  it('passes lastEventId and access_token in the query of the first connection', async () => {
    const t = setup({ token: 'jwt-1' });
    t.sub('t', { lastEventId: 41 });
    await flushMicrotasks();
    expect(FakeEventSource.last.query.get('lastEventId')).toBe('41');
    expect(FakeEventSource.last.query.get('access_token')).toBe('jwt-1');
  });

  it('one EventSource per subscribe call', async () => {
    const t = setup();
    t.sub('a');
    t.sub('a');
    await flushMicrotasks();
    expect(FakeEventSource.instances).toHaveLength(2);
  });

  it('drops duplicates and replays (ids <= last seen), comparing as integers', async () => {
    const t = setup();
    t.sub('t', { lastEventId: '5' });
    await flushMicrotasks();
    const es = FakeEventSource.last;
    es.message(4);
    es.message(5);
    es.message(6);
    es.message(6);
    es.message(10);
    es.message(9);
    es.message(11);
    expect(t.messages.map((m) => m.id)).toEqual(['6', '10', '11']);
  });

  it('compares positions beyond 2^53 exactly', async () => {
    const t = setup();
    t.sub('t');
    await flushMicrotasks();
    const es = FakeEventSource.last;
    es.message('9007199254740992');
    es.message('9007199254740993');
    es.message('9007199254740992');
    expect(t.messages.map((m) => m.id)).toEqual(['9007199254740992', '9007199254740993']);
  });

  it('on error closes the EventSource and reconnects with the last id in the query, with capped backoff', async () => {
    const t = setup({ token: 'tok' });
    t.sub('t');
    await flushMicrotasks();
    const first = FakeEventSource.last;
    expect(first.query.get('lastEventId')).toBeNull();
    first.open();
    first.message(7);
    first.message(8);
    // native EventSource would retry by itself (CONNECTING); we take over anyway
    first.fail(0);
    expect(first.closed).toBe(true);
    expect(t.statuses.at(-1)).toEqual(['reconnecting', { reason: 'error', attempt: 1, delay: 100 }]);
    expect(t.errors).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(99);
    expect(FakeEventSource.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeEventSource.instances).toHaveLength(2);
    const second = FakeEventSource.last;
    expect(second.query.get('lastEventId')).toBe('8');
    expect(second.query.get('access_token')).toBe('tok');

    // the server replays 8 (already seen), then new ones
    second.open();
    second.message(8);
    second.message(9);
    expect(t.messages.map((m) => m.id)).toEqual(['7', '8', '9']);
    // events from the old, closed source are ignored
    first.message(100);
    expect(t.messages.map((m) => m.id)).toEqual(['7', '8', '9']);
  });

  it('backs off exponentially while failing and resets once the stream delivers', async () => {
    const t = setup();
    t.sub('t');
    await flushMicrotasks();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      FakeEventSource.last.fail(2); // e.g. 503: native EventSource gives up (CLOSED)
      delays.push(t.statuses.at(-1)![1]!.delay!);
      await vi.advanceTimersByTimeAsync(delays.at(-1)!);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(FakeEventSource.instances).toHaveLength(7);
    FakeEventSource.last.open();
    FakeEventSource.last.event('ping', {});
    FakeEventSource.last.fail();
    expect(t.statuses.at(-1)![1]!.delay).toBe(100);
  });

  it('a fresh token is used for each reconnection', async () => {
    let n = 0;
    const t = setup({ token: async () => `tok${++n}` });
    t.sub('t');
    await flushMicrotasks();
    expect(FakeEventSource.last.query.get('access_token')).toBe('tok1');
    FakeEventSource.last.fail();
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeEventSource.last.query.get('access_token')).toBe('tok2');
  });

  it('surfaces gap to onGap and keeps delivering from the oldest retained', async () => {
    const t = setup();
    t.sub('t', { lastEventId: 5 });
    await flushMicrotasks();
    const es = FakeEventSource.last;
    es.open();
    es.connected();
    es.event('gap', { topic: 't', requested: 5, oldest: 90 });
    es.message(90);
    expect(t.gaps).toEqual([{ topic: 't', requested: 5, oldest: 90 }]);
    expect(t.messages.map((m) => m.id)).toEqual(['90']);
  });

  it('after a gap on a single topic, a reconnection resumes from just before the oldest', async () => {
    const t = setup();
    t.sub('t', { lastEventId: 5 });
    await flushMicrotasks();
    FakeEventSource.last.event('gap', { topic: 't', requested: 5, oldest: 90 });
    FakeEventSource.last.fail();
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeEventSource.last.query.get('lastEventId')).toBe('89');
  });

  it('with several topics a gap does not move the shared cursor', async () => {
    const t = setup();
    t.sub(['a', 'b'], { lastEventId: 5 });
    await flushMicrotasks();
    FakeEventSource.last.event('gap', { topic: 'a', requested: 5, oldest: 90 });
    FakeEventSource.last.fail();
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeEventSource.last.query.get('lastEventId')).toBe('5');
    expect(t.gaps).toEqual([{ topic: 'a', requested: 5, oldest: 90 }]);
  });

  it('without onGap the gap goes to onError (never hidden)', async () => {
    const client = createClient({ url: 'http://h', EventSource: FakeEventSource });
    const errors: Error[] = [];
    client.subscribe('t', () => {}, { onError: (e) => errors.push(e) });
    await flushMicrotasks();
    FakeEventSource.last.event('gap', { topic: 't', requested: 1, oldest: 50 });
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error & { gap: GapEvent }).gap).toEqual({ topic: 't', requested: 1, oldest: 50 });
  });

  it('without onGap nor onError the gap is logged', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    createClient({ url: 'http://h', EventSource: FakeEventSource }).subscribe('t', () => {});
    await flushMicrotasks();
    FakeEventSource.last.event('gap', { topic: 't', requested: 1, oldest: 50 });
    expect(warn).toHaveBeenCalledOnce();
    warn.mockRestore();
  });

  it('carries the epoch from connected: reconnects resume with position@epoch', async () => {
    const t = setup();
    t.sub('t');
    await flushMicrotasks();
    FakeEventSource.last.open();
    FakeEventSource.last.connected(['t'], 'n1', '9f3a1c0b');
    FakeEventSource.last.message(7, 'x', 't', '9f3a1c0b');
    expect(t.statuses.at(-1)).toEqual(['open', { topics: ['t'], node: 'n1', epoch: '9f3a1c0b' }]);
    expect(t.messages.map((m) => m.id)).toEqual(['7']); // the message's id stays the position
    expect(await resumePointAfterFailure()).toBe('7@9f3a1c0b');
    // and again after the client's own reconnects, so a log replaced meanwhile is still detected
    FakeEventSource.last.connected(['t'], 'n1', '9f3a1c0b');
    expect(await resumePointAfterFailure(200)).toBe('7@9f3a1c0b');
  });

  it('accepts a stream id as lastEventId and rejects a malformed one', async () => {
    const t = setup();
    t.sub('t', { lastEventId: '41@9f3a1c0b' });
    await flushMicrotasks();
    expect(FakeEventSource.last.query.get('lastEventId')).toBe('41@9f3a1c0b');
    expect(() => t.sub('t', { lastEventId: '41@not-hex' })).toThrow(TypeError);
    expect(() => t.sub('t', { lastEventId: '@9f3a1c0b' })).toThrow(TypeError);
  });

  it('reset → onReset; the cursor restarts on the new log, so its lower positions are delivered', async () => {
    const t = setup();
    t.sub('t', { lastEventId: '41@0000aaaa' });
    await flushMicrotasks();
    const es = FakeEventSource.last;
    es.open();
    es.connected(['t'], 'n1', '0000bbbb');
    es.reset('41@0000aaaa', '0000bbbb');
    es.message(1, 'a', 't', '0000bbbb');
    es.message(2, 'b', 't', '0000bbbb');
    es.message(2, 'b', 't', '0000bbbb'); // still deduplicated on the new log
    expect(t.resets).toEqual([{ requested: '41@0000aaaa', reason: 'this id is from another log', epoch: '0000bbbb', position: 0 }]);
    expect(t.messages.map((m) => m.id)).toEqual(['1', '2']);
    expect(await resumePointAfterFailure()).toBe('2@0000bbbb');
  });

  it('a reconnect right after a reset, before any message, resumes at the start of the new log', async () => {
    const t = setup();
    t.sub('t', { lastEventId: 41 });
    await flushMicrotasks();
    FakeEventSource.last.connected(['t'], 'n1', '0000bbbb');
    FakeEventSource.last.reset('41', '0000bbbb');
    expect(await resumePointAfterFailure()).toBe('0@0000bbbb');
  });

  it('the epoch of connected is not paired with a cursor the server has not accepted yet', async () => {
    const t = setup();
    t.sub('t', { lastEventId: '41@0000aaaa' });
    await flushMicrotasks();
    // dropped between connected and what follows it (a reset would have come next): resume as before
    FakeEventSource.last.connected(['t'], 'n1', '0000bbbb');
    expect(await resumePointAfterFailure()).toBe('41@0000aaaa');
    // a bare position the server accepted (a ping after connected, no reset) takes the log's epoch
    t.sub('u', { lastEventId: 5 });
    await flushMicrotasks();
    FakeEventSource.last.connected(['u'], 'n1', '0000bbbb');
    FakeEventSource.last.event('ping', {});
    expect(await resumePointAfterFailure()).toBe('5@0000bbbb');
  });

  it('without onReset the reset goes to onError (never hidden)', async () => {
    const client = createClient({ url: 'http://h', EventSource: FakeEventSource });
    const errors: Error[] = [];
    client.subscribe('t', () => {}, { lastEventId: 41, onError: (e) => errors.push(e) });
    await flushMicrotasks();
    FakeEventSource.last.reset('41', '0000bbbb');
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error & { reset: ResetEvent }).reset).toMatchObject({ requested: '41', epoch: '0000bbbb', position: 0 });
  });

  it.each([
    ['deleted', { topic: 't' }, { reason: 'deleted', topic: 't' }],
    ['expired', { reason: 'token expired' }, { reason: 'expired', message: 'token expired' }],
  ])('%s → closed with reason, no reconnect', async (event, data, detail) => {
    const t = setup();
    t.sub('t');
    await flushMicrotasks();
    FakeEventSource.last.open();
    FakeEventSource.last.event(event, data);
    expect(FakeEventSource.last.closed).toBe(true);
    expect(t.statuses.at(-1)).toEqual(['closed', detail]);
    FakeEventSource.last.fail(); // the server closing the stream afterwards
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it('disconnect (the server API) → closed with the server\'s reason, no reconnect', async () => {
    const t = setup();
    t.sub(['a', 'b']);
    await flushMicrotasks();
    FakeEventSource.last.open();
    FakeEventSource.last.message(3, 'x', 'a');
    FakeEventSource.last.event('disconnect', { reason: 'account closed' });
    expect(FakeEventSource.last.closed).toBe(true);
    expect(t.statuses.at(-1)).toEqual(['closed', { reason: 'disconnected', message: 'account closed' }]);
    FakeEventSource.last.fail(); // the server ends the stream right after
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it('unsubscribed from its only topic → closed (removed), no reconnect', async () => {
    const t = setup();
    t.sub('t');
    await flushMicrotasks();
    FakeEventSource.last.open();
    FakeEventSource.last.event('unsubscribed', { topic: 't' });
    expect(FakeEventSource.last.closed).toBe(true);
    expect(t.statuses.at(-1)).toEqual(['closed', { reason: 'removed', topic: 't' }]);
    FakeEventSource.last.fail();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it('unsubscribed from one of several topics → the others go on, and a reconnection no longer asks for it', async () => {
    const t = setup();
    t.sub(['a', 'b', 'c']);
    await flushMicrotasks();
    const es = FakeEventSource.last;
    es.open();
    es.message(3, 'x', 'a');
    es.event('unsubscribed', { topic: 'a' });
    expect(es.closed).toBe(false);
    expect(t.statuses.at(-1)).toEqual(['open', { reason: 'removed', topic: 'a', topics: ['b', 'c'] }]);
    es.message(4, 'y', 'b');
    expect(t.messages.map((m) => [m.id, m.topic])).toEqual([
      ['3', 'a'],
      ['4', 'b'],
    ]);
    es.event('unsubscribed', { topic: 'zzz' }); // not one of ours: nothing changes
    expect(t.statuses).toHaveLength(3);
    es.fail();
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeEventSource.last.url).toBe('http://h/sse?topic=b&topic=c&lastEventId=4');
    FakeEventSource.last.event('unsubscribed', { topic: 'c' });
    FakeEventSource.last.fail();
    await vi.advanceTimersByTimeAsync(200);
    expect(FakeEventSource.last.url).toBe('http://h/topics/b/sse?lastEventId=4');
  });

  it('deleted: one of several topics → the others go on; the last → closed (deleted), no reconnect', async () => {
    const t = setup();
    t.sub(['a', 'b']);
    await flushMicrotasks();
    const es = FakeEventSource.last;
    es.open();
    es.event('deleted', { topic: 'a' });
    expect(es.closed).toBe(false);
    expect(t.statuses.at(-1)).toEqual(['open', { reason: 'deleted', topic: 'a', topics: ['b'] }]);
    es.message(4, 'y', 'b');
    expect(t.messages.map((m) => [m.id, m.topic])).toEqual([['4', 'b']]);
    es.fail();
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeEventSource.last.url).toBe('http://h/topics/b/sse?lastEventId=4');
    FakeEventSource.last.event('deleted', { topic: 'b' });
    expect(FakeEventSource.last.closed).toBe(true);
    expect(t.statuses.at(-1)).toEqual(['closed', { reason: 'deleted', topic: 'b' }]);
    FakeEventSource.last.fail();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeEventSource.instances).toHaveLength(2);
  });

  it('unavailable → reconnects (rotating to the next URL) and resumes', async () => {
    const t = setup({ url: ['http://n1', 'http://n2'] });
    t.sub('t');
    await flushMicrotasks();
    expect(FakeEventSource.last.url).toBe('http://n1/topics/t/sse');
    FakeEventSource.last.message(3);
    FakeEventSource.last.event('unavailable', { reason: 'log lost' });
    expect(FakeEventSource.instances[0]!.closed).toBe(true);
    expect(t.statuses.at(-1)).toEqual(['reconnecting', { reason: 'unavailable', message: 'log lost', attempt: 1, delay: 100 }]);
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeEventSource.last.url).toBe('http://n2/topics/t/sse?lastEventId=3');
  });

  it('unsubscribe closes the stream and stops reconnecting', async () => {
    const t = setup();
    const unsubscribe = t.sub('t');
    await flushMicrotasks();
    FakeEventSource.last.fail();
    unsubscribe();
    expect(t.statuses.at(-1)).toEqual(['closed', { reason: 'unsubscribed' }]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeEventSource.instances).toHaveLength(1);
    unsubscribe(); // idempotent
    expect(t.statuses.filter((s) => s[0] === 'closed')).toHaveLength(1);
  });

  it('unsubscribe before the EventSource is created (async token) creates none', async () => {
    const t = setup({ token: async () => 'x' });
    const unsubscribe = t.sub('t');
    unsubscribe();
    await flushMicrotasks();
    expect(FakeEventSource.instances).toHaveLength(0);
  });

  it('parseJson parses values and falls back to the raw string', async () => {
    const t = setup();
    t.sub('t', { parseJson: true });
    await flushMicrotasks();
    FakeEventSource.last.message(1, '{"a":1}');
    FakeEventSource.last.message(2, 'plain text');
    FakeEventSource.last.message(3, '42');
    expect(t.messages.map((m) => m.value)).toEqual([{ a: 1 }, 'plain text', 42]);
  });

  it('a throwing onMessage is reported and does not break the stream', async () => {
    const client = createClient({ url: 'http://h', EventSource: FakeEventSource });
    const errors: Error[] = [];
    const seen: string[] = [];
    client.subscribe(
      't',
      (m) => {
        seen.push(m.id);
        if (m.id === '1') throw new Error('boom');
      },
      { onError: (e) => errors.push(e) },
    );
    await flushMicrotasks();
    FakeEventSource.last.message(1);
    FakeEventSource.last.message(2);
    expect(seen).toEqual(['1', '2']);
    expect(errors.map((e) => e.message)).toEqual(['boom']);
  });

  it('invalid message data is reported, not delivered', async () => {
    const t = setup();
    t.sub('t');
    await flushMicrotasks();
    FakeEventSource.last.event('message', 'not json', '1');
    expect(t.messages).toHaveLength(0);
    expect(t.errors).toHaveLength(1);
  });

  it('passes withCredentials to EventSource', async () => {
    const client = createClient({ url: 'http://h', EventSource: FakeEventSource, withCredentials: true });
    client.subscribe('t', () => {});
    await flushMicrotasks();
    expect(FakeEventSource.last.init).toEqual({ withCredentials: true });
  });

  it('rejects an empty topic list', () => {
    const t = setup();
    expect(() => t.sub([])).toThrow(TypeError);
    expect(() => t.sub('')).toThrow(TypeError);
  });
});

describe('presence events', () => {
  function presenceSetup() {
    const t = setup();
    const joins: PresenceEvent[] = [];
    const leaves: PresenceEvent[] = [];
    const counts: PresenceCounts[] = [];
    const sub = (topics: string | string[], extra: Record<string, unknown> = {}) =>
      t.sub(topics, { onJoin: (e: PresenceEvent) => joins.push(e), onLeave: (e: PresenceEvent) => leaves.push(e), onPresence: (c: PresenceCounts) => counts.push(c), ...extra });
    return { ...t, sub, joins, leaves, counts };
  }

  it('any presence callback asks for them with presence=1, on both routes; none asks nothing', async () => {
    const t = setup();
    t.sub('a', { onJoin: () => {} });
    t.sub(['a', 'b'], { onPresence: () => {} });
    t.sub('a', { onLeave: () => {}, lastEventId: 5 });
    t.sub('a');
    await flushMicrotasks();
    expect(FakeEventSource.instances.map((e) => e.url)).toEqual([
      'http://h/topics/a/sse?presence=1',
      'http://h/sse?topic=a&topic=b&presence=1',
      'http://h/topics/a/sse?presence=1&lastEventId=5',
      'http://h/topics/a/sse',
    ]);
    // and every reconnection asks again
    FakeEventSource.instances[0]!.fail();
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeEventSource.last.url).toBe('http://h/topics/a/sse?presence=1');
  });

  it('join, leave and presence go to their callbacks; a null or missing user is null', async () => {
    const t = presenceSetup();
    t.sub(['a', 'b']);
    await flushMicrotasks();
    const es = FakeEventSource.last;
    es.open();
    es.connected(['a', 'b'], 'n1', '9f3a1c0b');
    es.event('presence', { topic: 'a', clients: 3, users: 2 });
    es.event('join', { topic: 'a', client: 'c1', user: 'ana' });
    es.event('leave', { topic: 'b', client: 'c2', user: null });
    es.event('join', { topic: 'b', client: 'c3' });
    expect(t.counts).toEqual([{ topic: 'a', clients: 3, users: 2 }]);
    expect(t.joins).toEqual([
      { topic: 'a', client: 'c1', user: 'ana' },
      { topic: 'b', client: 'c3', user: null },
    ]);
    expect(t.leaves).toEqual([{ topic: 'b', client: 'c2', user: null }]);
    expect(t.messages).toHaveLength(0);
    expect(t.errors).toHaveLength(0);
  });

  it('presence events have no id: they do not move the resume point, nor pair it with a new epoch', async () => {
    const t = presenceSetup();
    t.sub('t', { lastEventId: '7@0000aaaa' });
    await flushMicrotasks();
    // A node whose log is another (a reset would follow) sends its counts right after connected: they vouch for nothing.
    FakeEventSource.last.connected(['t'], 'n1', '0000bbbb');
    FakeEventSource.last.event('presence', { topic: 't', clients: 1, users: 1 });
    FakeEventSource.last.event('join', { topic: 't', client: 'c1', user: 'ana' });
    expect(await resumePointAfterFailure()).toBe('7@0000aaaa');
    // The stream's id buffer still holds the last message's id when they come (as a browser's does): not a delivery.
    const es = FakeEventSource.last;
    es.connected(['t'], 'n1', '0000aaaa');
    es.message(8, 'x', 't', '0000aaaa');
    es.event('leave', { topic: 't', client: 'c1', user: 'ana' });
    es.message(8, 'x', 't', '0000aaaa');
    expect(t.messages.map((m) => m.id)).toEqual(['8']);
    expect(t.leaves).toHaveLength(1);
    expect(await resumePointAfterFailure(200)).toBe('8@0000aaaa');
    // A stream that saw only presence events resumes from where it was asked to: nowhere.
    t.sub('u');
    await flushMicrotasks();
    FakeEventSource.last.connected(['u'], 'n1', '0000bbbb');
    FakeEventSource.last.event('join', { topic: 'u', client: 'c2', user: null });
    expect(await resumePointAfterFailure()).toBeNull();
  });

  it('a throwing presence callback is reported and the stream goes on; invalid data is reported, not delivered', async () => {
    const t = presenceSetup();
    t.sub('t', { onJoin: () => { throw new Error('boom'); } });
    await flushMicrotasks();
    FakeEventSource.last.event('join', { topic: 't', client: 'c1', user: null });
    FakeEventSource.last.event('leave', 'not json');
    FakeEventSource.last.message(1);
    expect(t.errors.map((e) => e.message)).toEqual(['boom', 'invalid leave data: not json']);
    expect(t.leaves).toHaveLength(0);
    expect(t.messages.map((m) => m.id)).toEqual(['1']);
  });

  it('without presence callbacks the events are ignored', async () => {
    const t = setup();
    t.sub('t');
    await flushMicrotasks();
    FakeEventSource.last.event('join', { topic: 't', client: 'c1', user: null });
    FakeEventSource.last.event('presence', { topic: 't', clients: 1, users: 0 });
    expect(t.errors).toHaveLength(0);
    expect(t.statuses.map((s) => s[0])).toEqual(['connecting']);
  });
});

describe('backoffDelay', () => {
  it('doubles up to the cap, with jitter between 50% and 100%', () => {
    expect([1, 2, 3, 4, 10].map((a) => backoffDelay(a, { initialDelay: 500, maxDelay: 4000, jitter: false }))).toEqual([
      500, 1000, 2000, 4000, 4000,
    ]);
    expect(backoffDelay(3, { initialDelay: 500, maxDelay: 4000 }, () => 0)).toBe(1000);
    expect(backoffDelay(3, { initialDelay: 500, maxDelay: 4000 }, () => 1)).toBe(2000);
    expect(backoffDelay(50, {}, () => 1)).toBe(30000);
  });
});

describe('retryDelay', () => {
  const opts = { initialDelay: 500, maxDelay: 4000 };
  it('is the backoff without a Retry-After, and never less than the Retry-After with one', () => {
    expect(retryDelay(3, undefined, { ...opts, jitter: false })).toBe(2000);
    expect(retryDelay(1, 3, { ...opts, jitter: false })).toBe(3000);
    expect(retryDelay(4, 1, { ...opts, jitter: false })).toBe(4000);
  });
  it('spreads the streams told the same Retry-After over half of it again; the cap does not shorten it', () => {
    expect(retryDelay(1, 10, opts, () => 0)).toBe(10000);
    expect(retryDelay(1, 10, opts, () => 1)).toBe(15000);
  });
});
