import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceClient, PresenceCounts, TopicInfo } from '../src/types.js';
import { ReplServer, uniqueTopic, until } from './support/server.js';

/** The JSON type name (`typeof`) of a field of type T. */
type JsonTypeOf<T> = T extends string ? 'string' : T extends number ? 'number' : T extends boolean ? 'boolean' : T extends object ? 'object' : never;
/** The same, `'string|null'` for a field that may be null. */
type JsonTypesOf<T> = null extends T ? `${JsonTypeOf<NonNullable<T>>}|null` : JsonTypeOf<T>;

/** Each field's JSON type name (`null` for null), to compare with a list of the form above. */
const jsonTypes = (record: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(record).map(([key, value]) => [key, value === null ? 'null' : typeof value]));

/**
 * Every field of the client's `TopicInfo`, with its JSON type. `satisfies` makes this list follow the type: a field
 * missing here, one the type does not have, or a wrong type name fails `npm run typecheck`. The test below then
 * compares it with what the node answers, so the type cannot drift from the server's record either.
 */
const topicInfoFields = {
  name: 'string',
  subscribers: 'number',
  messages: 'number',
  firstPosition: 'number',
  lastPosition: 'number',
  created: 'number',
  trimmedThrough: 'number',
  active: 'boolean',
  settings: 'object',
} as const satisfies { [K in keyof Required<TopicInfo>]: JsonTypeOf<TopicInfo[K]> };

/** `GET /topics/{name}/presence/stats`, and `event: presence` on a stream. */
const presenceCountsFields = { topic: 'string', clients: 'number', users: 'number' } as const satisfies {
  [K in keyof Required<PresenceCounts>]: JsonTypeOf<PresenceCounts[K]>;
};

/** A client of `GET /topics/{name}/presence`. */
const presenceClientFields = { client: 'string', user: 'string|null', node: 'string', since: 'string' } as const satisfies {
  [K in keyof Required<PresenceClient>]: JsonTypesOf<PresenceClient[K]>;
};

describe("the client's types match the server's records", () => {
  let server: ReplServer;
  beforeAll(async () => {
    server = await ReplServer.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('TopicInfo has exactly the fields of GET /topics/{name}, with their JSON types', async () => {
    const topic = uniqueTopic('contract');
    await server.createTopic(topic);
    await server.publish(topic, 'one');
    const res = await fetch(`${server.url}/topics/${encodeURIComponent(topic)}`);
    expect(res.status).toBe(200);
    const record = (await res.json()) as Record<string, unknown>;
    const served = Object.fromEntries(Object.entries(record).map(([key, value]) => [key, typeof value]));
    // A field here and not in TopicInfo: add it to src/types.ts (and to topicInfoFields, which typecheck then asks for).
    expect(served).toEqual(topicInfoFields);
  });

  it('PresenceCounts and PresenceClient have exactly the fields of the presence routes, with their JSON types', async () => {
    const topic = uniqueTopic('contract-presence');
    await server.createTopic(topic);
    const patched = await fetch(`${server.url}/topics/${topic}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ presence: true }),
    });
    expect(patched.status).toBe(200);
    const stream = new AbortController();
    const sse = await fetch(`${server.url}/topics/${topic}/sse`, { signal: stream.signal });
    expect(sse.status).toBe(200);
    try {
      let clients: Record<string, unknown>[] = [];
      await until(async () => {
        const res = await fetch(`${server.url}/topics/${topic}/presence`);
        clients = ((await res.json()) as { clients: Record<string, unknown>[] }).clients;
        return clients.length === 1;
      }, 'the stream to be listed');
      // No auth here: the user is null.
      expect(jsonTypes(clients[0]!)).toEqual({ ...presenceClientFields, user: 'null' });
      const stats = (await (await fetch(`${server.url}/topics/${topic}/presence/stats`)).json()) as Record<string, unknown>;
      expect(jsonTypes(stats)).toEqual(presenceCountsFields);
    } finally {
      stream.abort();
    }
  });
});
