import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import type * as ReplModule from '../../src/index.js';
import type { GapEvent, ReconnectOptions, ResetEvent, StatusDetail } from '../../src/types.js';
import { ReplServer, type ServerOptions } from './server.js';

/** Debian's chromium (scripts/install-chromium.sh); override with CHROMIUM_PATH. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** What a harness page records, read back with `page.evaluate`. */
export interface Received {
  id: string;
  topic: string;
  value: string;
}

declare global {
  interface Window {
    repl: typeof ReplModule;
    replReady: boolean;
    got: Received[];
    statuses: { s: string; d?: StatusDetail }[];
    gaps: GapEvent[];
    resets: ResetEvent[];
    errors: string[];
  }
}

/**
 * A blank page on the server's origin that loads the client bundle the server serves at
 * /client/repl-client.js. Only this HTML comes from the test (through routing); everything
 * it loads and talks to is the real server.
 */
export const HARNESS = `<!doctype html>
<meta charset="utf-8"><title>repl e2e</title>
<script type="module">
  import * as repl from '/client/repl-client.js';
  Object.assign(window, { repl, got: [], statuses: [], gaps: [], resets: [], errors: [] });
  window.replReady = true;
</script>`;

export const HARNESS_PATH = '/__e2e__.html';

export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches headless chromium with a fresh user-data-dir; one browser context. */
export async function launchChromium(): Promise<Chromium> {
  const userDataDir = mkdtempSync(`${os.tmpdir()}/repl-e2e-chromium-`);
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: ARGS,
    viewport: { width: 1360, height: 900 },
  });
  await context.route(`**${HARNESS_PATH}`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: HARNESS }));
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** A node and a Chromium for the tests of one `describe`: started together before them, stopped after. */
export function nodeAndBrowser(options: ServerOptions = {}): { readonly server: ReplServer; readonly browser: Chromium } {
  const env = {} as { server: ReplServer; browser: Chromium };
  beforeAll(async () => {
    [env.server, env.browser] = await Promise.all([ReplServer.start(options), launchChromium()]);
  });
  afterAll(async () => {
    await env.browser?.close();
    await env.server?.stop();
  });
  return env;
}

/** Opens the harness page on `baseUrl` and waits for the bundle to load. */
export async function openHarness(context: BrowserContext, baseUrl: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('[page error]', error.message));
  await page.goto(`${baseUrl}${HARNESS_PATH}`);
  await page.waitForFunction(() => window.replReady === true, undefined, { timeout: 10000 });
  return page;
}

export interface PageSubscribeOptions {
  lastEventId?: string;
  shareAcrossTabs?: boolean;
  reconnect?: ReconnectOptions;
}

/** Subscribes in the page with the served client; messages, statuses, gaps and resets land in window.got/statuses/gaps/resets. */
export async function subscribeInPage(page: Page, topic: string | string[], options: PageSubscribeOptions = {}): Promise<void> {
  await page.evaluate(
    ({ topic, options }) => {
      const client = window.repl.createClient({
        url: '/',
        shareAcrossTabs: options.shareAcrossTabs,
        reconnect: options.reconnect,
      });
      client.subscribe(topic, (m) => window.got.push({ id: m.id, topic: m.topic, value: m.value }), {
        lastEventId: options.lastEventId,
        onStatus: (s, d) => window.statuses.push({ s, d }),
        onGap: (g) => window.gaps.push(g),
        onReset: (r) => window.resets.push(r),
        onError: (e) => window.errors.push(String(e)),
      });
    },
    { topic, options },
  );
}

/** Waits until the page's subscription reported `open` at least `times` times. */
export async function waitOpen(page: Page, times = 1): Promise<void> {
  await page.waitForFunction((n) => window.statuses.filter((x) => x.s === 'open').length >= n, times, { timeout: 15000 });
}

/** Waits until the page received at least `count` messages; returns them. */
export async function waitReceived(page: Page, count: number, timeout = 15000): Promise<Received[]> {
  await page.waitForFunction((n) => window.got.length >= n, count, { timeout });
  return page.evaluate(() => window.got);
}
