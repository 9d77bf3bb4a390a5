/**
 * Presence and revocation in the gym demo, for real: `demo:cluster` (two instances behind the
 * round-robin proxy, one Redis) driven by Debian's Chromium through playwright-core.
 *
 * alice and bob are users of gym 1 in two browser contexts whose streams are on different
 * instances: each sees the other appear in the page's "who is here" (`#present`, fed by the
 * `eventrail.presence` event), and alice sees bob leave once all his tabs are closed. Then alice
 * opens a second tab (it shares her stream, held by her first tab) and signs out in it, through an
 * instance other than the one holding her stream: the revocation ends the stream of her first tab,
 * whose reconnect is refused (401, the cookie is gone). Without the revocation that stream would
 * stay open until its lifetime ran out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkipReason, launchChromium } from './e2e/browser.js';
import { type DemoCluster, startDemoCluster } from './e2e/cluster.js';
import { GymUser } from './e2e/gym-user.js';
import { redisSkipReason } from './helpers/redis.js';

const skip = chromiumSkipReason() ?? redisSkipReason();
// Hang bounds, not latencies: the demo debounces presence by 250 ms and refreshes every 5 s.
const PRESENCE_MS = 20_000;
const REVOKE_MS = 20_000;

/** Waits until the page's "who is here" names exactly `users` (in the page's order, sorted). */
async function waitForPresent(page: Page, users: readonly string[]): Promise<void> {
  await page.waitForFunction(
    (expected) => document.getElementById('present')?.textContent === `here: ${expected}`,
    users.join(', '),
    { timeout: PRESENCE_MS },
  );
}

const present = (page: Page) => page.locator('#present').textContent();

describe('gym demo presence and sign-out revocation on demo:cluster, in Chromium', { skip }, () => {
  let cluster: DemoCluster | undefined;
  let browser: Browser | undefined;
  let alice: GymUser;
  let bob: GymUser;

  before(
    async () => {
      cluster = await startDemoCluster();
      browser = await launchChromium();
      alice = await GymUser.open(browser, cluster.url, 'alice', 1);
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

  /** Makes the proxy send the next request to an instance other than `instance`. */
  async function steerAwayFrom(instance: string): Promise<void> {
    assert.ok(cluster);
    for (let i = 0; i < 3; i++) {
      if ((await cluster.probe()) === instance) return;
    }
    throw new Error(`the proxy never answered from ${instance}`);
  }

  test('two users of gym 1 on two instances see each other appear, and leave', async () => {
    assert.ok(browser && cluster);
    await waitForPresent(alice.page, ['alice']);
    bob = await GymUser.open(browser, cluster.url, 'bob', 1);
    for (let i = 0; i < 10 && bob.streamInstance === alice.streamInstance; i++) await bob.reload();
    assert.notEqual(bob.streamInstance, alice.streamInstance, 'streams on different instances');

    await waitForPresent(bob.page, ['alice', 'bob']);
    await waitForPresent(alice.page, ['alice', 'bob']);
    // A second tab of bob's shares his stream. (It shows no roster until the next change: a tab
    // that joins a shared stream is not handed the last presence event.)
    const second = await bob.context.newPage();
    await second.goto(`${cluster.url}/`);
    await bob.page.locator('#tabs').filter({ hasText: '2 tabs' }).waitFor({ timeout: 10_000 });
    assert.equal(await present(alice.page), 'here: alice, bob', 'two tabs of bob count once');

    // bob closes every tab: he leaves alice's list.
    await bob.close();
    await waitForPresent(alice.page, ['alice']);
  });

  test("signing out in one tab ends the other tab's stream, and its reconnect is refused", async () => {
    assert.ok(cluster);
    const streams: number[] = [];
    alice.page.on('response', (response) => {
      if (new URL(response.url()).pathname === '/events') streams.push(response.status());
    });
    const second = await alice.context.newPage();
    await second.goto(`${cluster.url}/`);
    await alice.page.locator('#tabs').filter({ hasText: '2 tabs' }).waitFor({ timeout: 10_000 });
    await second.waitForFunction(
      () => (window as unknown as { eventrail?: { state: string } }).eventrail?.state === 'open',
      undefined,
      { timeout: 10_000 },
    );
    // The first tab leads and holds the stream: the second one signs out without touching it.
    assert.equal(await alice.state(), 'open');
    const holder = alice.streamInstance;

    await steerAwayFrom(holder);
    // Listened for before the click: the refusal may come before the state is read.
    const refused = alice.page.waitForResponse(
      (r) => new URL(r.url()).pathname === '/events' && r.status() === 401,
      { timeout: REVOKE_MS },
    );
    refused.catch(() => {}); // awaited below, after the state
    const signedOut = second.waitForResponse(
      (r) => new URL(r.url()).pathname === '/logout' && r.request().method() === 'POST',
    );
    await second.click('form[action="/logout"] button[type=submit]');
    const response = await signedOut;
    assert.equal(response.status(), 303);
    assert.notEqual(
      response.headers()['x-instance'],
      holder,
      'signed out on the instance that does not hold the stream',
    );
    await second.waitForURL(`${cluster.url}/`, { timeout: 10_000 });

    // The first tab's stream ends (the revocation crossed instances through Redis) ...
    await alice.page.waitForFunction(
      () => (window as unknown as { eventrail?: { state: string } }).eventrail?.state !== 'open',
      undefined,
      { timeout: REVOKE_MS },
    );
    // ... and its reconnect, without the cookie, is refused.
    await refused;
    assert.ok(streams.includes(401), `the reconnect was refused: ${streams.join(', ')}`);
    assert.notEqual(await alice.state(), 'open', 'the first tab is not live any more');
  });
});
