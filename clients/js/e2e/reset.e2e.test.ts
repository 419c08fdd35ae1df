import { describe, expect, it } from 'vitest';
import { nodeAndBrowser, openHarness, subscribeInPage, waitOpen, waitReceived } from './support/browser.js';

describe('server restarted on a wiped data directory', () => {
  const env = nodeAndBrowser();

  it('the page is told with onReset and receives the new log from its beginning', async () => {
    // `demo` exists at start in standalone mode, so it is there again on the new log.
    const topic = 'demo';
    const page = await openHarness(env.browser.context, env.server.url);
    await subscribeInPage(page, topic, { reconnect: { initialDelay: 100, maxDelay: 500 } });
    await waitOpen(page);
    for (let i = 0; i < 20; i++) await env.server.publish(topic, `old${i}`);
    const old = await waitReceived(page, 20);
    const oldEpoch = (await page.evaluate(() => window.statuses.find((x) => x.s === 'open')?.d?.epoch))!;
    expect(oldEpoch).toMatch(/^[0-9a-f]{8}$/);

    await env.server.kill('SIGKILL');
    env.server.wipe();
    await env.server.start(); // same port, an empty data directory: another log
    const fresh: string[] = [];
    for (let i = 0; i < 3; i++) fresh.push(await env.server.publish(topic, `new${i}`));

    // The page resumed with `<last position>@<old epoch>`: the node says reset, then replays its log from the start.
    await page.waitForFunction(() => window.resets.length > 0, undefined, { timeout: 15000 });
    const got = await waitReceived(page, 23);
    const resets = await page.evaluate(() => window.resets);
    expect(resets).toHaveLength(1);
    expect(resets[0]).toMatchObject({ requested: `${old.at(-1)!.id}@${oldEpoch}`, position: 0 });
    expect(resets[0]!.epoch).toMatch(/^[0-9a-f]{8}$/);
    expect(resets[0]!.epoch).not.toBe(oldEpoch);

    // The new log's positions are lower than the last one seen on the old log: delivered, not dropped as duplicates.
    expect(got.slice(20)).toEqual(fresh.map((id, i) => ({ id, topic, value: `new${i}` })));
    expect(BigInt(fresh[0]!)).toBeLessThan(BigInt(old.at(-1)!.id));
    const statuses = await page.evaluate(() => window.statuses.filter((x) => x.s === 'open').map((x) => x.d?.epoch));
    expect(statuses.at(-1)).toBe(resets[0]!.epoch);
    expect(await page.evaluate(() => window.errors.filter((e) => !e.includes('SSE connection')))).toEqual([]);
    await page.close();
  });
});
