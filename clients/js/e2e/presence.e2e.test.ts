import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { PresenceCounts, PresenceEvent } from '../src/types.js';
import { launchChromium, nodeAndBrowser, openHarness, waitOpen } from './support/browser.js';
import { uniqueTopic } from './support/server.js';

declare global {
  interface Window {
    joins: PresenceEvent[];
    leaves: PresenceEvent[];
    counts: PresenceCounts[];
  }
}

/** Subscribes in the page with onJoin/onLeave/onPresence; what arrives lands in window.joins/leaves/counts. */
async function subscribeWithPresence(page: Page, topic: string): Promise<void> {
  await page.evaluate((topic) => {
    Object.assign(window, { joins: [], leaves: [], counts: [] });
    const client = window.repl.createClient({ url: '/', shareAcrossTabs: true });
    client.subscribe(topic, (m) => window.got.push({ id: m.id, topic: m.topic, value: m.value }), {
      onJoin: (e) => window.joins.push(e),
      onLeave: (e) => window.leaves.push(e),
      onPresence: (c) => window.counts.push(c),
      onStatus: (s, d) => window.statuses.push({ s, d }),
      onError: (e) => window.errors.push(String(e)),
    });
  }, topic);
}

/** The client id the page's stream was given (the `connected` event's, in the `open` status). */
const clientId = (page: Page) => page.evaluate(() => window.statuses.find((x) => x.s === 'open')?.d?.client);

describe('presence events in chromium', () => {
  // A short leave grace, so that a closed page's leave comes within the test (the default holds it ~5 s).
  const env = nodeAndBrowser({ args: ['--Topics:Presence', 'true', '--Topics:PresenceLeaveGrace', '00:00:00.200'] });

  it('page A sees page B of another browser join, then leave when B closes; presence() lists both meanwhile', async () => {
    const topic = uniqueTopic('presence');
    await env.server.createTopic(topic);
    const a = await openHarness(env.browser.context, env.server.url);
    await subscribeWithPresence(a, topic);
    await waitOpen(a);
    // The counts come once, right after connected.
    await a.waitForFunction((t) => window.counts.some((c) => c.topic === t), topic, { timeout: 10000 });
    const idA = await clientId(a);
    expect(idA).toMatch(/^[0-9a-f]+$/);

    // Another browser, so B does not share A's stream (tabs of one browser are one client).
    const other = await launchChromium();
    let idB: string | undefined;
    try {
      const b = await openHarness(other.context, env.server.url);
      await subscribeWithPresence(b, topic);
      await waitOpen(b);
      idB = await clientId(b);
      expect(idB).toBeTruthy();
      expect(idB).not.toBe(idA);

      await a.waitForFunction((id) => window.joins.some((e) => e.client === id), idB, { timeout: 10000 });
      expect(await a.evaluate(() => window.joins)).toEqual([{ topic, client: idB, user: null }]);
      // B, opened after A, has the counts that come after connected.
      await b.waitForFunction((t) => window.counts.some((c) => c.topic === t && c.clients >= 1), topic, { timeout: 10000 });

      // presence() from the page follows the server's pages; presenceStats() counts.
      const listed = await a.evaluate((t) => window.repl.createClient({ url: '/' }).presence(t, { pageSize: 1 }), topic);
      expect(listed.map((c) => c.client).sort()).toEqual([idA, idB].sort());
      const stats = await a.evaluate((t) => window.repl.createClient({ url: '/' }).presenceStats(t), topic);
      expect(stats).toEqual({ topic, clients: 2, users: 0 });

      await other.close(); // B's browser goes: its stream ends
    } finally {
      await other.close().catch(() => {});
    }
    await a.waitForFunction((id) => window.leaves.some((e) => e.client === id), idB, { timeout: 15000 });
    expect(await a.evaluate(() => window.leaves)).toEqual([{ topic, client: idB, user: null }]);
    expect(await a.evaluate(() => window.errors)).toEqual([]);
    await a.close();
  });

  it('presence off on the topic: presence() rejects with PresenceOffError, a stream asking for events closes', async () => {
    const topic = uniqueTopic('off');
    await env.server.createTopic(topic);
    const patched = await fetch(`${env.server.url}/topics/${topic}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ presence: false }),
    });
    expect(patched.status).toBe(200);
    const page = await openHarness(env.browser.context, env.server.url);
    const rejected = await page.evaluate(async (t) => {
      try {
        await window.repl.createClient({ url: '/' }).presence(t);
        return 'resolved';
      } catch (e) {
        return `${e instanceof window.repl.PresenceOffError} ${(e as { status: number }).status}`;
      }
    }, topic);
    expect(rejected).toBe('true 404');

    await subscribeWithPresence(page, topic);
    await page.waitForFunction(() => window.statuses.some((x) => x.s === 'closed'), undefined, { timeout: 15000 });
    expect(await page.evaluate(() => window.statuses.at(-1)?.d)).toMatchObject({ reason: 'presence_off', status: 400 });
    await page.close();
  });
});
