import type { EventSourceLike } from '../src/types.js';

/** A controllable EventSource: tests drive open / events / errors by hand. */
export class FakeEventSource implements EventSourceLike {
  static instances: FakeEventSource[] = [];
  static reset() {
    FakeEventSource.instances = [];
  }
  static get last(): FakeEventSource {
    const es = FakeEventSource.instances[FakeEventSource.instances.length - 1];
    if (!es) throw new Error('no EventSource created');
    return es;
  }

  readyState = 0;
  closed = false;
  onopen: ((ev: any) => any) | null = null;
  onmessage: ((ev: any) => any) | null = null;
  onerror: ((ev: any) => any) | null = null;
  private listeners = new Map<string, ((ev: any) => void)[]>();
  private lastEventId = '';

  constructor(
    readonly url: string,
    readonly init?: { withCredentials?: boolean },
  ) {
    FakeEventSource.instances.push(this);
  }

  get query(): URLSearchParams {
    return new URL(this.url, 'http://base.invalid').searchParams;
  }

  addEventListener(type: string, l: (ev: any) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), l]);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }

  // --- test drivers ---
  open() {
    this.readyState = 1;
    this.onopen?.({ type: 'open' });
  }
  event(type: string, data: unknown, id?: string) {
    if (id !== undefined) this.lastEventId = id;
    const ev = { type, data: typeof data === 'string' ? data : JSON.stringify(data), lastEventId: this.lastEventId };
    if (type === 'message') this.onmessage?.(ev);
    for (const l of this.listeners.get(type) ?? []) l(ev);
  }
  /** `epoch`: the log's identity, as a Repl node announces it. */
  connected(topics: string[] = ['t'], node = 'n1', epoch?: string) {
    this.event('connected', epoch === undefined ? { topics, node } : { topics, node, epoch });
  }
  /** With `epoch`, the event id is `id@epoch` as a Repl node sends it; the JSON id stays the position. */
  message(id: number | string, value = `v${id}`, topic = 't', epoch?: string) {
    const data = { id: String(id), topic, value, headers: {}, createdAt: '2024-01-01T00:00:00Z' };
    this.event('message', data, epoch === undefined ? String(id) : `${id}@${epoch}`);
  }
  /** `event: reset` as a Repl node sends it: the stream starts over from the beginning of the log `epoch`. */
  reset(requested: string, epoch: string) {
    this.event('reset', { requested, reason: 'this id is from another log', epoch, position: 0 });
  }
  fail(readyState: 0 | 2 = 2) {
    this.readyState = readyState;
    this.onerror?.({ type: 'error' });
  }
}

/** In-memory BroadcastChannel hub: channels with the same name deliver to each other (not to themselves). */
export class FakeBroadcastHub {
  private channels = new Set<FakeChannel>();
  channelsInOrder: FakeChannel[] = [];
  queue: (() => void)[] = [];
  /** Channels for which this returns true neither send nor receive (a crashed tab). */
  crash: (c: FakeChannel) => boolean = () => false;
  /** When true, messages are delivered synchronously (simpler tests); else call flush(). */
  constructor(public sync = true) {}

  get BroadcastChannel() {
    const hub = this;
    return class extends FakeChannel {
      constructor(name: string) {
        super(name, hub);
      }
    };
  }
  add(c: FakeChannel) {
    this.channels.add(c);
    this.channelsInOrder.push(c);
  }
  remove(c: FakeChannel) {
    this.channels.delete(c);
  }
  post(from: FakeChannel, data: unknown) {
    const copy = structuredClone(data);
    if (this.crash(from)) return;
    for (const c of [...this.channels]) {
      if (c === from || c.name !== from.name || this.crash(c)) continue;
      const deliver = () => {
        if (!c.isClosed) c.onmessage?.({ data: copy });
      };
      if (this.sync) deliver();
      else this.queue.push(deliver);
    }
  }
  flush() {
    while (this.queue.length) this.queue.shift()!();
  }
  get openCount() {
    return this.channels.size;
  }
}

export class FakeChannel {
  onmessage: ((ev: { data: unknown }) => any) | null = null;
  isClosed = false;
  constructor(
    readonly name: string,
    readonly hub: FakeBroadcastHub,
  ) {
    hub.add(this);
  }
  postMessage(data: unknown) {
    if (this.isClosed) throw new Error('InvalidStateError: channel closed');
    this.hub.post(this, data);
  }
  close() {
    this.isClosed = true;
    this.hub.remove(this);
  }
}

/** Web Locks stand-in: exclusive locks granted in request order; released when the callback's promise settles. */
export class FakeLocks {
  private held = new Map<string, boolean>();
  private waiting = new Map<string, { cb: (l: unknown) => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void; signal?: AbortSignal }[]>();

  request(name: string, options: { signal?: AbortSignal }, cb: (lock: unknown) => unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const entry = { cb, resolve, reject, signal: options.signal };
      if (options.signal?.aborted) return reject(new DOMException('aborted', 'AbortError'));
      options.signal?.addEventListener('abort', () => {
        const q = this.waiting.get(name) ?? [];
        const i = q.indexOf(entry);
        if (i >= 0) {
          q.splice(i, 1);
          reject(new DOMException('aborted', 'AbortError'));
        }
      });
      const q = this.waiting.get(name) ?? [];
      q.push(entry);
      this.waiting.set(name, q);
      this.pump(name);
    });
  }

  private pump(name: string) {
    if (this.held.get(name)) return;
    const q = this.waiting.get(name) ?? [];
    const next = q.shift();
    if (!next) return;
    this.held.set(name, true);
    Promise.resolve()
      .then(() => next.cb({ name }))
      .then(next.resolve, next.reject)
      .finally(() => {
        this.held.set(name, false);
        this.pump(name);
      });
  }

  /** Simulate a tab closing: its waiting requests vanish (holders are released by the test via unsubscribe). */
  isHeld(name: string) {
    return !!this.held.get(name);
  }
}

/** Let pending microtasks (promise callbacks) run. */
export async function flushMicrotasks(times = 10) {
  for (let i = 0; i < times; i++) await Promise.resolve();
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

export interface RecordedRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

/** A fake fetch answering with `respond(req)` and recording requests. */
export function fakeFetch(respond: (req: RecordedRequest) => Response | Promise<Response>) {
  const calls: RecordedRequest[] = [];
  const fn = async (url: string, init: RequestInit = {}) => {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const req: RecordedRequest = {
      url,
      method: init.method ?? 'GET',
      headers,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : init.body,
    };
    calls.push(req);
    return respond(req);
  };
  return Object.assign(fn, { calls });
}
