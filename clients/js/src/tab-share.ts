import type { Connection, ConnectionHandlers } from './connection.js';
import { randomUuid } from './random.js';
import type { GapEvent, Message, PresenceCounts, PresenceEvent, ResetEvent, StatusDetail, SubscriptionStatus } from './types.js';
import { formatStreamId, parseStreamId, toBigInt } from './urls.js';

/** The part of BroadcastChannel used here. */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  onmessage: ((ev: { data: unknown }) => any) | null;
  close(): void;
}
export type BroadcastChannelConstructor = new (name: string) => BroadcastChannelLike;

/** The part of the Web Locks API (`navigator.locks`) used here. */
export interface LockManagerLike {
  request(name: string, options: { signal?: AbortSignal }, callback: (lock: unknown) => Promise<unknown> | unknown): Promise<unknown>;
}

export interface ElectionTimings {
  /** Heartbeat election: how often the leader announces itself (ms, default 1000). */
  heartbeatInterval?: number;
  /** Heartbeat election: a leader silent for this long is considered gone (ms, default 3000). */
  leaderTimeout?: number;
  /** Heartbeat election: how long a new tab waits for a leader to answer before claiming (ms, default 250). */
  helloTimeout?: number;
}

export interface ShareOptions {
  channelName: string;
  /** Identifies the topic set (and server); tabs with the same key share one connection. */
  key: string;
  BroadcastChannel: BroadcastChannelConstructor;
  /** Web Locks; when absent a heartbeat election over the channel is used. */
  locks?: LockManagerLike | null;
  lastEventId?: string;
  /** Opens the real connection when this tab becomes the leader. */
  open: (lastEventId: string | undefined, handlers: ConnectionHandlers) => Connection;
  handlers: ConnectionHandlers;
  timings?: ElectionTimings;
  /** For tests. */
  id?: string;
}

type Wire =
  | { k: string; from: string; kind: 'hello' }
  | { k: string; from: string; kind: 'hb' }
  | { k: string; from: string; kind: 'resign' }
  | { k: string; from: string; kind: 'msg'; m: Message<string>; e?: string }
  | { k: string; from: string; kind: 'gap'; g: GapEvent }
  | { k: string; from: string; kind: 'reset'; r: ResetEvent }
  | { k: string; from: string; kind: 'join' | 'leave'; p: PresenceEvent }
  | { k: string; from: string; kind: 'presence'; c: PresenceCounts }
  | { k: string; from: string; kind: 'status'; s: SubscriptionStatus; d?: StatusDetail; cursor?: string };

const TERMINAL = new Set(['deleted', 'expired', 'not_found', 'unauthorized', 'disconnected', 'removed', 'presence_off', 'bad_request']);

interface Election {
  start(): void;
  close(): void;
  /** Heartbeat election: react to channel traffic. */
  receive?(msg: Wire): void;
}

/** Leader election with the Web Locks API: whoever holds the lock leads; the browser releases it when the tab goes. */
function lockElection(locks: LockManagerLike, name: string, onElected: () => void): Election {
  const controller = new AbortController();
  let release: (() => void) | null = null;
  let closed = false;
  return {
    start() {
      locks
        .request(name, { signal: controller.signal }, () => {
          if (closed) return undefined;
          onElected();
          return new Promise<void>((resolve) => {
            release = resolve;
          });
        })
        .catch(() => {
          /* aborted while waiting */
        });
    },
    close() {
      closed = true;
      controller.abort();
      release?.();
      release = null;
    },
  };
}

/**
 * Fallback election over the channel: the leader sends a heartbeat; a tab that hears no leader for
 * `leaderTimeout` (or no answer to its hello within `helloTimeout`) claims leadership; if two tabs
 * lead at once, the one with the greater id steps down.
 */
