import { describe, expect, it } from 'vitest';
import { nodeAndBrowser, openHarness, subscribeInPage, waitOpen, waitReceived } from './support/browser.js';
import { signToken, uniqueTopic } from './support/server.js';

/** Opens a raw EventSource in the page and resolves with its readyState once it fires `error`. */
const rawEventSourceError = (url: string) =>
  new Promise<number>((resolve) => {
    const source = new EventSource(url);
    source.onerror = () => resolve(source.readyState);
  });

describe('a stream refused with 503 and Retry-After, in chromium', () => {
  // One stream per node: a second one is answered 503 `too many streams` with `Retry-After: 5`, the answer a
  // backend hook that failed gets too.
  const env = nodeAndBrowser({ args: ['--Limits:MaxStreams', '1'] });

  it('raw EventSource gives up for good; the client retries after Retry-After and opens once there is room', async () => {
    const topic = uniqueTopic('refused');
    await env.server.createTopic(topic);
    const holder = new AbortController();
    const held = await fetch(`${env.server.url}/topics/${topic}/sse`, { signal: holder.signal });
    expect(held.status).toBe(200);
    try {
      const page = await openHarness(env.browser.context, env.server.url);
      // What a page with a bare EventSource sees: `error`, readyState CLOSED (2), and no reconnection ever.
      expect(await page.evaluate(rawEventSourceError, `/topics/${topic}/sse`)).toBe(2);

      await subscribeInPage(page, topic, { reconnect: { initialDelay: 100, maxDelay: 1000 } });
      await page.waitForFunction(() => window.statuses.some((x) => x.s === 'reconnecting'), undefined, { timeout: 15000 });
      const retry = await page.evaluate(() => window.statuses.find((x) => x.s === 'reconnecting')!.d!);
      expect(retry).toMatchObject({ reason: 'error', status: 503, attempt: 1 });
      expect(retry.message).toContain('Limits:MaxStreams');
      // Retry-After: 5 wins over the 100 ms backoff, spread over 5–7.5 s.
      expect(retry.delay).toBeGreaterThanOrEqual(5000);
      expect(retry.delay).toBeLessThanOrEqual(7500);

      holder.abort();
      await waitOpen(page);
      const id = await env.server.publish(topic, 'after the refusal');
      expect(await waitReceived(page, 1)).toEqual([{ id, topic, value: 'after the refusal' }]);
      await page.close();
    } finally {
      holder.abort();
    }
  });
});

describe('with auth on, in chromium', () => {
  const signingKey = 'e2e-signing-key-of-at-least-32-bytes!!';
  const env = nodeAndBrowser({ args: ['--Auth:SigningKey', signingKey] });

  it('a stream refused with 401 is final: the client closes the subscription and reports the server\'s reason', async () => {
    const page = await openHarness(env.browser.context, env.server.url);
    await subscribeInPage(page, 'demo');
    await page.waitForFunction(() => window.statuses.some((x) => x.s === 'closed'), undefined, { timeout: 15000 });
    const statuses = await page.evaluate(() => window.statuses);
    expect(statuses.map((x) => x.s)).toEqual(['connecting', 'closed']);
    expect(statuses[1]!.d).toMatchObject({ reason: 'unauthorized', status: 401 });
    expect(statuses[1]!.d!.message).toBeTruthy();
    const errors = await page.evaluate(() => window.errors);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('ReplError');
    await page.close();
  });

  it('the server API disconnects the user: the subscription closes with its reason and does not come back', async () => {
    const page = await openHarness(env.browser.context, env.server.url);
    const token = signToken(signingKey, { sub: 'ana', 'repl.subscribe': ['demo'] });
    await page.evaluate((token) => {
      window.repl.createClient({ url: '/', token }).subscribe('demo', () => {}, {
        onStatus: (s, d) => window.statuses.push({ s, d }),
        onError: (e) => window.errors.push(String(e)),
      });
    }, token);
    await waitOpen(page);
    const res = await fetch(`${env.server.url}/disconnect`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${signToken(signingKey, { sub: 'ops', 'repl.admin': true })}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: 'ana', reason: 'account closed' }),
    });
    expect(res.status).toBe(200);
    await page.waitForFunction(() => window.statuses.some((x) => x.s === 'closed'), undefined, { timeout: 10000 });
    const statuses = await page.evaluate(() => window.statuses);
    // No `for`: the node would take her back at once, so it is the client that must not reconnect.
    expect(statuses.map((x) => x.s)).toEqual(['connecting', 'open', 'closed']);
    expect(statuses[2]!.d).toEqual({ reason: 'disconnected', message: 'account closed' });
    expect(await page.evaluate(() => window.errors)).toEqual([]);
    await page.close();
  });
});
