import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeAndBrowser, openHarness, subscribeInPage, waitOpen, waitReceived } from './support/browser.js';
import { uniqueTopic, until } from './support/server.js';

describe('client bundle served by the node, in chromium', () => {
  const env = nodeAndBrowser();

  it('serves the current build of the client at /client/repl-client.js', async () => {
    const res = await fetch(`${env.server.url}/client/repl-client.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    const served = await res.text();
    expect(served.split('\n', 1)[0]).toMatch(/^\/\/ Generated from clients\/js/);
    const built = new URL('../dist/repl-client.js', import.meta.url);
    // After `npm run build`, the copy the node serves must be that build: run `npm run bundle:host` after changing src/.
    if (existsSync(built)) expect(served.slice(served.indexOf('\n') + 1), 'run npm run bundle:host').toBe(readFileSync(built, 'utf8'));
  });

  it('receives 50 messages published from Node, in order', async () => {
    const topic = uniqueTopic('order');
    await env.server.createTopic(topic);
    const page = await openHarness(env.browser.context, env.server.url);
    await subscribeInPage(page, topic);
    await waitOpen(page);

    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await env.server.publish(topic, `m${i}`));

    const got = await waitReceived(page, 50);
    expect(got.map((m) => m.value)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
    expect(got.map((m) => m.id)).toEqual(ids);
    expect(got.every((m) => m.topic === topic)).toBe(true);
    await page.close();
  });

  it('the server API takes the stream off one topic, then its last: the subscription goes on, then closes for good', async () => {
    const [a, b] = [uniqueTopic('unsub-a'), uniqueTopic('unsub-b')];
    for (const t of [a, b]) await env.server.createTopic(t);
    const page = await openHarness(env.browser.context, env.server.url);
    await subscribeInPage(page, [a, b]);
    await waitOpen(page);
    const client = await page.evaluate(() => window.statuses.find((x) => x.s === 'open')?.d?.client);
    const unsubscribe = (topic: string) => fetch(`${env.server.url}/topics/${topic}/clients/${client}`, { method: 'DELETE' });

    expect((await unsubscribe(a)).status).toBe(200);
    await page.waitForFunction(() => window.statuses.some((x) => x.d?.reason === 'removed'), undefined, { timeout: 10000 });
    expect(await page.evaluate(() => window.statuses.at(-1))).toEqual({ s: 'open', d: { reason: 'removed', topic: a, topics: [b] } });
    const id = await env.server.publish(b, 'still here');
    expect(await waitReceived(page, 1)).toEqual([{ id, topic: b, value: 'still here' }]);

    expect((await unsubscribe(b)).status).toBe(200);
    await page.waitForFunction(() => window.statuses.some((x) => x.s === 'closed'), undefined, { timeout: 10000 });
    expect(await page.evaluate(() => window.statuses.at(-1))).toEqual({ s: 'closed', d: { reason: 'removed', topic: b } });
    await until(async () => (await env.server.topic(b)).subscribers === 0, 'the stream to end');
    expect(await page.evaluate(() => window.statuses.filter((x) => x.s === 'connecting' || x.s === 'reconnecting').length)).toBe(1);
    await page.close();
  });

  it('two tabs with shareAcrossTabs share one connection: both receive, the server counts one subscriber', async () => {
    const topic = uniqueTopic('tabs');
    await env.server.createTopic(topic);
    const first = await openHarness(env.browser.context, env.server.url);
    const second = await openHarness(env.browser.context, env.server.url);
    await subscribeInPage(first, topic, { shareAcrossTabs: true });
    await subscribeInPage(second, topic, { shareAcrossTabs: true });
    // The leader reports `open` from the server; the follower hears it over the BroadcastChannel.
    await Promise.all([waitOpen(first), waitOpen(second)]);
    await until(async () => (await env.server.topic(topic)).subscribers === 1, 'the leader tab to be subscribed');

    for (let i = 0; i < 10; i++) await env.server.publish(topic, `t${i}`);

    const expected = Array.from({ length: 10 }, (_, i) => `t${i}`);
    const [a, b] = await Promise.all([waitReceived(first, 10), waitReceived(second, 10)]);
    expect(a.map((m) => m.value)).toEqual(expected);
    expect(b.map((m) => m.value)).toEqual(expected);
    expect((await env.server.topic(topic)).subscribers).toBe(1);

    const leaders = await Promise.all(
      [first, second].map((p) => p.evaluate(() => window.statuses.filter((x) => x.s === 'open').at(-1)?.d?.leader)),
    );
    expect(leaders.sort()).toEqual([false, true]);
    await Promise.all([first.close(), second.close()]);
  });
});