function heartbeatElection(
  post: (msg: { kind: 'hb' | 'hello' | 'resign' }) => void,
  myId: string,
  timings: ElectionTimings,
  onElected: () => void,
  onDemoted: () => void,
): Election {
  const interval = timings.heartbeatInterval ?? 1000;
  const leaderTimeout = timings.leaderTimeout ?? 3000;
  const helloTimeout = timings.helloTimeout ?? 250;
  let leader = false;
  let closed = false;
  let leaderId: string | null = null;
  let lastSeen = 0;
  let started = 0;
  let helloTimer: ReturnType<typeof setTimeout> | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;

  const claim = () => {
    if (leader || closed) return;
    leader = true;
    leaderId = myId;
    post({ kind: 'hb' });
    onElected();
  };
  const tick = () => {
    if (closed) return;
    if (leader) {
      post({ kind: 'hb' });
      return;
    }
    const now = Date.now();
    if (leaderId === null ? now - started >= helloTimeout : now - lastSeen >= leaderTimeout) claim();
  };
  const onPageHide = () => election.close();
  const target = globalThis as { addEventListener?: (t: string, f: () => void) => void; removeEventListener?: (t: string, f: () => void) => void };

  const election: Election = {
    start() {
      started = Date.now();
      helloTimer = setTimeout(tick, helloTimeout);
      timer = setInterval(tick, Math.min(interval, helloTimeout * 4));
      target.addEventListener?.('pagehide', onPageHide);
      post({ kind: 'hello' });
    },
    receive(msg) {
      if (closed) return;
      if (msg.kind === 'hb') {
        if (leader) {
          if (msg.from < myId) {
            leader = false;
            leaderId = msg.from;
            lastSeen = Date.now();
            onDemoted();
          } else {
            post({ kind: 'hb' });
          }
        } else {
          leaderId = msg.from;
          lastSeen = Date.now();
        }
      } else if (msg.kind === 'hello') {
        if (leader) post({ kind: 'hb' });
      } else if (msg.kind === 'resign') {
        if (!leader && (leaderId === msg.from || leaderId === null)) claim();
      }
    },
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(helloTimer);
      clearInterval(timer);
      target.removeEventListener?.('pagehide', onPageHide);
      if (leader) post({ kind: 'resign' });
      leader = false;
    },
  };
  return election;
}

export interface SharedSubscription {
  close(): void;
  readonly isLeader: boolean;
  readonly lastEventId: string | undefined;
}

/**
 * Share one SSE connection for a topic set between tabs: the leader tab holds the connection and
 * rebroadcasts what it receives; the others listen. When the leader goes, another tab takes over and
 * resumes from the last id it has seen. Every tab drops ids it has already delivered.
 */
