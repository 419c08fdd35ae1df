import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeAndBrowser } from './support/browser.js';
import { outputDir } from './support/paths.js';
import { uniqueTopic, until } from './support/server.js';

describe('pages served by the node', () => {
  const env = nodeAndBrowser();

  it('dashboard lists topics, tails one live, shows its presence, publishes from its form; screenshot in e2e/output', async () => {
    const topic = 'orders';
    const others = ['comments:42', 'presence'];
    for (const name of [topic, ...others]) await env.server.createTopic(name);
    // Presence on for one topic only (before the tail opens its stream: a stream is tracked from its start).
    const patched = await fetch(`${env.server.url}/topics/${topic}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ presence: true }) });
    expect(patched.status).toBe(200);

    const page = await env.browser.context.newPage();
    page.on('pageerror', (error) => console.error('[page error]', error.message));
    await page.goto(`${env.server.url}/?poll=500`);

    const row = page.locator(`#topics tbody tr[data-topic="${topic}"]`);
    await row.waitFor({ timeout: 10000 });
    for (const name of ['demo', ...others]) await page.locator(`#topics tbody tr[data-topic="${name}"]`).waitFor();
    // The cluster panel follows GET /cluster: hidden on 404, the members listed on 200.
    const cluster = await fetch(`${env.server.url}/cluster`);
    if (cluster.status === 404) {
      await expect.poll(() => page.locator('#cluster-panel').isHidden()).toBe(true);
    } else {
      const view = (await cluster.json()) as { members: { id: string }[] };
      await page.locator('#cluster-members .member .name', { hasText: view.members[0]!.id }).waitFor({ timeout: 10000 });
    }

    // Clicking a row (its name: a click on its presence opens the client list instead) tails that topic with the client.
    await row.locator('.topic-name').click();
    await page.locator('#tail-status', { hasText: /^open$/ }).waitFor({ timeout: 10000 });
    await until(async () => (await env.server.topic(topic)).subscribers === 1, 'the tail to subscribe');

    // Presence: the tail is the topic's one client; the other topics say off. A click lists the clients.
    await row.locator('.presence .badge', { hasText: /^1$/ }).waitFor({ timeout: 10000 });
    await expect.poll(() => row.locator('.presence').textContent()).toBe('1· 0');
    for (const name of others) await expect.poll(() => page.locator(`#topics tbody tr[data-topic="${name}"] .presence`).textContent()).toBe('off');
    await row.locator('.presence').click();
    const listed = (await (await fetch(`${env.server.url}/topics/${topic}/presence`)).json()) as { clients: { client: string }[] };
    expect(listed.clients).toHaveLength(1);
    await page.locator('#presence-clients tbody td.client', { hasText: listed.clients[0]!.client }).waitFor({ timeout: 10000 });
    expect(await page.locator('#presence-summary').textContent()).toBe('1 client');
    expect(await page.locator('#tail-topic').inputValue()).toBe(topic); // the click on the cell did not change the tail

    const nextPoll = async () => {
      const before = await page.locator('#topics-updated').textContent();
      await page.waitForFunction((text) => document.getElementById('topics-updated')?.textContent !== text, before, { timeout: 5000 });
    };

    // Some traffic over a few polls so the counts and rate charts have something to show.
    for (let round = 0; round < 6; round++) {
      const burst = [];
      for (let i = 0; i < 4 + round * 2; i++) burst.push(env.server.publish(topic, JSON.stringify({ order: round * 100 + i, total: 10 + i })));
      for (let i = 0; i < 1 + (round % 3); i++) burst.push(env.server.publish('comments:42', JSON.stringify({ author: 'ada', text: `comment ${round}.${i}` })));
      if (round % 2 === 0) burst.push(env.server.publish('presence', `user-${round} online`));
      await Promise.all(burst);
      await nextPoll(); // one burst per dashboard refresh, so each shows up as a sample in the charts
    }

    // Publish from the dashboard's own form; the live tail shows it.
    await page.fill('#pub-topic', topic);
    await page.fill('#pub-value', '{"order":"from-the-dashboard","total":42}');
    await page.fill('#pub-headers', 'source=e2e');
    await page.click('#pub-send');
    await page.locator('#pub-note', { hasText: /published #\d+ to orders/ }).waitFor({ timeout: 10000 });
    await page.locator('#tail .msg .value', { hasText: 'from-the-dashboard' }).waitFor({ timeout: 10000 });
    await page.locator('#tail .msg .hdr', { hasText: 'source=e2e' }).first().waitFor();

    // The table catches up with the server: subscriber and message counts.
    const info = await env.server.topic(topic);
    await row.locator('.messages', { hasText: String(info.messages) }).waitFor({ timeout: 10000 });
    await expect.poll(() => row.locator('.subscribers').textContent()).toBe('1');
    expect(await row.locator('svg polyline').count()).toBe(1);

    mkdirSync(outputDir, { recursive: true });
    await page.screenshot({ path: path.join(outputDir, 'dashboard.png'), fullPage: true });
    await page.close();
  });

  it('dashboard creates a topic from its form', async () => {
    const name = uniqueTopic('made-in-ui');
    const page = await env.browser.context.newPage();
    await page.goto(`${env.server.url}/`);
    await page.fill('#create-name', name);
    await page.click('#create-form button[type=submit]');
    await page.locator('#create-note', { hasText: `created ${name}` }).waitFor({ timeout: 10000 });
    await page.locator(`#topics tbody tr[data-topic="${name}"]`).waitFor({ timeout: 10000 });
    expect((await env.server.topic(name)).messages).toBe(0);
    await page.close();
  });

  it('comments demo shows a comment posted through its form', async () => {
    const page = await env.browser.context.newPage();
    page.on('pageerror', (error) => console.error('[page error]', error.message));
    await page.goto(`${env.server.url}/demo.html`);
    await page.locator('#feed-status', { hasText: /^live$/ }).waitFor({ timeout: 10000 });
    expect((await env.server.topic('comments:1')).subscribers).toBe(1); // the page created the topic and subscribed

    await page.fill('#author', 'Grace');
    await page.fill('#text', 'Posted through the form');
    await page.click('#send');
    const comment = page.locator('#comments .comment', { hasText: 'Posted through the form' });
    await comment.waitFor({ timeout: 10000 });
    expect(await comment.locator('.who').textContent()).toBe('Grace');

    // A comment published by a backend shows up too.
    await env.server.publish('comments:1', JSON.stringify({ author: 'Backend', text: 'Hello from the server side' }));
    await page.locator('#comments .comment', { hasText: 'Hello from the server side' }).waitFor({ timeout: 10000 });
    expect(await page.locator('#comments .comment').count()).toBe(2);
    mkdirSync(outputDir, { recursive: true });
    await page.screenshot({ path: path.join(outputDir, 'demo.png'), fullPage: true });
    await page.close();
  });
});
