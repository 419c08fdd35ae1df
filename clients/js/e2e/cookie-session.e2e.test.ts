import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HARNESS, launchChromium, openHarness, type Chromium } from './support/browser.js';
import { hooksSampleDll, repoRoot } from './support/paths.js';
import { freePort, ReplServer, until } from './support/server.js';

/**
 * A page whose only credential is the application's own session cookie: the node asks the application's backend
 * (the hooks sample, samples/Hooks) through its subscribe hook, and the page sends no token.
 */
describe('a cookie session accepted by the subscribe hook, in chromium', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  let backend: ChildProcess;
  let backendUrl: string;
  let pageOrigin: string;
  let pages: Server;
  let server: ReplServer;
  let browser: Chromium;

  beforeAll(async () => {
    backendUrl = `http://127.0.0.1:${await freePort()}`;
    backend = spawn('dotnet', [hooksSampleDll, '--urls', backendUrl, '--secret', secret], { cwd: repoRoot, stdio: 'ignore' });
    // A page on another origin of the same host (another port): same site, so the cookie goes along with credentials.
    pageOrigin = `http://127.0.0.1:${await freePort()}`;
    [server, browser] = await Promise.all([
      ReplServer.start({
        args: ['--Hooks:Subscribe', `${backendUrl}/hooks/subscribe`, '--Hooks:Secret', secret, '--Cors:SubscribeOrigins', pageOrigin],
      }),
      launchChromium(),
    ]);
    await until(async () => (await fetch(`${backendUrl}/config`)).ok, 'the hooks sample to answer');
    // The other origin is a real server on loopback: Chromium lets a page reach a loopback address only from one
    // (a page Playwright fulfils has no address, and counts as public). It serves the harness and the node's bundle.
    const bundle = await (await fetch(`${server.url}/client/repl-client.js`)).text();
    pages = createServer((req, res) => {
      const [type, body] = req.url === '/client/repl-client.js' ? ['text/javascript', bundle] : ['text/html', HARNESS];
      res.writeHead(200, { 'Content-Type': type }).end(body);
    });
    await new Promise<void>((resolve) => pages.listen(Number(new URL(pageOrigin).port), '127.0.0.1', resolve));
    // Log in to the application; the browser gets its session cookie (cookies are per host, whatever the port).
    const login = await fetch(`${backendUrl}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"user":"ana"}' });
    const session = /session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1]!;
    await browser.context.addCookies([{ name: 'session', value: session, domain: '127.0.0.1', path: '/', sameSite: 'Lax' }]);
    for (const topic of ['inbox:ana', 'inbox:bob']) await server.createTopic(topic);
  });
  afterAll(async () => {
    await browser?.close();
    pages?.close();
    await server?.stop();
    backend?.kill();
  });

  /** The harness on the other origin (at /page.html: the browser routes every /__e2e__.html to the test itself). */
  async function openOtherOrigin(): Promise<Page> {
    const page = await browser.context.newPage();
    await page.goto(`${pageOrigin}/page.html`);
    await page.waitForFunction(() => window.replReady === true, undefined, { timeout: 10000 });
    return page;
  }

  /** Subscribes with no token to demo and two inboxes; resolves once the subscription opened or closed. */
  async function subscribe(page: Page, url: string, withCredentials: boolean) {
    await page.evaluate(
      ({ url, withCredentials }) => {
        const client = window.repl.createClient({ url, withCredentials });
        client.subscribe(['demo', 'inbox:ana', 'inbox:bob'], (m) => window.got.push({ id: m.id, topic: m.topic, value: m.value }), {
          onStatus: (s, d) => window.statuses.push({ s, d }),
          onError: (e) => window.errors.push(String(e)),
        });
      },
      { url, withCredentials },
    );
    await page.waitForFunction(() => window.statuses.some((x) => x.s === 'open' || x.s === 'closed'), undefined, { timeout: 15000 });
    return page.evaluate(() => window.statuses.at(-1)!);
  }

  it('same origin: the session cookie is the credential; the stream follows the topics the backend allows', async () => {
    const page = await openHarness(browser.context, server.url);
    const opened = await subscribe(page, '/', false);
    expect(opened).toMatchObject({ s: 'open', d: { topics: ['demo', 'inbox:ana'] } });
    const id = await server.publish('inbox:ana', 'for ana');
    await page.waitForFunction(() => window.got.length > 0, undefined, { timeout: 15000 });
    expect(await page.evaluate(() => window.got)).toEqual([{ id, topic: 'inbox:ana', value: 'for ana' }]);
    await page.close();
  });

  it('across origins: with withCredentials and the page origin in Cors:SubscribeOrigins, the cookie goes along', async () => {
    const page = await openOtherOrigin();
    expect(await subscribe(page, server.url, true)).toMatchObject({ s: 'open', d: { topics: ['demo', 'inbox:ana'] } });
    await page.close();
  });

  it('across origins without withCredentials: no cookie, the backend refuses, the subscription closes with its reason', async () => {
    const page = await openOtherOrigin();
    const closed = await subscribe(page, server.url, false);
    expect(closed).toMatchObject({ s: 'closed', d: { reason: 'unauthorized', status: 401 } });
    expect(closed.d!.message).toContain('log in first');
    await page.close();
  });
});
