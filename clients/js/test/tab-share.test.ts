import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createClient,
  type GapEvent,
  type Message,
  type PresenceCounts,
  type PresenceEvent,
  type ResetEvent,
  type StatusDetail,
  type SubscriptionStatus,
} from '../src/index.js';
import type { Connection, ConnectionHandlers } from '../src/connection.js';
import { shareSubscription } from '../src/tab-share.js';
import { FakeBroadcastHub, FakeEventSource, FakeLocks, flushMicrotasks } from './helpers.js';

interface Tab {
  messages: Message<any>[];
  gaps: GapEvent[];
  resets: ResetEvent[];
  statuses: [SubscriptionStatus, StatusDetail | undefined][];
  unsubscribe: () => void;
}

function openTab(topics: string | string[], extra: Record<string, unknown> = {}, share: boolean | string = true): Tab {
  const client = createClient({
    url: 'http://h',
    EventSource: FakeEventSource,
    shareAcrossTabs: share,
    reconnect: { initialDelay: 100, jitter: false },
  });
  const tab: Tab = { messages: [], gaps: [], resets: [], statuses: [], unsubscribe: () => {} };
  tab.unsubscribe = client.subscribe(topics, (m) => tab.messages.push(m), {
    onGap: (g) => tab.gaps.push(g),
    onReset: (r) => tab.resets.push(r),
    onStatus: (s, d) => tab.statuses.push([s, d]),
    ...extra,
  });
  return tab;
}

const ids = (t: Tab) => t.messages.map((m) => m.id);
const openSources = () => FakeEventSource.instances.filter((e) => !e.closed);

