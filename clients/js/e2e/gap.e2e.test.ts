import { describe, expect, it } from 'vitest';
import { nodeAndBrowser, openHarness, subscribeInPage, waitOpen, waitReceived } from './support/browser.js';
import { uniqueTopic, until } from './support/server.js';

describe('resume point older than retention', () => {
  const env = nodeAndBrowser({
    // Keep 5 messages per topic, 2 in memory, and trim every 200 ms instead of every 30 s.
    args: ['--Journal:MaxMessagesPerTopic', '5', '--Topics:MemoryWindow', '2', '--Node:RetentionInterval', '00:00:00.200'],
  });

  it('reports a gap to onGap and goes on delivering', async () => {
    const topic = uniqueTopic('gap');
    await env.server.createTopic(topic);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await env.server.publish(topic, `g${i}`));
    const first = ids[0]!;
    await until(async () => {
      const t = await env.server.topic(topic);
      return t.messages === 5 && t.trimmedThrough > Number(first);
    }, 'retention to trim the topic to 5 messages');
    const info = await env.server.topic(topic);

    const page = await openHarness(env.browser.context, env.server.url);
    await subscribeInPage(page, topic, { lastEventId: first });
    await page.waitForFunction(() => window.gaps.length > 0, undefined, { timeout: 15000 });
    const gaps = await page.evaluate(() => window.gaps);
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ topic, requested: Number(first) });
    expect(gaps[0]!.oldest).toBeGreaterThan(Number(first));

    // What is still retained arrives after the gap, then live messages.
    await waitOpen(page);
    const retained = await waitReceived(page, info.messages);
    expect(retained.map((m) => m.value)).toEqual(Array.from({ length: info.messages }, (_, i) => `g${20 - info.messages + i}`));
    expect(BigInt(retained[0]!.id)).toBeGreaterThanOrEqual(BigInt(gaps[0]!.oldest));

    const next = await env.server.publish(topic, 'after-gap');
    const got = await waitReceived(page, info.messages + 1);
    expect(got.at(-1)).toMatchObject({ id: next, value: 'after-gap' });
    expect(got).toHaveLength(info.messages + 1);
    await page.close();
  });
});
