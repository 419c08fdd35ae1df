import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openHarness, subscribeInPage, waitOpen, waitReceived, type Chromium } from './support/browser.js';
import { ReplServer, uniqueTopic } from './support/server.js';

describe('server restart mid-stream', () => {
  let server: ReplServer;
  let browser: Chromium;

  beforeAll(async () => {
    [server, browser] = await Promise.all([ReplServer.start(), launchChromium()]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('the page resumes after kill -9 and restart without loss or duplicate', async () => {
    const topic = uniqueTopic('restart');
    await server.createTopic(topic);
    const page = await openHarness(browser.context, server.url);
    // Short backoff so the page reconnects promptly once the server is back.
    await subscribeInPage(page, topic, { reconnect: { initialDelay: 100, maxDelay: 500 } });
    await waitOpen(page);

    for (let i = 0; i < 20; i++) await server.publish(topic, `r${i}`);
    await waitReceived(page, 20);

    await server.kill('SIGKILL');
    await page.waitForFunction(() => window.statuses.some((x) => x.s === 'reconnecting'), undefined, { timeout: 10000 });
    await server.start(); // same port, same data directory
    await waitOpen(page, 2);

    for (let i = 20; i < 40; i++) await server.publish(topic, `r${i}`);
    await waitReceived(page, 40);

    const got = await page.evaluate(() => window.got);
    expect(got.map((m) => m.value)).toEqual(Array.from({ length: 40 }, (_, i) => `r${i}`));
    const ids = got.map((m) => BigInt(m.id));
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect((await server.topic(topic)).messages).toBe(40);
    await page.close();
  });
});