describe('shareAcrossTabs with Web Locks', () => {
  let hub: FakeBroadcastHub;
  let locks: FakeLocks;

  beforeEach(() => {
    FakeEventSource.reset();
    vi.useFakeTimers();
    hub = new FakeBroadcastHub();
    locks = new FakeLocks();
    vi.stubGlobal('BroadcastChannel', hub.BroadcastChannel);
    vi.stubGlobal('navigator', { locks });
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it('only the leader tab holds an EventSource; the others receive its messages', async () => {
    const a = openTab('comments:42');
    const b = openTab('comments:42');
    const c = openTab('comments:42', { parseJson: true });
    await flushMicrotasks();
    expect(FakeEventSource.instances).toHaveLength(1);
    const es = FakeEventSource.last;
    es.open();
    es.connected(['comments:42']);
    es.message(1, '{"n":1}', 'comments:42');
    es.message(2, 'two', 'comments:42');
    for (const t of [a, b, c]) expect(ids(t)).toEqual(['1', '2']);
    expect(a.messages[0]!.value).toBe('{"n":1}');
    expect(c.messages[0]!.value).toEqual({ n: 1 }); // each tab applies its own parseJson
    expect(a.statuses.at(-1)).toEqual(['open', { topics: ['comments:42'], node: 'n1', leader: true }]);
    expect(b.statuses.at(-1)![0]).toBe('open');
    expect(b.statuses.at(-1)![1]!.leader).toBe(false);
  });

  it('a tab joining later learns the current status from the leader', async () => {
    openTab('t');
    await flushMicrotasks();
    FakeEventSource.last.open();
    FakeEventSource.last.connected();
    const late = openTab('t');
    await flushMicrotasks();
    expect(late.statuses.map((s) => s[0])).toEqual(['connecting', 'open']);
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it('different topic sets or channel names use different connections; topic order does not matter', async () => {
    openTab(['a', 'b']);
    openTab(['b', 'a']);
    openTab('a');
    openTab('a', {}, 'other-channel');
    await flushMicrotasks();
    expect(FakeEventSource.instances.map((e) => e.url)).toEqual([
      'http://h/sse?topic=a&topic=b',
      'http://h/topics/a/sse',
      'http://h/topics/a/sse',
    ]);
  });

  it('when the leader leaves, another tab takes over and resumes from its last id; no duplicates', async () => {
    const a = openTab('t');
    const b = openTab('t');
    const c = openTab('t');
    await flushMicrotasks();
    const first = FakeEventSource.last;
    first.open();
    first.message(10);
    first.message(11);
    a.unsubscribe();
    expect(first.closed).toBe(true);
    await flushMicrotasks();
    expect(openSources()).toHaveLength(1);
    const second = FakeEventSource.last;
    expect(second).not.toBe(first);
    expect(second.query.get('lastEventId')).toBe('11');
    expect(b.statuses.some(([s, d]) => s === 'reconnecting' && d?.reason === 'leader-gone')).toBe(true);
    second.open();
    second.message(11); // replayed by the server: dropped everywhere
    second.message(12);
    expect(ids(b)).toEqual(['10', '11', '12']);
    expect(ids(c)).toEqual(['10', '11', '12']);
    expect(ids(a)).toEqual(['10', '11']);
    expect(a.statuses.at(-1)).toEqual(['closed', { reason: 'unsubscribed', leader: false }]);
  });

  it('a new tab that has seen nothing takes the leader cursor and resumes from it', async () => {
    const a = openTab('t');
    await flushMicrotasks();
    FakeEventSource.last.open();
    FakeEventSource.last.message(40);
    FakeEventSource.last.event('ping', {});
    const b = openTab('t'); // hello → leader answers with its status and cursor 40
    await flushMicrotasks();
    a.unsubscribe();
    await flushMicrotasks();
    expect(FakeEventSource.last.query.get('lastEventId')).toBe('40');
    expect(ids(b)).toEqual([]);
  });

  it('a follower leaving changes nothing for the others', async () => {
    const a = openTab('t');
    const b = openTab('t');
    await flushMicrotasks();
    b.unsubscribe();
    await flushMicrotasks();
    FakeEventSource.last.message(1);
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(ids(a)).toEqual(['1']);
    expect(ids(b)).toEqual([]);
  });

  it('gap is surfaced in every tab', async () => {
    const a = openTab('t', { lastEventId: 3 });
    const b = openTab('t');
    await flushMicrotasks();
    expect(FakeEventSource.last.query.get('lastEventId')).toBe('3');
    FakeEventSource.last.event('gap', { topic: 't', requested: 3, oldest: 50 });
    expect(a.gaps).toEqual([{ topic: 't', requested: 3, oldest: 50 }]);
    expect(b.gaps).toEqual([{ topic: 't', requested: 3, oldest: 50 }]);
  });

  it('reset is surfaced in every tab; all restart their cursor on the new log, and a new leader resumes there', async () => {
    const a = openTab('t');
    const b = openTab('t');
    await flushMicrotasks();
    const first = FakeEventSource.last;
    first.connected(['t'], 'n1', '0000aaaa');
    first.message(10, 'x', 't', '0000aaaa');
    // the leader's connection meets a replaced log (e.g. after its own reconnect)
    first.connected(['t'], 'n1', '0000bbbb');
    first.reset('10@0000aaaa', '0000bbbb');
    first.message(1, 'y', 't', '0000bbbb');
    for (const t of [a, b]) {
      expect(ids(t)).toEqual(['10', '1']);
      expect(t.resets.map((r) => r.epoch)).toEqual(['0000bbbb']);
    }
    a.unsubscribe();
    await flushMicrotasks();
    expect(FakeEventSource.last.query.get('lastEventId')).toBe('1@0000bbbb');
  });

  it('deleted closes every tab with the reason; nobody reconnects', async () => {
    const a = openTab('t');
    const b = openTab('t');
    await flushMicrotasks();
    FakeEventSource.last.event('deleted', { topic: 't' });
    await flushMicrotasks();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(a.statuses.at(-1)).toEqual(['closed', { reason: 'deleted', topic: 't', leader: false }]);
    expect(b.statuses.at(-1)).toEqual(['closed', { reason: 'deleted', topic: 't', leader: false }]);
    expect(hub.openCount).toBe(0);
  });

  it('disconnect closes every tab with the server\'s reason; nobody reconnects', async () => {
    const a = openTab('t');
    const b = openTab('t');
    await flushMicrotasks();
    FakeEventSource.last.event('disconnect', { reason: 'account closed' });
    await flushMicrotasks();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeEventSource.instances).toHaveLength(1);
    for (const t of [a, b]) expect(t.statuses.at(-1)).toEqual(['closed', { reason: 'disconnected', message: 'account closed', leader: false }]);
    expect(hub.openCount).toBe(0);
  });

  it('unsubscribed from one topic: every tab hears it, and a new leader does not ask for that topic again', async () => {
    const a = openTab(['a', 'b']);
    const b = openTab(['a', 'b']);
    await flushMicrotasks();
    FakeEventSource.last.message(4, 'x', 'a');
    FakeEventSource.last.event('unsubscribed', { topic: 'a' });
    for (const t of [a, b]) expect(t.statuses.at(-1)).toMatchObject(['open', { reason: 'removed', topic: 'a', topics: ['b'] }]);
    a.unsubscribe();
    await flushMicrotasks();
    expect(openSources()).toHaveLength(1);
    expect(FakeEventSource.last.url).toBe('http://h/topics/b/sse?lastEventId=4');
    FakeEventSource.last.event('unsubscribed', { topic: 'b' });
    expect(b.statuses.at(-1)).toEqual(['closed', { reason: 'removed', topic: 'b', leader: false }]);
  });

  it('presence events reach every tab that asked for them; tabs without presence callbacks share another stream', async () => {
    const seen: string[] = [];
    const presenceTab = (name: string) =>
      openTab('t', {
        onJoin: (e: PresenceEvent) => seen.push(`${name} join ${e.client}`),
        onLeave: (e: PresenceEvent) => seen.push(`${name} leave ${e.client}`),
        onPresence: (c: PresenceCounts) => seen.push(`${name} counts ${c.clients}`),
      });
    presenceTab('a');
    presenceTab('b');
    const plain = openTab('t');
    await flushMicrotasks();
    expect(FakeEventSource.instances.map((e) => e.url)).toEqual(['http://h/topics/t/sse?presence=1', 'http://h/topics/t/sse']);
    const es = FakeEventSource.instances[0]!;
    es.event('presence', { topic: 't', clients: 2, users: 0 });
    es.event('join', { topic: 't', client: 'c1', user: null });
    es.event('leave', { topic: 't', client: 'c1', user: null });
    expect(seen.sort()).toEqual(['a counts 2', 'a join c1', 'a leave c1', 'b counts 2', 'b join c1', 'b leave c1']);
    es.message(1);
    expect(plain.messages).toHaveLength(0); // the other stream
  });

  it('the leader reconnects by itself; followers see reconnecting then open', async () => {
    openTab('t');
    const b = openTab('t');
    await flushMicrotasks();
    FakeEventSource.last.open();
    FakeEventSource.last.connected();
    FakeEventSource.last.message(5);
    FakeEventSource.last.fail();
    expect(b.statuses.at(-1)![0]).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeEventSource.instances).toHaveLength(2);
    expect(FakeEventSource.last.query.get('lastEventId')).toBe('5');
    FakeEventSource.last.connected();
    expect(b.statuses.at(-1)![0]).toBe('open');
  });

  it('falls back to a plain subscription when BroadcastChannel is missing', async () => {
    vi.stubGlobal('BroadcastChannel', undefined);
    const a = openTab('t');
    const b = openTab('t');
    await flushMicrotasks();
    expect(FakeEventSource.instances).toHaveLength(2);
    FakeEventSource.instances[0]!.message(1);
    expect(ids(a)).toEqual(['1']);
    expect(ids(b)).toEqual([]);
  });
});

describe('shareAcrossTabs with the heartbeat election (no Web Locks)', () => {
  interface HTab {
    id: string;
    messages: string[];
    statuses: string[];
    opened: { lastEventId: string | undefined; handlers: ConnectionHandlers; closed: boolean }[];
    sub: ReturnType<typeof shareSubscription>;
  }
  let hub: FakeBroadcastHub;

  beforeEach(() => {
    vi.useFakeTimers();
    hub = new FakeBroadcastHub();
  });
  afterEach(() => vi.useRealTimers());

  const timings = { heartbeatInterval: 1000, leaderTimeout: 3000, helloTimeout: 250 };

  function tab(id: string, lastEventId?: string): HTab {
    const t: HTab = { id, messages: [], statuses: [], opened: [], sub: undefined as never };
    t.sub = shareSubscription({
      channelName: 'repl',
      key: 'http://h|t',
      BroadcastChannel: hub.BroadcastChannel,
      locks: null,
      id,
      lastEventId,
      timings,
      open: (resume, handlers): Connection => {
        const rec = { lastEventId: resume, handlers, closed: false };
        t.opened.push(rec);
        handlers.status('connecting');
        return {
          close: () => {
            rec.closed = true;
          },
          lastEventId: resume,
        };
      },
      handlers: {
        message: (m) => t.messages.push(m.id),
        gap: () => {},
        reset: (r) => t.messages.push(`reset to ${r.epoch}`),
        status: (s, d) => t.statuses.push(d?.reason ? `${s}:${d.reason}` : s),
        error: () => {},
      },
    });
    return t;
  }
  const live = (t: HTab) => t.opened.filter((o) => !o.closed);
  const send = (t: HTab, id: number, epoch?: string) =>
    live(t)[0]!.handlers.message({ id: String(id), topic: 't', value: '', headers: {}, createdAt: '' }, epoch);

  it('the first tab claims after the hello timeout; the next one follows', async () => {
    const a = tab('a');
    expect(a.opened).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(250);
    expect(live(a)).toHaveLength(1);
    const b = tab('b');
    await vi.advanceTimersByTimeAsync(5000);
    expect(live(b)).toHaveLength(0);
    expect(a.sub.isLeader).toBe(true);
    expect(b.sub.isLeader).toBe(false);
    send(a, 1);
    expect(b.messages).toEqual(['1']);
  });

  it('a leader that resigns is replaced at once, resuming from the last id', async () => {
    const a = tab('a');
    await vi.advanceTimersByTimeAsync(250);
    const b = tab('b');
    await vi.advanceTimersByTimeAsync(100);
    send(a, 7);
    a.sub.close();
    expect(live(a)).toHaveLength(0);
    expect(live(b)).toHaveLength(1);
    expect(live(b)[0]!.lastEventId).toBe('7');
  });

  it('a new leader resumes with the epoch of the last message, or of a reset', async () => {
    const a = tab('a');
    await vi.advanceTimersByTimeAsync(250);
    const b = tab('b');
    await vi.advanceTimersByTimeAsync(100);
    send(a, 7, '0000aaaa');
    live(a)[0]!.handlers.reset({ requested: '7@0000aaaa', reason: 'replaced', epoch: '0000bbbb', position: 0 });
    send(a, 2, '0000bbbb');
    expect(b.messages).toEqual(['7', 'reset to 0000bbbb', '2']);
    a.sub.close();
    expect(live(b)[0]!.lastEventId).toBe('2@0000bbbb');
  });

  it('a leader that vanishes silently (crashed tab) is replaced after the leader timeout', async () => {
    const a = tab('a');
    await vi.advanceTimersByTimeAsync(250);
    const b = tab('b', '2');
    await vi.advanceTimersByTimeAsync(1000);
    send(a, 3);
    // the leader's tab dies: its channel goes silent
    hub.crash = (ch) => ch === hub.channelsInOrder[0];
    await vi.advanceTimersByTimeAsync(2000);
    expect(live(b)).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2000);
    expect(live(b)).toHaveLength(1);
    expect(live(b)[0]!.lastEventId).toBe('3');
  });

  it('two tabs claiming at once end with a single leader (smallest id)', async () => {
    hub.sync = false; // messages cross in flight
    const b = tab('b');
    const a = tab('a');
    await vi.advanceTimersByTimeAsync(250);
    expect(live(a)).toHaveLength(1);
    expect(live(b)).toHaveLength(1);
    hub.flush();
    await vi.advanceTimersByTimeAsync(1000);
    hub.flush();
    expect(live(a)).toHaveLength(1);
    expect(live(b)).toHaveLength(0);
    expect(a.sub.isLeader).toBe(true);
    expect(b.statuses).toContain('reconnecting:leader-changed');
    // messages the stepped-down tab already delivered are not delivered twice
    hub.sync = true;
    send(a, 1);
    expect(b.messages).toEqual(['1']);
  });
});
