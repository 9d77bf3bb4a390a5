/**
 * From render to stream without a gap (issue 26), in Chromium against `demo:cluster`: the gym page
 * carries its render position (`<meta name="eventrail-position">`) and its client opens from it.
 *
 * A tab is rendered, its client script is held back (as a busy tab, a slow network or a starting
 * SharedWorker would), bob adds a student meanwhile, the script is let go: the list shows bob's
 * student without a reload. So for a tab that opens the stream and for one that joins a shared
 * stream already past its render position; with a SharedWorker, with Web Locks (SharedWorker
 * deleted) and with no sharing (both deleted: the tab holds its own stream). A tab opened with
 * nothing changed since its render makes no fragment request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromiumSkipReason, launchChromium } from './e2e/browser.js';
import { type DemoCluster, startDemoCluster } from './e2e/cluster.js';
import { addStudentAs } from './e2e/cluster-stats.js';
import { redisSkipReason } from './helpers/redis.js';
import { sleep } from './helpers/sse.js';

const skip = chromiumSkipReason() ?? redisSkipReason();
const DEADLINE_MS = 5_000;
// Time for a refetch to show up if there were one.
const SETTLE_MS = 800;
const CLIENT = '**/assets/eventrail/client.min.js';

type Mode = 'worker' | 'locks' | 'none';

/** A tab of alice whose client script waits for `release()`; it counts its fragment requests. */
async function heldTab(context: BrowserContext, url: string) {
  const page = await context.newPage();
  let fragments = 0;
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/students/fragment') fragments++;
  });
  let release = (): void => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let asked = (): void => {};
  const held = new Promise<void>((resolve) => {
    asked = resolve;
  });
  await page.route(CLIENT, async (route) => {
    asked();
    await released;
    await route.continue();
  });
  await page.goto(url, { waitUntil: 'commit' });
  // The page is rendered (its HTML arrived) and asks for the client: the stream is not open yet.
  await held;
  return { page, release, fragments: () => fragments };
}

const students = (page: Page) => page.locator('#students .name').allTextContents();

async function live(page: Page, sharing: Mode): Promise<void> {
  await page.waitForFunction(
    (how) => {
      const e = (window as { eventrail?: { state: string; sharing: string } }).eventrail;
      return e?.state === 'open' && e.sharing === how;
    },
    sharing,
    { timeout: 10_000, polling: 50 },
  );
}

describe('the gym page opens its stream at its render position, in Chromium', { skip }, () => {
  let cluster: DemoCluster;
  let browser: Browser | undefined;
  let added = 0;

  before(
    async () => {
      cluster = await startDemoCluster();
      browser = await launchChromium();
    },
    { timeout: 60_000 },
  );
  after(
    async () => {
      await browser?.close().catch(() => {});
      await cluster?.stop();
    },
    { timeout: 20_000 },
  );

  for (const mode of ['worker', 'locks', 'none'] as const) {
    describe(`sharing: ${mode}`, () => {
      let alice: BrowserContext;

      before(async () => {
        alice = await (browser as Browser).newContext();
        await alice.addInitScript((how: Mode) => {
          if (how !== 'worker') delete (window as { SharedWorker?: unknown }).SharedWorker;
          if (how === 'none') Object.defineProperty(navigator, 'locks', { value: undefined });
        }, mode);
        // Signed in without opening the page: the first test's tab is the first to stream.
        await alice.request.get(`${cluster.url}/login?user=alice&gym=1`, { maxRedirects: 0 });
      });

      for (const which of ['the first tab (opens the stream)', 'a second tab (joins it)']) {
        test(`${which}: a student added between render and stream shows`, async () => {
          const tab = await heldTab(alice, `${cluster.url}/`);
          const name = `Render ${mode} ${++added}`;
          assert.equal(await addStudentAs(cluster.url, 'bob', name), 200);
          assert.ok(!(await students(tab.page)).includes(name), 'not in the rendered page');
          tab.release();
          await live(tab.page, mode);
          await tab.page.waitForFunction(
            (wanted) =>
              [...document.querySelectorAll('#students .name')].some(
                (e) => e.textContent === wanted,
              ),
            name,
            { timeout: DEADLINE_MS, polling: 50 },
          );
        });
      }

      test('a tab opened with nothing changed since its render refetches nothing', async () => {
        const tab = await heldTab(alice, `${cluster.url}/`);
        tab.release();
        await live(tab.page, mode);
        await sleep(SETTLE_MS);
        assert.equal(tab.fragments(), 0, 'no fragment request');
      });
    });
  }
});
