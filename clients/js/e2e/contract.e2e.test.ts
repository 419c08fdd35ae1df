import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TopicInfo } from '../src/types.js';
import { ReplServer, uniqueTopic } from './support/server.js';

/** The JSON type name (`typeof`) of a field of type T. */
type JsonTypeOf<T> = T extends string ? 'string' : T extends number ? 'number' : T extends boolean ? 'boolean' : T extends object ? 'object' : never;

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
});