export function shareSubscription(opts: ShareOptions): SharedSubscription {
  const { handlers, key } = opts;
  const myId = opts.id ?? randomUuid();
  const channel = new opts.BroadcastChannel(opts.channelName);
  const resumeFrom = parseStreamId(opts.lastEventId);
  let lastId: bigint | null = resumeFrom?.position ?? null;
  // The epoch of the log `lastId` belongs to, so that a new leader resumes with `position@epoch`.
  let epoch: string | null = resumeFrom?.epoch ?? null;
  const cursor = () => (lastId !== null ? formatStreamId(lastId, epoch) : undefined);
  let closed = false;
  let leader = false;
  let conn: Connection | null = null;
  let currentTerm: object | null = null;
  let electionRef: Election | null = null;
  let leaderStatus: { s: SubscriptionStatus; d?: StatusDetail } = { s: 'connecting' };
  let reported = '';

  const post = (msg: Record<string, unknown>) => {
    if (closed && msg.kind !== 'resign' && msg.kind !== 'status') return;
    try {
      channel.postMessage({ ...msg, k: key, from: myId });
    } catch {
      /* channel closed */
    }
  };

  const reportStatus = (s: SubscriptionStatus, d?: StatusDetail) => {
    const sig = `${s}|${d?.reason ?? ''}|${d?.topic ?? ''}|${leader}`;
    if (sig === reported && s !== 'reconnecting') return;
    reported = sig;
    handlers.status(s, { ...d, leader });
  };

  /** A follower runs the application's callback itself (the leader's connection guards its own). */
  const guarded = (run: () => void) => {
    try {
      run();
    } catch (err) {
      handlers.error(err instanceof Error ? err : new Error(String(err)));
    }
  };

  const deliver = (m: Message<string>, from?: string): boolean => {
    const id = toBigInt(m.id);
    if (id !== null) {
      if (lastId !== null && id <= lastId) return false;
      lastId = id;
      if (from) epoch = from;
    }
    try {
      handlers.message(m);
    } catch (err) {
      handlers.error(err instanceof Error ? err : new Error(String(err)));
    }
    return true;
  };

  // The stream started over on another log: positions restart, so does what counts as a duplicate.
  const reset = (r: ResetEvent) => {
    lastId = toBigInt(r.position) ?? 0n;
    epoch = r.epoch || null;
    handlers.reset(r);
  };

  const finish = (s: SubscriptionStatus, d: StatusDetail) => {
    if (closed) return;
    closed = true;
    electionRef?.close();
    const c = conn;
    conn = null;
    c?.close();
    channel.onmessage = null;
    channel.close();
    leader = false;
    currentTerm = null;
    reportStatus(s, d);
  };

  const becomeLeader = () => {
    if (closed || leader) return;
    leader = true;
    const term = {};
    currentTerm = term;
    const active = () => leader && !closed && currentTerm === term;
    const c = opts.open(cursor(), {
      message: (m, e) => {
        if (!active()) return;
        if (deliver(m, e)) post({ kind: 'msg', m, e });
      },
      gap: (g) => {
        if (!active()) return;
        handlers.gap(g);
        post({ kind: 'gap', g });
      },
      reset: (r) => {
        if (!active()) return;
        reset(r);
        post({ kind: 'reset', r });
      },
      status: (s, d) => {
        if (!active()) return;
        if (s === 'closed') {
          if (d?.reason && TERMINAL.has(d.reason)) {
            post({ kind: 'status', s, d });
            finish(s, d);
          }
          return;
        }
        leaderStatus = d ? { s, d } : { s };
        post({ kind: 'status', s, d, cursor: cursor() });
        reportStatus(s, d);
      },
      error: (e) => {
        if (active()) handlers.error(e);
      },
      // Presence events go to every tab: the tabs share one stream, so the server sees one client for them all.
      join: (p) => {
        if (!active()) return;
        post({ kind: 'join', p });
        handlers.join?.(p);
      },
      leave: (p) => {
        if (!active()) return;
        post({ kind: 'leave', p });
        handlers.leave?.(p);
      },
      presence: (c) => {
        if (!active()) return;
        post({ kind: 'presence', c });
        handlers.presence?.(c);
      },
    });
    if (active()) conn = c;
    else c.close();
  };

  const stepDown = () => {
    if (!leader) return;
    leader = false;
    currentTerm = null;
    const c = conn;
    conn = null;
    c?.close();
    reportStatus('reconnecting', { reason: 'leader-changed' });
  };

  channel.onmessage = (ev) => {
    const msg = ev.data as Wire | null;
    if (closed || !msg || typeof msg !== 'object' || msg.k !== key || msg.from === myId) return;
    electionRef?.receive?.(msg);
    switch (msg.kind) {
      case 'hello':
        if (leader) post({ kind: 'status', s: leaderStatus.s, d: leaderStatus.d, cursor: cursor() });
        break;
      case 'msg':
        if (!leader) deliver(msg.m, msg.e);
        break;
      case 'gap':
        if (!leader) handlers.gap(msg.g);
        break;
      case 'reset':
        if (!leader) reset(msg.r);
        break;
      case 'join':
      case 'leave':
        if (!leader) guarded(() => handlers[msg.kind]?.(msg.p));
        break;
      case 'presence':
        if (!leader) guarded(() => handlers.presence?.(msg.c));
        break;
      case 'status':
        if (leader) break;
        if (lastId === null && msg.cursor) {
          const leaderCursor = parseStreamId(msg.cursor);
          lastId = leaderCursor?.position ?? null;
          epoch = leaderCursor?.epoch ?? null;
        }
        if (msg.s === 'closed') {
          if (msg.d?.reason && TERMINAL.has(msg.d.reason)) finish('closed', msg.d);
        } else {
          reportStatus(msg.s, msg.d);
        }
        break;
      case 'resign':
        if (!leader) reportStatus('reconnecting', { reason: 'leader-gone' });
        break;
    }
  };

  handlers.status('connecting', { leader: false });
  reported = 'connecting|||false';
  const election: Election = opts.locks
    ? lockElection(opts.locks, `${opts.channelName}:${key}`, becomeLeader)
    : heartbeatElection((m) => post(m), myId, opts.timings ?? {}, becomeLeader, stepDown);
  electionRef = election;
  election.start();
  if (opts.locks) post({ kind: 'hello' });

  return {
    close() {
      if (closed) return;
      // (the heartbeat election announces its own resignation)
      if (leader && opts.locks) post({ kind: 'resign' });
      finish('closed', { reason: 'unsubscribed' });
    },
    get isLeader() {
      return leader;
    },
    get lastEventId() {
      return cursor();
    },
  };
}
