import { describe, expect, it } from 'vitest';
import { nodeAndBrowser, openHarness, subscribeInPage, waitOpen, waitReceived } from './support/browser.js';
import { uniqueTopic } from './support/server.js';

describe('server restart mid-stream', () => {
  const env = nodeAndBrowser();

  it('the page resumes after kill -9 and restart without loss or duplicate', async () => {
    const topic = uniqueTopic('restart');
    await env.server.createTopic(topic);
    const page = await openHarness(env.browser.context, env.server.url);
    // Short backoff so the page reconnects promptly once the server is back.
    await subscribeInPage(page, topic, { reconnect: { initialDelay: 100, maxDelay: 500 } });
    await waitOpen(page);

    for (let i = 0; i < 20; i++) await env.server.publish(topic, `r${i}`);
    await waitReceived(page, 20);

    await env.server.kill('SIGKILL');
    await page.waitForFunction(() => window.statuses.some((x) => x.s === 'reconnecting'), undefined, { timeout: 10000 });
    await env.server.start(); // same port, same data directory
    await waitOpen(page, 2);

    for (let i = 20; i < 40; i++) await env.server.publish(topic, `r${i}`);
    await waitReceived(page, 40);

    const got = await page.evaluate(() => window.got);
    expect(got.map((m) => m.value)).toEqual(Array.from({ length: 40 }, (_, i) => `r${i}`));
    const ids = got.map((m) => BigInt(m.id));
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect((await env.server.topic(topic)).messages).toBe(40);
    await page.close();
  });
});
